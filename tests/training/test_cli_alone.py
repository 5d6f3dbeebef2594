"""`supportloop train` alone in a fresh process: no W&B key, no netrc, no WANDB_MODE.

The shipped DPO recipe reports to W&B; on a machine without credentials the run must be an
offline W&B run in the output dir, announced at the start, not a failure in `wandb.init`.
"""

from __future__ import annotations

import json

import pytest

from tests.training.helpers import quick_overrides


@pytest.mark.slow
def test_train_alone_logs_offline_without_credentials(
    fresh_cli, tiny_model, datasets_dir, tmp_path
):
    out = tmp_path / "dpo"
    overrides = quick_overrides(tiny_model, datasets_dir["pairs"], out, steps=1)
    overrides += ["trainer.max_length=64", "trainer.report_to=[wandb]"]
    result = fresh_cli("train", "configs/train/dpo.yaml", *overrides)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "W&B offline (no W&B key configured)" in output
    assert f"run under {out}/wandb" in output
    assert len(list((out / "wandb").glob("offline-run-*/run-*.wandb"))) == 1
    assert json.loads((out / "training_summary.json").read_text())
    assert (out / "adapter_model.safetensors").is_file()
