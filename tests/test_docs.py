"""The docs site builds from the notebooks (tools/docs.py), shows each public function's signature, docstring and
parameter comments, and README.md is what nbs/index.ipynb renders to."""
import inspect, os, shutil, subprocess, sys
from pathlib import Path
import pytest
from fastcore.docments import docments

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools.docs import readme_text

def test_readme_is_index_rendered():
    assert (ROOT/'README.md').read_text() == readme_text(), \
        "README.md differs from nbs/index.ipynb: edit the notebook, then run `python tools/docs.py --readme`"

def test_package_docs_name_every_module():
    "`help(llmft)` and nbs/llms.txt list each module (nbdev lists one only when its docstring says more than a line)."
    import llmft
    mods = sorted(p.stem for p in (ROOT/'llmft').glob('*.py') if not p.name.startswith('_'))
    listed = [l.split('`')[1] for l in llmft.__doc__.splitlines() if l.startswith('- `llmft.')]
    missing = set(mods) - {l.removeprefix('llmft.') for l in listed}
    assert listed == [f'llmft.{m}' for m in mods], f"missing from the package docstring: {missing}"
    llms = (ROOT/'nbs'/'llms.txt').read_text()
    assert all(f'[llmft.{m}]' in llms for m in mods), [m for m in mods if f'[llmft.{m}]' not in llms]

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "The site built from a copy of the checkout (the build writes _proc/ and nbs/*.yml next to the notebooks)."
    src = tmp_path_factory.mktemp('docs')/'repo'
    skip = shutil.ignore_patterns('.git', '.venv', '_docs', '_proc', 'runs', 'tests', 'bench', '__pycache__')
    shutil.copytree(ROOT, src, ignore=skip)
    env = {**os.environ, 'PYTHONPATH': str(src)}
    r = subprocess.run([sys.executable, 'tools/docs.py', str(src/'site')], cwd=src, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, f"the docs build failed:\n{r.stderr[-3000:]}"
    return src/'site'

@pytest.mark.slow
def test_every_notebook_is_a_page(site):
    nbs = sorted(p.relative_to(ROOT/'nbs').with_suffix('') for p in (ROOT/'nbs').rglob('*.ipynb'))
    for n in nbs:
        for ext in ('.html', '.md'): assert (site/n).with_suffix(ext).stat().st_size > 0, f"no page for nbs/{n}.ipynb"

def _fns():
    from llmft.evaluation import evaluate, predict
    from llmft.exporter import export
    from llmft.server import serve, create_app
    return dict(evaluation=[evaluate, predict], exporter=[export], server=[serve, create_app])

@pytest.mark.slow
@pytest.mark.parametrize('page', ['evaluation', 'exporter', 'server'])
def test_api_shows_signature_docstring_and_parameter_comments(site, page):
    nb = next(p for p in site.glob('*.md') if p.stem.split('_', 1)[-1] == page)
    md = nb.read_text()
    for f in _fns()[page]:
        first = next(iter(inspect.signature(f).parameters))
        sig = (f"def {f.__name__}(\n    {first}", f"def {f.__name__}({first}")
        assert any(s in md for s in sig), f"{nb.name}: no signature of {f.__name__}"
        assert f.__doc__ in md, f"{nb.name}: no docstring of {f.__name__}"
        doc = {k: v for k, v in docments(f, full=True, args_kwargs=True).items() if k != 'return'}
        missing = [k for k, v in doc.items() if not v['docment']]
        assert not missing, f"{f.__name__}: parameters without a comment: {missing}"
        # fastcore's signature rendering leaves out the comment on **kwargs: that one is read in the notebook only
        for k, v in doc.items():
            if v['kind'] != inspect.Parameter.VAR_KEYWORD:
                assert v['docment'] in md, f"{nb.name}: comment on {f.__name__}({k}) not shown: {v['docment']!r}"
