"""Runs as jobs: stop and resume, cancel, a SIGKILLed run reported dead, attach to a CLI run, a crash in the child,
one run per folder, Ctrl-C in a terminal."""
import os, signal, subprocess, sys, time
from pathlib import Path
import pytest
import llmft
from llmft.jobs import launch, attach, Job
from llmft.config import ConfigError

HELPERS = '''
import time, torch
from transformers import TrainerCallback
class Slow(TrainerCallback):
    "Half a second per step, so a test can act mid-run."
    def on_step_end(self, args, state, control, **kw): time.sleep(0.5)
class OOM(TrainerCallback):
    def on_step_end(self, args, state, control, **kw):
        if state.global_step == 2: raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
'''

@pytest.fixture
def cfg(tmp_path, tiny_config):
    (tmp_path/'jobhelpers.py').write_text(HELPERS)
    env = {'PYTHONPATH': os.pathsep.join([str(tmp_path), *filter(None, [os.environ.get('PYTHONPATH')])])}
    return tmp_path, env, tiny_config(max_steps=8, learning_rate=1e-3)

def wait_for(pred, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        if pred(): return True
        time.sleep(0.2)
    raise AssertionError('timed out')

def test_stop_saves_and_resume_finishes(cfg):
    tmp, env, base = cfg
    job = launch(base, output_dir=str(tmp/'run'), callbacks='jobhelpers:Slow', env=env)
    wait_for(lambda: job.status.get('step', 0) >= 2)
    job.stop()
    assert job.wait(120) == 'stopped'
    st = job.status
    assert 2 <= st['step'] < 8 and st['checkpoint'] == f"checkpoint-{st['step']}"
    assert (tmp/'run'/st['checkpoint']/'trainer_state.json').exists() and not job.run.finished
    said = f"{st['checkpoint']} saved; resume with: llmft train {tmp/'run'/'config.yaml'}"
    assert any(said in l for l in job.log_tail()), job.log_tail()
    again = job.resume(callbacks='')
    assert again.wait(180) == 'finished'
    assert again.run.result['steps'] == 8
    assert [m['step'] for m in again.metrics] == list(range(1, 9))

def test_sigkill_is_dead_and_cancel(cfg):
    tmp, env, base = cfg
    job = launch(base, output_dir=str(tmp/'k'), callbacks='jobhelpers:Slow', env=env)
    wait_for(lambda: job.status.get('state') == 'training')
    os.killpg(job.proc.pid, signal.SIGKILL)
    job.proc.wait()
    assert job.state == 'dead' and attach(tmp/'k').state == 'dead'
    assert 'ended without a word' in job.error
    job2 = job.resume(env=env)
    wait_for(lambda: job2.status.get('state') == 'training')
    job2.cancel()
    assert job2.state == 'cancelled' and job2.proc.poll() is not None

def test_crash_in_child_leaves_kernel_alive(cfg):
    tmp, env, base = cfg
    job = launch(base, output_dir=str(tmp/'oom'), callbacks='jobhelpers:OOM', env=env)
    assert job.wait(120) == 'failed'
    assert job.error.startswith('OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB')
    assert any('OutOfMemoryError' in l for l in job.log_tail(50))

def test_attach_to_cli_run_and_one_run_per_folder(cfg, llmft_cmd):
    tmp, env, base = cfg
    import yaml
    (tmp/'c.yaml').write_text(yaml.safe_dump({**base, 'max_steps': 60, 'output_dir': str(tmp/'cli'),
                                              'callbacks': 'jobhelpers:Slow'}))
    p = subprocess.Popen([llmft_cmd, 'train', str(tmp/'c.yaml')], env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    wait_for(lambda: (tmp/'cli'/'status.json').exists())
    job = attach(tmp/'cli')
    wait_for(lambda: len(job.metrics) >= 2 and job.state == 'training')
    assert job.status['pid'] == p.pid
    with pytest.raises(ConfigError, match=f'in use by another run \\(PID {p.pid}\\)'): launch(tmp/'c.yaml')
    second = subprocess.run([llmft_cmd, 'train', str(tmp/'c.yaml')], capture_output=True, text=True,
                            env={**os.environ, **env})
    assert second.returncode == 2 and f'in use by another run (PID {p.pid})' in second.stderr
    assert 'Traceback' not in second.stderr
    p.send_signal(signal.SIGINT) # Ctrl-C in the terminal: save, stop, say how to resume
    assert p.wait(120) == 0
    assert job.state == 'stopped' and job.status['checkpoint']
    assert any(f"resume with: llmft train {tmp/'cli'/'config.yaml'}" in l for l in job.log_tail())
    assert not any('Traceback' in l for l in job.log_tail(200))
