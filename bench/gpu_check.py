"""Exercise every GPU path of llmft's model loader on the tiny model and print one line per path: ran (with what it
showed) or skipped (and why). Paths: precision pick, sdpa, flash-attention 2, QLoRA in 4 and 8 bits, LoRA under bf16 and
fp16 autocast, GaLore, S²-attention, vLLM, and a throughput line: LoRA and QLoRA on a 1B-class Llama with random
weights, llmft against TRL + PEFT (`bench/train_bench.py --tables auto,qlora`, tokens/s and peak GPU memory; it needs
the trl package). Runs in about 5 minutes on one GPU, most of it the throughput line.

It needs only torch, transformers, peft, accelerate and pyyaml; each path imports what it needs and is skipped, naming
the package, when that is missing. llmft need not be installed: the repository root is put on the path.

    python3 bench/gpu_check.py --model DIR    # DIR: a copy of llmft.registry.build_tiny()'s folder
"""
import argparse, importlib.util, os, sys, tempfile, time, traceback, warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
warnings.filterwarnings('ignore')

class Skip(Exception): "A path that cannot run here; the message says why."

def need(*pkgs):
    "Skip unless every package of `pkgs` is importable."
    missing = [p for p in pkgs if importlib.util.find_spec(p) is None]
    if missing: raise Skip(f"no {', '.join(missing)} package")

def need_cuda():
    import torch
    if not torch.cuda.is_available(): raise Skip('no CUDA GPU')

def cfg(model, **kw):
    from llmft.config import load_config
    return load_config(dict(model=model, template='smollm2', dataset='identity', cutoff_len=64, **kw))

def batch(tok, n=4, length=64):
    "One batch of real text, `n` rows of `length` tokens, on the GPU."
    import torch
    text = "The tiny model learns this sentence about fine-tuning language models on a GPU. " * 16
    ids = torch.tensor(tok.encode(text, add_special_tokens=False)[:length]).repeat(n, 1)
    return ids.cuda()

def steps(model, ids, n=12, lr=1e-2, autocast=None, optimizer=None, scaler=None):
    "Train `n` steps on one batch; (first loss, last loss)."
    import torch
    opt = optimizer or torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    losses = []
    for _ in range(n):
        with torch.autocast('cuda', dtype=autocast, enabled=autocast is not None):
            loss = model(input_ids=ids, labels=ids).loss
        (scaler.scale(loss) if scaler else loss).backward()
        if scaler: scaler.step(opt); scaler.update()
        else: opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    if not losses[-1] < losses[0]: raise AssertionError(f"loss did not go down: {losses}")
    return losses[0], losses[-1]

def trained(model, ids, **kw):
    a, b = steps(model, ids, **kw)
    return f"loss {a:.3f} -> {b:.3f}"

# ---- the paths ----

def precision(model):
    need_cuda()
    import torch
    from llmft.model import pick_precision
    prec, dev, why = pick_precision('auto')
    want = 'bf16' if torch.cuda.is_bf16_supported() else 'fp16'
    if (prec, dev) != (want, 'cuda'): raise AssertionError(f"picked {prec} on {dev}, expected {want} on cuda")
    return f"{prec} on {torch.cuda.get_device_name()} ({why})"

def _logits_vs_eager(model, attn, precision='auto'):
    import torch
    from llmft.model import load_model
    ld = load_model(cfg(model, flash_attn=attn, precision=precision), trainable=False)
    ref = load_model(cfg(model, flash_attn='eager', precision=precision), trainable=False)
    impl = ld.model.config._attn_implementation
    ids = batch(ld.tokenizer, 2, 48)
    with torch.no_grad(): diff = (ld.model(ids).logits.float() - ref.model(ids).logits.float()).abs().max().item()
    if diff > 0.1: raise AssertionError(f"{impl} logits differ from eager by {diff:.3g}")
    return impl, diff, ld.precision

def sdpa(model):
    need_cuda()
    impl, diff, prec = _logits_vs_eager(model, 'sdpa')
    if impl != 'sdpa': raise AssertionError(f"asked for sdpa, got {impl}")
    return f"{impl} in {prec}, logits within {diff:.2g} of eager"

def flash_attention_2(model):
    need_cuda(); need('flash_attn')
    from llmft.model import pick_attention
    if pick_attention('auto', 'cuda')[0] != 'flash_attention_2': raise AssertionError("flash_attn=auto did not pick flash_attention_2")
    impl, diff, prec = _logits_vs_eager(model, 'fa2')
    if impl != 'flash_attention_2': raise AssertionError(f"asked for fa2, got {impl}")
    return f"{impl} in {prec} (auto picks it), logits within {diff:.2g} of eager"

def qlora(model, bits):
    need_cuda(); need('bitsandbytes')
    import bitsandbytes as bnb
    from llmft.model import load_model
    ld = load_model(cfg(model, quantization_bit=bits, lora_rank=8, disable_gradient_checkpointing=False))
    layer = type(ld.model.base_model.model.model.layers[0].mlp.down_proj.base_layer)
    want = bnb.nn.Linear4bit if bits == 4 else bnb.nn.Linear8bitLt
    if layer is not want: raise AssertionError(f"base layer is {layer.__name__}, expected {want.__name__}")
    dev = next(p for p in ld.model.parameters() if p.requires_grad).device
    return f"{layer.__name__} on {dev}, {trained(ld.model, batch(ld.tokenizer))}"

def lora_autocast(model, prec):
    need_cuda()
    import torch
    if prec == 'bf16' and not torch.cuda.is_bf16_supported(): raise Skip('this GPU has no bf16')
    from llmft.model import load_model
    ld = load_model(cfg(model, precision=prec, lora_rank=8))
    dt = dict(bf16=torch.bfloat16, fp16=torch.float16)[prec]
    base = ld.model.base_model.model.model.layers[0].mlp.down_proj.base_layer.weight.dtype
    lora = {p.dtype for p in ld.model.parameters() if p.requires_grad}
    if lora != {torch.float32}: raise AssertionError(f"trainable parameters are {lora}, expected fp32")
    scaler = torch.amp.GradScaler('cuda') if prec == 'fp16' else None
    return f"base {str(base)[6:]}, adapters fp32, {prec} autocast{' with loss scaling' if scaler else ''}: {trained(ld.model, batch(ld.tokenizer), autocast=dt, scaler=scaler)}"

def galore(model):
    need_cuda(); need('galore_torch', 'bitsandbytes')
    import torch
    from transformers import Trainer, TrainingArguments
    from llmft.model import load_model
    ld = load_model(cfg(model, finetuning_type='full', use_galore=True, galore_rank=8, galore_update_interval=5))
    args = TrainingArguments(output_dir=tempfile.mkdtemp(), report_to='none', learning_rate=2e-3, **ld.method.train_args())
    cls, kw = Trainer.get_optimizer_cls_and_kwargs(args, ld.model)
    opt = cls(**kw)
    projected = sum(len(g['params']) for g in opt.param_groups if 'rank' in g)
    return f"{cls.__module__}.{cls.__name__}, {projected} projected matrices: {trained(ld.model, batch(ld.tokenizer), optimizer=opt, autocast=torch.bfloat16 if ld.precision == 'bf16' else None)}"

def s2_attention(model):
    need_cuda()
    import torch
    from llmft.model import load_model
    ld = load_model(cfg(model, shift_attn=True, lora_rank=8, disable_gradient_checkpointing=True))
    if ld.model.config._attn_implementation != 'llmft_s2': raise AssertionError(f"attention is {ld.model.config._attn_implementation}")
    ids = batch(ld.tokenizer)
    dt = torch.bfloat16 if ld.precision == 'bf16' else torch.float16
    with torch.no_grad(), torch.autocast('cuda', dtype=dt):
        ld.model.eval()
        full = ld.model(ids).logits.float()
        ld.model.train()
        grouped = ld.model(ids).logits.float()
    if (full - grouped).abs().max() < 1e-3: raise AssertionError("S²-attention gave the same logits as full attention on 64 tokens in groups of 16")
    return f"groups of {ld.model.config.s2_group_size} on {ids.shape[1]} tokens, {ld.precision} autocast: {trained(ld.model, ids, autocast=dt)}"

def vllm(model):
    need_cuda(); need('vllm')
    from vllm import LLM, SamplingParams
    llm = LLM(model=str(model), dtype='bfloat16', enforce_eager=True, gpu_memory_utilization=0.2, max_model_len=256, seed=0)
    out = llm.generate(["The capital of France is"], SamplingParams(max_tokens=8, temperature=0))
    n = len(out[0].outputs[0].token_ids)
    if n == 0: raise AssertionError("vLLM generated nothing")
    return f"vLLM {__import__('vllm').__version__} generated {n} tokens"

def _llama_1b(model):
    "A folder holding a TinyLlama-1.1B-shaped Llama with random bf16 weights and the tiny model's tokenizer."
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig
    d = Path(tempfile.mkdtemp(prefix='llama1b-'))
    tok = AutoTokenizer.from_pretrained(model)
    c = LlamaConfig(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                    num_key_value_heads=4, vocab_size=len(tok), max_position_embeddings=2048,
                    bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    with torch.device('cuda'): m = AutoModelForCausalLM.from_config(c, dtype=torch.bfloat16)
    m.save_pretrained(d); tok.save_pretrained(d)
    del m; torch.cuda.empty_cache()
    return d

def throughput(model):
    "LoRA and QLoRA on a 1B-class Llama: llmft against TRL + PEFT (bench/train_bench.py's job, one round of 20 steps)."
    need_cuda(); need('trl', 'bitsandbytes')
    import json, subprocess
    d = _llama_1b(model)
    out = d/'bench.json'
    bench = Path(__file__).resolve().parent/'train_bench.py'
    r = subprocess.run([sys.executable, str(bench), '--model', str(d), '--tables', 'auto,qlora', '--rounds', '1',
                        '--steps', '20', '--out', str(out)], capture_output=True, text=True)
    if r.returncode: raise AssertionError(f"train_bench failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
    tables = json.loads(out.read_text())['tables']
    def line(name):
        (_, a), (_, b) = tables[name]['runs'][:2]
        return (f"{'LoRA' if name == 'auto' else 'QLoRA'} {a['real_tps']:.0f} tokens/s vs TRL {b['real_tps']:.0f} "
                f"(x{a['real_tps'] / b['real_tps']:.2f}), peak {a['peak_gpu_mb']} vs {b['peak_gpu_mb']} MB "
                f"(x{a['peak_gpu_mb'] / b['peak_gpu_mb']:.2f})")
    return '; '.join(line(n) for n in ('auto', 'qlora'))

PATHS = dict(precision=precision, sdpa=sdpa, flash_attention_2=flash_attention_2, qlora_4bit=lambda m: qlora(m, 4),
             qlora_8bit=lambda m: qlora(m, 8), lora_bf16=lambda m: lora_autocast(m, 'bf16'), lora_fp16=lambda m: lora_autocast(m, 'fp16'),
             galore=galore, s2_attention=s2_attention, vllm=vllm, throughput=throughput)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--model', help="the tiny model's folder (default: llmft.registry.build_tiny(), which needs the gguf package)")
    ap.add_argument('--only', nargs='*', choices=list(PATHS), help='run only these paths')
    a = ap.parse_args()
    if a.model is None:
        need_gguf = importlib.util.find_spec('gguf') is None
        if need_gguf: sys.exit("no --model given and no gguf package to build the tiny model: pass --model DIR (a copy of llmft.registry.build_tiny())")
        from llmft.registry import build_tiny
        a.model = build_tiny()
    model = str(Path(a.model).resolve())
    import torch, transformers
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"GPU: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}", flush=True)
    failed, t0 = 0, time.time()
    for name, fn in PATHS.items():
        if a.only and name not in a.only: continue
        t = time.time()
        try: line = f"ran: {fn(model)}"
        except Skip as e: line = f"skipped: {e}"
        except Exception as e:
            failed += 1
            line = f"FAILED: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            traceback.print_exc(file=sys.stderr)
        finally:
            if torch.cuda.is_available(): torch.cuda.empty_cache()
        print(f"{name:<18} {line} [{time.time() - t:.1f}s]", flush=True)
    print(f"{failed} failed, {time.time() - t0:.0f}s in all", flush=True)
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
