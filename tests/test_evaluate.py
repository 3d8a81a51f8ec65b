"""Reading CMMLU- and C-Eval-layout folders and scoring them; the MMLU layout, the metrics, `predict` and
`perplexity` are covered by the lessons of nbs/07c_evaluate.ipynb."""
import csv, json
import pytest
from llmft.config import ConfigError
from llmft.evaluation import CHOICES, EvalResult, choice_ids, evaluate, load_task, read_mc_csv

def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w', newline='', encoding='utf-8') as f: csv.writer(f).writerows(rows)

def _cmmlu(root):
    "CMMLU's layout: dev/ and test/ with `<subject>.csv`, pandas' index column, headers Question..Answer."
    hdr = ['', 'Question', 'A', 'B', 'C', 'D', 'Answer']
    for split, n in (('dev', 2), ('test', 3)):
        _write(root/split/'agronomy.csv',
               [hdr] + [[i, f'农学问题{i}', '甲', '乙', '丙', '丁', 'B'] for i in range(n)])
        _write(root/split/'arts.csv',
               [hdr] + [[i, f'艺术问题{i}', '甲', '乙', '丙', '丁', 'A'] for i in range(n)])
    (root/'mapping.json').write_text(json.dumps({'agronomy': {'name': '农学', 'category': 'Other'},
                                                 'arts': {'name': '艺术学', 'category': 'Humanities'}},
                                                ensure_ascii=False), encoding='utf-8')
    return root

def _ceval(root):
    "C-Eval's layout: `<subject>_<split>.csv`, dev with explanations, test without answers, subject_mapping.json lists."
    _write(root/'dev'/'law_dev.csv', [['id', 'question', 'A', 'B', 'C', 'D', 'answer', 'explanation']] +
           [[i, f'法律问题{i}', '1', '2', '3', '4', 'C', '因为'] for i in range(2)])
    _write(root/'val'/'law_val.csv', [['id', 'question', 'A', 'B', 'C', 'D', 'answer']] +
           [[i, f'法律题{i}', '1', '2', '3', '4', a] for i, a in enumerate('BBCD')])
    _write(root/'test'/'law_test.csv',
           [['id', 'question', 'A', 'B', 'C', 'D']] + [[0, '法律试题', '1', '2', '3', '4']])
    (root/'subject_mapping.json').write_text(json.dumps({'law': ['Law', '法学', 'Humanities']}, ensure_ascii=False),
                                             encoding='utf-8')
    return root

def test_read_cmmlu(tmp_path):
    t = load_task(str(_cmmlu(tmp_path/'cmmlu')), split='test', lang='zh')
    assert (t.layout, t.split, list(t.subjects)) == ('cmmlu', 'test', ['agronomy', 'arts'])
    assert t.subjects['agronomy'] == dict(name='农学', category='Other')
    assert t.questions('agronomy')[1] == dict(question='农学问题1', A='甲', B='乙', C='丙', D='丁', answer='B')
    assert len(t.questions('arts', 'dev')) == 2

def test_read_ceval(tmp_path):
    _ceval(tmp_path/'ceval')
    t = load_task('ceval_validation', task_dir=str(tmp_path), lang='zh')
    assert (t.layout, t.split, t.subjects) == ('ceval', 'val', {'law': dict(name='法学', category='Humanities')})
    assert [q['answer'] for q in t.questions('law')] == list('BBCD')
    assert load_task('ceval', task_dir=str(tmp_path), split='val').subjects['law']['name'] == 'Law'
    assert read_mc_csv(tmp_path/'ceval'/'test'/'law_test.csv') == \
        ('ceval', [dict(question='法律试题', A='1', B='2', C='3', D='4', answer='')])

def test_ceval_test_split_has_no_answers(tmp_path):
    with pytest.raises(ConfigError, match="split='val'"):
        evaluate('not-loaded', str(_ceval(tmp_path/'ceval')), split='test')

def test_bad_lang_and_short_rows(tmp_path):
    with pytest.raises(ConfigError, match='lang'): evaluate('not-loaded', 'mmlu_demo', lang='ru')
    _write(tmp_path/'bad'/'test'/'x_test.csv', [['q', 'a', 'b']])
    with pytest.raises(ConfigError, match='x_test.csv:1'): evaluate('not-loaded', str(tmp_path/'bad'))

def _always(cm, letter):
    c = choice_ids(cm.tokenizer)[CHOICES.index(letter)]
    def hook(mod, inp, out): out = out.clone(); out[..., c] += 1e4; return out
    return cm.model.lm_head.register_forward_hook(hook)

def test_evaluate_cmmlu_and_ceval(tmp_path, tiny_model):
    from llmft.infer import ChatModel
    cm = ChatModel('llmft-tiny')
    h = _always(cm, 'B')
    try:
        r = evaluate(cm, str(_cmmlu(tmp_path/'cmmlu')), n_shot=2, lang='zh', batch_size=2, save_dir=tmp_path/'out')
        v = evaluate(cm, 'ceval_val', task_dir=str(_ceval(tmp_path/'c'/'ceval').parent), n_shot=1, lang='zh')
    finally: h.remove()
    assert r.categories == {'Average': dict(n=6, accuracy=0.5), 'Other': dict(n=3, accuracy=1.0),
                            'Humanities': dict(n=3, accuracy=0.0)}
    assert json.loads((tmp_path/'out'/'results.json').read_text(encoding='utf-8'))['subjects']['agronomy']['name'] \
        == '农学'
    assert '     Other: 100.00' in (tmp_path/'out'/'results.log').read_text(encoding='utf-8')
    assert (v.split, v.predictions, v.average) == ('val', {'law': list('BBBB')}, 0.5)
    assert isinstance(v, EvalResult) and 'Law' not in v._repr_html_() and '法学' in v._repr_html_()
