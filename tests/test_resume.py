"""A run killed with SIGKILL mid-training resumes from its last checkpoint and continues exactly as an
uninterrupted run."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import torch, yaml
from safetensors.torch import load_file

def start(cmd, cfg, out, cwd):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.Popen([cmd, 'train', str(cfg), f'output_dir={out}'], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

def losses(run): return {m['step']: m['loss'] for m in map(json.loads, (run/'metrics.jsonl').read_text().splitlines())}

def test_killed_run_resumes_exactly(llmft_cmd, tiny_config, one_torch_thread, tmp_path):
    from llmft import train
    cfg = tmp_path/'tiny.yaml'
    cfg.write_text(yaml.safe_dump(tiny_config(per_device_train_batch_size=4, learning_rate=1e-3, max_steps=24,
                                              save_steps=4, seed=7)))
    killed = start(llmft_cmd, cfg, 'killed', tmp_path)
    run = tmp_path/'killed'
    while not list(run.glob('checkpoint-*')) and killed.poll() is None: time.sleep(0.01)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL, \
        f"the run ended before it could be killed: raise max_steps\n{killed.stderr.read()}"
    assert not (run/'result.json').exists()
    cks = sorted(run.glob('checkpoint-*'))
    print('after the kill:', sorted(p.name for p in run.iterdir()))
    for ck in cks:  # every checkpoint the kill left is complete and loads
        assert json.loads((ck/'trainer_state.json').read_text())['global_step'] == int(ck.name.split('-')[1])
        assert load_file(ck/'adapter_model.safetensors') and torch.load(ck/'optimizer.pt', weights_only=True)['state']
    last = max(int(p.name.split('-')[1]) for p in cks)
    # the same command again, while the uninterrupted run trains here
    resumed = start(llmft_cmd, cfg, 'killed', tmp_path)
    train(cfg, output_dir=str(tmp_path/'full'), verbose=False)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert f'resuming from checkpoint-{last}' in out
    assert not list(run.glob('.tmp-*'))
    assert json.loads((run/'result.json').read_text())['steps'] == 24
    steps = [json.loads(l)['step'] for l in (run/'metrics.jsonl').read_text().splitlines()]
    assert steps == list(range(1, 25))
    a, b = losses(tmp_path/'full'), losses(run)
    assert len(set(a.values())) > 20  # the losses move, so matching them means something
    for s in range(1, 25): assert abs(a[s] - b[s]) < 1e-4, (s, a[s], b[s], last)
