"""llmft.estimate against the measured peak memory of the whole training process on SmolLM2-135M.

For full, freeze, LoRA and QLoRA (4-bit), with gradient checkpointing on and off and packing on and off, it runs
`llmft.train` for a few steps on the identity data (LLaMA-Factory's SFT example: batch 4, cutoff_len 256), each in a
fresh subprocess, and compares the estimate with what a memory limit counts: on the CPU the process's peak resident
memory (VmHWM in /proc/self/status: interpreter, libraries, weights, allocator slack, activations, logits, optimizer;
the run's `peak_memory_mb` is `ru_maxrss`, which Linux carries over from the parent across fork and exec), with glibc's
default allocator as `llmft train` runs. Unpacked rows are padded to the longest row of each batch, so the estimate is
also given for the longest batch the run saw (`seq`); `llmft train` prints the one at `cutoff_len`, an upper bound.

    OMP_NUM_THREADS=1 .venv/bin/python bench/memory_estimate.py [--steps 2] [--batch 4] [--cutoff 256] [--only lora]

On a machine with a GPU, `--gpu` compares with the device memory in use instead (the CUDA context measured after
start-up plus `torch.cuda.max_memory_reserved`) and prints the table without writing the results file.
"""
import argparse, importlib.util, itertools, json, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METHODS = dict(full=dict(finetuning_type='full'), freeze=dict(finetuning_type='freeze'), lora={},
               qlora=dict(quantization_bit=4))

CHILD = r'''
import json, sys, tempfile
import torch
torch.set_num_threads(1)
import transformers, peft, datasets, llmft, llmft.trainer
a, cfg = json.loads(sys.argv[1]), json.loads(sys.argv[2])
if a['gpu']:
    torch.ones(1, device='cuda') @ torch.ones(1, device='cuda')
    free, total = torch.cuda.mem_get_info()
    context = total - free - torch.cuda.memory_reserved()
seen = []
step = transformers.Trainer.training_step
def training_step(self, model, inputs, *args, **kw): # the batch shapes, for the longest padded batch
    seen.append(list(inputs['input_ids'].shape))
    return step(self, model, inputs, *args, **kw)
transformers.Trainer.training_step = training_step
with tempfile.TemporaryDirectory() as d:
    run = llmft.train(cfg, output_dir=d, max_steps=a['steps'], logging_steps=1, save_steps=10**6, plot_loss=False,
                      verbose=False)
    tps = run.result['tokens_per_sec']
if a['gpu']: peak = (context + torch.cuda.max_memory_reserved()) / 2**20
else: peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) / 1024
print('RESULT ' + json.dumps(dict(peak_mb=round(peak, 1), seq=max(s[1] for s in seen), tokens_per_sec=tps)))
'''

def config(a, method, gc, packing):
    return dict(model=a['model'], dataset='identity', packing=packing, cutoff_len=a['cutoff'],
                per_device_train_batch_size=a['batch'], disable_gradient_checkpointing=not gc, **METHODS[method])

def measure(a, cfg):
    out = subprocess.run([sys.executable, '-c', CHILD, json.dumps(a), json.dumps(cfg)], capture_output=True, text=True,
                         env={**os.environ, 'OMP_NUM_THREADS': '1', 'HF_HUB_OFFLINE': '1'})
    line = [l for l in out.stdout.splitlines() if l.startswith('RESULT ')]
    if out.returncode or not line: sys.exit(f"{cfg} failed:\n{out.stderr[-3000:]}")
    return json.loads(line[0][7:])

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--steps', type=int, default=2)
    p.add_argument('--batch', type=int, default=4)
    p.add_argument('--cutoff', type=int, default=256)
    p.add_argument('--gpu', action='store_true', help='compare with device memory in use on the GPU')
    p.add_argument('--model', default='smollm2-135m-instruct')
    p.add_argument('--only', default=','.join(METHODS), help='comma-separated methods')
    o = p.parse_args()
    a = dict(steps=o.steps, batch=o.batch, cutoff=o.cutoff, model=o.model, gpu=o.gpu)
    from llmft.memory import estimate
    device, rows = 'cuda' if o.gpu else 'cpu', []
    for method, gc, packing in itertools.product(o.only.split(','), (True, False), (True, False)):
        if method == 'qlora' and not importlib.util.find_spec('bitsandbytes'):
            print('qlora skipped: bitsandbytes is not installed'); continue
        cfg = config(a, method, gc, packing)
        m = measure(a, cfg)
        at_cutoff = estimate(cfg, device=device).total_bytes / 2**20
        est = estimate(cfg, device=device, cutoff_len=m['seq']).total_bytes / 2**20
        rows.append(dict(method=method, gc=gc, packing=packing, seq=m['seq'], estimate_mb=round(est),
                         at_cutoff_mb=round(at_cutoff), measured_mb=round(m['peak_mb']),
                         ratio=round(est / m['peak_mb'], 2), tokens_per_sec=m['tokens_per_sec']))
        print(json.dumps(rows[-1]), flush=True)
    write_results(a, rows)

def write_results(a, rows):
    "Print the table and, on the CPU, write it with what it shows to bench/results/memory_estimate.md."
    what = ('device memory in use (CUDA context + max_memory_reserved)' if a['gpu']
            else 'peak resident memory (VmHWM) of the process')
    head = (f"{a['model']} on the {'GPU' if a['gpu'] else 'CPU (fp32)'}, batch {a['batch']} x cutoff_len {a['cutoff']} "
            f"(identity data), {a['steps']} steps, one subprocess per row; measured = {what}; "
            "estimate = `llmft.estimate` for the longest batch the run saw (seq), at cutoff_len in brackets.\n")
    lines = ["| method | checkpointing | packing | seq | estimate MB | measured MB | estimate / measured | tokens/s |",
             "|---|---|---|---|---|---|---|---|"]
    on = lambda b: 'on' if b else 'off'
    lines += [f"| {r['method']} | {on(r['gc'])} | {on(r['packing'])} | {r['seq']} | {r['estimate_mb']} "
              f"({r['at_cutoff_mb']}) | {r['measured_mb']} | {r['ratio']} | {r['tokens_per_sec']:.0f} |" for r in rows]
    worst = max(abs(r['ratio'] - 1) for r in rows)
    text = head + '\n' + '\n'.join(lines) + f"\n\nWorst error: {worst:.0%}.\n"
    print(text)
    if a['gpu']: return
    out = ROOT/'bench'/'results'/'memory_estimate.md'
    cmd = (f"OMP_NUM_THREADS=1 .venv/bin/python bench/memory_estimate.py --steps {a['steps']} --batch {a['batch']} "
           f"--cutoff {a['cutoff']}")
    out.write_text('# Memory estimate against measurement\n\n' + text + f"\nCommand: `{cmd}`\n")
    print(f"wrote {out.relative_to(ROOT)}")

if __name__ == '__main__': main()
