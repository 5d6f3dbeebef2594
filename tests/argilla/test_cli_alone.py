"""`supportloop argilla push` and `pull` alone, each in a fresh process, on the session's stack.

The README's commands with the shipped config and overrides; between them annotators submit
through the API (the demo's simulated annotators), so the pull has responses to bring back.
"""

from __future__ import annotations

import json

import pytest
from datasets import Dataset, load_from_disk

from supportloop.feedback.argilla.settings import SimulationConfig
from supportloop.feedback.demo.simulated_annotators import simulate
from tests.argilla.helpers import make_conversation
from tests.helpers import save_tiny_llama

pytestmark = [pytest.mark.argilla, pytest.mark.slow]


def test_push_then_pull_alone(
    fresh_cli, argilla_stack, owner, annotator_connections, dataset_config, tmp_path
):
    conversations = tmp_path / "conversations"
    Dataset.from_list([make_conversation(i) for i in range(3)]).save_to_disk(str(conversations))
    overrides = [
        f"dataset={dataset_config.dataset}",
        f"credentials={argilla_stack.credentials_file}",
        f"conversations={conversations}",
        f"pull_dir={dataset_config.pull_dir}",
        f"policy.model={save_tiny_llama(tmp_path / 'tiny-llama')}",
        "sampling.max_new_tokens=8",
    ]
    out = tmp_path / "push-run"
    pushed = fresh_cli(
        "argilla", "push", "configs/argilla/default.yaml", *overrides, "--out", str(out)
    )
    assert pushed.returncode == 0, pushed.stderr[-4000:]
    assert json.loads((out / "summary.json").read_text())["created"] == 3

    wait = ["--need-records", "3", "--per-record", "1"]  # a pipeline with real annotators
    early = fresh_cli("argilla", "pull", "configs/argilla/default.yaml", *overrides, *wait)
    assert early.returncode == 3, early.stderr[-4000:]
    assert "waiting for annotators: 0 of the 3 records needed have 1+ submitted" in early.stderr

    sim = SimulationConfig(annotators={"annotator-1": 0.0}, seed=1)
    assert simulate(owner, annotator_connections, dataset_config, sim) == {"annotator-1": 3}

    pulled = fresh_cli("argilla", "pull", "configs/argilla/default.yaml", *overrides, *wait)
    assert pulled.returncode == 0, pulled.stderr[-4000:]
    assert "3 responses (3 submitted" in pulled.stderr and "waiting" not in pulled.stderr
    assert len(load_from_disk(str(dataset_config.pull_dir / "responses"))) == 3
