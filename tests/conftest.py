"""Session-wide test settings: nothing reaches a hub, W&B writes offline runs only."""

from __future__ import annotations

import os

# Must be set before transformers / huggingface_hub / wandb / tldextract are imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
