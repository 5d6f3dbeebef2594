"""The project's cache folder, shared by every stage (provisioned models, exported encoders,
downloaded wheels): one place that knows where it is."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Where provisioned checkpoints live: $SUPPORTLOOP_CACHE or ~/.cache/supportloop."""
    root = os.environ.get("SUPPORTLOOP_CACHE") or Path.home() / ".cache" / "supportloop"
    return Path(root)
