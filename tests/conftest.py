"""Shared set-up: no hub, a private LLMFT_HOME, and the tiny model built once per test session."""
import atexit, os, shutil, sys, tempfile
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent

def _one_temporary_folder():
    """Send every temporary file of the run (the test homes with their converted GGUF model, the notebooks' `mkdtemp`
    folders, pytest's `tmp_path`, child processes' files) into one folder, removed when the run ends. Left in /tmp they
    came to 0.5 GB a run and filled the disk that CI installs on. xdist workers inherit the folder; the process that
    made it removes it."""
    root = os.environ.get('LLMFT_TEST_TMP')
    if root is None:
        root = os.environ['LLMFT_TEST_TMP'] = tempfile.mkdtemp(prefix='llmft-test-')
        atexit.register(shutil.rmtree, root, ignore_errors=True)
    os.environ['TMPDIR'] = tempfile.tempdir = root

_one_temporary_folder()
os.environ['HF_HUB_OFFLINE'] = '1'
os.environ.setdefault('LLMFT_HOME', tempfile.mkdtemp(prefix='home-'))
os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')

def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: takes minutes')
    _absl_on_the_real_stderr()

def _absl_on_the_real_stderr():
    """absl (imported by rouge-score) binds its log handler to the sys.stderr of its first import, and closes that
    stream
    whenever a library calls `logging.config.dictConfig` (vLLM does on import) unless it is the current sys.stderr.
    First imported under pytest's capture, it closed pytest's own capture file mid-session ("lost sys.stderr");
    imported here on the real stderr, which absl never closes, it cannot."""
    saved, sys.stderr = sys.stderr, sys.__stderr__
    try: import absl.logging
    finally: sys.stderr = saved

@pytest.fixture(scope='session')
def tiny_model():
    "Path of the tiny Llama (2 layers, hidden 64) with SmolLM2's tokenizer, built once per session."
    from llmft.registry import build_tiny
    return build_tiny()

@pytest.fixture(scope='session')
def tiny_config(tiny_model):
    """`tiny_config(output_dir, **keys)`: the tests' one config (two logged steps of the tiny model on `identity`),
    `keys` on top. A key given as None is left out: `dataset=None` over an example config keeps the example's own."""
    base = dict(model='llmft-tiny', dataset='identity', cutoff_len=64, max_steps=2, logging_steps=1,
                per_device_train_batch_size=2, save_steps=100, plot_loss=False)
    def config(output_dir=None, **kw):
        return {k: v for k, v in {**base, 'output_dir': output_dir and str(output_dir), **kw}.items() if v is not None}
    return config

@pytest.fixture(scope='session')
def llmft_cmd():
    "The installed `llmft` command of this environment."
    exe = Path(sys.executable).parent/'llmft'
    assert exe.exists(), f"llmft console script missing next to {sys.executable}: run `make install`"
    return str(exe)

@pytest.fixture(scope='module')
def one_torch_thread():
    ("Run a module's in-process model on one torch thread: tiny matmuls (and an hf model beside vLLM's workers) "
     "run faster so.")
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

@pytest.fixture(autouse=True)
def streams_left_open():
    ("Fail the test that closes the process's stdout or stderr: every later test's output, and pytest's own, "
     "would be lost.")
    yield
    bad = [n for n in ('stdout', 'stderr', '__stdout__', '__stderr__') if getattr(getattr(sys, n), 'closed', False)]
    assert not bad, f"this test left sys.{', sys.'.join(bad)} closed"
