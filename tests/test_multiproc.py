"""`llmft train --nproc 2`: two data-parallel processes (gloo on the CPU) train as one process with the same global batch."""
import json, os, subprocess
from pathlib import Path

CONFIG = """model: llmft-tiny
dataset: identity
cutoff_len: 64
learning_rate: 1.0e-2
max_steps: 6
save_steps: 3
logging_steps: 1
seed: 3
"""

def test_two_processes_match_one(llmft_cmd, tiny_model, one_torch_thread, tmp_path):
    from llmft import train
    cfg = tmp_path/'tiny.yaml'
    cfg.write_text(CONFIG)
    two = subprocess.Popen([llmft_cmd, 'train', str(cfg), '--nproc', '2', 'per_device_train_batch_size=2', 'output_dir=two'], cwd=tmp_path,
                           env=dict(os.environ, OMP_NUM_THREADS='1'), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    one = train(cfg, per_device_train_batch_size=4, output_dir=str(tmp_path/'one'), verbose=False)
    out, err = two.communicate(timeout=300)
    assert two.returncode == 0, err
    assert out.count('run folder:') == 1 and out.count('done:') == 1 and out.count('run: two') == 1, out  # rank 0 alone prints
    run = tmp_path/'two'
    assert sorted(p.name for p in (run/'checkpoint-3').glob('rng_state*')) == ['rng_state_0.pth', 'rng_state_1.pth']
    assert not list(run.glob('.tmp-*')) and (run/'result.json').exists() and (run/'loss.png').exists()
    a = [m['loss'] for m in one.metrics]
    b = [json.loads(l)['loss'] for l in (run/'metrics.jsonl').read_text().splitlines()]
    assert len(a) == len(b) == 6 and len(set(a)) == 6
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-4, (a, b)
