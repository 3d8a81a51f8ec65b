"""Installed like a user installs it: the wheel, in a fresh environment and run from a folder outside the checkout,
finds its bundled examples and data, trains, chats, and trains from Python."""
import os, shutil, subprocess, sys, sysconfig, venv
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns('.git', '.venv', 'build', 'dist', '*.egg-info', '__pycache__', 'runs', '_docs', '_proc',
                              'nbs', 'tests', 'bench', '.ci')

def _run(cmd, cwd, env, timeout=300):
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, \
        f"{' '.join(map(str, cmd))} exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p.stdout

@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    "A fresh venv holding the llmft wheel (not editable); the dependencies come from this venv through a .pth file."
    tmp = tmp_path_factory.mktemp('wheel')
    shutil.copytree(ROOT, tmp/'src', ignore=SKIP)
    _run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', tmp/'dist', tmp/'src'],
         tmp, os.environ)
    wheel, = (tmp/'dist').glob('llmft-*.whl')
    env_dir = tmp/'env'
    venv.create(env_dir, with_pip=False)
    py = env_dir/'bin'/'python'
    site = Path(subprocess.check_output([py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                                        text=True).strip())
    (site/'_llmft_test_deps.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    _run([sys.executable, '-m', 'pip', '--python', py, 'install', '--no-deps', '--no-index', '-q', wheel],
         tmp, os.environ)
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
    env.update(HF_HUB_OFFLINE='1', PATH=f"{env_dir/'bin'}:{env['PATH']}")
    (tmp/'work').mkdir()
    return env_dir, env, tmp/'work'

@pytest.mark.slow
def test_wheel_trains_and_chats_outside_the_checkout(installed, tiny_model):
    env_dir, env, work = installed
    llmft = str(env_dir/'bin'/'llmft')
    where = _run([env_dir/'bin'/'python', '-c', 'import llmft.data as d; print(d.__file__); print(d.BUNDLED)'],
                 work, env).split()
    assert all(Path(p).is_relative_to(env_dir) for p in where), where  # the package and its data come from the wheel
    assert 'copied to ex/' in _run([llmft, 'examples', 'ex'], work, env)
    assert (work/'ex'/'identity_lora.yaml').exists() and not (work/'data_specs').exists()
    small = ['model=llmft-tiny', 'max_steps=2', 'cutoff_len=64', 'per_device_train_batch_size=2', 'logging_steps=1']
    out = _run([llmft, 'train', 'ex/identity_lora.yaml', *small, 'output_dir=run'], work, env)
    assert 'run: run' in out and (work/'run'/'result.json').exists()
    # the random tiny model may say nothing
    _run([llmft, 'chat', 'run', '-m', 'Who are you?', '--greedy', '--max-new-tokens', '4'], work, env)
    code = ("import llmft; r = llmft.train('ex/identity_lora.yaml', model='llmft-tiny', max_steps=1, cutoff_len=64, "
            "per_device_train_batch_size=2, output_dir='run2', verbose=False); print('steps', r.result['steps'])")
    assert 'steps 1' in _run([env_dir/'bin'/'python', '-c', code], work, env)

def test_version_env_and_examples_commands(tmp_path, capsys, monkeypatch):
    from llmft import __version__
    from llmft.cli import main
    main(['version'])
    assert capsys.readouterr().out == f"llmft {__version__}\n"
    main(['env'])
    out = capsys.readouterr().out
    for k in ('Python', 'torch', 'CUDA', 'transformers', 'peft', 'trl', 'datasets', 'accelerate', 'bitsandbytes',
              'vllm', 'device'):
        assert f"- {k}: " in out, k
    monkeypatch.chdir(tmp_path)
    main(['examples'])
    assert (tmp_path/'examples'/'identity_lora.yaml').exists()
    (tmp_path/'examples'/'identity_lora.yaml').write_text('# mine\n')
    main(['examples'])
    assert (tmp_path/'examples'/'identity_lora.yaml').read_text() == '# mine\n'  # a file already there is kept
    assert capsys.readouterr().out.splitlines()[-1].startswith('0 files copied to examples/')
