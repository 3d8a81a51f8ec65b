"""Every stage trains on its demo data with every method (lora is covered by the examples), two steps on the tiny model,
and each method does to the weights what it says: full trains all of them, freeze only the named layers, QLoRA trains
adapters over a 4-bit base that stays as it was. Then each stage's own metric moves the way the stage means it to, on
one batch seen again and again."""
import pytest, torch
from transformers import TrainerCallback
import llmft

DATA = dict(pt='pt_demo', sft='alpaca_demo', rm='dpo_demo', dpo='dpo_demo', kto='kto_demo', ppo='identity',
            grpo='identity')
METHODS = dict(full=dict(finetuning_type='full'), freeze=dict(finetuning_type='freeze', freeze_trainable_layers=1),
               qlora=dict(quantization_bit=4, lora_rank=4))
EXTRA = dict(ppo=dict(reward_model='llmft.ppo:answer_length', max_new_tokens=4),
             grpo=dict(reward_funcs=['llmft.grpo:answer_f1'], num_generations=2, max_new_tokens=4))
CASES = [(s, m) for s in DATA for m in METHODS]
HEADS = ('v_head',) # the value head that rm and ppo add trains with every method
NAMES = dict(placeholders=dict(name='Nova', author='Orbit Labs'))

class Weights(TrainerCallback):
    "Which parameters train, their values before and after, and whether the base is quantized."
    def on_train_begin(self, args, state, control, model=None, **kw):
        self.trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        self.before = {n: p.detach().float().clone() for n, p in model.named_parameters()}
        self.four_bit = any(type(m).__name__ == 'Linear4bit' for m in model.modules())
    def on_train_end(self, args, state, control, model=None, **kw):
        self.changed = {n for n, p in model.named_parameters() if not torch.equal(p.detach().float(), self.before[n])}

@pytest.mark.parametrize('stage,method', CASES, ids=[f'{s}-{m}' for s, m in CASES])
def test_stage_with_method(stage, method, tiny_config, tmp_path, one_torch_thread):
    w = Weights()
    run = llmft.train(tiny_config(tmp_path/'run', stage=stage, dataset=DATA[stage], learning_rate=1e-4, **NAMES,
                                  **METHODS[method], **EXTRA.get(stage, {})), callbacks=[w], verbose=False)
    assert run.finished and run.result['steps'] == 2 and run.result['stage'] == stage
    assert run.metrics and all(m['loss'] is not None for m in run.metrics)
    base = {n for n in w.before if 'lora_' not in n and not any(h in n for h in HEADS)}
    if method == 'full': assert w.trainable == set(w.before)
    if method == 'freeze':
        assert w.trainable - {n for n in w.trainable if any(h in n for h in HEADS)} == \
            {n for n in base if '.layers.1.' in n}
    assert not (w.changed - w.trainable), f"frozen weights changed: {sorted(w.changed - w.trainable)[:3]}"
    if method == 'qlora': assert w.four_bit and not (w.trainable & base)
    # GRPO's two answers from a random tiny model earn the same reward: zero advantage, so no update, as it should be
    if stage != 'grpo': assert w.changed & (w.trainable - base if method == 'qlora' else base), "nothing trained"

# Each stage's own metric, first logged step against the last: (key, +1 to rise or -1 to fall, the least change).
# Six LoRA steps at a high rate on one batch of two (the same batch every step) move them well past these margins.
# PPO's toy reward (answer length) is at its cap from the start, so its own metric here is the critic's error,
# falling as the value head learns the reward, and the KL to the reference, 0 before the policy has moved.
MOVES = dict(pt=[('loss', -1, 0.05)], sft=[('loss', -1, 0.3)],
             rm=[('loss', -1, 0.3), ('margin', 1, 1.0), ('accuracy', 1, 0.5)],
             dpo=[('loss', -1, 0.2), ('rewards/margins', 1, 0.5), ('rewards/accuracies', 1, 0.5)],
             kto=[('rewards/chosen', 1, 0.3)],
             ppo=[('value_loss', -1, 0.5), ('kl', 1, 0.1)])
ONE_BATCH = dict(EXTRA, ppo=dict(EXTRA['ppo'], max_new_tokens=8, ppo_buffer_size=1)) # PPO: a rollout of one batch

@pytest.mark.parametrize('stage', MOVES)
def test_stage_metric_moves(stage, tiny_config, tmp_path, one_torch_thread):
    run = llmft.train(tiny_config(tmp_path/'run', stage=stage, dataset=DATA[stage], max_steps=6, max_samples=2,
                                  learning_rate=1e-2, lr_scheduler_type='constant', **NAMES,
                                  **ONE_BATCH.get(stage, {})),
                      verbose=False)
    for key, sign, least in MOVES[stage]:
        seen = [m[key] for m in run.metrics if m.get(key) is not None]
        assert len(seen) >= 2 and sign * (seen[-1] - seen[0]) >= least, f"{stage}: {key} {seen}"
