"""Every stage trains on its demo data with every method (lora is covered by the examples), two steps on the tiny model."""
import pytest
import llmft

DATA = dict(pt='pt_demo', sft='alpaca_demo', rm='dpo_demo', dpo='dpo_demo', kto='kto_demo', ppo='identity', grpo='identity')
METHODS = dict(full=dict(finetuning_type='full'), freeze=dict(finetuning_type='freeze', freeze_trainable_layers=1),
               qlora=dict(quantization_bit=4, lora_rank=4))
EXTRA = dict(ppo=dict(reward_model='llmft.ppo:answer_length', max_new_tokens=4),
             grpo=dict(reward_funcs=['llmft.grpo:answer_f1'], num_generations=2, max_new_tokens=4))
CASES = [(s, m) for s in DATA for m in METHODS]

@pytest.mark.parametrize('stage,method', CASES, ids=[f'{s}-{m}' for s, m in CASES])
def test_stage_with_method(stage, method, tiny_model, tmp_path, one_torch_thread):
    run = llmft.train(dict(model='llmft-tiny', stage=stage, dataset=DATA[stage], cutoff_len=64, max_steps=2, logging_steps=1,
                           per_device_train_batch_size=2, learning_rate=1e-4, output_dir=str(tmp_path/'run'), plot_loss=False,
                           placeholders=dict(name='Nova', author='Orbit Labs'), **METHODS[method], **EXTRA.get(stage, {})), verbose=False)
    assert run.finished and run.result['steps'] == 2 and run.result['stage'] == stage
    assert all(m['loss'] is not None for m in run.metrics)
