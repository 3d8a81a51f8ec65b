"""Jupyter-first fine-tuning of large language models, written literately with nbdev

Modules:

- `llmft.cli`: `llmft train CONFIG key=value ...`, `llmft chat RUN_DIR`, `llmft preview CONFIG`, `llmft serve --model RUN`, `llmft demo`: thin over the Python API.
- `llmft.data`: Dataset specs, reading files, aligning alpaca / sharegpt / OpenAI / text records into one schema, merging and splitting.
- `llmft.datapreview`: See the data as the model will: trained and masked tokens, special tokens, and how lengths sit against `cutoff_len`, before spending compute on it.
- `llmft.packing`: Put several short examples in one `cutoff_len` row so fewer slots are padding; with neat packing, examples in a row cannot see each other.
- `llmft.processors`: Turn aligned records into token ids and labels for each training stage, with truncation that keeps the answer, counts of everything kept, truncated and skipped, and a view of what trains.
- `llmft.runs`: A run is a folder: its config, a metrics log written while it trains, checkpoints, the adapter, and a result file written last.
- `llmft.templates`: Render conversations the way a model was trained to read them, and encode them into prompt and answer ids so the loss falls on the answers only."""

__version__ = "0.0.1"

# The public API, imported on first use so that `import llmft` stays fast.
_api = dict(train='llmft.trainer', chat='llmft.infer', ChatModel='llmft.infer', load_config='llmft.config',
            RunConfig='llmft.config', ConfigError='llmft.config', Run='llmft.runs', LossCurve='llmft.notebook', preview='llmft.datapreview')

def __getattr__(name):
    if name not in _api: raise AttributeError(f"module 'llmft' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(_api[name]), name)

def __dir__(): return sorted([*globals(), *_api])
