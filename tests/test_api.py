"""The Python API as a script uses it: `llmft.train(...)` then `llmft.chat(run)`."""
import json
import llmft
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent/'examples'/'identity_lora.yaml'

def test_train_from_yaml_dict_and_kwargs(tiny_config, tmp_path):
    run = llmft.train(str(EXAMPLE), **tiny_config(tmp_path/'a', dataset=None))
    assert run.finished and run.result['steps'] == 2
    reply = llmft.chat(run, 'Who are you?', do_sample=False, max_new_tokens=4)
    cm = llmft.ChatModel(run)
    assert cm.cfg.model.adapter_name_or_path == str(run.path) and type(cm.model).__name__ == 'PeftModelForCausalLM'
    assert reply == cm.chat('Who are you?', do_sample=False, max_new_tokens=4)
    cfg = tiny_config(tmp_path/'b', model=None, model_name_or_path='llmft-tiny', stage='sft', finetuning_type='lora',
                      template='chatml', max_steps=1, lora_rank=2) # LLaMA-Factory's names, as a dict
    run2 = llmft.train(cfg, verbose=False)
    assert run2.config.method.lora_rank == 2 and run2.config.model.template == 'chatml'
    assert json.loads((run2.path/'adapter_config.json').read_text())['r'] == 2

def test_full_finetuning_trains_every_weight(tiny_model, tiny_config, tmp_path):
    run = llmft.train(str(EXAMPLE), **tiny_config(tmp_path/'full', dataset=None, finetuning_type='full'))
    assert (run.path/'model.safetensors').exists() and not (run.path/'adapter_config.json').exists()
    assert run.config.model.template == 'smollm2'
    chat = llmft.ChatModel(run)
    assert chat.cfg.model.model_name_or_path == str(run.path)
    import torch
    from transformers import AutoModelForCausalLM
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert not torch.equal(chat.model.model.layers[0].mlp.down_proj.weight, base.model.layers[0].mlp.down_proj.weight)
