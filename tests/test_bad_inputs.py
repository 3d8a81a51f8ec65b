"""A table of user mistakes: each gives one line naming the file / row / key / value and a valid alternative, with
the exit status a script can test, and never a traceback. Most run `llmft.cli.main` in this process (no model loads
before the error); two go through the real console script to show the same holds there."""
import codecs, json, shutil, subprocess, warnings
from pathlib import Path
from unittest.mock import patch
import pytest
import llmft as api
from llmft.cli import main
from llmft.config import ConfigError, ConfigWarning, DataArgs, load_config
from llmft.data import load_records

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT/'examples'/'identity_lora.yaml')

def cli(capsys, *argv):
    "(exit status, stdout, stderr) of `llmft *argv` run in this process."
    try: main([str(a) for a in argv]); rc = 0
    except SystemExit as e: rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err

def one_error(capsys, cmd, *argv) -> str:
    "The one error line `llmft cmd *argv` prints, after checking its status and that nothing else is on stderr."
    rc, _, err = cli(capsys, cmd, *argv)
    assert rc == 2 and 'Traceback' not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f'llmft {cmd}: error: '), err
    return lines[0]

# ---------------------------------------------------------------- config: every number checked before anything loads
@pytest.mark.parametrize('arg,message', [
    ('per_device_train_batch_size=0',
     'per_device_train_batch_size=0: must be > 0 (e.g. per_device_train_batch_size=8, the default)'),
    ('learning_rate=-1', 'learning_rate=-1.0: must be > 0 (e.g. learning_rate=5e-05, the default)'),
    ('gradient_accumulation_steps=0', 'gradient_accumulation_steps=0: must be > 0'),
    ('max_steps=-5', 'max_steps=-5: must be -1 or > 0'),
    ('num_train_epochs=-1', 'num_train_epochs=-1.0: must be >= 0'),
    ('cutoff_len=0', 'cutoff_len=0: must be > 0 (e.g. cutoff_len=2048, the default)'),
    ('lora_rank=-4', 'lora_rank=-4: must be > 0 (e.g. lora_rank=8, the default)'),
    ('lora_dropout=1', 'lora_dropout=1.0: must be in [0, 1)'),
    ('val_size=1.5', 'val_size=1.5: must be in [0, 1) (e.g. val_size=0.0, the default)'),
    ('warmup_ratio=2', 'warmup_ratio=2.0: must be in [0, 1)'),
    ('logging_steps=0', 'logging_steps=0.0: must be > 0'),
    ('max_samples=0', 'max_samples=0: must be > 0 (unset it, the default)'),
    ('top_p=0', 'top_p=0.0: must be in (0, 1]'),
    ('eval_steps=0', 'eval_steps=0: must be > 0'),  # a TrainingArguments key passed through
    ('per_device_eval_batch_size=many', "per_device_eval_batch_size='many': expected a number > 0"),
    ('lr_scheduler_type=cosin', "lr_scheduler_type='cosin': use one of linear, cosine"),
])
def test_numbers_and_names_checked_before_loading(capsys, tmp_path, arg, message):
    line = one_error(capsys, 'train', EXAMPLE, arg, f'output_dir={tmp_path}/run')
    assert message in line, line
    assert not (tmp_path/'run').exists()  # failed before the run folder, the model or the data

@pytest.mark.parametrize('args,message', [
    (['stage=grpo', 'reward_funcs=llmft.grpo:answer_f1', 'num_generations=3'],
     'num_generations=3: per_device_train_batch_size x gradient_accumulation_steps (8) must be a multiple of it'),
    (['early_stopping_steps=2'], 'early_stopping_steps=2 needs an evaluation split: set val_size (e.g. val_size=0.1)'),
    (['early_stopping_steps=2', 'val_size=0.1', 'logging_steps=4', 'save_steps=10'],
     'save_steps=10.0 must be a multiple of eval_steps=4 (e.g. save_steps=8)'),
    (['stage=grpo', 'reward_funcs=llmft.grpo:answer_f1', 'num_generations=4', 'val_size=0.1',
      'per_device_eval_batch_size=6'],
     'num_generations=4: with val_size, TRL evaluates whole groups of answers, so per_device_eval_batch_size (6) must '
     'be a multiple of it; e.g. per_device_eval_batch_size=4'),
    (['stage=grpo', 'reward_funcs=llmft.grpo:answer_f1', 'auto_find_batch_size=true'],
     'auto_find_batch_size with stage=grpo: a smaller batch would split the groups of num_generations answers'),
    (['stage=grpo'], "stage=grpo needs reward_funcs: a list of 'module:function' names"),
    (['stage=ppo'], "stage=ppo needs reward_model: a run folder of stage: rm, or 'module:function'"),
])
def test_stage_checks_that_need_only_the_config(capsys, tmp_path, args, message):
    line = one_error(capsys, 'train', EXAMPLE, *args, f'output_dir={tmp_path}/run')
    assert message in line and not (tmp_path/'run').exists(), line

def test_key_the_stage_ignores_warns(capsys, tiny_model, tmp_path):
    with pytest.warns(ConfigWarning, match="pref_loss='hinge' has no effect with stage=sft: only stage dpo uses it"):
        load_config(EXAMPLE, pref_loss='hinge')
    with pytest.warns(ConfigWarning, match="reward_model='runs/rm' has no effect with stage=dpo: only stage ppo"):
        load_config(EXAMPLE, stage='dpo', reward_model='runs/rm')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        load_config(EXAMPLE, stage='dpo', pref_loss='hinge', pref_beta=0.2)  # used: no warning
        warnings.simplefilter('always')
        rc, out, err = cli(capsys, 'preview', EXAMPLE, 'model=llmft-tiny', 'ppo_epochs=2', '-n', '1')
    assert rc == 0 and 'rows kept' in out, err
    assert "llmft preview: warning: ppo_epochs=2 has no effect with stage=sft: only stage ppo uses it" in err, err
    assert 'Traceback' not in err

def test_config_files(capsys, tmp_path):
    assert 'config file not found: nope.yaml' in one_error(capsys, 'train', 'nope.yaml')
    assert 'config file not found: nope.yaml' in one_error(capsys, 'preview', 'nope.yaml')
    (tmp_path/'latin.yaml').write_bytes('dataset: identity\ndefault_system: "Tu es Céline."\n'.encode('cp1252'))
    line = one_error(capsys, 'train', tmp_path/'latin.yaml')
    assert f'{tmp_path}/latin.yaml: not UTF-8 text: byte 0xe9 at offset 42' in line
    assert 'iconv -f cp1252 -t utf-8' in line
    (tmp_path/'bom.yaml').write_bytes(codecs.BOM_UTF8 + b'dataset: identity\nlora_rank: 0\n')
    assert 'lora_rank=0: must be > 0' in one_error(capsys, 'train', tmp_path/'bom.yaml')  # the BOM read fine

# ---------------------------------------------------------------- data
def specs(tmp_path, name, file, text_or_bytes, formatting='alpaca'):
    (tmp_path/'specs').mkdir(exist_ok=True)
    (tmp_path/'specs'/f'{name}.yaml').write_text(f'{name}:\n  file_name: {file}\n  formatting: {formatting}\n')
    f = tmp_path/'specs'/file
    f.write_bytes(text_or_bytes) if isinstance(text_or_bytes, bytes) else f.write_text(text_or_bytes)
    return ['model=llmft-tiny', f'dataset={name}', f'dataset_dir={tmp_path}/specs']

def test_data_not_utf8(capsys, tiny_model, tmp_path):
    rows = '{"instruction": "Who are you?", "output": "Je suis Céline."}\n'
    args = specs(tmp_path, 'fr', 'fr.jsonl', rows.encode() + rows.encode('cp1252'))
    at = len(rows.encode()) + rows.index('é')  # the é of the second row, in cp1252
    line = one_error(capsys, 'preview', EXAMPLE, *args)
    assert f'{tmp_path}/specs/fr.jsonl: not UTF-8 text: byte 0xe9 at offset {at}' in line, line
    assert 'llmft reads text as UTF-8' in line
    line = one_error(capsys, 'preview', EXAMPLE, *args, 'streaming=true', 'max_steps=2')  # the lazy reader too
    assert f'fr.jsonl: not UTF-8 text: byte 0xe9 at offset {at}' in line, line
    specs(tmp_path, 'fr', 'fr.jsonl', codecs.BOM_UTF8 + (rows * 2).encode())
    rc, out, err = cli(capsys, 'preview', EXAMPLE, *args, '-n', '1')
    assert rc == 0 and 'sft: 2 rows kept' in out and 'Céline' in out, err

def test_kto_labels(tmp_path, capsys, tiny_model):
    good = [True, 'false', 'TRUE', ' yes ', 'No', 1, 0]
    rows = [dict(instruction=f'q{i}', output='a', kto_tag=v) for i, v in enumerate(good)]
    args = specs(tmp_path, 'fb', 'fb.json', json.dumps(rows))
    recs = load_records(DataArgs(dataset=['fb'], dataset_dir=f'{tmp_path}/specs'))
    assert [r['kto_label'] for r in recs] == [True, False, True, True, False, True, False]
    for bad in ('good', 'desirable', 2, None, ''):
        specs(tmp_path, 'fb', 'fb.json', json.dumps(rows + [dict(instruction='q', output='a', kto_tag=bad)]))
        line = one_error(capsys, 'preview', EXAMPLE, *args, 'stage=kto')
        want = (f'{tmp_path}/specs/fb.json row 8: kto_tag={bad!r} is not a KTO label: '
                'use true or false (also 1/0, yes/no)')
        assert want in line, line

def test_empty_rows_are_skipped_and_counted(tmp_path):
    rows = [dict(instruction='Hi', output='Hello'), dict(instruction='', output=''),
            dict(instruction=' ', input='', output=' ')]
    specs(tmp_path, 'e', 'e.json', json.dumps(rows))
    reports = []
    recs = load_records(DataArgs(dataset=['e'], dataset_dir=f'{tmp_path}/specs'), verbose=False, reports=reports)
    assert len(recs) == 1 and dict(reports[0].skipped) == {'prompt and answer are both empty': 2}
    assert reports[0].first_bad == f'{tmp_path}/specs/e.json row 2: prompt and answer are both empty'

def test_preview_counts_what_training_counts(capsys, tiny_model, tmp_path):
    turn = lambda r, v: {'from': r, 'value': v}
    ok = dict(conversations=[turn('human', 'Who are you?'), turn('gpt', 'I am Nova.')])
    bad = [dict(conversations=[turn('human', 'Hi'), turn('bot', 'Hello!')]),          # unknown role
           dict(conversations=[turn('gpt', 'Hello!'), turn('human', 'Hi')]),          # wrong order
           dict(conversations=[turn('human', 'Hi'), turn('gpt', 'a'), turn('gpt', 'b'), turn('gpt', 'c')]),
           dict(conversations=[turn('human', ''), turn('gpt', '')])]                  # empty
    args = specs(tmp_path, 'chat', 'chat.json', json.dumps([ok, *bad, ok, ok]), formatting='sharegpt')
    rc, out, err = cli(capsys, 'preview', EXAMPLE, *args, '-n', '1')
    assert rc == 0, err
    assert out.splitlines()[0].startswith('sft: 3 rows kept, 0 truncated, 4 skipped ('), out
    assert f'first: {tmp_path}/specs/chat.json row 2: unknown role' in out.splitlines()[0]
    cfg = load_config(EXAMPLE, **dict(a.split('=', 1) for a in args), max_steps=1, per_device_train_batch_size=2,
                      output_dir=str(tmp_path/'run'))
    run = api.train(cfg, verbose=False)
    data = run.result['data']
    assert (data['kept'], data['truncated'], sum(data['skipped'].values())) == (3, 0, 4)
    why = ', '.join(f'{n} {r}' for r, n in data['skipped'].items())
    assert out.splitlines()[0].startswith(f"sft: 3 rows kept, 0 truncated, 4 skipped ({why})")

# ---------------------------------------------------------------- chat, eval, export
def test_chat_on_a_folder_that_is_not_a_run(capsys, tmp_path):
    (tmp_path/'notes').mkdir()
    (tmp_path/'notes'/'todo.txt').write_text('train more')
    line = one_error(capsys, 'chat', tmp_path/'notes', '-m', 'hi')
    assert f'{tmp_path}/notes is neither a run folder (no config.yaml) nor a model folder (no config.json)' in line
    assert 'a model alias (llmft-tiny' in line
    line = one_error(capsys, 'chat', 'runs/idnetity', '-m', 'hi')
    assert "'runs/idnetity' is not a folder here, and as a hub id it needs the Hugging Face hub" in line

def test_eval_with_a_missing_subject_file(capsys, tmp_path):
    task = tmp_path/'mmlu_demo'
    shutil.copytree(ROOT/'data_specs'/'mmlu_demo', task)
    (task/'test'/'astronomy_test.csv').unlink()
    line = one_error(capsys, 'eval', 'llmft-tiny', f'task={task}', 'n_shot=0')
    assert f'{task}/test/astronomy_test.csv not found: the mapping of {task} lists subject' in line
    assert 'add the file or remove the subject from the mapping' in line
    assert "n_shot='five': expected a whole number" in one_error(capsys, 'eval', 'llmft-tiny', 'n_shot=five')
    assert "batch_size='0': must be > 0" in one_error(capsys, 'eval', 'llmft-tiny', 'batch_size=0')
    line = one_error(capsys, 'predict', 'llmft-tiny', 'eval_dataset=identity', 'max_samples=x')
    assert "max_samples='x': expected a whole number" in line

@pytest.fixture(scope='module')
def tiny_run(tiny_config, tmp_path_factory):
    cfg = tiny_config(tmp_path_factory.mktemp('run')/'run', max_steps=1, max_samples=8, per_device_train_batch_size=4)
    return api.train(cfg, verbose=False)

def listing(d): return sorted(p.name for p in Path(d).iterdir())

def test_export_refuses_a_full_folder_and_replaces_it_whole(capsys, tiny_run, tmp_path):
    out = tmp_path/'merged'
    out.mkdir()
    for f in ('model-00001-of-00002.safetensors', 'model.safetensors.index.json'): (out/f).write_text('earlier export')
    line = one_error(capsys, 'export', tiny_run.path, '--out', out)
    assert f'{out} is not empty: export into a new folder, or overwrite it (--overwrite' in line
    assert listing(out) == ['model-00001-of-00002.safetensors', 'model.safetensors.index.json']
    line = one_error(capsys, 'export', tiny_run.path, '--out', tmp_path/'x', '--shard-size', 'big')
    assert "shard_size='big': Unit 'IG' not supported" in line and 'e.g. 500MB or 2GB' in line
    with patch('llmft.exporter._reload', side_effect=KeyboardInterrupt):  # interrupted after the new files are written
        with pytest.raises(KeyboardInterrupt): api.export(tiny_run, out, overwrite=True)
    assert listing(out) == ['model-00001-of-00002.safetensors', 'model.safetensors.index.json']  # the old one, whole
    assert listing(tmp_path) == ['merged']  # and no half-written sibling left
    rc, stdout, err = cli(capsys, 'export', tiny_run.path, '--out', out, '--overwrite')
    assert rc == 0 and stdout.startswith('ok: safetensors'), err
    assert 'model.safetensors' in listing(out) and 'model.safetensors.index.json' not in listing(out)
    assert listing(tmp_path) == ['merged']
    with pytest.raises(ConfigError, match='is not empty'): api.export(tiny_run, out)

# ---------------------------------------------------------------- the real console script
def test_console_script_gives_one_line(llmft_cmd, tmp_path):
    r = subprocess.run([llmft_cmd, 'train', EXAMPLE, 'learning_rate=-1', 'output_dir=run'], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    assert r.stderr.strip() == ('llmft train: error: learning_rate=-1.0: must be > 0 '
                                '(e.g. learning_rate=5e-05, the default)')
    (tmp_path/'empty').mkdir()
    r = subprocess.run([llmft_cmd, 'chat', 'empty', '-m', 'hi'], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 2 and 'Traceback' not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert 'empty is neither a run folder' in r.stderr

@pytest.mark.parametrize('args,message', [
    (['lora_rnak=4'], "unknown config key 'lora_rnak' (did you mean 'lora_rank'?)"),
    (['model=smollm3-135m'], "unknown model 'smollm3-135m' (did you mean 'smollm2-135m-instruct'?)"),
    (['dataset=identty'], "dataset 'identty' (did you mean 'identity'?) is not described in"),
    (['stage=dpp'], "stage='dpp' is not a stage"),
    (['lora_rank=eight'], "lora_rank='eight': expected int"),
    pytest.param([f'deepspeed={ROOT}/examples/deepspeed/ds_z2.json'], 'needs the deepspeed package',
                 id='deepspeed-missing',
                 marks=pytest.mark.skipif(__import__('importlib').util.find_spec('deepspeed') is not None,
                                          reason='deepspeed is installed')),
])
def test_train_config_errors(capsys, tmp_path, args, message):
    assert message in one_error(capsys, 'train', EXAMPLE, *args, f'output_dir={tmp_path}/run')

def test_data_file_errors(capsys, monkeypatch, tiny_model, tmp_path):
    monkeypatch.chdir(tmp_path)
    Path('bad.yaml').write_text('model: llmft-tiny\ndataset: identity\nlora_rank: [8\n')
    assert 'bad.yaml:4:1: invalid YAML' in one_error(capsys, 'train', 'bad.yaml')
    Path('specs').mkdir()
    Path('specs/mine.yaml').write_text('faq:\n  file_name: faq.json\n  formatting: alpaca\n')
    args = [EXAMPLE, 'model=llmft-tiny', 'dataset=faq', 'dataset_dir=specs', 'output_dir=run']
    assert "dataset 'faq' (described in specs/mine.yaml): file not found: specs/faq.json" \
        in one_error(capsys, 'train', *args)
    Path('specs/mine.yaml').write_text('faq:\n  file_name: faq.jsonl\n')
    Path('specs/faq.jsonl').write_text('{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": }\n')
    assert 'specs/faq.jsonl:2: invalid JSON line' in one_error(capsys, 'train', *args)
