"""`llmft.estimate` says what a user will see: which method needs more, that longer rows and bigger batches cost more,
and a figure close to the peak memory a real run reaches."""
import json, os, subprocess, sys
import pytest
import llmft, llmft.config

SMOL = dict(dataset='identity', model='smollm2-135m-instruct', per_device_train_batch_size=2, cutoff_len=128)
METHODS = dict(full=dict(finetuning_type='full'), freeze=dict(finetuning_type='freeze'), lora={},
               qlora=dict(quantization_bit=4))

def test_methods_ordered_and_growing():
    gpu = {k: llmft.estimate(SMOL, device='cuda', **kw).total_bytes for k, kw in METHODS.items()}
    assert gpu['full'] > 2 * gpu['freeze'] and gpu['freeze'] > gpu['lora'] > gpu['qlora']
    e = llmft.estimate(SMOL, device='cpu')
    for kw in dict(cutoff_len=512), dict(per_device_train_batch_size=8):
        bigger = llmft.estimate(SMOL, device='cpu', **kw)
        assert bigger.parts['logits'] == 4 * e.parts['logits'] and bigger.total_bytes > e.total_bytes
    from llmft.memory import _gb # what the estimate prints is its own figures: the total, and each part
    assert str(e).startswith(f"memory estimate: {_gb(e.total_bytes)} peak for lora on cpu ("), str(e)
    assert f"  {'logits':<12}{_gb(e.parts['logits']):>10}" in str(e).splitlines(), str(e)
    assert f"<tr><td>logits</td><td style='text-align:right'>{_gb(e.parts['logits'])}</td></tr>" in e._repr_html_()
    assert e.parts['baseline'] > 100 * 2**20 and 'free now: fits' in e.line() # the whole process, against free memory
    with pytest.raises(llmft.config.ConfigError, match="auto_fit='maybe': expected bool"):
        llmft.estimate(SMOL, auto_fit='maybe')

# the child's own peak RSS (VmHWM): ru_maxrss, which result.json reports, starts from the parent's peak after a fork
CHILD = """
import json, sys, tempfile, torch
torch.set_num_threads(1)
import llmft, llmft.trainer
with tempfile.TemporaryDirectory() as d:
    llmft.train(json.loads(sys.argv[1]), output_dir=d, max_steps=3)
print('RESULT', next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) / 1024)
"""

def test_estimate_close_to_measured_peak(tiny_config):
    "Full fine-tuning of the tiny model, batch 4 x 128: the whole process's peak resident memory, which limits count."
    cfg = tiny_config(finetuning_type='full', packing=True, per_device_train_batch_size=4, cutoff_len=128)
    est = llmft.estimate(cfg, device='cpu')
    out = subprocess.run([sys.executable, '-c', CHILD, json.dumps(cfg)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, 'OMP_NUM_THREADS': '1'})
    line = [l for l in out.stdout.splitlines() if l.startswith('RESULT')]
    assert line, out.stderr[-3000:]
    measured = float(line[0].split()[1])
    assert 'memory estimate: ' in out.stdout and 'free now: fits' in out.stdout # printed before the model loads
    print(f"estimate {est.total_bytes / 2**20:.0f} MB, measured peak RSS {measured:.0f} MB")
    assert 0.85 < est.total_bytes / 2**20 / measured < 1.15

CAPPED = """
import json, resource, sys, tempfile, torch
torch.set_num_threads(1)
import llmft, llmft.trainer
from llmft.memory import baseline_bytes, _status_bytes
baseline_bytes() # measured before the cap, which its subprocess would inherit
resource.setrlimit(resource.RLIMIT_DATA, (_status_bytes('VmData') + int(sys.argv[2]) * 2**20, resource.RLIM_INFINITY))
for name, kw in (('auto_fit', dict(auto_fit=True)), ('plain', {})):
    try:
        with tempfile.TemporaryDirectory() as d:
            run = llmft.train(json.loads(sys.argv[1]), output_dir=d, **kw)
            t = run.config.train
            r = dict(losses=[m['loss'] for m in run.metrics if 'loss' in m], micro=t.per_device_train_batch_size,
                     accum=t.gradient_accumulation_steps)
    except Exception as e: r = dict(error=f"{type(e).__name__}: {e}"[:300])
    print('RESULT', name, json.dumps(r), flush=True)
"""

def test_auto_fit_under_memory_cap(tiny_config, tmp_path):
    "700 MB above what the process maps (RLIMIT_DATA): micro-batch 8 x 256 fails, auto_fit trains the global batch."
    cfg = tiny_config(finetuning_type='full', packing=True, cutoff_len=256, per_device_train_batch_size=8)
    out = subprocess.run([sys.executable, '-c', CAPPED, json.dumps(cfg), '700'], capture_output=True, text=True,
                         timeout=300, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    res = {l.split()[1]: json.loads(l.split(' ', 2)[2]) for l in out.stdout.splitlines() if l.startswith('RESULT')}
    assert set(res) == {'plain', 'auto_fit'}, out.stderr[-3000:]
    assert "can't allocate memory" in res['plain']['error'] and 'WILL NOT FIT' in out.stdout # said before it loaded
    fit = res['auto_fit']
    assert 'error' not in fit and fit['micro'] < 8 and fit['micro'] * fit['accum'] == 8, fit # the global batch kept
    assert 'auto_fit on cpu: ' in out.stdout and 'global batch 8, as asked' in out.stdout
    plain = llmft.train(cfg, output_dir=str(tmp_path/'plain'), verbose=False) # uncapped, here
    losses = [m['loss'] for m in plain.metrics if 'loss' in m]
    assert len(fit['losses']) == len(losses) == 2 and all(abs(a - b) < 1e-3 * b for a, b in zip(fit['losses'], losses))
