"""Run every notebook's lesson cells with nbdev, honouring the test flags of pyproject.toml.

Cells flagged with a `tst_flags` entry (`slow`, `gpu`) are skipped unless that flag is in LLMFT_TEST_FLAGS
(space-separated); `make test` sets it to `slow`. Each notebook runs in a process of its own, as it would in a fresh
kernel: lessons that train, start threads or replace signal handlers cannot leak into the next notebook."""
import os, re, subprocess, sys
from pathlib import Path
import pytest
from nbdev.config import get_config

ROOT = Path(__file__).resolve().parent.parent
CFG = get_config(ROOT)
NOTEBOOKS = sorted(p for p in (ROOT/'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts and not p.name.startswith('_'))
FORCED = os.environ.get('LLMFT_TEST_FLAGS', '').split()
SKIP = [f for f in CFG.tst_flags.split() if f not in FORCED]
RUN = "import sys; from nbdev.test import test_nb; ok, _ = test_nb({nb!r}, skip_flags={skip!r}, force_flags={forced!r}, basepath={root!r}); sys.exit(0 if ok else 1)"

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[str(p.relative_to(ROOT/'nbs')) for p in NOTEBOOKS])
def test_notebook(nb, tiny_model):
    code = RUN.format(nb=str(nb), skip=SKIP, forced=FORCED, root=str(ROOT))
    r = subprocess.run([sys.executable, '-c', code], cwd=ROOT)
    assert r.returncode == 0, f"{nb.relative_to(ROOT)} failed (see the traceback above)"

def test_every_module_has_a_notebook():
    exported = {p.stem for p in (ROOT/'llmft').glob('*.py') if not p.name.startswith('_')}
    sources = {m for nb in NOTEBOOKS for m in re.findall(r'#\| default_exp ([\w.]+)', nb.read_text())}
    assert exported <= sources, f"modules without a notebook (edit notebooks, never llmft/): {exported - sources}"
