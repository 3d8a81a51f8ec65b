"""The panel without a front end, as a user drives it: Start trains and the chart grows, Stop leaves a checkpoint,
Resume continues to the same final step; the Runs tab overlays runs; the magics start and show a job."""
import os, time
from pathlib import Path
import pytest
from llmft.board import board
from test_jobs import HELPERS, wait_for

@pytest.fixture
def panel(tmp_path, tiny_model, monkeypatch):
    (tmp_path/'jobhelpers.py').write_text(HELPERS)
    monkeypatch.setenv('PYTHONPATH', os.pathsep.join([str(tmp_path), *filter(None, [os.environ.get('PYTHONPATH')])]))
    cfg = dict(model='llmft-tiny', dataset='identity', max_steps=10, logging_steps=1, cutoff_len=64, save_steps=100,
               per_device_train_batch_size=2, learning_rate=1e-3, output_dir=str(tmp_path/'runs'/'a'))
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

def test_magic_train_shows_a_job(panel, capsys):
    from IPython.core.interactiveshell import InteractiveShell
    b, tmp = panel
    ip = InteractiveShell.instance()
    ip.run_line_magic('load_ext', 'llmft')
    job = ip.run_cell_magic('llmft', f"train output_dir={tmp/'m'}",
                            'model: llmft-tiny\ndataset: identity\nmax_steps: 2\nlogging_steps: 1\ncutoff_len: 64\nper_device_train_batch_size: 2\n')
    assert job.wait(120) == 'finished' and len(job.metrics) >= 1
    ip.run_line_magic('llmft', f"stop {tmp/'m'}")
    assert f"{tmp/'m'} is not running (state: finished)" in capsys.readouterr().err

def test_every_word_is_used_and_translated():
    "Each catalogue has exactly English's keys, and the panel's code uses every one of them."
    from llmft import board as B, chattab
    src = Path(B.__file__).read_text()
    code = src[:src.index('LABELS = dict(')] + src[src.index('LANGUAGES = dict('):] + Path(chattab.__file__).read_text()
    assert set(B.LABELS) == {'en', 'zh', 'ru', 'ko', 'ja'}
    for lang, words in B.LABELS.items(): assert set(words) == set(B.LABELS['en']), lang
    unused = [k for k in B.LABELS['en'] if f"'{k}'" not in code]
    assert not unused, f"words no widget or message uses: {unused}"
