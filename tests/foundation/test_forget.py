"""`supportloop forget` on a loop's real stores, without Argilla: ingest, pulled responses,
agreement, preferences, an eval's win-rate rows and an adapter's lineage (see
tests/argilla/test_forget.py for the records on the server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import Dataset
from typer.testing import CliRunner

from supportloop.cli import app
from supportloop.config import validate_config
from supportloop.forget.targets import id_digest
from supportloop.runs import CACHE_DIR, file_digests, read_lineage, write_json_atomic
from tests.foundation.forget_helpers import (
    CUSTOMER,
    CUSTOMER_CONVERSATIONS,
    CUSTOMER_RECORDS,
    OTHER_QUARANTINED,
    adapter_run,
    build_preferences,
    eval_run,
    ingest,
    rows_naming,
    total_rows,
    unverified,
)
from tests.preferences.helpers import RESPONSES

CONVERSATION = "c4"  # another customer's conversation, forgotten by its id alone
FORGOTTEN = CUSTOMER_CONVERSATIONS | {CONVERSATION}


def _agreement(pull: Path, out: Path) -> None:
    from supportloop.feedback.argilla.agreement import run_agreement
    from supportloop.feedback.argilla.settings import ArgillaConfig

    run_agreement(validate_config(ArgillaConfig, {"pull_dir": str(pull)}, "test"), out)


def _forget(root: Path, *extra: str) -> tuple[int, str, str]:
    args = ["forget", "--customer-id", CUSTOMER, "--conversation-id", CONVERSATION]
    result = CliRunner().invoke(app, [*args, "--runs-root", str(root), *extra])
    return result.exit_code, result.stdout, result.stderr


def _snapshot(root: Path) -> dict[str, str]:
    return file_digests(root, [p.name for p in root.iterdir()])


@pytest.fixture(scope="module")
def loop(tmp_path_factory) -> dict:
    """The stores, a dry run's report, then the real forget's report and the bytes before."""
    top = tmp_path_factory.mktemp("forget")
    root = top / "runs"
    runs = {
        "ingest": root / "ingest",
        "pull": root / "argilla" / "pull",
        "agreement": root / "argilla" / "agreement",
        "preferences": root / "preferences" / "round-1",
        "eval": root / "eval" / "eval-1",
        "adapter": root / "train" / "dpo",
        "other_adapter": root / "train" / "other",
    }
    ingest(top / "logs.jsonl", runs["ingest"])
    conversations = runs["ingest"] / "conversations"
    Dataset.from_list(RESPONSES).save_to_disk(str(runs["pull"] / "responses"))
    write_json_atomic(
        runs["pull"] / "pull_state.json", {"dataset_id": "d1", "last_activity_at": "t1"}
    )
    _agreement(runs["pull"], runs["agreement"])
    build_preferences(
        runs["pull"] / "responses",
        conversations,
        runs["preferences"],
        runs["agreement"] / "record_agreement",
    )
    eval_run(runs["eval"], conversations, exclude=(CONVERSATION,))
    adapter_run(runs["adapter"], runs["preferences"] / "pairs")
    (runs["adapter"] / CACHE_DIR).mkdir()  # as a training run that failed leaves it
    unrelated = top / "elsewhere"
    Dataset.from_list([{"prompt": "p", "chosen": "a", "rejected": "b"}]).save_to_disk(
        str(unrelated)
    )
    adapter_run(runs["other_adapter"], unrelated)

    rows_before = {
        "conversations": total_rows(conversations),
        "quarantine": len((runs["ingest"] / "quarantine.jsonl").read_text().splitlines()),
        "agreement": set(
            Dataset.load_from_disk(str(runs["agreement"] / "record_agreement"))["record_id"]
        ),
    }
    bytes_before = _snapshot(root)
    dry_code, dry_out, _ = _forget(root, "--dry-run")
    bytes_after_dry_run = _snapshot(root)
    report_path = top / "report.json"
    code, _, printed = _forget(root, "--report", str(report_path))
    return {
        "root": root,
        "runs": runs,
        "rows_before": rows_before,
        "dry_run": (dry_code, json.loads(dry_out)),
        "dry_run_changed": bytes_before != bytes_after_dry_run,
        "exit": code,
        "printed": printed,
        "report_path": report_path,
        "report": json.loads(report_path.read_text()),
    }


def test_a_dry_run_changes_nothing_and_reports_what_forget_removes(loop):
    code, dry = loop["dry_run"]
    assert code == 0 and loop["exit"] == 0
    assert not loop["dry_run_changed"]
    assert dry["dry_run"] is True and loop["report"]["dry_run"] is False
    assert dry["removed"] == loop["report"]["removed"]
    assert dry["adapters_to_review"] == loop["report"]["adapters_to_review"]


def test_ingested_quarantined_and_duplicate_rows_are_gone(loop):
    run = loop["runs"]["ingest"]
    conversations = run / "conversations"
    assert rows_naming(conversations, {CUSTOMER}, FORGOTTEN) == 0
    assert total_rows(conversations) == loop["rows_before"]["conversations"] - len(FORGOTTEN)
    quarantine = (run / "quarantine.jsonl").read_text().splitlines()
    assert len(quarantine) == loop["rows_before"]["quarantine"] - 2  # c9 and the broken line
    assert all(CUSTOMER not in line for line in quarantine)
    assert any(OTHER_QUARANTINED in line for line in quarantine)
    assert (run / "quarantine.jsonl").stat().st_mode & 0o077 == 0  # still owner-only
    assert "c3" not in (run / "duplicates.jsonl").read_text()


def test_responses_agreement_preferences_and_win_rates_lose_exactly_those_rows(loop):
    runs = loop["runs"]
    for path in (
        runs["pull"] / "responses",
        runs["eval"] / "win_rate",
        *(runs["preferences"] / name for name in ("pairs", "kto", "sft")),
    ):
        assert rows_naming(path, {CUSTOMER}, FORGOTTEN) == 0, path
    kept = Dataset.load_from_disk(str(runs["pull"] / "responses"))
    expected = [r for r in RESPONSES if r["conversation_id"] not in FORGOTTEN]
    assert len(kept) == len(expected) > 0
    agreement = Dataset.load_from_disk(str(runs["agreement"] / "record_agreement"))
    # no conversation id there: rows go by the record ids found in the responses
    expected_records = loop["rows_before"]["agreement"] - CUSTOMER_RECORDS - {"R4"}  # R4: c4
    assert set(agreement["record_id"]) == expected_records != set()
    assert json.loads((runs["pull"] / "pull_state.json").read_text())["last_activity_at"] is None


def test_rewritten_runs_verify_and_their_lineage_records_the_forget_without_ids(loop):
    runs = loop["runs"]
    sealed = ["ingest", "agreement", "preferences", "eval", "adapter", "other_adapter"]
    assert unverified([runs[name] for name in sealed]) == {}
    lineage = read_lineage(runs["preferences"])
    (entry,) = lineage["forgotten"]
    assert entry["request"]["customer_ids"] == [id_digest(CUSTOMER)]
    assert entry["request"]["conversation_ids"] == [id_digest(CONVERSATION)]
    assert entry["rows_removed"]["pairs"] > 0
    assert set(entry["outputs_before"]) >= {"pairs"}
    assert entry["outputs_before"]["pairs"] != lineage["outputs"]["pairs"]
    for name in ("ingest", "agreement", "preferences", "eval"):
        text = (runs[name] / "lineage.json").read_text()
        assert f'"{CUSTOMER}"' not in text and f'"{CONVERSATION}"' not in text
    excluded = read_lineage(runs["eval"])["config"]["win_rate"]["exclude_conversations"]
    assert excluded == [id_digest(CONVERSATION)]
    assert loop["report"]["ids_replaced_in_lineage"] == {str(runs["eval"]): 1}
    assert "forgotten" not in read_lineage(runs["other_adapter"])
    assert "supportloop forget" in (runs["preferences"] / "pairs" / "README.md").read_text()


def test_the_report_counts_each_store_and_names_the_adapter_trained_on_the_data(loop):
    report, runs = loop["report"], loop["runs"]
    assert report["found"]["conversations"] == len(FORGOTTEN)
    by_artifact = {
        (Path(r["run"]).name, r["artifact"]): r["rows_removed"] for r in report["removed"]
    }
    assert by_artifact[("ingest", "conversations")] == len(FORGOTTEN)
    assert by_artifact[("ingest", "quarantine.jsonl")] == 2
    assert by_artifact[("ingest", "duplicates.jsonl")] == 1
    assert by_artifact[("pull", "responses")] == len(
        [r for r in RESPONSES if r["conversation_id"] in FORGOTTEN]
    )
    assert {("round-1", "pairs"), ("eval-1", "win_rate")} <= set(by_artifact)
    assert report["adapters_to_review"] == [str(runs["adapter"])]
    assert report["raw_inputs_not_changed"] == [str(runs["ingest"].parent.parent / "logs.jsonl")]
    assert report["argilla"] == {"searched": False}
    assert report["leftovers_not_searched"] == [str(runs["adapter"] / CACHE_DIR)]
    text = loop["report_path"].read_text()
    assert f'"{CUSTOMER}"' not in text and f'"{CONVERSATION}"' not in text
    assert str(runs["adapter"]) in loop["printed"]


def test_forgetting_again_finds_nothing_and_exits_0(loop, tmp_path):
    code, _, printed = _forget(loop["root"], "--report", str(tmp_path / "again.json"))
    assert code == 0
    assert "nothing found" in printed
    assert json.loads((tmp_path / "again.json").read_text())["found_anything"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--customer-id", "u1", "--runs-root", "no-such-dir"], "no runs root"),
        (["--runs-root", "."], "name at least one --customer-id or --conversation-id"),
        (["--customer-id", " ", "--runs-root", "."], "an id is blank"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = CliRunner().invoke(app, ["forget", *args])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
