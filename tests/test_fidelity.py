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
    return {**dict(messages=[dict(role=r, content=c) for r, c in zip(roles, turns)], system=None, tools=None,
                   chosen=None, rejected=None, kto_label=None, text=None), **kw}

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
    ("A long prompt paired with the next record's long answer was 458 tokens at cutoff_len 256; "
     "now it is cut like the rows.")
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
    with pytest.raises(ConfigError) as e:
        process([conv('Hi', 'Hello'), tools], tok, get_template('chatml'), DataArgs(overwrite_cache=True))
    assert str(e.value) == ("record 2 uses tools but template 'chatml' has no tool format: "
                            "set template to one that has (qwen, qwen3, llama3, qwen3_nothink) or drop the tool rows")
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

PREDICTIONS = [  # (prediction, reference): English, Chinese, mixed, partial, empty; no text repeats an n-gram
    ('The capital of France is Paris.', 'Paris is the capital of France.'),
    ('我爱北京', '我爱北京天安门'),
    ('今天天气很好,我们去公园散步吧', '今天天气不错,我们一起去公园'),
    ('I am Nova, an assistant made by llmft.', 'I am Nova, a helpful AI assistant.'),
    ('我叫Nova,是一个助手', '我是Nova,由llmft开发的助手'),
    ('', 'Hello there.'),
    ('Completely unrelated words', 'Nothing matches here'),
]

def llamafactory_scores(pairs):
    ("LLaMA-Factory's ComputeSimilarity, written out: jieba words, rouge-chinese's F with distinct n-grams, "
     "nltk BLEU on characters.")
    import jieba
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    def f(overlap, n_hyp, n_ref):
        p, r = (overlap / n_hyp if n_hyp else 0.0), (overlap / n_ref if n_ref else 0.0)
        return 2.0 * p * r / (p + r + 1e-8)
    def lcs(a, b):
        t = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i, x in enumerate(a):
            for j, y in enumerate(b): t[i + 1][j + 1] = t[i][j] + 1 if x == y else max(t[i][j + 1], t[i + 1][j])
        return t[-1][-1]
    scores = {k: [] for k in ('rouge-1', 'rouge-2', 'rouge-l', 'bleu-4')}
    for pred, label in pairs:
        hyp, ref = ' '.join(jieba.cut(pred)).split(), ' '.join(jieba.cut(label)).split()
        if not hyp or not ref: res = {'rouge-1': 0.0, 'rouge-2': 0.0, 'rouge-l': 0.0}
        else:
            grams = lambda w, n: {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}
            res = {f'rouge-{n}': f(len(grams(hyp, n) & grams(ref, n)), len(grams(hyp, n)), len(grams(ref, n)))
                   for n in (1, 2)}
            res['rouge-l'] = f(lcs(hyp, ref), len(hyp), len(ref))
        for k, v in res.items(): scores[k].append(round(v * 100, 4))
        bleu = sentence_bleu([list(label)], list(pred), smoothing_function=SmoothingFunction().method3)
        scores['bleu-4'].append(round(bleu * 100, 4))
    return {k: sum(v) / len(v) for k, v in scores.items()}

def test_metrics_equal_llamafactory_formula():
    from llmft.evaluation import bleu4, rouge
    preds, refs = zip(*PREDICTIONS)
    ours, theirs = dict(rouge(preds, refs), **{'bleu-4': bleu4(preds, refs)}), llamafactory_scores(PREDICTIONS)
    assert ours.keys() == theirs.keys() and all(abs(ours[k] - theirs[k]) < 1e-4 for k in ours), (ours, theirs)
    assert 20 < ours['bleu-4'] < 60 and 20 < ours['rouge-1'] < 80  # a fixture that exercises partial matches

def test_repeated_ngrams_count_as_rouge_score_counts_them():
    "The one documented difference: rouge-score clips repeats (ROUGE-1.5.5), rouge-chinese counts distinct n-grams."
    from llmft.evaluation import rouge
    assert round(rouge('the the the', 'the cat')['rouge-1'], 4) == 40.0
    assert round(llamafactory_scores([('the the the', 'the cat')])['rouge-1'], 4) == 66.6667
