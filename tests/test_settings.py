"""pyproject.toml is nbdev 3's source of settings; settings.ini mirrors it for nbdev 2 tools."""
import configparser, tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = tomllib.loads((ROOT/'pyproject.toml').read_text())
INI = configparser.ConfigParser()
INI.read(ROOT/'settings.ini')
S = INI['DEFAULT']

def test_nbdev_keys_agree():
    for k, v in PY['tool']['nbdev'].items():
        assert k in S, f"settings.ini lacks {k} (pyproject.toml [tool.nbdev] has {k} = {v!r})"
        assert str(v).lower() == S[k].lower(), f"{k}: pyproject.toml says {v!r}, settings.ini says {S[k]!r}"

def test_project_keys_agree():
    p = PY['project']
    assert S['lib_name'] == p['name'] == S['repo']
    assert S['description'] == p['description']
    assert S['min_python'] == p['requires-python'].lstrip('>=')
    assert S['keywords'].split() == p['keywords']
    assert S['author'] == p['authors'][0]['name'] and S['author_email'] == p['authors'][0]['email']
    assert S['requirements'].split() == p['dependencies']
    assert S['dev_requirements'].split() == p['optional-dependencies']['dev']
    assert S['git_url'] == p['urls']['Repository']
    assert S['console_scripts'].replace(' ', '') == ','.join(f"{k}={v}" for k, v in p['scripts'].items())

def test_version_agrees():
    import llmft
    assert S['version'] == llmft.__version__

def test_test_flags():
    assert set(PY['tool']['nbdev']['tst_flags'].split()) == {'slow', 'gpu'}
