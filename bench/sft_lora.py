"""LoRA SFT throughput and memory: llmft.train against a plain TRL SFTTrainer + PEFT baseline on the same data.

Both runs fine-tune SmolLM2-135M-Instruct (fp32, CPU unless a GPU is present) with LoRA r=8 on every linear layer,
on the bundled identity data (88 rows, prompt masked), batch 8, the same learning rate and number of steps, and no
gradient checkpointing (both turn it on by default; `--gc` compares with it on). Each runs
in its own subprocess so that peak memory is measured per run. Tokens/s counts real (non-padding) tokens.

    .venv/bin/python bench/sft_lora.py [--steps 20]
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMON = dict(steps=20, batch=8, lr=1e-3, rank=8, cutoff=256, seed=42, gc=False)

def peak_mb(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def run_llmft(a, out):
    import llmft
    run = llmft.train(str(ROOT/'examples'/'identity_lora.yaml'), output_dir=out, overwrite_output_dir=True, max_steps=a['steps'],
                      per_device_train_batch_size=a['batch'], learning_rate=a['lr'], lora_rank=a['rank'], cutoff_len=a['cutoff'],
                      seed=a['seed'], logging_steps=a['steps'], save_steps=10**6, disable_gradient_checkpointing=not a['gc'], verbose=False)
    r = run.result
    return dict(tokens_per_sec=r['tokens_per_sec'], final_loss=r['final_loss'], train_s=r['runtime_s'])

def run_trl(a, out):
    "The baseline: what a TRL user writes by hand for the same run."
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer
    from llmft.config import DataArgs
    from llmft.data import load_records
    from llmft.registry import resolve_model
    path = resolve_model('smollm2-135m-instruct').path
    recs = load_records(DataArgs(dataset=['identity'], placeholders=dict(name='Nova', author='Orbit Labs')))
    ds = Dataset.from_list([dict(prompt=r['messages'][:-1], completion=r['messages'][-1:]) for r in recs])
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    args = SFTConfig(output_dir=out, max_steps=a['steps'], per_device_train_batch_size=a['batch'], learning_rate=a['lr'],
                     max_length=a['cutoff'], seed=a['seed'], logging_steps=a['steps'], save_strategy='no', report_to='none',
                     use_cpu=not torch.cuda.is_available(), include_num_input_tokens_seen='non_padding', disable_tqdm=True,
                     lr_scheduler_type='cosine', warmup_steps=0.1, gradient_checkpointing=a['gc'])
    tr = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok,
                    peft_config=LoraConfig(r=a['rank'], lora_alpha=2*a['rank'], target_modules='all-linear', task_type='CAUSAL_LM'))
    t0 = time.time()
    res = tr.train()
    losses = [h['loss'] for h in tr.state.log_history if 'loss' in h]
    return dict(tokens_per_sec=round(tr.state.num_input_tokens_seen / res.metrics['train_runtime'], 1), final_loss=losses[-1],
                train_s=round(time.time() - t0, 2))

def child(which, a):
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    with tempfile.TemporaryDirectory() as d:
        r = (run_llmft if which == 'llmft' else run_trl)(a, d)
    import torch
    r['peak_memory_mb'] = round(torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else peak_mb(), 1)
    print('RESULT ' + json.dumps(r))

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--steps', type=int, default=COMMON['steps'])
    p.add_argument('--gc', action='store_true', help='gradient checkpointing on in both runs')
    p.add_argument('--child', choices=['llmft', 'trl'])
    p.add_argument('--args')
    o = p.parse_args()
    if o.child: return child(o.child, json.loads(o.args))
    a = {**COMMON, 'steps': o.steps, 'gc': o.gc}
    res = {}
    for which in ('trl', 'llmft'):
        out = subprocess.run([sys.executable, __file__, '--child', which, '--args', json.dumps(a)], capture_output=True, text=True)
        line = [l for l in out.stdout.splitlines() if l.startswith('RESULT ')]
        if out.returncode or not line: sys.exit(f"{which} failed:\n{out.stderr[-3000:]}")
        res[which] = json.loads(line[0][7:])
    ratio = {k: round(res['llmft'][k] / res['trl'][k], 3) for k in ('tokens_per_sec', 'peak_memory_mb')}
    print(f"SmolLM2-135M LoRA r={a['rank']} all-linear, batch {a['batch']}, {a['steps']} steps, identity data, cutoff {a['cutoff']}")
    print(f"{'':8} {'tokens/s':>9} {'peak MB':>9} {'final loss':>10}")
    for k, r in res.items(): print(f"{k:8} {r['tokens_per_sec']:>9.1f} {r['peak_memory_mb']:>9.0f} {r['final_loss']:>10.4f}")
    print(f"llmft / TRL: tokens/s x{ratio['tokens_per_sec']}, peak memory x{ratio['peak_memory_mb']}")
    out = ROOT/'bench'/'results'
    out.mkdir(exist_ok=True)
    (out/'sft_lora.json').write_text(json.dumps(dict(setup=a, results=res, ratio=ratio), indent=2) + '\n')

if __name__ == '__main__': main()
