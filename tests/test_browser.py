"""The panel in a real browser: JupyterLab on a loopback port, Debian's Chromium driven by Playwright.
Start a run and watch it to the end, start a second and stop it mid-run, reload the page and find both again,
evaluate the tiny model and see the table, export it and see the parity check, chat with the base model beside the
finished run and see a streamed reply in each column, then switch the panel to Japanese."""
import json, os, secrets, shutil, socket, subprocess, sys, time
from pathlib import Path
import pytest
from test_jobs import HELPERS

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

CELL = '''import llmft
cfg = {cfg!r}
b = llmft.board(cfg, runs_root='runs')
b'''

@pytest.fixture
def lab(tmp_path, tiny_config):
    pytest.importorskip('playwright')
    if not Path(CHROMIUM).exists(): pytest.skip('chromium is not installed (make test installs it)')
    (tmp_path/'jobhelpers.py').write_text(HELPERS)
    cfg = tiny_config('runs/a', max_steps=6, learning_rate=1e-3, callbacks='jobhelpers:Slow')
    nb = dict(cells=[dict(cell_type='code', source=CELL.format(cfg=cfg), metadata={}, outputs=[],
                          execution_count=None)], nbformat=4, nbformat_minor=5,
              metadata=dict(kernelspec=dict(name='python3', display_name='Python 3', language='python')))
    (tmp_path/'board.ipynb').write_text(json.dumps(nb))
    settings = tmp_path/'lab-settings'/'@jupyterlab'/'notebook-extension'
    settings.mkdir(parents=True)
    (settings/'tracker.jupyterlab-settings').write_text('{"windowingMode": "none"}')
    port, token = free_port(), secrets.token_hex(8)
    env = {**os.environ, 'JUPYTERLAB_SETTINGS_DIR': str(tmp_path/'lab-settings'), 'LLMFT_MONITOR': 'thread',
           'LLMFT_CHART': 'widget',
           'PYTHONPATH': os.pathsep.join(filter(None, [str(tmp_path), os.environ.get('PYTHONPATH')]))}
    log = open(tmp_path/'lab.log', 'w')
    p = subprocess.Popen([sys.executable, '-m', 'jupyterlab', '--no-browser', '--allow-root', '--ip=127.0.0.1',
                          f'--port={port}', f'--IdentityProvider.token={token}', '--LabApp.expose_app_in_browser=True',
                          f'--ServerApp.root_dir={tmp_path}'],
                         env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    import urllib.request
    for _ in range(120):
        try: urllib.request.urlopen(f'http://127.0.0.1:{port}/api?token={token}', timeout=2); break
        except OSError: time.sleep(0.5)
    else: raise AssertionError('JupyterLab did not start: ' + (tmp_path/'lab.log').read_text()[-2000:])
    yield f'http://127.0.0.1:{port}/lab/tree/board.ipynb?token={token}', tmp_path
    p.terminate(); p.wait(30)

def button(page, label):
    "The panel's button labelled `label` (JupyterLab's own buttons are not widgets)."
    return page.locator('button.jupyter-button', has_text=label).first

def visible_button(page, label):
    "The shown panel button whose whole label is `label`."
    import re
    return page.locator('button.jupyter-button:visible').filter(has_text=re.compile(f'^{re.escape(label)}$')).first

def tab(page, title):
    "The panel's tab titled `title`."
    return page.locator('.widget-tab .lm-TabBar-tab', has_text=title).first

PLOT_POINTS = ("() => Math.max(0, ...[...document.querySelectorAll('.js-plotly-plot')]"
               ".map(p => p.data && p.data[0] && p.data[0].x ? p.data[0].x.length : 0))")

def test_board_in_jupyterlab(lab):
    from playwright.sync_api import sync_playwright
    url, tmp = lab
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox', '--disable-gpu',
                                     '--disable-background-networking', '--disable-component-update', '--disable-sync',
                                     '--no-first-run'])
        page = browser.new_page(viewport=dict(width=1400, height=1800))
        page.goto(url)
        page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook')", timeout=90_000)
        page.wait_for_function("() => document.body.innerText.includes('(ipykernel) | Idle')", timeout=90_000)
        start = button(page, 'Start')
        for _ in range(3): # a run-all sent while the kernel session still connects is dropped: send it again
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            try: start.wait_for(timeout=40_000); break
            except Exception: pass
        start.click()
        page.wait_for_function("() => document.body.innerText.includes('finished ·')", timeout=180_000)
        page.wait_for_function(f"() => ({PLOT_POINTS})() >= 5", timeout=30_000) # the curve may draw after the text
        bar = page.locator('.widget-hprogress .progress-bar').first
        assert 'width: 100%' in (bar.get_attribute('style') or '')
        page.screenshot(path=str(tmp/'finished.png'), full_page=True)
        out = page.locator('.widget-text', has_text='output_dir').locator('input')
        out.fill('runs/b'); out.press('Enter')
        steps = page.locator('.widget-text', has_text='max_steps').locator('input')
        steps.fill('60'); steps.press('Enter')
        button(page, 'Start').click()
        status = tmp/'runs'/'b'/'status.json'
        end = time.time() + 180
        while time.time() < end and not (status.exists()
                                         and json.loads(status.read_text() or '{}').get('step', 0) >= 3):
            time.sleep(0.5)
        page.wait_for_function("() => document.body.innerText.includes('training ·')", timeout=30_000)
        button(page, 'Stop (save)').click()
        page.wait_for_function("() => document.body.innerText.includes('stopped ·')", timeout=120_000)
        page.screenshot(path=str(tmp/'stopped.png'), full_page=True)
        assert (tmp/'runs'/'b'/'status.json').exists() \
            and json.loads((tmp/'runs'/'b'/'status.json').read_text())['checkpoint']
        page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
        time.sleep(2)
        page.reload()
        page.wait_for_function("() => document.body.innerText.includes('stopped ·')", timeout=120_000)
        page.locator('.widget-tab .lm-TabBar-tab', has_text='Runs').first.click()
        page.locator('select[multiple]:visible').first.select_option(label=['runs/a', 'runs/b'])
        button(page, 'Compare').click() # both curves overlaid, then one opened
        page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')]"
                               ".some(p => p.data && p.data.length === 2)",
                               timeout=30_000)
        page.screenshot(path=str(tmp/'runs.png'), full_page=True)
        page.locator('select[multiple]:visible').first.select_option(label='runs/a')
        button(page, 'Open').click()
        page.wait_for_function("() => document.body.innerText.includes('finished ·')", timeout=60_000)
        page.wait_for_function(f"() => ({PLOT_POINTS})() >= 6", timeout=30_000) # run b may log more before its stop
        page.screenshot(path=str(tmp/'reloaded.png'), full_page=True)
        tab(page, 'Evaluate').click() # multiple choice on the bundled mmlu_demo, by `llmft eval` in a child
        visible_button(page, 'Run').click()
        page.wait_for_function("() => document.body.innerText.includes('accuracy %')", timeout=180_000)
        page.wait_for_function("() => document.body.innerText.includes('row 1 / ')", timeout=60_000)
        assert 'Average' in page.locator('.widget-tab-contents').first.inner_text()
        page.screenshot(path=str(tmp/'evaluate.png'), full_page=True)
        tab(page, 'Export').click() # safetensors into exports/llmft-tiny-safetensors, by `llmft export` in a child
        assert 'llmft export llmft-tiny --out exports/llmft-tiny-safetensors' in page.content()
        visible_button(page, 'Run').click()
        page.wait_for_function("() => document.body.innerText.includes('parity ok')", timeout=180_000)
        assert 'same greedy text' in page.content() and (tmp/'exports'/'llmft-tiny-safetensors'/'config.json').exists()
        page.screenshot(path=str(tmp/'export.png'), full_page=True)
        tab(page, 'Chat').click() # the base model beside run a, each in an `llmft serve` child, one message to both
        for label, value in (('Compare with run', 'runs/a'), ('temperature', '1'), ('top_p', '1'),
                             ('max_new_tokens', '8')):
            box = page.locator('.widget-inline-hbox:visible', has_text=label).locator('input, textarea').first
            box.fill(value); box.press('Tab')
        visible_button(page, 'Load').click()
        page.wait_for_function("() => document.body.innerText.split('(template smollm2)').length === 3",
                               timeout=180_000)
        msg = page.locator('input[placeholder="Type a message, Enter to send"]')
        msg.fill('Who are you?'); msg.press('Enter')
        page.wait_for_function("() => document.body.innerText.split('assistant:').length === 3", timeout=120_000)
        assert page.locator('.widget-html:visible', has_text='user: Who are you?').count() == 2 # a column each
        page.screenshot(path=str(tmp/'chat.png'), full_page=True)
        visible_button(page, 'Unload').click()
        page.wait_for_function("() => !document.body.innerText.includes('(template smollm2)')", timeout=60_000)
        tab(page, 'Train').click()
        # the language, at the panel's top
        page.locator('.widget-dropdown select').first.select_option(label='日本語')
        tab(page, 'エクスポート').wait_for(timeout=60_000)
        page.locator('.widget-tab .lm-TabBar-tab', has_text='実行履歴').first.wait_for(timeout=30_000)
        # Open went back to Train
        page.locator('button.jupyter-button:visible', has_text='開始').first.wait_for(timeout=30_000)
        assert 'Error displaying widget' not in page.content()
        browser.close()
    keep = os.environ.get('LLMFT_SCREENSHOTS') # a folder to keep the screenshots in (the run's own folder goes)
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for png in tmp.glob('*.png'): shutil.copy2(png, Path(keep)/png.name)
