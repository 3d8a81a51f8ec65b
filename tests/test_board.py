"""The panel without a front end, as a user drives it: Start trains and the chart grows, Stop leaves a checkpoint,
Resume continues to the same final step; the Runs tab overlays runs; the magics start and show a job."""
import os, time
from pathlib import Path
import pytest
from llmft.panel import board
from test_jobs import HELPERS, wait_for

@pytest.fixture
def panel(tmp_path, tiny_config, monkeypatch):
    (tmp_path/'jobhelpers.py').write_text(HELPERS)
    monkeypatch.setenv('PYTHONPATH', os.pathsep.join([str(tmp_path), *filter(None, [os.environ.get('PYTHONPATH')])]))
    cfg = tiny_config(tmp_path/'runs'/'a', max_steps=10, learning_rate=1e-3)
    return board(cfg, monitor='thread', chart='widget', runs_root=tmp_path/'runs'), tmp_path

def test_start_stop_resume(panel):
    b, tmp = panel
    b.form.other.value = 'callbacks: jobhelpers:Slow\n'
    b.form.fields['max_steps'].value = '30'
    b.b_start.click()
    assert b.b_start.disabled
    curve = b.view.curve.widget.data[0]
    wait_for(lambda: len(b.view.curve.widget.data[0].x) >= 3)
    seen = len(b.view.curve.widget.data[0].x)
    wait_for(lambda: len(b.view.curve.widget.data[0].x) > seen) # the chart grows while the kernel is idle
    b.b_stop.click()
    assert b.job.wait(120) == 'stopped'
    wait_for(lambda: 'stopped' in b.view.info.value)
    ck = b.job.status['checkpoint']
    assert (tmp/'runs'/'a'/ck/'trainer_state.json').exists()
    b.form.other.value = ''
    b.b_resume.click()
    assert b.job.wait(180) == 'finished'
    wait_for(lambda: 'finished' in b.view.info.value and b.view.bar.value == 30)
    wait_for(lambda: list(b.view.curve.widget.data[0].x) == list(range(1, 31))) # the view's thread draws it
    assert b.job.run.result['steps'] == 30
    rows = b.runs.refresh()
    assert [(r['state'], r['stage'], r['method']) for r in rows] == [('finished', 'sft', 'lora')]
    b.runs.pick.value = (rows[0]['run'],)
    b.runs.compare()
    assert [t.name for t in b.runs.chart.widget.data] == ['a']

def test_bad_value_and_busy_folder(panel):
    b, tmp = panel
    b.form.fields['learning_rate'].value = 'x'
    assert b.b_start.disabled and "learning_rate='x'" in b.message.value
    b.form.fields['learning_rate'].value = '1e-3'
    assert not b.b_start.disabled

def test_magic_train_shows_a_job(panel, tiny_config, capsys):
    import yaml
    from IPython.core.interactiveshell import InteractiveShell
    b, tmp = panel
    ip = InteractiveShell.instance()
    ip.run_line_magic('load_ext', 'llmft')
    job = ip.run_cell_magic('llmft', f"train output_dir={tmp/'m'}", yaml.safe_dump(tiny_config()))
    assert job.wait(120) == 'finished' and [m['step'] for m in job.metrics] == [1, 2]
    ip.run_line_magic('llmft', f"stop {tmp/'m'}")
    assert f"{tmp/'m'} is not running (state: finished)" in capsys.readouterr().err

def test_every_word_is_used_and_translated():
    "Each catalogue has exactly English's keys, and the panel's code uses every one of them."
    from llmft import panel as B, chattab, tasktabs
    src = Path(B.__file__).read_text()
    code = src[:src.index('LABELS = dict(')] + src[src.index('LANGUAGES = dict('):] + ''.join(
        Path(m.__file__).read_text() for m in (chattab, tasktabs))
    assert set(B.LABELS) == {'en', 'zh', 'ru', 'ko', 'ja'}
    for lang, words in B.LABELS.items(): assert set(words) == set(B.LABELS['en']), lang
    unused = [k for k in B.LABELS['en'] if f"'{k}'" not in code]
    assert not unused, f"words no widget or message uses: {unused}"

# The Evaluate and Export tabs (nbs/11c_tasktabs.ipynb): each runs the `llmft` command in a child it watches.
import html, json, re
from llmft.jobs import pid_alive

def _categories(table: str) -> dict:
    "category -> accuracy % of an `EvalResult` table (its rows with an empty category column)."
    return {c: float(a)
            for c, a in re.findall(r"<tr><td>([^<]+)</td><td></td><td>\d+</td><td>([\d.]+)</td></tr>", table)}

def test_evaluate_tab_reports_what_the_cli_does(panel, capsys):
    from llmft.cli import main
    b, tmp = panel
    e = b.evaluate
    assert (e.target.value, b.tabs.get_title(3)) == ('llmft-tiny', 'Evaluate')
    e.split.value, e.n_shot.value, e.save_dir.value = 'val', 1, str(tmp/'ev')
    e.b_run.click(); e.wait()
    assert e.task.state == 'finished' and e.bar.value == 1.0, e.info.value
    assert not pid_alive(e.task.proc.pid) # the model's memory went with the child
    main(['eval', 'llmft-tiny', 'task=mmlu_demo', 'split=val', 'n_shot=1'])
    cli = {c.strip(): float(a) for c, a in (l.split(':') for l in capsys.readouterr().out.strip().splitlines())}
    assert _categories(e.table.value) == cli and 'Average' in cli
    n = int(re.search(r'<td>Average</td><td></td><td>(\d+)</td>', e.table.value)[1])
    assert e.task.progress == dict(done=n, total=n) # what fed the bar: the child's own count of questions
    assert e.rows.where.value.startswith('row 1 / ') and 'Answer:' in e.rows.html.value
    e.rows.b_next.click()
    assert e.rows.where.value.startswith('row 2 / ')

def test_predict_tab_rows_one_by_one(panel):
    b, tmp = panel
    e = b.evaluate
    e.kind.selected_index, e.max_samples.value, e.max_new_tokens.value, e.save_dir.value = 1, 2, 4, str(tmp/'pr')
    e.b_run.click(); e.wait()
    assert e.task.state == 'finished', e.info.value
    rows = [json.loads(l) for l in (tmp/'pr'/'generated_predictions.jsonl').read_text().splitlines()]
    metrics = json.loads((tmp/'pr'/'predict_results.json').read_text())
    assert e.task.progress == dict(done=2, total=2)
    assert f"<td>predict_rouge-l</td><td>{metrics['predict_rouge-l']:.2f}</td>" in e.table.value
    assert e.rows.where.value == 'row 1 / 2' and html.escape(rows[0]['label']) in e.rows.html.value
    e.rows.b_next.click()
    assert e.rows.where.value == 'row 2 / 2' and html.escape(rows[1]['label']) in e.rows.html.value
    assert 'bleu-4' in e.rows.html.value

def test_export_tab_shows_parity_files_and_command(panel):
    b, tmp = panel
    x = b.export
    x.out.value, x.shard_size.value = str(tmp/'merged'), '2MB'
    want = f"llmft export llmft-tiny --out {tmp/'merged'} --format safetensors --shard-size 2MB"
    assert want in x.command.value
    x.b_run.click(); x.wait()
    assert x.task.state == 'finished' and x.task.command == want, x.info.value
    assert 'parity ok' in x.parity.value and 'max logit difference' in x.parity.value
    assert "same greedy text <b style='color:#080'>yes</b>" in x.parity.value
    names = sorted(f.name for f in (tmp/'merged').iterdir())
    assert 'model.safetensors.index.json' in names and all(f'<td>{n}</td>' in x.files.value for n in names)
    x.b_run.click(); x.wait() # the folder is full now: the child's own one line comes back
    assert x.task.state == 'failed' and x.info.value.count('\n') == 0
    assert f"llmft export: error: {tmp/'merged'} is not empty" in x.info.value

def test_bad_inputs_give_one_line_and_no_child(panel):
    b, tmp = panel
    e, x = b.evaluate, b.export
    e.task_dir.value = str(tmp/'nowhere')
    e.b_run.click()
    assert 'nowhere' in e.info.value and 'Traceback' not in e.info.value and '\n' not in e.info.value, e.info.value
    e.kind.selected_index, e.dataset.value = 1, 'identiy'
    e.b_run.click()
    assert "dataset 'identiy'" in e.info.value and "did you mean 'identity'" in e.info.value, e.info.value
    (tmp/'runs'/'a').mkdir(parents=True, exist_ok=True); (tmp/'runs'/'a'/'config.yaml').write_text('{}')
    x.target.value = str(tmp/'runs'/'b')
    x.b_run.click()
    assert f"no such run folder or model: '{tmp/'runs'/'b'}' (did you mean '{tmp/'runs'/'a'}'?)" in x.info.value
    assert e.task is None and x.task is None
    b.use_language('ru')
    assert (e.b_run.description, e.kind.titles[0], b.tabs.get_title(4)) == \
        ('Запустить', 'Множественный выбор', 'Экспорт')

def test_llmft_board_stays_the_function():
    "`llmft.board()` works however often it is called and whatever was imported: no module shadows an API name."
    import llmft, llmft.panel, llmft.magics
    assert llmft.board is llmft.panel.board
    modules = {p.stem for p in Path(llmft.__file__).parent.glob('*.py')}
    assert not set(llmft._api) & modules, f"API names that are also module names: {set(llmft._api) & modules}"
