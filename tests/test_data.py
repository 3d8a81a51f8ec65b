"""Every data format and processor on the real SmolLM2 tokenizer, and LLaMA-Factory's data folder layout."""
import json, subprocess
from pathlib import Path
import pytest
from llmft.config import ConfigError, DataArgs
from llmft.data import load_records, load_specs
from llmft.processors import process
from llmft.registry import resolve_model
from llmft.templates import IGNORE, get_template

ROOT = Path(__file__).resolve().parent.parent

@pytest.fixture(scope='module')
def tok():
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(resolve_model('smollm2-135m-instruct').path)

def trained_text(tok, ids, labels): return tok.decode([i for i, l in zip(ids, labels) if l != IGNORE])

@pytest.mark.parametrize('name,stage,template', [
    ('alpaca_demo', 'sft', 'smollm2'), ('openai_demo', 'sft', 'smollm2'), ('sharegpt_demo', 'sft', 'qwen'),
    ('dpo_demo', 'dpo', 'smollm2'), ('kto_demo', 'kto', 'smollm2'), ('pt_demo', 'pt', 'smollm2')])
def test_bundled_datasets_process_without_loss(tok, name, stage, template):
    d = DataArgs(dataset=[name], cutoff_len=1024)
    recs = load_records(d)
    ds, rep = process(recs, tok, get_template(template), d, stage)
    if stage == 'pt':
        text = (ROOT/'data_specs'/'pt_demo.txt').read_text()
        assert len(text.encode()) >= 100_000 and all(len(r) <= 1024 for r in ds['input_ids'])
        assert sum(map(len, ds['input_ids'])) >= len(tok.encode(text)) * 0.95
        return
    assert rep.kept == len(recs) == len(ds) and not rep.skipped, str(rep)
    row = ds[0]
    if stage == 'dpo':
        c, r = (trained_text(tok, row['chosen_input_ids'], row['chosen_labels']),
                trained_text(tok, row['rejected_input_ids'], row['rejected_labels']))
        assert c == recs[0]['chosen']['content'] + '<|im_end|>\n' \
            and r == recs[0]['rejected']['content'] + '<|im_end|>\n'
        return
    assert trained_text(tok, row['input_ids'], row['labels']).endswith(
        recs[0]['messages'][-1]['content'] + '<|im_end|>\n')
    if stage == 'kto': # and its KL row: this row's prompt with the next row's answer
        assert set(ds['kto_label']) == {True, False}
        n = next(i for i, l in enumerate(row['labels']) if l != IGNORE) # the prompt's length
        assert row['kl_input_ids'][:n] == row['input_ids'][:n]
        kl = trained_text(tok, row['kl_input_ids'], row['kl_labels'])
        nxt = trained_text(tok, ds[1]['input_ids'], ds[1]['labels'])
        assert kl == nxt, (kl, nxt)

def test_tool_calls_are_trained_and_results_masked(tok):
    d = DataArgs(dataset=['sharegpt_demo'], cutoff_len=2048)
    recs = [r for r in load_records(d) if r['tools']]
    assert len(recs) == 25 # of its 70 rows
    ds, _ = process(recs, tok, get_template('qwen'), d)
    text = trained_text(tok, ds[0]['input_ids'], ds[0]['labels'])
    call = next(m['content'] for m in recs[0]['messages'] if m['role'] == 'tool_call')
    result = next(m['content'] for m in recs[0]['messages'] if m['role'] == 'tool')
    assert '<tool_call>' in text and json.loads(call)['name'] in text and result not in text

def test_interleave_under_and_over(tok):
    under = load_records(DataArgs(dataset=['identity', 'alpaca_demo'], mix_strategy='interleave_under',
                                  interleave_probs=[0.5, 0.5]))
    over = load_records(DataArgs(dataset=['identity', 'alpaca_demo'], mix_strategy='interleave_over',
                                 interleave_probs=[0.5, 0.5]))
    n_alpaca = len(load_records(DataArgs(dataset=['alpaca_demo'])))
    assert len(under) < 88 + n_alpaca < len(over)

def test_llama_factory_data_folder_works_unchanged(tmp_path, tok):
    (tmp_path/'a.json').write_text(json.dumps([{'instruction': 'Add 2 and 3', 'input': '', 'output': '5',
                                                'history': [['hi', 'hello']]}]))
    (tmp_path/'s.json').write_text(json.dumps([{'conversations': [{'from': 'human', 'value': 'hi'},
                                                                  {'from': 'gpt', 'value': 'hey'}],
                                                'system': 'Be kind.'}]))
    (tmp_path/'p.jsonl').write_text(json.dumps({'instruction': 'q', 'input': 'x', 'chosen': 'good',
                                                'rejected': 'bad'}) + '\n')
    (tmp_path/'dir').mkdir()
    (tmp_path/'dir'/'part1.jsonl').write_text(json.dumps({'q': 'one', 'a': 'uno'}) + '\n')
    (tmp_path/'dir'/'part2.csv').write_text('q,a\ntwo,dos\n')
    (tmp_path/'dataset_info.json').write_text(json.dumps({
        'my_alpaca': {'file_name': 'a.json'},
        'my_sharegpt': {'file_name': 's.json', 'formatting': 'sharegpt',
                        'columns': {'messages': 'conversations', 'system': 'system'},
                        'tags': {'role_tag': 'from', 'content_tag': 'value', 'user_tag': 'human',
                                 'assistant_tag': 'gpt'}},
        'my_pref': {'file_name': 'p.jsonl', 'ranking': True,
                    'columns': {'prompt': 'instruction', 'query': 'input', 'chosen': 'chosen', 'rejected': 'rejected'}},
        'my_folder': {'file_name': 'dir', 'columns': {'prompt': 'q', 'response': 'a'}, 'num_samples': 2,
                      'split': 'train'},
        'on_hub': {'hf_hub_url': 'someone/some-data', 'subset': 'en', 'split': 'train'}}))
    specs = load_specs(tmp_path)
    assert set(specs) == {'my_alpaca', 'my_sharegpt', 'my_pref', 'my_folder', 'on_hub'}
    recs = load_records(DataArgs(dataset=['my_alpaca', 'my_sharegpt', 'my_folder'], dataset_dir=str(tmp_path)))
    assert [m['content'] for m in recs[0]['messages']] == ['hi', 'hello', 'Add 2 and 3', '5']
    assert recs[1]['system'] == 'Be kind.' and [r['messages'][-1]['content'] for r in recs[2:]] == ['uno', 'dos']
    pref = load_records(DataArgs(dataset=['my_pref'], dataset_dir=str(tmp_path)))
    assert pref[0]['messages'][0]['content'] == 'q\nx' and pref[0]['chosen']['content'] == 'good'
    with pytest.raises(ConfigError, match='on the hub .* not reachable'):
        load_records(DataArgs(dataset=['on_hub'], dataset_dir=str(tmp_path)))

def test_llama_factory_yaml_trains_unchanged(llmft_cmd, tiny_model, tmp_path):
    (tmp_path/'data').mkdir()
    (tmp_path/'data'/'dataset_info.json').write_text(json.dumps({'mine': {'file_name': 'mine.json'}}))
    (tmp_path/'data'/'mine.json').write_text(json.dumps([{'instruction': f'Say {i}', 'input': '', 'output': str(i)}
                                                         for i in range(8)]))
    (tmp_path/'lf.yaml').write_text('\n'.join([
        '### model', 'model_name_or_path: llmft-tiny', 'trust_remote_code: true',
        '### method', 'stage: sft', 'do_train: true', 'finetuning_type: lora', 'lora_rank: 8', 'lora_target: all',
        '### dataset', 'dataset: mine', 'dataset_dir: data', 'template: chatml', 'cutoff_len: 256', 'max_samples: 1000',
        'overwrite_cache: true', 'preprocessing_num_workers: 1',
        '### output', 'output_dir: saves/tiny/lora/sft', 'logging_steps: 1', 'save_steps: 500', 'plot_loss: true',
        'overwrite_output_dir: true', 'report_to: none', '### train', 'per_device_train_batch_size: 4',
        'gradient_accumulation_steps: 1', 'learning_rate: 1.0e-4', 'num_train_epochs: 1.0', 'lr_scheduler_type: cosine',
        'warmup_ratio: 0.1', 'bf16: false', 'ddp_timeout: 180000000']) + '\n')
    r = subprocess.run([llmft_cmd, 'train', 'lf.yaml'], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path/'saves'/'tiny'/'lora'/'sft'/'adapter_model.safetensors').exists()

def test_missing_column_names_dataset_and_columns(tmp_path):
    (tmp_path/'x.yaml').write_text('qa:\n  file_name: qa.json\n')
    (tmp_path/'qa.json').write_text(json.dumps([{'question': 'q', 'answer': 'a'}]))
    with pytest.raises(ConfigError, match=r"dataset 'qa' \(alpaca\) expects column 'instruction'; "
                                          r"the row has \['answer', 'question'\]"):
        load_records(DataArgs(dataset=['qa'], dataset_dir=str(tmp_path)))

def test_fsspec_url_source(tmp_path):
    import fsspec
    with fsspec.open('memory://llmft-test/qa.jsonl', 'w') as f:
        f.write(json.dumps({'instruction': 'Hi', 'output': 'Hello'}) + '\n')
    (tmp_path/'specs.yaml').write_text('remote:\n  file_name: memory://llmft-test/qa.jsonl\n')
    recs = load_records(DataArgs(dataset=['remote'], dataset_dir=str(tmp_path)))
    assert [m['content'] for m in recs[0]['messages']] == ['Hi', 'Hello']
