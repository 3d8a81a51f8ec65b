"""RLHF end to end on the tiny model: the rm example trains a reward adapter, the ppo example trains a policy on the
same base with that adapter as its reward model, and a killed PPO run resumes from its checkpoint."""
import json, shutil
from pathlib import Path
import llmft
from llmft.reward import VALUE_HEAD, load_value_head

EX = Path(__file__).resolve().parent.parent/'examples'
def test_rm_then_ppo_shared_base(tiny_config, tmp_path, one_torch_thread):
    rm = llmft.train(EX/'rm_lora.yaml', **tiny_config(tmp_path/'rm', dataset=None, max_steps=4, logging_steps=2),
                     verbose=False)
    assert rm.finished and (rm.path/VALUE_HEAD).exists() and (rm.path/'adapter_model.safetensors').exists()
    assert set(load_value_head(rm.path)) == {'summary.weight', 'summary.bias'}
    # accuracy: the share of the 4 pairs of each logged interval (2 steps of 2 pairs) ranked right
    assert [m['step'] for m in rm.metrics] == [2, 4] and {m['accuracy'] for m in rm.metrics} <= {0, .25, .5, .75, 1}
    args = tiny_config(tmp_path/'ppo', dataset=None, reward_model=str(rm.path), max_new_tokens=8, save_steps=2,
                       max_steps=4)
    ppo = llmft.train(EX/'ppo_lora.yaml', **args, verbose=False)
    assert ppo.finished and ppo.result['steps'] == 4
    assert (ppo.path/VALUE_HEAD).exists() and (ppo.path/'adapter_model.safetensors').exists() \
        and not (ppo.path/'reward').exists()
    assert (ppo.path/'checkpoint-2'/VALUE_HEAD).exists()
    kl_coef = json.loads((ppo.path/'checkpoint-2'/'ppo_state.json').read_text())['kl_coef']
    assert 0 < kl_coef != 0.2  # the adaptive coefficient has moved from its start and is kept for a resume
    assert [m['step'] for m in ppo.metrics] == [1, 2, 3, 4] and all(m['loss'] is not None for m in ppo.metrics)
    assert all({'policy_loss', 'value_loss'} <= set(m) for m in ppo.metrics) \
        and {'reward', 'kl'} <= set(ppo.metrics[0]), ppo.metrics
    (ppo.path/'result.json').unlink()
    shutil.rmtree(ppo.path/'checkpoint-4')  # as if killed after step 4 was logged, before its checkpoint
    again = llmft.train(EX/'ppo_lora.yaml', **{**args, 'max_steps': 6}, verbose=False)
    assert again.result['steps'] == 6 and [m['step'] for m in again.metrics] == [1, 2, 3, 4, 5, 6]
