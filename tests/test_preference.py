"""Preference stages end to end on the tiny model: DPO from the CLI, KTO from the Python API, both from examples/."""
import json, math, subprocess
from pathlib import Path
import llmft

ROOT = Path(__file__).resolve().parent.parent
# six steps on the example's own dataset (dataset=None keeps it), logged every other step
PREF = dict(dataset=None, max_samples=8, per_device_train_batch_size=4, cutoff_len=48, max_steps=6, logging_steps=2,
            learning_rate=1e-2, lr_scheduler_type='constant', warmup_ratio=0.0)

def test_dpo_from_the_cli(llmft_cmd, tiny_config, tmp_path):
    args = [f'{k}={v}' for k, v in tiny_config(tmp_path/'run', **PREF).items()]
    r = subprocess.run([llmft_cmd, 'train', str(ROOT/'examples'/'dpo_lora.yaml'), *args],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert 'reference: the base model with the LoRA adapter switched off' in r.stdout
    run = llmft.Run(tmp_path/'run')
    assert run.finished and run.result['stage'] == 'dpo' and run.result['steps'] == 6
    ms = run.metrics
    assert [m['step'] for m in ms] == [2, 4, 6]
    assert ms[0]['loss'] < math.log(2) + 1e-3 and ms[-1]['loss'] < ms[0]['loss']
    assert ms[-1]['rewards/margins'] > ms[0]['rewards/margins'] > 0
    assert ms[-1]['rewards/accuracies'] == 1.0

def test_kto_from_python(tiny_config, tmp_path):
    run = llmft.train(ROOT/'examples'/'kto_lora.yaml', **tiny_config(tmp_path/'run', **PREF), verbose=False)
    assert run.finished and run.result['stage'] == 'kto' and run.result['steps'] == 6
    ms = run.metrics
    assert ms[-1]['loss'] < ms[0]['loss']
    assert ms[-1]['rewards/chosen'] > 0 > ms[-1]['rewards/rejected']
    assert ms[-1]['kto/kl'] >= 0
