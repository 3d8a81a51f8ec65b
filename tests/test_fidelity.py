"""Rows as LLaMA-Factory's processors make them where we mean to agree (KTO, tools, pt without packing), and metrics
equal to its formulas, on tiny inputs with SmolLM2's real tokenizer."""
import pytest
from llmft.config import ConfigError, DataArgs
from llmft.processors import process, IGNORE
from llmft.templates import get_template

@pytest.fixture(scope='module')
def tok(tiny_model):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(tiny_model)

TPL = get_template('smollm2')

def conv(*turns, **kw):
    roles = ['user', 'assistant'] * len(turns)
    return {**dict(messages=[dict(role=r, content=c) for r, c in zip(roles, turns)], system=None, tools=None, chosen=None,
                   rejected=None, kto_label=None, text=None), **kw}

def trained(tok, ids, labels): return tok.decode([i for i, l in zip(ids, labels) if l != IGNORE])

def test_kto_trains_only_the_judged_last_answer(tok):
    recs = [conv('Hi', 'Hello there!', 'Your name?', 'I am Nova.', kto_label=True),
            conv('2+2?', 'Five.', kto_label=False)]
    ds, rep = process(recs, tok, TPL, DataArgs(overwrite_cache=True), 'kto')
    test = ds.to_list()
    assert trained(tok, test[0]['input_ids'], test[0]['labels']) == 'I am Nova.<|im_end|>\n'  # not 'Hello there!'
    assert [r['kto_label'] for r in test] == [True, False]
    # the KL row keeps the whole prompt of its own record, history included, with the next record's answer
    kl = tok.decode(test[0]['kl_input_ids'])
    assert 'Hello there!' in kl and 'Your name?' in kl and kl.endswith('Five.<|im_end|>\n')
    assert trained(tok, test[0]['kl_input_ids'], test[0]['kl_labels']) == 'Five.<|im_end|>\n'

def test_kto_kl_rows_fit_cutoff_len(tok):
    "A long prompt paired with the next record's long answer was 458 tokens at cutoff_len 256; now it is cut like the rows."
    long = ' '.join(f'word{i}' for i in range(150))
    recs = [conv(long, 'Short answer.', kto_label=True), conv('Short question?', long, kto_label=False)]
    ds, rep = process(recs, tok, TPL, DataArgs(cutoff_len=256, overwrite_cache=True), 'kto')
    rows = ds.to_list()
    assert len(tok.encode(long)) + len(tok.encode(long)) > 256
    assert max(len(r['kl_input_ids']) for r in rows) == 256 and max(len(r['input_ids']) for r in rows) <= 256
    # truncation keeps the assistant header at the end of the KL prompt, as it does for the rows themselves
    ids, labels = rows[0]['kl_input_ids'], rows[0]['kl_labels']
    start = next(i for i, l in enumerate(labels) if l != IGNORE)
    assert tok.decode(ids[:start]).endswith('<|im_start|>assistant\n')

def test_tools_under_a_template_without_tool_format_fail_before_processing(tok):
    tools = conv('What time is it?', 'Noon.', tools='[{"name": "get_time", "parameters": {}}]')
    with pytest.raises(ConfigError) as e: process([conv('Hi', 'Hello'), tools], tok, get_template('chatml'), DataArgs(overwrite_cache=True))
    assert str(e.value) == ("record 2 uses tools but template 'chatml' has no tool format: set template to one that has "
                            "(qwen, qwen3, llama3) or drop the tool rows")
    ds, _ = process([tools], tok, get_template('qwen3'), DataArgs(overwrite_cache=True))
    assert '<tools>' in tok.decode(ds[0]['input_ids'])

def test_pt_without_packing_keeps_one_document_per_row(tok):
    docs = [dict(text='one two three four five six seven eight nine ten'), dict(text='short'), dict(text='')]
    recs = [dict(conv(), **d) for d in docs]
    rows, rep = process(recs, tok, TPL, DataArgs(cutoff_len=6, packing=False, overwrite_cache=True), 'pt')
    eos = tok.eos_token_id
    assert rows['input_ids'] == [tok.encode(docs[0]['text'])[:6], tok.encode('short') + [eos]]
    assert (rep.kept, rep.truncated, rep.skipped) == (2, 1, {'empty document': 1})
    joined, rep = process(recs, tok, TPL, DataArgs(cutoff_len=6, overwrite_cache=True), 'pt')  # LLaMA-Factory's default
    flat = tok.encode(docs[0]['text']) + [eos] + tok.encode('short') + [eos, eos]
    assert joined['input_ids'] == [flat[i:i + 6] for i in range(0, len(flat), 6)]
