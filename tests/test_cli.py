"""The `llmft` command end to end, as a real subprocess on the tiny model."""
import json, subprocess
from pathlib import Path
import pytest
import llmft as api

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT/'examples'/'identity_lora.yaml')

@pytest.fixture
def tiny(tiny_config):
    "The tiny model's keys over the example's, as the command's `key=value` arguments."
    return [f'{k}={v}' for k, v in tiny_config(dataset=None, per_device_train_batch_size=4, cutoff_len=128).items()]

def llmft(cmd, *args, cwd, stdin=None):
    return subprocess.run([cmd, *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=600)

def test_train_then_chat(llmft_cmd, tiny, tmp_path):
    r = llmft(llmft_cmd, 'train', EXAMPLE, *tiny, 'max_steps=3', 'output_dir=run', 'placeholders.name=Ada',
              cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'does not match' not in r.stderr
    run = tmp_path/'run'
    assert "run: run" in r.stdout and 'memory estimate: ' in r.stdout and 'peak for lora on cpu' in r.stdout
    assert [json.loads(l)['step'] for l in (run/'metrics.jsonl').read_text().splitlines()] == [1, 2, 3]
    result = json.loads((run/'result.json').read_text())
    assert result['steps'] == 3 and result['data']['kept'] > 0
    assert f"sft: {result['data']['kept']} rows kept, {result['data']['truncated']} truncated" in r.stdout, r.stdout
    saved = (run/'config.yaml').read_text()
    assert 'Ada' in saved and 'llmft-tiny' in saved
    r = llmft(llmft_cmd, 'chat', 'run', '-m', 'Who are you?', '--greedy', '--max-new-tokens', '5', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == api.ChatModel(run).chat('Who are you?', do_sample=False, max_new_tokens=5)
    r = llmft(llmft_cmd, 'chat', 'run', '--greedy', '--max-new-tokens', '3', cwd=tmp_path,
              stdin='hello\n/clear\n/system Be brief.\nhi again\n/exit\nnever read\n')
    assert r.returncode == 0, r.stderr
    assert r.stdout.count('model> ') == 2 and '(cleared)' in r.stdout \
        and '(system prompt set; conversation cleared)' in r.stdout

def test_finished_run_is_not_overwritten_and_unfinished_resumes(llmft_cmd, tiny, tmp_path):
    args = ['train', EXAMPLE, *tiny, 'save_steps=2', 'output_dir=run']
    assert llmft(llmft_cmd, *args, 'max_steps=4', cwd=tmp_path).returncode == 0
    r = llmft(llmft_cmd, *args, 'max_steps=4', cwd=tmp_path)
    assert r.returncode == 2 and 'already holds a finished run' in r.stderr and 'overwrite_output_dir' in r.stderr
    (tmp_path/'run'/'result.json').unlink()
    import shutil
    shutil.rmtree(tmp_path/'run'/'checkpoint-4')  # as if killed after step 4 was logged but before its checkpoint
    r = llmft(llmft_cmd, *args, 'max_steps=6', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'resuming from checkpoint-2' in r.stdout
    steps = [json.loads(l)['step'] for l in (tmp_path/'run'/'metrics.jsonl').read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]
    r = llmft(llmft_cmd, *args, 'max_steps=4', 'overwrite_output_dir=true', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path/'run'/'result.json').read_text())['steps'] == 4

def test_template_mismatch_warns_before_training(llmft_cmd, tiny, tmp_path):
    r = llmft(llmft_cmd, 'train', EXAMPLE, *tiny, 'max_steps=1', 'template=chatml', 'output_dir=run', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "does not match the model's own" in r.stderr and 'differs from the tokenizer' in r.stderr

def test_eval_and_predict_commands(llmft_cmd, tiny_model, tmp_path):
    (tmp_path/'eval.yaml').write_text('model_name_or_path: llmft-tiny\ntemplate: smollm2\ntask: mmlu_demo\n'
                                       'split: test\nn_shot: 1\nlang: en\nbatch_size: 8\nsave_dir: mc\n')
    r = llmft(llmft_cmd, 'eval', 'eval.yaml', cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((tmp_path/'mc'/'results.json').read_text())
    assert len(res['subjects']) == 4 and 'STEM' in res['categories']
    printed = {c.strip(): float(a) for c, a in (l.split(':') for l in r.stdout.strip().splitlines())}
    assert printed == {c: round(100 * v['accuracy'], 2) for c, v in res['categories'].items()}, r.stdout
    r = llmft(llmft_cmd, 'predict', 'llmft-tiny', 'eval_dataset=identity_heldout', 'max_new_tokens=4',
              'output_dir=pred', cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = (tmp_path/'pred'/'generated_predictions.jsonl').read_text().splitlines()
    assert len(lines) == 8 and {'prompt', 'label', 'predict'} <= set(json.loads(lines[0]))
    printed = json.loads(r.stdout[r.stdout.index('{'):])
    assert printed == json.loads((tmp_path/'pred'/'predict_results.json').read_text()) \
        and printed['predict_samples'] == 8
    assert {'predict_bleu-4', 'predict_rouge-l'} <= set(printed), printed

def test_export_command(llmft_cmd, tiny, tmp_path):
    assert llmft(llmft_cmd, 'train', EXAMPLE, *tiny, 'max_steps=2', 'learning_rate=1e-2', 'output_dir=run',
                 cwd=tmp_path).returncode == 0
    r = llmft(llmft_cmd, 'export', 'run', '--out', 'merged', '--shard-size', '2MB', cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    shards = sorted(f.name for f in (tmp_path/'merged').glob('model-*.safetensors'))
    index = json.loads((tmp_path/'merged'/'model.safetensors.index.json').read_text())
    assert len(shards) > 1 and sorted(set(index['weight_map'].values())) == shards, (shards, index)
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(tmp_path/'merged')
    msgs = [dict(role='user', content='Who are you?')]
    assert tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True) == \
        api.ChatModel(tmp_path/'run').template.render(msgs)

@pytest.mark.slow
def test_eval_command_on_smollm2(llmft_cmd, tmp_path):
    r = llmft(llmft_cmd, 'eval', 'smollm2-135m-instruct', 'task=mmlu_demo', 'n_shot=0', 'batch_size=8', 'save_dir=mc',
              cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((tmp_path/'mc'/'results.json').read_text())
    assert {'astronomy', 'high_school_mathematics'} <= set(res['subjects']) and 'Average' in r.stdout
