"""`supportloop preferences` alone in a fresh process, as a user runs it after `argilla pull`."""

from __future__ import annotations

import json

import pytest
from datasets import load_from_disk


@pytest.mark.slow
def test_preferences_alone(fresh_cli, saved_inputs, tmp_path):
    out = tmp_path / "run"
    args = [f"inputs.{k}={v}" for k, v in saved_inputs.items()] + [f"output_dir={out}"]
    result = fresh_cli("preferences", "configs/preferences/default.yaml", *args)
    assert result.returncode == 0, result.stderr[-4000:]
    assert load_from_disk(str(out / "pairs"))["train"].num_rows >= 1
    assert set(json.loads((out / "lineage.json").read_text())["outputs"]) >= {"pairs", "kto"}
