"""Jupyter-first fine-tuning of large language models, written literately with nbdev

Modules:

- `llmft.templates`: Render conversations the way a model was trained to read them, and encode them into prompt and answer ids so the loss falls on the answers only."""

__version__ = "0.0.1"
