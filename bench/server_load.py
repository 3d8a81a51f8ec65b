"""The OpenAI-compatible server under concurrent requests, on loopback, through the official `openai` client.

Two measurements against `llmft serve` in a subprocess:

- batching: 8 greedy chat requests one after another, then the same 8 at once from 8 threads; the speed-up and
  whether the answers are identical (the server batches requests that arrive together on the `hf` engine);
- load: 32 requests from 8 client threads, chat and completions, streamed and not, one client that disconnects
  mid-stream; every answer is checked against the one the model gives alone, then the server must still answer.
  Prints requests/s and p50/p95 latency.

    .venv/bin/python bench/server_load.py [--model llmft-tiny] [--max-tokens 256] [--threads 1] [--json FILE]

The server runs torch on `--threads` threads (1 by default: a tiny model on a shared 2-core box runs fastest so).

`tests/test_server_load.py` runs the load part (smaller) in CI and imports `start_server` and `load` from here.
"""
import argparse, json, os, socket, statistics, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
import httpx, openai

KEY = 'bench-key'
PROMPTS = ['Once upon a time', 'Hi', 'The capital of France is', '2 + 2 =', 'def f(x):', 'Hello there',
           'Why is the sky', 'Name a colour:']

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

@contextmanager
def start_server(model='llmft-tiny', env=None, timeout=180, meanwhile=None):
    "URL of `serve(model)` in a subprocess once `/health` answers; stopped on exit. `meanwhile()` runs as it starts."
    port, log = free_port(), tempfile.TemporaryFile()
    code = f'from llmft.server import serve; serve({model!r}, port={port}, api_key={KEY!r})'
    env = {**os.environ, **(env or {})}
    p = subprocess.Popen([sys.executable, '-c', code], stdout=log, stderr=subprocess.STDOUT, env=env)
    url, deadline = f'http://127.0.0.1:{port}', time.time() + timeout
    try:
        if meanwhile: meanwhile()
        while True:
            try:
                if httpx.get(f'{url}/health', timeout=2).status_code == 200: break
            except httpx.TransportError: pass
            if p.poll() is not None or time.time() > deadline:
                log.seek(0)
                raise RuntimeError(f'server did not come up:\n{log.read().decode(errors="replace")[-3000:]}')
            time.sleep(0.3)
        yield url
    finally:
        p.terminate()
        try: p.wait(10)
        except subprocess.TimeoutExpired: p.kill(); p.wait()
        log.close()

def client(url): return openai.OpenAI(base_url=f'{url}/v1', api_key=KEY, max_retries=0, timeout=120)

def ask(c, kind, prompt, stream, max_tokens, model='llmft-tiny'):
    "(text, finish reason, completion tokens) of one greedy request of `kind` 'chat' or 'text'."
    kw = dict(model=model, max_tokens=max_tokens, temperature=0, stream=stream)
    if stream: kw['stream_options'] = dict(include_usage=True)
    if kind == 'chat': r = c.chat.completions.create(messages=[dict(role='user', content=prompt)], **kw)
    else: r = c.completions.create(prompt=prompt, **kw)
    if not stream:
        ch = r.choices[0]
        return (ch.message.content if kind == 'chat' else ch.text), ch.finish_reason, r.usage.completion_tokens
    text, finish, n = '', None, None
    for ev in r:
        if ev.usage: n = ev.usage.completion_tokens
        for ch in ev.choices:
            text += (ch.delta.content or '') if kind == 'chat' else ch.text
            finish = ch.finish_reason or finish
    return text, finish, n

def disconnect_mid_stream(url, prompt, max_tokens=64, model='llmft-tiny') -> int:
    "Open a streamed request, read two chunks, drop the connection; the chunks read."
    body = dict(model=model, prompt=prompt, max_tokens=max_tokens, temperature=0, stream=True)
    got = 0
    auth = {'Authorization': f'Bearer {KEY}'}
    with httpx.stream('POST', f'{url}/v1/completions', json=body, headers=auth, timeout=60) as r:
        for line in r.iter_lines():
            if line.startswith('data: '): got += 1
            if got == 2: break
    return got

def jobs(n=32, max_tokens=16):
    "`n` requests as (kind, prompt, stream, max_tokens): chat and text, streamed and not, lengths varied."
    return [('chat' if i % 4 < 2 else 'text', PROMPTS[i % len(PROMPTS)], i % 2 == 1, max_tokens + i % 3)
            for i in range(n)]

def load(url, n=32, threads=8, max_tokens=16, model='llmft-tiny') -> dict:
    "Send `jobs(n)` from `threads` threads plus one client that disconnects mid-stream; answers, latencies, timing."
    c, js = client(url), jobs(n, max_tokens)
    def timed(j):
        t = time.perf_counter()
        out = ask(c, *j, model=model)
        return out, time.perf_counter() - t
    with ThreadPoolExecutor(threads + 1) as ex:
        t0 = time.perf_counter()
        dropped = ex.submit(disconnect_mid_stream, url, PROMPTS[0], 64, model)
        res = list(ex.map(timed, js))
        wall = time.perf_counter() - t0
    lat = sorted(t for _, t in res)
    return dict(jobs=js, answers=[a for a, _ in res], dropped_chunks=dropped.result(), wall_s=wall,
                requests_per_s=n / wall, p50_s=statistics.median(lat), p95_s=lat[min(n - 1, round(0.95 * (n - 1)))])

def batching(url, max_tokens=256, model='llmft-tiny') -> dict:
    "8 greedy chats one after another, then at once: seconds of each, the speed-up, and whether answers agree."
    c = client(url)
    one = lambda p: ask(c, 'chat', p, False, max_tokens, model)
    t = time.perf_counter(); alone = [one(p) for p in PROMPTS]; seq = time.perf_counter() - t
    with ThreadPoolExecutor(8) as ex:
        t = time.perf_counter(); together = list(ex.map(one, PROMPTS)); conc = time.perf_counter() - t
    return dict(sequential_s=seq, concurrent_s=conc, speedup=seq / conc, identical=alone == together,
                tokens=sum(n for _, _, n in alone))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', default='llmft-tiny'); ap.add_argument('--max-tokens', type=int, default=256)
    ap.add_argument('--threads', default='1', help="the server's OMP_NUM_THREADS")
    ap.add_argument('--json', help='also write the figures to this file')
    a = ap.parse_args()
    with start_server(a.model, env=dict(OMP_NUM_THREADS=a.threads)) as url:
        ask(client(url), 'chat', 'Hi', False, 2, a.model) # warm up
        b = batching(url, a.max_tokens, a.model)
        print(f"batching: 8 chats of {a.max_tokens} tokens: sequential {b['sequential_s']:.2f} s, concurrent "
              f"{b['concurrent_s']:.2f} s, speed-up {b['speedup']:.2f}x, identical answers: {b['identical']}")
        ld = load(url, model=a.model)
        ok = httpx.get(f'{url}/health').status_code == 200
        print(f"load: 32 requests from 8 threads (+1 dropped mid-stream): {ld['requests_per_s']:.2f} requests/s, "
              f"p50 {ld['p50_s']:.2f} s, p95 {ld['p95_s']:.2f} s, wall {ld['wall_s']:.2f} s; "
              f"server answers after: {ok}")
    if a.json:
        keep = {k: v for k, v in ld.items() if k not in ('jobs', 'answers')}
        res = dict(model=a.model, batching=b, load=keep, cpus=os.cpu_count(), threads=a.threads)
        Path(a.json).write_text(json.dumps(res, indent=2) + '\n')

if __name__ == '__main__': main()
