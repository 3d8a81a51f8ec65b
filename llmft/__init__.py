"""Jupyter-first fine-tuning of large language models, written literately with nbdev

Modules:

- `llmft.chattab`: Chat with a base model and a fine-tuned run side by side in the panel, each served by `llmft serve` in a child process, so unloading frees its memory.
- `llmft.cli`: `llmft train | chat | preview | serve (api) | eval | predict | export | demo | examples | env | version`: thin over the Python API.
- `llmft.config`: One `RunConfig` describes a whole run: which model, which data, which method, how to train and how to generate.
- `llmft.data`: Dataset specs, reading files, aligning alpaca / sharegpt / OpenAI / text records into one schema, merging and splitting.
- `llmft.datapreview`: See the data as the model will: trained and masked tokens, special tokens, and how lengths sit against `cutoff_len`, before spending compute on it.
- `llmft.demo`: Fine-tune SmolLM2 to a new identity and show the answers to held-out questions before and after.
- `llmft.evaluation`: Multiple-choice accuracy on MMLU, CMMLU and C-Eval style benchmarks, BLEU-4 and ROUGE on generated predictions, and perplexity on text.
- `llmft.exporter`: Merge a run's LoRA adapter into its base, save it as sharded safetensors (or one GGUF file for llama.cpp) with the tokenizer, the chat template and the stop words of training, and prove the result answers as the run did.
- `llmft.grpo`: The `grpo` stage: group relative policy optimisation with reward functions written in Python, through TRL's `GRPOTrainer`.
- `llmft.infer`: Chat with a base model or a finished run, in one call, streaming or in batches, with the template the run trained on, on transformers or on vLLM.
- `llmft.jobs`: Training in a child process that the notebook watches through the run folder: `launch`, `attach`, stop, cancel, resume.
- `llmft.loss`: The next-token loss and the sequence log-probabilities of a causal LM with its head computed only at the positions that have labels: the same numbers and gradients as the full logits, without most of the work.
- `llmft.magics`: `%load_ext llmft`, then `%llmft train`, `%%llmft train` (YAML in the cell), `board`, `chat`, `runs`, `preview`, `stop`.
- `llmft.methods`: Every fine-tuning method in one shape: what it does to the model as it loads, what it adds to the training arguments, the optimizer it builds, and what it does around saving the run.
- `llmft.model`: Load a tokenizer and a causal LM at the precision the device supports, pick the chat template, and set up the fine-tuning method: LoRA and its variants, QLoRA, freeze, full or GaLore.
- `llmft.notebook`: A run's curves, live in Jupyter: a Plotly `FigureWidget`, or the same figure as an image where the widget cannot render.
- `llmft.packing`: Put several short examples in one `cutoff_len` row so fewer slots are padding; with neat packing, examples in a row cannot see each other.
- `llmft.panel`: `llmft.board()`: configure, start, watch, stop, resume and compare runs in a widget panel inside the notebook.
- `llmft.ppo`: The `ppo` stage: RLHF with one base model in memory, the policy, the reward model and the reference as adapters.
- `llmft.preference`: The `dpo` stage (DPO with sigmoid, hinge or IPO loss; ORPO and SimPO without a reference model) and the `kto` stage, on one `Trainer` subclass that computes the loss from sequence log-probabilities.
- `llmft.processors`: Turn aligned records into token ids and labels for each training stage, with truncation that keeps the answer, counts of everything kept, truncated and skipped, and a view of what trains.
- `llmft.registry`: Model families (chat template, LoRA targets) and short aliases that resolve to a hub id, a local folder or a GGUF file.
- `llmft.reward`: The `rm` stage: a causal LM with a value head learns to score the chosen answer of a pair above the rejected one.
- `llmft.runs`: A run is a folder: its config, a metrics log written while it trains, checkpoints, the adapter, and a result file written last.
- `llmft.s2attn`: S²-attention (LongLoRA): train on long sequences with attention inside short groups, half the heads shifted by half a group so that information still flows from group to group.
- `llmft.server`: Serve a model or a finished run over HTTP in OpenAI's format, so any OpenAI client, SDK or chat UI can talk to it.
- `llmft.tasktabs`: The panel's Evaluate tab (multiple-choice accuracy, or predictions scored with BLEU-4 and ROUGE) and Export tab (merge, safetensors or GGUF, parity check), each running the `llmft` command in a child process it watches.
- `llmft.templates`: Render conversations the way a model was trained to read them, and encode them into prompt and answer ids so the loss falls on the answers only.
- `llmft.valuehead`: A causal LM with one more output: a linear map from its last hidden state to a number, for the reward model (`rm`) and PPO's critic."""

__version__ = "0.0.1"

# The public API, imported on first use so that `import llmft` stays fast.
_api = dict(train='llmft.trainer', chat='llmft.infer', ChatModel='llmft.infer', load_config='llmft.config',
            RunConfig='llmft.config', ConfigError='llmft.config', Run='llmft.runs', LossCurve='llmft.notebook', preview='llmft.datapreview',
            evaluate='llmft.evaluation', predict='llmft.evaluation', perplexity='llmft.evaluation', export='llmft.exporter',
            estimate='llmft.memory', launch='llmft.jobs', attach='llmft.jobs', Job='llmft.jobs', list_runs='llmft.jobs',
            board='llmft.panel')

def __getattr__(name):
    if name not in _api: raise AttributeError(f"module 'llmft' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(_api[name]), name)

def __dir__(): return sorted([*globals(), *_api])

def load_ipython_extension(ip):
    "`%load_ext llmft`: the `%llmft` magics."
    from .magics import load_ipython_extension
    load_ipython_extension(ip)
