"""The real server in a subprocess, spoken to by the official `openai` client and by raw HTTP."""
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import pytest

httpx = pytest.importorskip('httpx')
openai = pytest.importorskip('openai')
sys.path.insert(0, str(Path(__file__).resolve().parent.parent/'bench'))
from server_load import KEY, start_server
Q = 'Who are you?'

@pytest.fixture(scope='module')
def server(tiny_model, request):
    "Base URL of `serve('llmft-tiny', api_key=KEY)` in a subprocess, on one torch thread (a tiny model, a shared box)."
    load_cm = lambda: request.getfixturevalue('cm') # load the in-process model while the server starts
    with start_server('llmft-tiny', env=dict(OMP_NUM_THREADS='1'), meanwhile=load_cm) as url: yield url

@pytest.fixture(scope='module')
def cm(tiny_model, one_torch_thread):
    "The same model in this process, to compute the answers the server should give."
    from llmft.infer import ChatModel
    return ChatModel('llmft-tiny')

@pytest.fixture
def client(server): return openai.OpenAI(base_url=f'{server}/v1', api_key=KEY, max_retries=0, timeout=60)

def sampled(cm, seed, q=Q, n=8):
    "What the server should answer with temperature 1 and `seed`, computed in this process."
    import torch
    torch.manual_seed(seed)
    return cm.chat(q, do_sample=True, temperature=1.0, max_new_tokens=n)

def ask(client, q=Q, **kw):
    return client.chat.completions.create(model='llmft-tiny', messages=[{'role': 'user', 'content': q}],
                                          **{'max_tokens': 8, **kw})

def test_models(client):
    assert [m.id for m in client.models.list()] == ['llmft-tiny']

def test_chat_matches_chatmodel(client, cm):
    r = ask(client, temperature=0)
    assert r.choices[0].message.content == cm.chat(Q, do_sample=False, max_new_tokens=8)
    assert r.choices[0].finish_reason == 'length' and r.usage.completion_tokens == 8
    assert r.usage.prompt_tokens == len(cm.encode(Q))
    want = sampled(cm, 3)
    assert want and ask(client, temperature=1.0, seed=3).choices[0].message.content == want
    msgs = [{'role': 'system', 'content': 'You are terse.'}, {'role': 'user', 'content': Q}]
    r = client.chat.completions.create(model='llmft-tiny', messages=msgs, max_tokens=8, temperature=1.0, seed=5)
    assert r.choices[0].message.content == sampled(cm, 5, msgs) and r.model == 'llmft-tiny'

def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model='gpt-4o', messages=[{'role': 'user', 'content': Q}], max_tokens=8)
    assert e.value.code == 'model_not_found' and e.value.status_code == 404
    assert 'The model `gpt-4o` does not exist' in e.value.message and 'this server serves llmft-tiny' in e.value.message

def test_chat_stream(client, cm):
    chunks = list(ask(client, temperature=1.0, seed=3, stream=True))
    assert ''.join(c.choices[0].delta.content or '' for c in chunks) == \
        ask(client, temperature=1.0, seed=3).choices[0].message.content
    assert chunks[0].choices[0].delta.role == 'assistant' and chunks[-1].choices[0].finish_reason == 'length'

def test_completions(client, cm):
    import torch
    ids = cm.tokenizer('Once upon a time', return_tensors='pt').input_ids
    out = cm.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=8,
                            pad_token_id=cm.tokenizer.pad_token_id)
    want = cm.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    r = client.completions.create(model='llmft-tiny', prompt='Once upon a time', max_tokens=8, temperature=0)
    assert r.choices[0].text == want and r.usage.completion_tokens == 8
    assert ''.join(c.choices[0].text
                   for c in client.completions.create(model='llmft-tiny', prompt='Once upon a time', max_tokens=8,
                                                      temperature=0, stream=True)) == want
    r = client.completions.create(model='llmft-tiny', prompt='Once upon a time', max_tokens=8, temperature=0,
                                  stop=['e t'])
    assert (r.choices[0].text, r.choices[0].finish_reason) == (want[:want.index('e t')], 'stop')

def test_wrong_key(server):
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f'{server}/v1', api_key='wrong', max_retries=0).models.list()
    r = httpx.get(f'{server}/v1/models')
    assert r.status_code == 401 and set(r.json()['error']) == {'message', 'type', 'param', 'code'}
    assert httpx.get(f'{server}/health').status_code == 200

@pytest.mark.parametrize('body,param,code', [
    (b'{"messages": [', None, None),
    ({'messages': [{'role': 'user', 'content': Q}], 'max_tokens': 1_000_000}, 'max_tokens', None),
    ({'messages': [{'role': 'user', 'content': 'hello ' * 2100}], 'max_tokens': 8}, 'messages',
     'context_length_exceeded'),
    ({'messages': [{'role': 'user', 'content': Q}], 'temperature': 'hot'}, 'temperature', None),
    ({'messages': [{'role': 'tool', 'content': '42'}]}, 'messages.0.role', None),
    ({'messages': [{'role': 'user', 'content': Q}], 'n': 2}, 'n', None)])
def test_bad_requests(server, body, param, code):
    url, hdr = f'{server}/v1/chat/completions', {'Authorization': f'Bearer {KEY}'}
    r = httpx.post(url, content=body, headers=hdr | {'Content-Type': 'application/json'}) if isinstance(body, bytes) \
        else httpx.post(url, json=body, headers=hdr)
    assert r.status_code == 400, r.text
    err = r.json()['error']
    assert set(err) == {'message', 'type', 'param', 'code'} and (err['param'], err['code']) == (param, code)

def test_bad_request_raises_in_client(client):
    with pytest.raises(openai.BadRequestError): ask(client, max_tokens=1_000_000)

def test_concurrent(server, client, cm):
    "8 requests at once, half streamed, each with its own seed: all come back with their own answer."
    want = {s: sampled(cm, s) for s in range(8)}
    def one(s):
        if s % 2:
            return ''.join(c.choices[0].delta.content or '' for c in ask(client, temperature=1.0, seed=s, stream=True))
        return ask(client, temperature=1.0, seed=s).choices[0].message.content
    with ThreadPoolExecutor(8) as ex: got = dict(zip(range(8), ex.map(one, range(8))))
    assert got == want
    assert httpx.get(f'{server}/health').json()['status'] == 'ok'

TEXTS = ['Once upon a time', 'Hi', 'The capital of France is', '2 + 2 =', 'def f(x):', 'Hello there', 'Why is the sky',
         'Name a colour:']

def test_concurrent_greedy_equals_sequential(client):
    "8 greedy completions at once (batched together by the server) get the answers they get one at a time."
    def one(i):
        kw = dict(model='llmft-tiny', prompt=TEXTS[i], temperature=0, max_tokens=4 + 3 * i)
        if i == 1: kw['stop'] = ['rl']
        if i % 2: return ''.join(c.choices[0].text for c in client.completions.create(stream=True, **kw))
        return client.completions.create(**kw).choices[0].text
    alone = [one(i) for i in range(8)]
    with ThreadPoolExecutor(8) as ex: together = list(ex.map(one, range(8)))
    assert together == alone and len(set(alone)) == 8
