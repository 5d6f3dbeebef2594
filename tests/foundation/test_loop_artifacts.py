"""The loop at reduced size leaves every artifact as its stage recorded it, and TRL's own CLI
trains on the preferences as they are.

ingest (the annotation round's conversations, logged as transcripts) -> argilla agreement (on
the round's responses, saved as `argilla pull` saves them) -> preferences -> train (the
shipped DPO recipe on the tiny Llama: TRL tokenizes the pairs and caches reference log-probs
with `map`) -> eval (reads the adapter, the preferences its win rate must hold out, and, for
the log repeat-contact rate, filters the ingest conversations). Push and pull need an Argilla
server: tests/argilla covers them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from datasets import Dataset
from typer.testing import CliRunner

from supportloop.cli import app
from supportloop.config import validate_config
from supportloop.run_summary import run_summary
from supportloop.runs import CACHE_DIR, read_lineage, verify_artifacts
from tests.preferences.helpers import CONVERSATIONS, RESPONSES

pytestmark = pytest.mark.slow
STAGES = ("ingest", "agreement", "preferences", "train", "eval")
TRL = str(Path(sys.executable).parent / "trl")


def _logged(conversation: dict) -> dict:
    """A conversation of the annotation round in the transcript contract, as logs hold it."""
    left_out = ("topic", "repeat_contact", "repeat_of", "context", "metadata")
    row = {key: value for key, value in conversation.items() if key not in left_out}
    row["context"] = {"retrieved_docs": [], "customer_profile": {}}
    row["metadata"] = {"intent": conversation["topic"]} if conversation["topic"] else {}
    return row


def _ingest(logs: Path, out: Path) -> None:
    from supportloop.feedback.ingest.config import IngestConfig
    from supportloop.feedback.ingest.pipeline import run_ingest

    logs.write_text("".join(json.dumps(_logged(c)) + "\n" for c in CONVERSATIONS))
    config = {"inputs": [{"path": str(logs)}], "output_dir": str(out), "num_proc": 1}
    run_ingest(validate_config(IngestConfig, config, "test"), progress=False)


def _preferences(responses: Path, runs: dict[str, Path]) -> None:
    from supportloop.feedback.preferences import PreferencesConfig, build_preferences

    inputs = {
        "responses": str(responses),
        "agreement": str(runs["agreement"] / "record_agreement"),
        "conversations": str(runs["ingest"] / "conversations"),
    }
    config = {"inputs": inputs, "output_dir": str(runs["preferences"])}
    build_preferences(validate_config(PreferencesConfig, config, "test"))


def _train(model: Path, runs: dict[str, Path]) -> None:
    from supportloop.training.recipes import load_recipe
    from supportloop.training.trainers import train_recipe

    overrides = [
        f"model.name={model}",
        f"data.path={runs['preferences'] / 'pairs'}",
        f"output_dir={runs['train']}",
        "trainer.max_steps=2",
        "trainer.max_length=64",
        "trainer.bf16=false",  # fp32 is faster for a model this small
        "trainer.report_to=[]",
        "trainer.save_strategy='no'",
    ]
    train_recipe(load_recipe("dpo", overrides), say=lambda text: None)


def _eval(model: Path, root: Path, runs: dict[str, Path]) -> None:
    from supportloop.eval.config import EvalConfig
    from supportloop.eval.run import run_eval

    config = {
        "suite": {"limit": 1, "injections": 1},
        "candidate": {"name": str(model), "adapter": str(runs["train"])},
        "champion": {"name": str(model)},
        "sampling": {"max_new_tokens": 8},
        "simulator": {"trials": 1, "max_turns": 2},
        "judge": {"kind": "none"},
        "report": {"wandb": False, "html": False},
        "registry": str(root / "registry.sqlite"),
        "log_conversations": str(runs["ingest"] / "conversations"),
        "champion_model_version": "assistant-v3",
        "output_dir": str(runs["eval"]),
    }
    run_eval(validate_config(EvalConfig, config, "test"), log=lambda text: None)


@pytest.fixture(scope="module")
def loop(tmp_path_factory, tiny_llama_dir) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("loop")
    runs = {stage: root / stage for stage in STAGES}
    _ingest(root / "logs.jsonl", runs["ingest"])
    Dataset.from_list(RESPONSES).save_to_disk(str(root / "pull" / "responses"))
    agreement = [
        "argilla",
        "agreement",
        "configs/argilla/default.yaml",
        f"pull_dir={root / 'pull'}",
    ]
    result = CliRunner().invoke(app, [*agreement, "--out", str(runs["agreement"])])
    assert result.exit_code == 0, result.output
    _preferences(root / "pull" / "responses", runs)
    _train(tiny_llama_dir, runs)
    _eval(tiny_llama_dir, root, runs)
    return runs


def test_every_artifact_is_what_its_stage_recorded_after_the_loop_read_it(loop):
    expected = {
        "ingest": {"conversations", "quarantine.jsonl", "duplicates.jsonl", "summary.json"},
        "agreement": {"record_agreement", "summary.json"},
        "preferences": {"pairs", "kto", "sft", "summary.json"},
        "train": {"adapter_model.safetensors", "adapter_config.json", "training_summary.json"},
        "eval": {"conversations", "summary.json"},  # and whatever else it reports (win_rate)
    }
    for stage, run in loop.items():
        files = read_lineage(run)["files"]
        assert expected[stage] <= {name.split("/")[0] for name in files}, stage
        assert verify_artifacts(run) == [], stage
        assert not any(os.stat(run / name).st_mode & 0o222 for name in files), stage
    assert not (loop["train"] / CACHE_DIR).exists()  # TRL's tokenized pairs did not outlive it


def test_trl_dpo_cli_trains_two_steps_on_the_preferences_as_they_are(
    loop, tiny_llama_dir, tmp_path
):
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "TRL_EXPERIMENTAL_SILENCE": "1"}
    command = [
        TRL, "dpo",
        "--model_name_or_path", str(tiny_llama_dir),
        "--dataset_name", str(loop["preferences"] / "pairs"),
        "--output_dir", str(tmp_path / "out"),
        "--max_steps", "2",
        "--per_device_train_batch_size", "2",
        "--max_length", "64",
        "--use_cpu", "--bf16", "false",
        "--save_steps", "2",
        "--report_to", "none",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads((tmp_path / "out" / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    assert verify_artifacts(loop["preferences"]) == []


def test_the_run_summary_gives_the_decision_its_evidence_and_every_artifact(loop):
    """What `supportloop run` prints last, from the outputs the steps announced."""
    done = [{"command": stage, "outputs": {str(path): "sha256:"}} for stage, path in loop.items()]
    lines = run_summary(done)
    decision = json.loads((loop["eval"] / "summary.json").read_text())["decision"]
    assert lines[0] == f"decision: {decision['verdict'].upper()}: {decision['reason']}"
    assert lines[1].startswith("  stability ") and "resamples" in lines[1]
    primary = next(c for c in decision["criteria"] if c["name"].startswith("primary:"))
    assert f"  {primary['status'].upper()} {primary['name']}: {primary['value']}" in lines
    listed = lines[lines.index("artifacts:") + 1 :]
    for stage, path in loop.items():
        named = "argilla-agreement" if stage == "agreement" else stage
        assert f"  {named:<18} {path}" in listed, (stage, listed)
