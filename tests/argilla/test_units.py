"""Server-free parts of the Argilla stage: ids, turn selection, settings, agreement maths."""

from __future__ import annotations

import json
import os
import stat

import pytest
from datasets import Dataset

from supportloop.feedback.argilla.agreement import compute_agreement, pair_agreement
from supportloop.feedback.argilla.pull import RESPONSE_FEATURES
from supportloop.feedback.argilla.push import build_record_payloads, judged_turns, record_id
from supportloop.feedback.argilla.settings import (
    FLAG_LABELS,
    RESOLVES_LABELS,
    ArgillaConfig,
    QuestionSet,
    build_settings,
    question_names,
)
from supportloop.feedback.argilla.stack import StackConfig, ensure_credentials
from supportloop.models.sampling import Candidate
from tests.argilla.helpers import make_conversation


def _cands(*texts: str) -> list[Candidate]:
    return [Candidate(f"c{i}", t, "logged" if i == 0 else "generated") for i, t in enumerate(texts)]


def test_record_id_is_stable_and_depends_on_the_candidate_set():
    a = record_id("conv-1", 3, _cands("Yes.", "No."))
    assert a == record_id("conv-1", 3, _cands("No.", "  yes. "))  # order/whitespace/case-free
    assert a != record_id("conv-1", 3, _cands("Yes.", "Maybe."))
    assert a != record_id("conv-1", 5, _cands("Yes.", "No."))
    assert len(a) == 32


def test_judged_turns_last_or_all():
    conv = make_conversation(1, n_turns=3)
    conv["messages"].insert(0, {"role": "assistant", "content": "Hi!", "created_at": None})
    assert [t.turn_index for t in judged_turns([conv], "last")] == [6]
    all_turns = list(judged_turns([conv], "all"))
    assert [t.turn_index for t in all_turns] == [2, 4, 6]  # the greeting has no user before it
    assert all_turns[0].prompt[-1]["role"] == "user"
    assert all_turns[0].logged.startswith("Yes, returns")


def test_payloads_fill_slots_and_skip_single_candidates():
    turns = list(judged_turns([make_conversation(0), make_conversation(1)], "last"))
    payloads, skipped = build_record_payloads(
        turns, [_cands("A reply.", "B reply."), _cands("Only one.")], slots=3
    )
    assert skipped == 1 and len(payloads) == 1
    fields, metadata = payloads[0]["fields"], payloads[0]["metadata"]
    assert (fields["candidate_1"], fields["candidate_2"]) == ("A reply.", "B reply.")
    assert "candidate_3" not in fields
    assert fields["policy"].startswith("**Returns** (policy-returns)")
    assert "email: &lt;EMAIL_1&gt;" in fields["profile"].splitlines()
    assert list(fields) == ["conversation", "candidate_1", "candidate_2", "policy", "profile"]
    assert metadata["thumbs_down"] == 1 and metadata["csat"] == 4
    assert metadata["topic"] == "unknown"  # conversation 0 has no topic
    assert json.loads(metadata["supportloop"])["candidates"][1]["source"] == "generated"


def test_settings_follow_the_question_set(tmp_path, owner):
    guidelines = tmp_path / "g.md"
    guidelines.write_text("# Guidelines")
    config = ArgillaConfig(
        guidelines=guidelines,
        candidate_slots=2,
        questions=QuestionSet(rating=True, flags=False, correction=False),
    )
    names = question_names(config)
    assert names == {
        "ranking": ["ranking"],
        "resolves": ["resolves_1", "resolves_2"],
        "rating": ["rating_1", "rating_2"],
    }
    settings = build_settings(config, client=owner.client())  # the SDK checks the server
    assert [q.name for q in settings.questions] == [
        "ranking",
        "resolves_1",
        "rating_1",
        "resolves_2",
        "rating_2",
    ]
    assert [f.name for f in settings.fields] == [
        "conversation",
        "candidate_1",
        "candidate_2",
        "policy",
        "profile",
    ]
    assert settings.distribution.min_submitted == 2
    assert settings.guidelines == "# Guidelines"


def test_guidelines_give_an_example_for_every_label():
    """The UI's guidelines panel shows docs/annotation-guidelines.md: each resolves label and
    each flag is explained there under the exact text of its button, with an example."""
    doc = ArgillaConfig().guidelines.read_text(encoding="utf-8")
    bullets = {b.split("**")[1]: b for b in doc.split("\n- ") if b.startswith("**")}
    for label in [*RESOLVES_LABELS.values(), *FLAG_LABELS.values()]:
        assert label in bullets, f"no bullet for {label!r}"
        assert "*Example:*" in bullets[label], f"no example for {label!r}"


def test_credentials_file_is_0600_and_keeps_secrets(tmp_path):
    config = StackConfig(data_dir=tmp_path, annotators=["a1"])
    path = ensure_credentials(config, "http://127.0.0.1:1")
    first = json.loads(path.read_text())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert (
        first["users"]["owner"]["role"] == "owner" and first["users"]["a1"]["role"] == "annotator"
    )
    again = json.loads(
        ensure_credentials(
            config.model_copy(update={"annotators": ["a1", "a2"]}), "http://127.0.0.1:2"
        ).read_text()
    )
    assert again["users"]["a1"] == first["users"]["a1"] and "a2" in again["users"]


def _row(record: str, who: str, ranking, resolves, ratings=(None, None, None), status="submitted"):
    return {
        "record_id": record,
        "conversation_id": record,
        "customer_id": None,
        "turn_index": 1,
        "prompt": [{"role": "user", "content": "q"}],
        "candidates": [
            {"candidate_id": f"c{i}", "text": "t", "source": "generated"} for i in range(3)
        ],
        "annotator": who,
        "status": status,
        "ranking": ranking,
        "ratings": list(ratings),
        "resolves": list(resolves),
        "flags": [[], [], []],
        "correction": None,
        "submitted_at": "2026-01-01T00:00:00",
        "topic": None,
        "model_version": None,
    }


def test_pair_agreement_parts():
    a = _row("r", "x", [1, 2, 3], ["yes", "no", "no"], ratings=(5, 1, None))
    b = _row("r", "y", [1, 2, 2], ["yes", "no", None], ratings=(3, 1, None))
    # ranking: (0,1) same, (0,2) same, (1,2) order vs tie = 0.5 -> 2.5/3; resolves 2/2;
    # ratings: 1 - 2/4 and 1 -> 0.75
    assert pair_agreement(a, b) == pytest.approx((2.5 / 3 + 1 + 0.75) / 3)


def test_compute_agreement_alpha_and_records():
    rows = [
        _row("r1", "x", [1, 2, 3], ["yes", "no", "no"]),
        _row("r1", "y", [1, 2, 3], ["yes", "no", "no"]),
        _row("r2", "x", [3, 2, 1], ["no", "partly", "yes"]),
        _row("r2", "y", [3, 2, 1], ["no", "partly", "yes"]),
        _row("r3", "x", [2, 1, 3], ["partly", "yes", "no"]),
        _row("r3", "y", None, [None, None, None], status="discarded"),
    ]
    records, summary = compute_agreement(Dataset.from_list(rows, features=RESPONSE_FEATURES))
    by_id = {r["record_id"]: r for r in records}
    assert by_id["r1"]["agreement"] == 1.0 and by_id["r3"]["agreement"] is None
    assert by_id["r3"]["n_annotators"] == 1
    assert summary["alpha"]["ranking"] == pytest.approx(1.0)
    assert summary["alpha"]["resolves"] == pytest.approx(1.0)
    assert summary["alpha"]["rating"] is None and summary["alpha"]["flags"] is None
    assert summary["annotator_agreement"] == {"x": 1.0, "y": 1.0}
    assert summary["records_with_2plus_annotators"] == 2


# Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Annenberg School for
# Communication, University of Pennsylvania, section C (4 observers, 12 units, missing
# values): published alpha = 0.743 at the nominal level and 0.849 at the interval level.
KRIPPENDORFF_C = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


def test_alpha_matches_krippendorffs_published_example():
    """Imperfect agreement with missing values: the example's 12 units as 4 records x 3
    candidates rated 1-5, through the same rows -> units -> matrix path as a pull."""
    from supportloop.feedback.argilla.agreement import _alpha, question_units

    rows = [
        _row(f"r{r}", who, None, [None] * 3, ratings=values[3 * r : 3 * r + 3])
        for who, values in KRIPPENDORFF_C.items()
        for r in range(4)
    ]
    units, annotators = question_units(rows)["rating"], sorted(KRIPPENDORFF_C)
    assert _alpha(units, annotators, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert _alpha(units, annotators, "interval") == pytest.approx(0.849, abs=5e-4)
    _, summary = compute_agreement(Dataset.from_list(rows, features=RESPONSE_FEATURES))
    # Ratings are ordinal; the paper tabulates no ordinal value for this example: 0.8154 is
    # the `krippendorff` package's, pinned here between the nominal and interval values.
    assert summary["alpha"]["rating"] == pytest.approx(0.8154, abs=5e-4)
