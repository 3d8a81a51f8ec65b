"""Run every notebook's lesson cells with nbdev, honouring the test flags of pyproject.toml.

Cells flagged with a `tst_flags` entry (`slow`, `gpu`) are skipped unless that flag is in LLMFT_TEST_FLAGS
(space-separated); `make test` sets it to `slow`."""
import os, re
from pathlib import Path
import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_nb

ROOT = Path(__file__).resolve().parent.parent
CFG = get_config(ROOT)
NOTEBOOKS = sorted(p for p in (ROOT/'nbs').rglob('*.ipynb')
                   if '.ipynb_checkpoints' not in p.parts and not p.name.startswith('_'))
FORCED = os.environ.get('LLMFT_TEST_FLAGS', '').split()
SKIP = [f for f in CFG.tst_flags.split() if f not in FORCED]

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[str(p.relative_to(ROOT/'nbs')) for p in NOTEBOOKS])
def test_notebook(nb, tiny_model):
    ok, secs = run_nb(nb, skip_flags=SKIP, force_flags=FORCED, basepath=ROOT)
    assert ok, f"{nb.relative_to(ROOT)} failed (see the traceback above)"

def test_every_module_has_a_notebook():
    exported = {p.stem for p in (ROOT/'llmft').glob('*.py') if not p.name.startswith('_')}
    sources = {m for nb in NOTEBOOKS for m in re.findall(r'#\| default_exp ([\w.]+)', nb.read_text())}
    assert exported <= sources, f"modules without a notebook (edit notebooks, never llmft/): {exported - sources}"
