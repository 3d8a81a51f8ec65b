"""Every example config parses, validates and finds its datasets; run for a step on the tiny model."""
from pathlib import Path
import pytest
import llmft
from llmft.config import load_config
from llmft.data import load_specs

EXAMPLES = sorted((Path(__file__).resolve().parent.parent/'examples').glob('*.yaml'))

@pytest.mark.parametrize('path', EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_config_is_valid(path, tiny_config, tmp_path):
    cfg = load_config(path)
    specs = load_specs(cfg.data.dataset_dir)
    assert cfg.data.dataset and set(cfg.data.dataset) <= set(specs), cfg.data.dataset
    stage = dict(ppo=dict(reward_model='llmft.ppo:answer_length', max_new_tokens=4),  # its rm run folder is not there
                 grpo=dict(per_device_train_batch_size=cfg.method.num_generations, max_new_tokens=4)
                 ).get(cfg.method.stage, {})
    one = dict(max_steps=1, cutoff_len=min(cfg.data.cutoff_len, 256), per_device_train_batch_size=1,
               gradient_accumulation_steps=1)
    run = llmft.train(path, **tiny_config(tmp_path/'run', dataset=None, **{**one, **stage}), verbose=False)
    assert run.finished and run.result['steps'] == 1
