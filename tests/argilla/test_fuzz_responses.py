"""Fuzzing the pull's reading of Argilla records and responses (issue #13, bad input): any
record/response JSON the REST API could hand back becomes rows of the responses dataset or is
skipped with a reason; a record never crashes the pull and no response goes uncounted.

Records start from what the push writes (`build_record_payloads`, shaped as the REST API
returns them, as in test_display); no server is needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from datasets import disable_progress_bars, enable_progress_bars, load_from_disk
from hypothesis import example, given, settings
from hypothesis import strategies as st

from supportloop.feedback.argilla.pull import (
    ParsedResponses,
    _responses_dataset,
    _save_all,
    parse_records,
)
from supportloop.feedback.argilla.push import build_record_payloads, judged_turns
from supportloop.feedback.argilla.settings import (
    CONVERSATION_FIELD,
    FLAG_LABELS,
    INTERNAL_METADATA,
    RESOLVES_LABELS,
    slot_names,
)
from supportloop.models.sampling import Candidate
from tests.argilla.helpers import make_conversation
from tests.helpers import FUZZ

SLOTS = 3
USERS = {"u1": "annotator-1", "u2": "annotator-2"}


def pushed_record(index: int, candidates: int) -> dict[str, Any]:
    """A record as the REST API returns what the push logged (no responses yet)."""
    cands = [Candidate(f"c{i}", f"Reply <{i}> & more", "generated") for i in range(candidates)]
    (payload,), _ = build_record_payloads(
        list(judged_turns([make_conversation(index)], "last")), [cands], slots=SLOTS
    )
    return {"id": f"uuid-{index}", "external_id": payload["id"], **payload}


PUSHED = [pushed_record(index, candidates) for index in range(2) for candidates in (2, 3)]

# -- strategies ------------------------------------------------------------------------------------

SCALAR = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
# One level of nesting is enough to put a wrong type anywhere, and far cheaper to draw.
JSON = (
    SCALAR | st.lists(SCALAR, max_size=2) | st.dictionaries(st.text(max_size=4), SCALAR, max_size=2)
)


@st.composite
def or_junk(draw: st.DrawFn, good: st.SearchStrategy[Any]) -> Any:
    """Mostly `good`, one time in eight any JSON value (a wrong type where the push and the
    server write a right one)."""
    return draw(JSON) if draw(st.integers(0, 7)) == 0 else draw(good)


SLOT_NAMES = st.sampled_from([*slot_names(SLOTS), *slot_names(SLOTS), "candidate_4", "x"])
RANKING = st.lists(
    or_junk(
        st.fixed_dictionaries(
            {"value": or_junk(SLOT_NAMES)}, optional={"rank": or_junk(st.integers(1, 4))}
        )
    ),
    max_size=4,
)


def answer(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A question's response value as the REST API nests it."""
    return or_junk(st.fixed_dictionaries({"value": or_junk(value)}))


VALUES = st.fixed_dictionaries(
    {},
    optional={
        "ranking": answer(RANKING),
        "correction": answer(st.text(max_size=10)),
        **{f"rating_{i}": answer(st.integers(1, 5)) for i in range(1, SLOTS + 1)},
        **{f"resolves_{i}": answer(st.sampled_from(sorted(RESOLVES_LABELS))) for i in (1, 2, 3)},
        **{
            f"flags_{i}": answer(st.lists(st.sampled_from(sorted(FLAG_LABELS)), max_size=2))
            for i in range(1, SLOTS + 1)
        },
    },
)
RESPONSE = or_junk(
    st.fixed_dictionaries(
        {
            "id": or_junk(st.sampled_from(["r1", "r2", "r3"])),
            "user_id": or_junk(st.sampled_from([*USERS, "u9"])),
            "status": or_junk(st.sampled_from(["submitted", "submitted", "discarded", "draft"])),
            "updated_at": or_junk(st.just("2026-11-01T10:00:00")),
        },
        optional={"values": or_junk(VALUES)},
    )
)


def changed(base: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    return {**base, key: value}


INFO_KEYS = ["conversation_id", "customer_id", "turn_index", "system", "candidates"]


@st.composite
def records(draw: st.DrawFn) -> Any:
    """A pushed record with responses, and now and then one part of it replaced: a top-level
    key, a field, a key of the owner-only metadata (or that metadata as a whole)."""
    record = {**draw(st.sampled_from(PUSHED)), "responses": draw(st.lists(RESPONSE, max_size=2))}
    part = draw(st.sampled_from(["none"] * 6 + ["top", "field", "info", "metadata", "all"]))
    if part == "top":
        key = draw(st.sampled_from(["external_id", "fields", "metadata", "responses"]))
        return changed(record, key, draw(JSON))
    if part == "field":
        key = draw(st.sampled_from([CONVERSATION_FIELD, *slot_names(SLOTS)]))
        return changed(record, "fields", changed(record["fields"], key, draw(JSON)))
    if part in ("info", "metadata"):
        info = json.loads(record["metadata"][INTERNAL_METADATA])
        key = draw(st.sampled_from(INFO_KEYS))
        text = json.dumps(changed(info, key, draw(JSON))) if part == "info" else draw(st.text())
        return changed(record, "metadata", changed(record["metadata"], INTERNAL_METADATA, text))
    return draw(JSON) if part == "all" else record


RECORDS = st.lists(records(), max_size=3)


def answered(record: dict[str, Any], **values: Any) -> list[dict[str, Any]]:
    """`record` with one submitted response holding `values`."""
    response = {"id": "r1", "user_id": "u1", "status": "submitted", "updated_at": "t"}
    return [{**record, "responses": [{**response, "values": values}]}]


def responses_in(record: Any) -> int:
    """How many responses a record holds; one (to skip) if it is no object or its responses no
    list."""
    if not isinstance(record, dict):
        return 1
    responses = record.get("responses") or []
    return len(responses) if isinstance(responses, list) else 1


def assert_every_response_counted(records: list[Any], parsed: ParsedResponses) -> None:
    """Each response is a status (drafts included) or a skip, and each skip says why, on one
    line."""
    counted = sum(parsed.statuses.values()) + sum(parsed.skipped.values())
    assert counted == sum(map(responses_in, records))
    assert len(parsed.rows) == parsed.statuses["submitted"] + parsed.statuses["discarded"]
    assert all(reason.strip() and "\n" not in reason for reason in parsed.skipped)


# -- tests -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True, scope="module")
def quiet_datasets() -> Iterator[None]:
    """No progress bar per saved example."""
    disable_progress_bars()
    yield
    enable_progress_bars()


@pytest.mark.slow
@settings(FUZZ, max_examples=9700)
@given(records=RECORDS, slots=st.sampled_from([SLOTS, SLOTS, 2]))
@example(  # pulled with an annotator's key: no owner-only metadata (a KeyError crashed the pull)
    records=answered({**PUSHED[0], "metadata": {}}), slots=SLOTS
)
@example(records=answered(PUSHED[1]), slots=2)  # 3 candidates, 2 slots: zip(strict=True) raised
@example(  # a rating that is text: the responses dataset could not be built from the rows
    records=answered(PUSHED[1], rating_1={"value": "five"}), slots=SLOTS
)
def test_records_become_rows_or_skips_with_a_reason(records: list[Any], slots: int) -> None:
    """The parsing layer of the pull, on generated REST records."""
    assert_every_response_counted(records, parse_records(records, USERS, slots))


@pytest.mark.slow
@settings(FUZZ, max_examples=300)
@given(records=RECORDS)
@example(records=[])  # no response yet: the empty dataset was saved in zero shards, unloadable
def test_pulled_rows_save_and_load_as_the_responses_dataset(
    tmp_path_factory: pytest.TempPathFactory, records: list[Any]
) -> None:
    """What the pull writes from the parsed rows: `responses` is built, saved and read back."""
    rows = [row for _, _, row in parse_records(records, USERS, SLOTS).rows]
    pull_dir = tmp_path_factory.getbasetemp() / "fuzz-pull"
    _save_all({"responses": _responses_dataset(rows)}, pull_dir)
    assert load_from_disk(str(pull_dir / "responses"))["record_id"] == [
        row["record_id"] for row in rows
    ]
