"""W&B (offline mode, as in CI): the run directory holds the metrics and the recipe, no keys."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.training.helpers import quick_overrides, run_recipe

SENTINEL_KEY = "local-" + "5" * 40  # shaped like a W&B key; must never be written anywhere
_BLOCK, _HEADER = 32768, 7  # .wandb = 7-byte W&B header + LevelDB log blocks of protobufs


def _records(raw: bytes) -> Iterator[bytes]:
    """Reassemble the LevelDB log records (FULL / FIRST+MIDDLE+LAST) of a .wandb file."""
    pos, pending = _HEADER, b""
    while pos + 7 <= len(raw):
        left = _BLOCK - pos % _BLOCK
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", raw[pos : pos + 7])
        data, pos = raw[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind == 1:
            yield data
        elif kind == 2:
            pending = data
        elif kind == 3:
            pending += data
        elif kind == 4:
            yield pending + data


def read_offline_run(path: Path) -> tuple[dict, list[dict]]:
    """(config, history rows) as the W&B client recorded them for a later `wandb sync`."""
    from wandb.proto import wandb_internal_pb2 as pb

    config: dict = {}
    history: list[dict] = []
    for data in _records(path.read_bytes()):
        record = pb.Record()
        record.ParseFromString(data)
        kind = record.WhichOneof("record_type")
        if kind in ("config", "run"):
            updates = record.config.update if kind == "config" else record.run.config.update
            config.update({item.key: json.loads(item.value_json) for item in updates})
        elif kind == "history":
            row = {i.key or "/".join(i.nested_key): i.value_json for i in record.history.item}
            history.append({key: json.loads(value) for key, value in row.items()})
    return config, history


@pytest.mark.slow
def test_offline_run_holds_metrics_and_recipe_not_keys(
    tiny_model, datasets_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("WANDB_API_KEY", SENTINEL_KEY)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_DIR", raising=False)
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    output = tmp_path / "dpo-wandb"
    overrides = quick_overrides(tiny_model, datasets_dir["pairs"], output, steps=2)
    overrides += ["trainer.max_length=64", "trainer.report_to=[wandb]", "trainer.beta=0.25"]
    run_recipe("dpo", overrides)

    runs = list((output / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, list((output / "wandb").iterdir())
    config, history = read_offline_run(next(runs[0].glob("run-*.wandb")))
    recipe = config["recipe"]
    recipe = recipe.get("value", recipe)
    assert recipe["algorithm"] == "dpo" and recipe["trainer"]["beta"] == 0.25
    assert recipe["model"]["name"] == str(tiny_model)
    logged = {key for row in history for key in row}
    assert {"train/loss", "train/rewards/margins", "eval/rewards/accuracies"} <= logged
    assert [row["train/global_step"] for row in history if "train/loss" in row] == [1, 2]
    for file in runs[0].rglob("*"):
        if file.is_file():
            assert SENTINEL_KEY.encode() not in file.read_bytes(), file
