"""Every training stage for a few steps on a GPU with the tiny model, one line each: ran (steps, precision, losses) or
failed (why). The CPU runs these in the tests; this shows they also run under CUDA in bf16/fp16.

    python3 bench/gpu_stages.py --model DIR    # DIR: a copy of llmft.registry.build_tiny()'s folder
"""
import argparse, os, sys, tempfile, time, traceback, warnings
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault('HF_HUB_OFFLINE', '1')
warnings.filterwarnings('ignore')

def cases(rm_dir):
    "(name, config overrides) for each stage, methods varied."
    return [('pt qlora-4bit', dict(stage='pt', dataset='pt_demo', quantization_bit=4)),
            ('sft lora', dict(stage='sft', dataset='alpaca_demo')),
            ('rm lora', dict(stage='rm', dataset='dpo_demo', output_dir=rm_dir)),
            ('dpo freeze (frozen reference copy)', dict(stage='dpo', dataset='dpo_demo', finetuning_type='freeze', freeze_trainable_layers=1)),
            ('dpo lora sigmoid', dict(stage='dpo', dataset='dpo_demo')),
            ('orpo lora', dict(stage='dpo', dataset='dpo_demo', pref_loss='orpo')),
            ('kto lora', dict(stage='kto', dataset='kto_demo')),
            ('ppo lora (rm adapter on the shared base)', dict(stage='ppo', dataset='identity', reward_model=rm_dir, max_new_tokens=8)),
            ('grpo lora', dict(stage='grpo', dataset='identity', reward_funcs=['llmft.grpo:answer_f1'], num_generations=2, max_new_tokens=8)),
            ('sft full, galore', dict(stage='sft', dataset='alpaca_demo', finetuning_type='full', use_galore=True, galore_rank=4))]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', default='llmft-tiny')
    a = ap.parse_args()
    import torch, llmft
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu'
    tmp = Path(tempfile.mkdtemp())
    bad = 0
    for name, kw in cases(str(tmp/'rm')):
        t0 = time.time()
        base = dict(model=a.model, template='smollm2', cutoff_len=64, max_steps=4, logging_steps=1, per_device_train_batch_size=2,
                    learning_rate=1e-4, plot_loss=False, output_dir=str(tmp/name.split()[0]/str(len(os.listdir(tmp)))),
                    placeholders=dict(name='Nova', author='Orbit Labs'))
        try:
            run = llmft.train({**base, **kw}, verbose=False)
            r, ls = run.result, [m['loss'] for m in run.metrics if m.get('loss') is not None]
            print(f"{name:42s} ran: {r['steps']} steps on {dev}, {r['precision']}, loss {ls[0]:.3f} -> {ls[-1]:.3f}, "
                  f"peak {r['peak_memory_mb']:.0f} MB [{time.time()-t0:.1f}s]", flush=True)
        except Exception as e:
            bad += 1
            print(f"{name:42s} FAILED: {type(e).__name__}: {str(e)[:300]}", flush=True)
            traceback.print_exc(limit=3, file=sys.stderr)
    print(f"{bad} failed")
    sys.exit(1 if bad else 0)

if __name__ == '__main__': main()
