"""Exact row counts on the annotation round of helpers.py, worked out by hand.

Default config: Borda, mean ratings, flags by any annotator, agreement threshold 0.5 (drop),
records without agreement kept, every pair and KTO source on, corrections against the logged
reply. Per record (A = logged candidate, B, C the generated ones; X = a correction):

R1 (c1 turn 1, agreement 0.8; alice's earlier submission superseded)
  Borda A 2, B 0.5, C 0.5 -> ranking A>B, A>C (B~C tie: no pair); mean ratings 4.5 / 2.5 / 1.5
  -> rating A>B, A>C, B>C; the two pairs both sources found are kept once -> 3 pairs.
  resolves A yes, B partly/no = tie (skipped), C no; ratings A 4.5 desirable, B 2.5 between,
  C 1.5 undesirable -> KTO A+ , C- (2 duplicates merged; c1's thumbs-up on A merges too).
R2 (c2 turn 1, agreement 0.6; A flagged wrong_policy_fact by alice)
  Borda A 5/3, B 4/3, C 0 -> ranking A>B, A>C, B>C; bob's ratings 3/4/1 -> rating B>A, A>C,
  B>C; flag B>A, C>A; correction X>A. Flag veto removes ranking A>B, A>C and rating A>C; of the
  rest B>C and B>A are found twice -> B>C (ranking), B>A (rating), C>A (flag), X>A -> 4 pairs.
  KTO resolves A no, B yes, C no; rating A between, B+, C-; flag A- ; c2 thumbs-down and
  escalation on A merge -> A-, B+, C- ; SFT X.
R3 (c3 turn 3, agreement 0.7) ranking A>B but ratings 2 vs 4.5 -> B>A: contradiction, both
  pairs removed -> 0 pairs. KTO: resolves A yes but rating A 2 -> contradiction removed;
  B: resolves tie, rating 4.5 -> B+. Bob's blank correction is no correction.
R4 (agreement 0.2) dropped. R5 all discarded. R6 (c1 turn 3, one annotator, no agreement)
  Borda A 0, B 2, C 1 with B, C the same text up to spacing: ranking B>C degenerate, B>A and
  C>A are one pair; ratings 1/5/5 give the same pair again; correction X>A -> 2 pairs.
  KTO: A- from resolves and rating, but c1's CSAT 5 on that very reply says A+ -> removed;
  B/C+ kept once; SFT X.
Signals: c4 escalated (A-), c7 thumbs-up on turn 1 (+; a thumb on turn 0, a user turn, is
  skipped), CSAT 3 (between), c8 is a repeat contact about c7 -> c7's last reply -, c8 CSAT 1 -.
"""

from __future__ import annotations

import json

import pytest
from datasets import DatasetDict, load_from_disk
from typer.testing import CliRunner

from supportloop.cli import app
from supportloop.config import validate_config
from supportloop.feedback.preferences import PreferencesConfig, build_preferences

# Rows per conversation (all splits), from the derivation above.
PER_CONVERSATION = {
    "pairs": {"c1": 5, "c2": 4},
    "kto": {"c1": 3, "c2": 3, "c3": 1, "c4": 1, "c7": 2, "c8": 1},
    "sft": {"c1": 1, "c2": 1},
}


def _config(paths, tmp_path, **overrides) -> PreferencesConfig:
    data = {"inputs": {k: str(v) for k, v in paths.items()}, "output_dir": str(tmp_path / "run")}
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return validate_config(PreferencesConfig, data, "test")


def _by_source(result, name: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for split in result.datasets[name].values():
        for row in split:
            key = row["signal"] or row["source"]
            counts[key] = counts.get(key, 0) + 1
    return counts


def _rows(result, name: str) -> list[dict]:
    return [row for split in result.datasets[name].values() for row in split]


def test_default_config_counts(saved_inputs, tmp_path):
    result = build_preferences(_config(saved_inputs, tmp_path))
    summary = result.summary

    assert summary["aggregation"] == {
        "records": 6,
        "records_below_threshold": 1,
        "records_dropped_low_agreement": 1,
        "records_kept": 4,
        "records_missing_agreement": 1,
        "records_without_submitted": 1,
        "resolves_ties": 2,
        "responses": 14,
        "responses_discarded": 3,
        "responses_submitted": 11,
        "responses_superseded": 1,
    }

    pairs = summary["datasets"]["pairs"]
    assert pairs["generated_by_source"] == {"correction": 2, "flag": 2, "ranking": 9, "rating": 9}
    assert pairs["filters"] == {
        "contradictions": 1,
        "contradictory_pairs_removed": 2,
        "degenerate": 1,
        "duplicates_merged": 7,
        "flag_vetoed": 3,
    }
    assert _by_source(result, "pairs") == {"ranking": 4, "rating": 2, "flag": 1, "correction": 2}

    kto = summary["datasets"]["kto"]
    assert kto["generated_by_source"] == {
        "csat": 2, "escalation": 2, "flag": 1, "rating": 9, "repeat_contact": 1, "resolves": 9,
        "thumbs": 3,
    }  # fmt: skip
    assert kto["filters"] == {
        "contradictions": 2,
        "contradictory_rows_removed": 5,
        "csat_between_thresholds": 1,
        "duplicates_merged": 11,
        "empty_completion": 0,
        "flag_vetoed": 0,
        "rating_between_thresholds": 2,
        "resolves_tie_skipped": 2,
        "thumbs_not_on_assistant_turn": 1,
    }
    assert _by_source(result, "kto") == {
        "resolves": 6, "rating": 1, "thumbs": 1, "csat": 1, "escalation": 1, "repeat_contact": 1,
    }  # fmt: skip
    labels = [row["label"] for row in _rows(result, "kto")]
    assert (labels.count(True), labels.count(False)) == (5, 6)

    assert _by_source(result, "sft") == {"correction": 2}

    for name, per_conv in PER_CONVERSATION.items():
        dataset = result.datasets[name]
        test_convs = set(dataset["test"]["conversation_id"])
        assert test_convs.isdisjoint(dataset["train"]["conversation_id"])
        assert dataset["test"].num_rows == sum(per_conv.get(c, 0) for c in test_convs)
        assert dataset["train"].num_rows + dataset["test"].num_rows == sum(per_conv.values())
    # One assignment for all datasets: 6 conversations have rows, round(0.2 * 6) = 1 held out.
    assert summary["split"]["groups"] == 6 and summary["split"]["test_groups"] == 1
    held_out = {c for d in result.datasets.values() for c in d["test"]["conversation_id"]}
    trained = {c for d in result.datasets.values() for c in d["train"]["conversation_id"]}
    assert len(held_out) == 1 and held_out.isdisjoint(trained)


def test_rows_keep_provenance(saved_inputs, tmp_path):
    result = build_preferences(_config(saved_inputs, tmp_path))
    pairs = {(r["record_id"], r["source"]): r for r in _rows(result, "pairs")}
    correction = pairs[("R2", "correction")]
    assert correction["prompt"] == [
        {"role": "user", "content": "How long do I have to return shoes?"}
    ]
    assert correction["chosen"] == [
        {"role": "assistant", "content": "Unworn shoes can be returned within 30 days of delivery."}
    ]
    assert correction["rejected"][0]["content"] == "You have 90 days to return any item."
    assert (correction["annotators"], correction["agreement"], correction["conversation_id"]) == (
        ["bob"],
        0.6,
        "c2",
    )
    flag = pairs[("R2", "flag")]
    assert flag["rejected"][0]["content"] == "You have 90 days to return any item."
    assert flag["annotators"] == ["alice"]
    ranking = [
        r for r in _rows(result, "pairs") if r["record_id"] == "R1" and r["source"] == "ranking"
    ]
    assert {r["rejected"][0]["content"] for r in ranking} == {
        "Orders take 3-5 days.", "Please contact the carrier.",
    }  # fmt: skip
    assert all(r["annotators"] == ["alice", "bob"] and r["weight"] == 1.0 for r in ranking)

    repeat = next(r for r in _rows(result, "kto") if r["signal"] == "repeat_contact")
    assert (repeat["conversation_id"], repeat["label"], repeat["weight"]) == ("c7", False, 0.5)
    assert repeat["completion"][0]["content"] == "Anything else I can help with?"
    assert (repeat["agreement"], repeat["annotators"], repeat["source"]) == (None, [], "signal")
    assert len(repeat["prompt"]) == 3


def test_downweighting_keeps_low_agreement_records(saved_inputs, tmp_path):
    # R4 comes back with weight 0.5: its ranking is a 1-1 tie and both resolves votes tie
    # (no pairs, no KTO rows) but alice's correction gives one pair and one SFT row.
    result = build_preferences(
        _config(saved_inputs, tmp_path, agreement__below="downweight", agreement__below_weight=0.5)
    )
    agg = result.summary["aggregation"]
    assert (agg["records_kept"], agg["records_downweighted"], agg["resolves_ties"]) == (5, 1, 4)
    assert "records_dropped_low_agreement" not in agg
    r4 = [r for name in ("pairs", "sft") for r in _rows(result, name) if r["record_id"] == "R4"]
    assert [(r["source"], r["weight"], r["agreement"]) for r in r4] == [
        ("correction", 0.5, 0.2),
        ("correction", 0.5, 0.2),
    ]
    assert sum(len(_rows(result, n)) for n in ("pairs", "kto", "sft")) == 10 + 11 + 3


def test_best_vs_worst_and_majority_flags(saved_inputs, tmp_path):
    # best_vs_worst: R1 A>B, A>C; R2 A>C (vetoed); R3 A>B (contradicted); R6 B>A only.
    result = build_preferences(
        _config(saved_inputs, tmp_path, pairs__ranking={"mode": "best_vs_worst"})
    )
    pairs = result.summary["datasets"]["pairs"]
    assert pairs["generated_by_source"]["ranking"] == 5
    assert (pairs["filters"]["degenerate"], pairs["filters"]["flag_vetoed"]) == (0, 2)
    assert _by_source(result, "pairs") == {"ranking": 3, "rating": 3, "flag": 1, "correction": 2}

    # flags=majority: alice alone does not flag R2's A, so ranking A>B meets rating B>A.
    result = build_preferences(_config(saved_inputs, tmp_path / "m", aggregation__flags="majority"))
    pairs = result.summary["datasets"]["pairs"]
    assert pairs["filters"]["contradictions"] == 2
    assert "flag" not in pairs["generated_by_source"]
    assert _by_source(result, "pairs") == {"ranking": 5, "rating": 1, "correction": 2}


def test_split_by_customer(saved_inputs, tmp_path):
    # Customers with rows: u1 (c1, c3), u2 (c2), u3 (c4), u5 (c7, c8) -> 4 groups, 1 held out.
    result = build_preferences(_config(saved_inputs, tmp_path, split__by_customer=True))
    assert (result.summary["split"]["groups"], result.summary["split"]["test_groups"]) == (4, 1)
    customers = {"c1": "u1", "c3": "u1", "c2": "u2", "c4": "u3", "c7": "u5", "c8": "u5"}
    held_out = {c for d in result.datasets.values() for c in d["test"]["customer_id"]}
    trained = {c for d in result.datasets.values() for c in d["train"]["customer_id"]}
    assert len(held_out) == 1 and held_out.isdisjoint(trained)
    for name, per_conv in PER_CONVERSATION.items():
        expected = sum(n for c, n in per_conv.items() if customers[c] in held_out)
        assert result.datasets[name]["test"].num_rows == expected


def test_cli_writes_loadable_datasets_with_cards(saved_inputs, tmp_path, monkeypatch):
    out = tmp_path / "cli-run"
    args = [f"inputs.{k}={v}" for k, v in saved_inputs.items()] + [f"output_dir={out}"]
    result = CliRunner().invoke(app, ["preferences", "configs/preferences/default.yaml", *args])
    assert result.exit_code == 0, result.output
    for name, per_conv in PER_CONVERSATION.items():
        loaded = load_from_disk(str(out / name))
        # a split without rows stays off the disk: `load_dataset` (TRL's CLIs) refuses one
        assert isinstance(loaded, DatasetDict) and set(loaded) <= {"train", "test"}
        assert "train" in loaded and all(split.num_rows for split in loaded.values())
        assert sum(split.num_rows for split in loaded.values()) == sum(per_conv.values())
    card = (out / "kto" / "README.md").read_text()
    assert "| **total** |" in card and "suggested desirable_weight" in card
    assert "records_dropped_low_agreement | 1" in card and '"responses": "datasets:' in card
    summary = json.loads((out / "summary.json").read_text())
    lineage = json.loads((out / "lineage.json").read_text())
    assert set(lineage["inputs"]) == {"responses", "record_agreement", "conversations"}
    assert set(lineage["outputs"]) == {"pairs", "kto", "sft"}
    assert summary["datasets"]["kto"]["label_balance"]["train"]["desirable"] >= 0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("inputs.responses=/nonexistent/responses", "no saved dataset here"),
        ("agreement.below=ignore", "agreement.below"),
        ("kto.rating.desirable_min=2", "undesirable_max must be below desirable_min"),
    ],
)
def test_cli_user_errors(saved_inputs, tmp_path, override, message):
    args = [f"inputs.{k}={v}" for k, v in saved_inputs.items()]
    args += [f"output_dir={tmp_path / 'run'}", override]
    result = CliRunner().invoke(app, ["preferences", "configs/preferences/default.yaml", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_default_run_dir_is_linked_as_latest(saved_inputs, tmp_path, monkeypatch):
    # A project of its own (pyproject.toml + configs/) so runs/ lands under tmp_path.
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "configs").mkdir()
    monkeypatch.chdir(tmp_path)
    config = validate_config(
        PreferencesConfig, {"inputs": {k: str(v) for k, v in saved_inputs.items()}}, "t"
    )
    first = build_preferences(config).run_dir
    latest = tmp_path / "runs" / "preferences" / "latest"
    assert first.parent == latest.parent and latest.resolve() == first.resolve()
    assert load_from_disk(str(latest / "pairs"))["train"].num_rows >= 1


def test_answers_not_aligned_with_candidates_are_a_user_error():
    from supportloop.feedback.preferences.aggregate import PreferenceDataError, aggregate_records

    config = PreferencesConfig.model_validate({"inputs": {"responses": "unused"}})
    broken = {
        "record_id": "R1", "conversation_id": "c1", "customer_id": None, "turn_index": 1,
        "prompt": [], "annotator": "alice", "status": "submitted", "ranking": [1, 2],
        "candidates": [{"candidate_id": f"k{i}", "text": f"t{i}", "source": "generated"}
                       for i in range(3)],
    }  # fmt: skip
    with pytest.raises(PreferenceDataError, match="record R1 annotator alice: ranking has 2"):
        aggregate_records([broken], {}, config.aggregation, config.agreement)
