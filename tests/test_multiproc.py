"""`llmft train --nproc 2`: two data-parallel processes (gloo on the CPU) train as one process with the same
global batch."""
import json, os, subprocess
import pytest, yaml
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

@pytest.fixture
def cfg(tiny_config, tmp_path):
    "The config file of both runs: six logged steps of the tiny model, a checkpoint at step 3, the loss figure drawn."
    cfg = tmp_path/'tiny.yaml'
    cfg.write_text(yaml.safe_dump(tiny_config(learning_rate=1e-2, max_steps=6, save_steps=3, seed=3, plot_loss=True)))
    return cfg

def same_losses(one, two):
    "The losses of `one` (a `Run`) are those in run folder `two`, six different ones: matching them means something."
    a = [m['loss'] for m in one.metrics]
    b = [json.loads(l)['loss'] for l in (two/'metrics.jsonl').read_text().splitlines()]
    assert len(a) == len(b) == 6 and len(set(a)) == 6, (a, b)
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-4, (a, b)

def two_and_one(cmd, cfg, *keys):
    ("Train `cfg` plus `keys` in 2 processes of batch 2 (CLI, in the background) and here with batch 4; "
     "the losses must match.")
    from llmft import train
    tmp_path = cfg.parent
    two = subprocess.Popen([cmd, 'train', str(cfg), '--nproc', '2', 'per_device_train_batch_size=2', 'output_dir=two',
                            *keys], cwd=tmp_path, env=dict(os.environ, OMP_NUM_THREADS='1'),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    one = train(cfg, per_device_train_batch_size=4, output_dir=str(tmp_path/'one'), verbose=False,
                **dict(k.split('=') for k in keys if not k.startswith('fsdp')))
    out, err = two.communicate(timeout=300)
    assert two.returncode == 0, err
    same_losses(one, tmp_path/'two')
    return out

def test_two_processes_match_one(llmft_cmd, cfg, one_torch_thread, tmp_path):
    out = two_and_one(llmft_cmd, cfg)
    # rank 0 alone prints
    assert out.count('run folder:') == 1 and out.count('done:') == 1 and out.count('run: two') == 1, out
    run = tmp_path/'two'
    assert sorted(p.name for p in (run/'checkpoint-3').glob('rng_state*')) == ['rng_state_0.pth', 'rng_state_1.pth']
    assert not list(run.glob('.tmp-*')) and (run/'result.json').exists() and (run/'loss.png').exists()

@pytest.mark.slow
def test_fsdp_two_processes_match_one(llmft_cmd, cfg, one_torch_thread, tmp_path):
    "FSDP2 shards the weights of a full fine-tune across two CPU processes; the losses are those of one process."
    two_and_one(llmft_cmd, cfg, 'finetuning_type=full', 'disable_gradient_checkpointing=true',
                f"fsdp_config={ROOT/'examples'/'fsdp_config.json'}")
    assert (tmp_path/'two'/'model.safetensors').exists() \
        and (tmp_path/'two'/'checkpoint-3'/'model.safetensors').exists()

def free_port() -> int:
    import socket
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.mark.slow
def test_two_nodes_match_one(llmft_cmd, cfg, one_torch_thread, tmp_path):
    "Two torchrun launches over loopback, one process each (two 'nodes' sharing the run folder), train as one process."
    from llmft import train
    port, env = str(free_port()), dict(os.environ, OMP_NUM_THREADS='1')
    nodes = [subprocess.Popen([llmft_cmd, 'train', str(cfg), '--nnodes', '2', '--node-rank', str(r),
                               '--master-addr', '127.0.0.1', '--master-port', port, 'per_device_train_batch_size=2',
                               'output_dir=two'], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in (0, 1)]
    one = train(cfg, per_device_train_batch_size=4, output_dir=str(tmp_path/'one'), verbose=False)
    outs = [n.communicate(timeout=300) for n in nodes]
    assert [n.returncode for n in nodes] == [0, 0], outs
    same_losses(one, tmp_path/'two')
    assert outs[0][0].count('done:') == 1 and 'done:' not in outs[1][0]  # global rank 0 alone reports
    assert sorted(p.name for p in (tmp_path/'two'/'checkpoint-3').glob('rng_state*')) == \
        ['rng_state_0.pth', 'rng_state_1.pth']
