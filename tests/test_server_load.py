"""32 requests from 8 client threads against the real server on loopback, streamed and not, one client dropping out
mid-stream: every answer is the one the model gives alone, and the server still answers afterwards.
The figures (requests/s, latencies) are `bench/server_load.py`'s; nothing here asserts a time."""
import functools, sys
from pathlib import Path
import pytest

httpx = pytest.importorskip('httpx')
openai = pytest.importorskip('openai')
sys.path.insert(0, str(Path(__file__).resolve().parent.parent/'bench'))
import server_load as sl

@pytest.fixture(scope='module')
def url(tiny_model, request):
    load_cm = lambda: request.getfixturevalue('cm') # load the in-process model while the server starts
    with sl.start_server('llmft-tiny', env=dict(OMP_NUM_THREADS='1'), meanwhile=load_cm) as u: yield u

@pytest.fixture(scope='module')
def cm(tiny_model, one_torch_thread):
    from llmft.infer import ChatModel
    return ChatModel('llmft-tiny')

def alone(cm, kind, prompt, stream, max_tokens): return _alone(cm, kind, prompt, max_tokens) # streamed or not

@functools.cache
def _alone(cm, kind, prompt, max_tokens):
    "(text, finish reason, completion tokens) the model gives one greedy request, computed in this process."
    ids = cm.encode(prompt) if kind == 'chat' else cm.tokenizer.encode(prompt)
    out = list(cm.stream_ids(ids, do_sample=False, max_new_tokens=max_tokens))
    text = ''.join(t for t, _, _ in out)
    return (text.strip() if kind == 'chat' else text), out[-1][2], out[-1][1]

def test_load(url, cm):
    res = sl.load(url, n=32, threads=8)
    js = res['jobs']
    assert len(js) == 32 and {(k, s) for k, _, s, _ in js} == {(k, s) for k in ('chat', 'text') for s in (False, True)}
    assert res['answers'] == [alone(cm, *j) for j in js]
    assert [(f, n) for _, f, n in res['answers']] == [('length', j[3]) for j in js] # complete: all its max_tokens
    assert res['dropped_chunks'] == 2
    assert httpx.get(f'{url}/health').json()['status'] == 'ok'
    assert sl.ask(sl.client(url), 'text', 'Hi', True, 5) == alone(cm, 'text', 'Hi', True, 5)
