"""Every fine-tuning method learns: 20 steps on one small batch of the tiny model drive the loss down, and what trained
is what the method says should train."""
import json
import pytest, torch
import llmft
from safetensors.torch import load_file
from transformers import TrainerCallback

# learning rates high enough that 20 steps show clear progress on the randomly initialised tiny model
METHODS = dict(
    full=dict(finetuning_type='full', learning_rate=2e-3),
    freeze=dict(finetuning_type='freeze', freeze_trainable_layers=1, learning_rate=2e-3),
    lora=dict(learning_rate=1e-2),
    qlora=dict(quantization_bit=4, learning_rate=1e-2),
    qlora8=dict(quantization_bit=8, learning_rate=1e-2),
    dora=dict(use_dora=True, learning_rate=1e-2),
    loraplus=dict(loraplus_lr_ratio=4, learning_rate=5e-3),
    pissa=dict(pissa_init=True, learning_rate=1e-2),
    galore=dict(finetuning_type='full', use_galore=True, galore_rank=8, galore_update_interval=10, learning_rate=2e-3),
    galore_layerwise=dict(finetuning_type='freeze', freeze_trainable_layers=1, use_galore=True, galore_layerwise=True,
                          galore_rank=8, learning_rate=2e-3),
    s2attn=dict(shift_attn=True, learning_rate=1e-2), # cutoff_len 64: groups of 16 tokens
)
DROP = dict(full=2.0, galore=1.0) # the least each method must take off the first loss; 0.5 where not listed
QUANTIZED = dict(qlora='Linear4bit', qlora8='Linear8bitLt') # the bitsandbytes layer each quantized method trains on

pytestmark = pytest.mark.usefixtures('one_torch_thread')

class Modules(TrainerCallback):
    "Record the class names of the modules of the model being trained, its optimizer and its attention."
    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kw):
        self.names = {type(m).__name__ for m in model.modules()}
        opt = type(getattr(optimizer, 'optimizer', optimizer)) # the optimizer inside accelerate's wrapper
        self.optimizer, self.attention = f'{opt.__module__}.{opt.__name__}', model.config._attn_implementation

@pytest.fixture
def train(tiny_config, tmp_path):
    "`train(method, **keys)`: 20 steps of `method` on one batch of 4; the run, its losses and its `Modules`."
    def train(method, **kw):
        mods = Modules()
        steps = dict(max_samples=4, per_device_train_batch_size=4, max_steps=20, lr_scheduler_type='constant')
        run = llmft.train(tiny_config(tmp_path/method, **{**steps, **METHODS[method], **kw}), callbacks=[mods],
                          verbose=False)
        return run, [m['loss'] for m in run.metrics if m.get('loss') is not None], mods
    return train

@pytest.mark.parametrize('method', METHODS)
def test_loss_goes_down(method, train):
    run, losses, mods = train(method)
    modules = mods.names
    assert run.finished and len(losses) == 20
    assert losses[-1] < losses[0] - DROP.get(method, 0.5), \
        f"{method}: loss {losses[0]:.3f} -> {losses[-1]:.3f}: {losses}"
    adapter = run.path/'adapter_config.json'
    assert adapter.exists() == (method not in ('full', 'freeze', 'galore', 'galore_layerwise'))
    assert {'Linear4bit', 'Linear8bitLt'} & modules == ({QUANTIZED[method]} if method in QUANTIZED else set())
    if method == 'dora':
        assert json.loads(adapter.read_text())['use_dora']
        assert any('lora_magnitude_vector' in k for k in load_file(run.path/'adapter_model.safetensors'))
    if method == 'pissa': assert json.loads(adapter.read_text())['r'] == 16 # converted to plain LoRA of twice the rank
    assert mods.optimizer == dict(galore='galore_torch.adamw.AdamW',
                                  galore_layerwise='transformers.trainer_pt_utils.LayerWiseDummyOptimizer'
                                  ).get(method, 'torch.optim.adamw.AdamW')
    assert (mods.attention == 'llmft_s2') == (method == 's2attn')

def test_freeze_changes_only_the_trained_layer(tiny_model, train):
    run, _, _ = train('freeze', freeze_trainable_modules='mlp', freeze_extra_modules='norm')
    base, tuned = load_file(tiny_model/'model.safetensors'), load_file(run.path/'model.safetensors')
    changed = {k for k in base if not torch.equal(base[k], tuned[k])}
    assert changed == {'model.layers.1.mlp.gate_proj.weight', 'model.layers.1.mlp.up_proj.weight',
                       'model.layers.1.mlp.down_proj.weight', 'model.norm.weight'}

def test_new_tokens_reload_with_the_run(tiny_model, train):
    from llmft.infer import ChatModel
    run, _, _ = train('lora', new_special_tokens='<tool>,<think>', max_steps=2)
    saved = load_file(run.path/'adapter_model.safetensors')[
        'base_model.model.model.embed_tokens.modules_to_save.weight']
    chat = ChatModel(run.path, do_sample=False)
    tool = chat.tokenizer.encode('<tool>', add_special_tokens=False)
    assert len(tool) == 1 and tool[0] >= 49152
    emb = chat.model.get_input_embeddings().weight
    assert emb.shape[0] == len(chat.tokenizer) == saved.shape[0] == 49154
    assert torch.equal(emb[tool[0]], saved[tool[0]])
    base = load_file(tiny_model/'model.safetensors')['model.embed_tokens.weight']
    assert not torch.allclose(saved[tool[0]], base.mean(0)), "the new row trained (through the tied head)"
