"""LLaMA-Factory's real inputs unchanged: its data/ folder (dataset_info.json of every entry kind, pt sets,
identity.json with its placeholders, multimodal entries) and its example YAML families, with only the model path
changed (and max_steps). The fixtures in tests/fixtures/lf/ have the shapes of LLaMA-Factory's files; they are written
for these tests."""
import json, re, shutil, warnings
from pathlib import Path
from unittest.mock import patch
import pytest
import llmft
from llmft.cli import main
from llmft.config import ConfigError, DataArgs, load_config
from llmft.data import load_records, load_specs, usable

LF = Path(__file__).resolve().parent/'fixtures'/'lf'
YAMLS = sorted(p.relative_to(LF/'examples').as_posix() for p in (LF/'examples').rglob('*.yaml'))
TRAIN = [y for y in YAMLS if y.split('/')[0] in ('train_lora', 'train_qlora', 'train_full', 'extras')]

@pytest.fixture
def lf(tmp_path, monkeypatch):
    "A copy of the fixture checkout as the working folder: `data/` is found as LLaMA-Factory's default dataset_dir."
    shutil.copytree(LF, tmp_path/'lf')
    monkeypatch.chdir(tmp_path/'lf')
    return tmp_path/'lf'

def as_user(name, **keys) -> Path:
    "The example `name` with its model path changed to the tiny model (and `keys` appended), as a user would edit it."
    p = Path('examples')/name
    text = re.sub(r'^model_name_or_path: .*$', 'model_name_or_path: llmft-tiny', p.read_text(), flags=re.M)
    p.write_text(text + ''.join(f"{k}: {v}\n" for k, v in keys.items()))
    return p

def test_dataset_info_every_entry_kind(lf):
    info = json.loads(Path('data/dataset_info.json').read_text())
    specs = load_specs()
    assert set(specs) == set(info)
    test_ok = [n for n in specs if n not in ('mllm_demo', 'mllm_audio_demo', 'mllm_video_demo', 'tagged_future')]
    for n in test_ok: usable(specs[n])
    for n, col in [('mllm_demo', 'images'), ('mllm_audio_demo', 'audios'), ('mllm_video_demo', 'videos')]:
        with pytest.raises(ConfigError, match=rf"'{n}' .* is multimodal \(columns: {col}\): llmft trains text models"):
            load_records(DataArgs(dataset=[n]))
    with pytest.raises(ConfigError, match="'tagged_future' .* has keys llmft does not read: tags_version"):
        load_records(DataArgs(dataset=['tagged_future']))
    assert specs['alpaca_en'].om_hub_url == 'example-org/alpaca_en' and specs['code_subset'].folder == 'python'

def test_pt_sets_read_as_text(lf):
    recs = load_records(DataArgs(dataset=['c4_demo', 'wiki_demo']))
    assert len(recs) == 12 and all(r['text'] and not r['messages'] for r in recs)
    assert recs[6]['text'] == "Anarchism is a political philosophy that is sceptical of authority."

def test_identity_placeholders_train_as_written_with_one_warning(lf):
    with pytest.warns(UserWarning) as w:
        recs = load_records(DataArgs(dataset=['identity']))
    assert len(w) == 1
    assert "has {{author}}, {{name}} with no value; trained as written, as LLaMA-Factory does; " \
           "set placeholders.author=... placeholders.name=... to fill them" in str(w[0].message)
    assert recs[1]['messages'][-1]['content'] == "I am {{name}}, an AI assistant developed by {{author}}."
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        recs = load_records(DataArgs(dataset=['identity'], placeholders=dict(name='Nova', author='Orbit')))
    assert recs[1]['messages'][-1]['content'] == "I am Nova, an AI assistant developed by Orbit."

def test_own_specs_still_fail_on_an_unfilled_placeholder(tmp_path):
    (tmp_path/'specs.yaml').write_text('who:\n  file_name: who.json\n')
    (tmp_path/'who.json').write_text(json.dumps([dict(instruction='Who?', output='I am {{name}}.')]))
    with pytest.raises(ConfigError, match=r"row 1: placeholder \{\{name\}\} has no value; set placeholders.name=..."):
        load_records(DataArgs(dataset=['who'], dataset_dir=str(tmp_path)))

@pytest.mark.parametrize('name', TRAIN)
def test_training_family_config(lf, name):
    ("Every training YAML loads and validates with only the model changed; "
     "the ones llmft cannot run fail naming the key.")
    src = as_user(name, max_steps=1)
    if 'badam' in name:
        with pytest.raises(ConfigError, match='use_badam: a LLaMA-Factory setting that llmft does not support'):
            load_config(src)
        return
    if 'deepspeed' in src.read_text() and not __import__('importlib').util.find_spec('deepspeed'):
        with pytest.raises(ConfigError,
                           match="deepspeed='examples/deepspeed/ds_z3_config.json' needs the deepspeed package"):
            load_config(src)
        return
    cfg = load_config(src)
    assert cfg.model.model_name_or_path == 'llmft-tiny' and cfg.train.max_steps == 1
    assert set(cfg.data.dataset) <= set(load_specs(cfg.data.dataset_dir)) \
        and Path(cfg.data.dataset_dir).name == 'data_specs'
    assert cfg.train.extra['report_to'] == 'none' and cfg.train.extra['do_train'] is True
    if 'galore' in name: assert cfg.model.precision == 'bf16'
    if 'otfq' in name: assert cfg.model.quantization_method == 'bitsandbytes'

@pytest.mark.parametrize('name', ['train_lora/qwen3_lora_pretrain.yaml', 'train_lora/qwen3_lora_kto.yaml'])
def test_training_family_runs(lf, name, tiny_model):
    run = llmft.train(as_user(name, max_steps=1), verbose=False)
    assert run.finished and run.result['steps'] == 1

def test_sft_then_merge_lora_then_inference_and_api(lf, tiny_model, capsys):
    "The chain LLaMA-Factory's README walks: train_lora sft, merge_lora through export, inference through chat and api."
    with pytest.warns(UserWarning, match='placeholders.author=... placeholders.name=...'):
        run = llmft.train(as_user('train_lora/qwen3_lora_sft.yaml', max_steps=1), verbose=False)
    assert run.path.resolve() == (lf/'saves/qwen3-4b/lora/sft').resolve() \
        and run.config.model.template == 'qwen3_nothink'
    main(['export', str(as_user('merge_lora/qwen3_lora_sft.yaml'))])
    assert (lf/'saves/qwen3_sft_merged'/'model.safetensors').exists()
    chat = as_user('inference/qwen3_lora_sft.yaml')
    capsys.readouterr()
    main(['chat', str(chat), '-m', 'Who are you?', '--greedy', '--max-new-tokens', '3'])
    out = capsys.readouterr().out # the run's own greedy answer: its adapter, on its template
    assert out.strip() == llmft.ChatModel(run).chat('Who are you?', do_sample=False, max_new_tokens=3), out
    with patch('llmft.server.serve') as serve:
        main(['api', str(chat)])
    (model,), kw = serve.call_args
    assert model == 'llmft-tiny'
    assert {k: kw[k] for k in ('adapter_name_or_path', 'template', 'infer_backend', 'trust_remote_code')} == \
        dict(adapter_name_or_path='saves/qwen3-4b/lora/sft', template='qwen3_nothink', infer_backend='hf',
             trust_remote_code=True)

def test_unsupported_key_fails_before_loading(lf, capsys):
    with patch('llmft.trainer.train') as train, pytest.raises(SystemExit) as e:
        main(['train', str(as_user('extras/badam/llama3_full_sft.yaml'))])
    assert e.value.code == 2 and not train.called
    assert capsys.readouterr().err.strip() == \
        ("llmft train: error: use_badam: a LLaMA-Factory setting that llmft does not support; "
         "remove it (llmft.config.key_groups() lists ours)")
    p = as_user('merge_lora/qwen3_lora_sft.yaml', export_quantization_bit=4)
    with pytest.raises(SystemExit): main(['export', str(p)])
    assert 'export_quantization_bit not supported' in capsys.readouterr().err
