"""Preprocessing throughput: examples/s of `llmft.processors.process` on the bundled alpaca data (SmolLM2 tokenizer).

    .venv/bin/python bench/data_throughput.py [--repeat 20] [--num-proc 1 2]

The data is repeated to make the run long enough to time; the cache is bypassed (`overwrite_cache`).
"""
import argparse, os, time
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('HF_DATASETS_DISABLE_PROGRESS_BARS', '1')

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--repeat', type=int, default=20)
    p.add_argument('--num-proc', type=int, nargs='+', default=[1, 2])
    a = p.parse_args()
    from transformers import AutoTokenizer
    from llmft.config import DataArgs
    from llmft.data import load_records
    from llmft.processors import process
    from llmft.registry import resolve_model
    from llmft.templates import get_template
    tok = AutoTokenizer.from_pretrained(resolve_model('smollm2-135m-instruct').path)
    recs = load_records(DataArgs(dataset=['alpaca_demo']), verbose=False) * a.repeat
    for n in a.num_proc:
        d = DataArgs(dataset=['alpaca_demo'], cutoff_len=1024, preprocessing_num_workers=n if n > 1 else None, overwrite_cache=True)
        t = time.perf_counter()
        ds, rep = process(recs, tok, get_template('smollm2'), d)
        s = time.perf_counter() - t
        print(f"num_proc={n}: {len(recs)} examples in {s:.2f} s = {len(recs)/s:,.0f} examples/s ({sum(map(len, ds['input_ids']))/s:,.0f} tokens/s)")

if __name__ == '__main__': main()
