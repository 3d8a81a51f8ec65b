"""`llmft.estimate` says what a user will see: which method needs more, that longer rows and bigger batches cost more,
and a figure close to the peak memory a real run reaches."""
import json, os, subprocess, sys
import llmft

SMOL = dict(dataset='identity', model='smollm2-135m-instruct', per_device_train_batch_size=2, cutoff_len=128)
METHODS = dict(full=dict(finetuning_type='full'), freeze=dict(finetuning_type='freeze'), lora={}, qlora=dict(quantization_bit=4))

def test_methods_ordered_and_growing():
    gpu = {k: llmft.estimate(SMOL, device='cuda', **kw).total_bytes for k, kw in METHODS.items()}
    assert gpu['full'] > 2 * gpu['freeze'] and gpu['freeze'] > gpu['lora'] > gpu['qlora']
    e = llmft.estimate(SMOL, device='cpu')
    for kw in dict(cutoff_len=512), dict(per_device_train_batch_size=8):
        bigger = llmft.estimate(SMOL, device='cpu', **kw)
        assert bigger.parts['logits'] == 4 * e.parts['logits'] and bigger.total_bytes > e.total_bytes
    assert str(e).startswith('memory estimate: ') and 'logits' in str(e) and '<table>' in e._repr_html_()

# the child's own peak RSS (VmHWM): ru_maxrss, which result.json reports, starts from the parent's peak after fork + exec
CHILD = """
import json, sys, tempfile, torch
torch.set_num_threads(1)
import llmft, llmft.trainer
with tempfile.TemporaryDirectory() as d:
    llmft.train(json.loads(sys.argv[1]), output_dir=d, max_steps=3, logging_steps=1, save_steps=10**6, plot_loss=False)
print('RESULT', next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) / 1024)
"""

def test_estimate_close_to_measured_peak(tiny_model):
    "Full fine-tuning of the tiny model, batch 4 x 128: the whole process's peak resident memory, as a memory limit counts it."
    cfg = dict(dataset='identity', model='llmft-tiny', finetuning_type='full', packing=True, per_device_train_batch_size=4,
               cutoff_len=128)
    est = llmft.estimate(cfg, device='cpu')
    out = subprocess.run([sys.executable, '-c', CHILD, json.dumps(cfg)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, 'OMP_NUM_THREADS': '1'})
    line = [l for l in out.stdout.splitlines() if l.startswith('RESULT')]
    assert line, out.stderr[-3000:]
    measured = float(line[0].split()[1])
    assert 'memory estimate: ' in out.stdout and 'free now: fits' in out.stdout # printed before the model loads
    print(f"estimate {est.total_bytes / 2**20:.0f} MB, measured peak RSS {measured:.0f} MB")
    assert 0.85 < est.total_bytes / 2**20 / measured < 1.15
