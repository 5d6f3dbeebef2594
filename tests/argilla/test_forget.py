"""`supportloop forget --argilla` against the real server: the customer's records (and their
responses) go from Argilla, their rows from every local store built from them (ingest, pull,
preferences, eval win rates), and the adapter trained on them is named in the report."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from supportloop.cli import app
from supportloop.feedback.argilla.pull import find_dataset, iter_records, pull
from supportloop.feedback.argilla.push import push
from supportloop.feedback.argilla.settings import INTERNAL_METADATA, SimulationConfig
from supportloop.feedback.demo.simulated_annotators import simulate
from supportloop.runs import load_dataset_artifact
from tests.argilla.helpers import fixed_candidates
from tests.foundation.forget_helpers import (
    CUSTOMER,
    CUSTOMER_CONVERSATIONS,
    adapter_run,
    build_preferences,
    eval_run,
    ingest,
    rows_naming,
    unverified,
)

pytestmark = [pytest.mark.argilla, pytest.mark.slow]

EXTRA = ["Please send me your order number.", "Sorry, I cannot help with that."]


def _server_records(owner, dataset_id: str) -> list[dict]:
    """(conversation id, customer id, responses) of every record, as the server has them."""
    return [
        {**json.loads(r["metadata"][INTERNAL_METADATA]), "responses": len(r["responses"])}
        for r in iter_records(owner, dataset_id)
    ]


def test_forget_deletes_the_records_on_the_server_and_the_rows_everywhere(
    owner, annotator_connections, dataset_config, argilla_stack, tmp_path
):
    root = tmp_path / "runs"
    runs = {
        "ingest": root / "ingest",
        "preferences": root / "preferences" / "round-1",
        "eval": root / "eval" / "eval-1",
        "adapter": root / "train" / "dpo",
    }
    ingest(tmp_path / "logs.jsonl", runs["ingest"])
    conversations = runs["ingest"] / "conversations"
    push(owner, dataset_config, load_dataset_artifact(conversations), fixed_candidates(EXTRA))
    dataset_config.pull_dir = root / "argilla" / "pull"
    sim = SimulationConfig(annotators={"annotator-1": 0.0, "annotator-2": 0.2}, seed=1)
    simulate(owner, annotator_connections, dataset_config, sim)
    pull(owner, dataset_config)
    responses = dataset_config.pull_dir / "responses"
    build_preferences(responses, conversations, runs["preferences"], None)
    eval_run(runs["eval"], conversations)
    adapter_run(runs["adapter"], runs["preferences"] / "pairs")
    dataset_id = find_dataset(owner, dataset_config)["id"]
    before = _server_records(owner, dataset_id)
    theirs = [r for r in before if r["customer_id"] == CUSTOMER]
    assert {r["conversation_id"] for r in theirs} == CUSTOMER_CONVERSATIONS
    assert rows_naming(responses, {CUSTOMER}, set()) > 0

    settings = tmp_path / "argilla.yaml"
    settings.write_text(
        yaml.safe_dump(
            {"dataset": dataset_config.dataset, "credentials": str(argilla_stack.credentials_file)}
        )
    )
    report_path = tmp_path / "report.json"
    args = ["forget", "--customer-id", CUSTOMER, "--runs-root", str(root), "--argilla"]
    args += ["--argilla-config", str(settings), "--report", str(report_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output

    after = _server_records(owner, dataset_id)
    assert [r for r in after if r["customer_id"] == CUSTOMER] == []
    assert len(after) == len(before) - len(theirs) > 0
    report = json.loads(report_path.read_text())
    assert report["argilla"]["records_deleted"] == len(theirs)
    assert report["argilla"]["records_without_readable_metadata"] == 0
    assert report["argilla"]["responses_deleted"] == sum(r["responses"] for r in theirs) > 0
    assert report["argilla"]["datasets"] == {
        dataset_config.dataset: {
            "records": len(theirs),
            "responses": sum(r["responses"] for r in theirs),
        }
    }
    for path in (
        conversations,
        responses,
        dataset_config.pull_dir / "new_responses",
        runs["eval"] / "win_rate",
        *(runs["preferences"] / name for name in ("pairs", "kto", "sft")),
    ):
        assert rows_naming(path, {CUSTOMER}, CUSTOMER_CONVERSATIONS) == 0, path
    assert unverified(list(runs.values())) == {}
    assert report["adapters_to_review"] == [str(runs["adapter"])]

    # The next pull fetches again (the forget made its saved state stale) and agrees.
    again = pull(owner, dataset_config)
    assert again["fetched"] is True
    assert again["rows"] == sum(r["responses"] for r in after)
    assert rows_naming(responses, {CUSTOMER}, CUSTOMER_CONVERSATIONS) == 0
