"""Jupyter-first fine-tuning of large language models, written literately with nbdev

Modules:

- `llmft.chattab`: A base model and a fine-tuned run side by side in the Chat tab, each served in a child process.
- `llmft.cli`: `llmft train | chat | preview | serve | eval | predict | export | demo | ...`: thin over the Python API.
- `llmft.config`: One `RunConfig` describes a whole run: model, data, method, training and generation.
- `llmft.data`: Dataset specs; alpaca / sharegpt / OpenAI / text records aligned into one schema, merged, split.
- `llmft.datapreview`: See the data as the model will: trained and masked tokens, special tokens, lengths.
- `llmft.demo`: Fine-tune SmolLM2 to a new identity and show the answers to held-out questions before and after.
- `llmft.evaluation`: Multiple-choice accuracy (MMLU, CMMLU, C-Eval), BLEU-4 and ROUGE on predictions, perplexity.
- `llmft.exporter`: Merge a run's adapter into its base, save safetensors or GGUF, and prove it answers as the run did.
- `llmft.grpo`: The `grpo` stage: group relative policy optimisation with Python reward functions, on TRL.
- `llmft.infer`: Chat with a model or a finished run, streaming or in batches, in its template, on transformers or vLLM.
- `llmft.jobs`: Training in a child process watched through its run folder: `launch`, `attach`, stop, cancel, resume.
- `llmft.loss`: Next-token loss and sequence log-probabilities with the head computed only where labels are.
- `llmft.magics`: `%load_ext llmft`, then `%llmft train`, `%%llmft train`, `board`, `chat`, `runs`, `preview`, `stop`.
- `llmft.memory`: A run's peak memory predicted from its config before any weight loads, and whether it fits.
- `llmft.methods`: Every fine-tuning method in one shape: at load, in the training arguments, the optimizer, at save.
- `llmft.model`: Load a tokenizer and a causal LM at the right precision, pick the template, set up the method.
- `llmft.notebook`: A run's curves, live in Jupyter: a Plotly `FigureWidget`, or the same figure as an image.
- `llmft.packing`: Several short examples in one `cutoff_len` row, fewer pads; neat packing keeps them apart.
- `llmft.panel`: `llmft.board()`: configure, start, watch, stop, resume and compare runs in a notebook panel.
- `llmft.ppo`: The `ppo` stage: RLHF with one base model in memory; policy, reward model and reference as adapters.
- `llmft.preference`: The `dpo` (sigmoid, hinge, IPO, ORPO, SimPO) and `kto` stages, from sequence log-probabilities.
- `llmft.processors`: Aligned records to token ids and labels for each stage; truncation keeps the answer; counts.
- `llmft.registry`: Model families (chat template, LoRA targets) and aliases for a hub id, a folder or a GGUF file.
- `llmft.reward`: The `rm` stage: a causal LM with a value head learns to score the chosen answer above the rejected.
- `llmft.runs`: A run is a folder: its config, a metrics log, checkpoints, the adapter, and a result file written last.
- `llmft.s2attn`: S²-attention (LongLoRA): long sequences with attention in short groups, half the heads shifted.
- `llmft.segments`: Padding-free rows attend within each example: one causal call per example, not a masked square.
- `llmft.server`: Serve a model or a finished run over HTTP in OpenAI's format, for any OpenAI client or chat UI.
- `llmft.tasktabs`: The panel's Evaluate and Export tabs, each running an `llmft` command in a child process it watches.
- `llmft.templates`: Render conversations as a model was trained to read them; encode them so the loss falls on answers.
- `llmft.trainer`: `llmft.train(config)`: any stage (pt, sft, rm, dpo, kto, ppo, grpo), config to finished run folder.
- `llmft.valuehead`: A causal LM with one more output, a number per position: the reward model and PPO's critic."""

__version__ = "0.0.1"

# The public API, imported on first use so that `import llmft` stays fast.
_api = dict(train='llmft.trainer', chat='llmft.infer', ChatModel='llmft.infer', load_config='llmft.config',
            RunConfig='llmft.config', ConfigError='llmft.config', Run='llmft.runs', LossCurve='llmft.notebook',
            preview='llmft.datapreview', evaluate='llmft.evaluation', predict='llmft.evaluation',
            perplexity='llmft.evaluation', export='llmft.exporter', estimate='llmft.memory', launch='llmft.jobs',
            attach='llmft.jobs', Job='llmft.jobs', list_runs='llmft.jobs', board='llmft.panel')

def __getattr__(name):
    if name not in _api: raise AttributeError(f"module 'llmft' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(_api[name]), name)

def __dir__(): return sorted([*globals(), *_api])

def load_ipython_extension(ip):
    "`%load_ext llmft`: the `%llmft` magics."
    from .magics import load_ipython_extension
    load_ipython_extension(ip)
