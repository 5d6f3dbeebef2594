"""Fuzzing every ingest reader (issue #13, bad input): whatever a log file holds, each row read
is passed on or quarantined with its source, line and reason, and the counts balance; only an
input that cannot be read at all is refused, with the project's UserError.

The bulk of the examples goes through the read + validate layer of the pipeline (what decides
quarantine, a few milliseconds per file); a smaller sample goes through the whole `run_ingest`
(redaction, dedupe, repeat contacts, the saved artifacts).
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets import Dataset, disable_progress_bars, enable_progress_bars, load_from_disk
from datasets.table import InMemoryTable
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tqdm.auto import tqdm

from supportloop.config import validate_config
from supportloop.feedback.ingest.config import IngestConfig
from supportloop.feedback.ingest.dedupe import SeenIds
from supportloop.feedback.ingest.pipeline import (
    DUPLICATES_FILE,
    QUARANTINE_FILE,
    _Ledger,
    _validated_batches,
    run_ingest,
)
from supportloop.feedback.ingest.readers import UnusableInputError
from supportloop.feedback.transcripts import ROLES
from supportloop.models.sentence_encoder import SentenceEncoder, load_sentence_encoder
from tests.helpers import FUZZ
from tests.ingest.helpers import CARD, EMAIL, transcript

# -- strategies: values near the contract, and anything else JSON can hold -------------------

SCALAR = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
# One level of nesting is enough to put a wrong type anywhere, and far cheaper to draw than
# st.recursive (deep nesting is an explicit edge case below).
JSON = (
    SCALAR | st.lists(SCALAR, max_size=2) | st.dictionaries(st.text(max_size=4), SCALAR, max_size=2)
)
TEXTS = st.sampled_from(
    ["Where is my parcel?", f"My card {CARD} was charged twice.", f"Mail {EMAIL}", "ok", "  "]
) | st.text(max_size=12)
ZONES = st.sampled_from([None, UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=14))])
TIMES = (
    st.datetimes(timezones=ZONES).map(datetime.isoformat)
    | st.sampled_from(["2026-10-01T09:00:00Z", "2026-10-01", "yesterday", ""])
    | st.integers()
    | st.floats()
    | JSON
)
IDS = st.sampled_from(["c1", "c2", "c3", "", " "]) | JSON  # few ids: duplicates happen
CUSTOMERS = st.sampled_from(["u1", "u2"]) | JSON
ROLE = st.sampled_from([*sorted(ROLES), "human", "bot"]) | JSON
MESSAGE = (
    st.fixed_dictionaries({"role": ROLE, "content": TEXTS | JSON}, optional={"created_at": TIMES})
    | JSON
)
SIGNALS = st.fixed_dictionaries(
    {},
    optional={
        "thumbs": st.lists(
            st.fixed_dictionaries(
                {
                    "turn_index": st.integers(-1, 4) | JSON,
                    "value": st.sampled_from(["up", "down"]) | JSON,
                }
            )
            | JSON,
            max_size=2,
        ),
        "csat": st.integers(0, 6) | JSON,
        "escalated": st.booleans() | JSON,
        "resolved": st.booleans() | JSON,
    },
)
CONTEXT = st.fixed_dictionaries(
    {},
    optional={
        "retrieved_docs": st.lists(
            st.fixed_dictionaries({"doc_id": JSON, "title": JSON, "text": TEXTS}) | JSON,
            max_size=2,
        ),
        "customer_profile": st.dictionaries(st.sampled_from(["name", "email", "tier"]), TEXTS)
        | JSON,
    },
)
FIELDS = {  # each contract field: values near it, and anything else JSON holds
    "messages": st.lists(MESSAGE, max_size=4) | JSON,
    "conversation_id": IDS,
    "id": IDS,
    "customer_id": CUSTOMERS,
    "user": CUSTOMERS,
    "started_at": TIMES,
    "channel": JSON,
    "topic": st.sampled_from(["returns", "billing"]) | JSON,
    "context": CONTEXT | JSON,
    "signals": SIGNALS | JSON,
    "metadata": st.dictionaries(st.sampled_from(["intent", "topic", "x"]), JSON) | JSON,
}
VALID = st.builds(  # few ids, customers and texts: duplicates and repeat contacts happen
    transcript,
    st.sampled_from(["c1", "c2", "c3"]),
    st.sampled_from(["u1", "u2"]),
    st.sampled_from(["Where is my parcel?", f"My card {CARD} was charged twice.", f"Mail {EMAIL}"]),
    st.sampled_from([9, 30]),  # the same hour: logging duplicates; a day later: repeats
)
ONE_FIELD_CHANGED = st.tuples(
    VALID, st.sampled_from(sorted(FIELDS)).flatmap(lambda k: FIELDS[k].map(lambda v: (k, v)))
).map(lambda pair: {**pair[0], pair[1][0]: pair[1][1]})
CONVERSATION = VALID | ONE_FIELD_CHANGED | st.fixed_dictionaries({}, optional=FIELDS)
# Lines no generator of small values reaches: deep nesting, huge numbers, lone surrogates.
EDGE_LINES = st.sampled_from(
    [b"[" * 100_000, b'{"n": ' + b"9" * 5000 + b"}", b'{"conversation_id": "\\ud800"}']
)
JSON_LINE = (
    CONVERSATION.map(lambda row: json.dumps(row).encode())
    | JSON.map(lambda value: json.dumps(value).encode())
    | st.binary(max_size=40)
    | EDGE_LINES
)
JSON_LINES = st.tuples(st.lists(JSON_LINE, max_size=6), st.sampled_from([b"\n", b"\r\n"])).map(
    lambda parts: parts[1].join(parts[0])
)
CONTRACT_FIELDS = ["conversation_id", "customer_id", "started_at", "messages", "topic"]
SPEC = st.fixed_dictionaries(
    {},
    optional={
        "mapping": st.dictionaries(
            st.sampled_from(CONTRACT_FIELDS),
            st.sampled_from(["user", "id", "conv", "metadata.intent", "messages"]),
            max_size=2,
        ),
        "role_map": st.dictionaries(
            st.sampled_from(["human", "bot", "user"]),
            st.sampled_from([*sorted(ROLES), "robot"]),
            max_size=2,
        ),
        "defaults": st.dictionaries(st.sampled_from(CONTRACT_FIELDS), JSON, max_size=2),
    },
)


@pytest.fixture(autouse=True, scope="module")
def quiet_datasets() -> Iterator[None]:
    """No progress bar per saved example."""
    disable_progress_bars()
    yield
    enable_progress_bars()


# -- files ------------------------------------------------------------------------------------


@contextmanager
def workdir() -> Iterator[Path]:
    """A fresh folder per example (pytest's tmp_path is shared by all examples of a test)."""
    with tempfile.TemporaryDirectory(prefix="fuzz-ingest-") as path:
        yield Path(path)


def damage(path: Path, where: float, patch: bytes, cut: bool) -> None:
    """Overwrite `patch` at `where` (fraction of the size); `cut` ends the file after it."""
    data = path.read_bytes()
    at = int(where * len(data))
    tail = b"" if cut else data[at + len(patch) :]
    path.write_bytes(data[:at] + patch + tail)


DAMAGE = st.none() | st.tuples(st.floats(0, 1), st.binary(max_size=8), st.booleans())


def jsonl_records(path: Path) -> list[dict[str, Any]]:
    """A side file's records, one per line of the file (not per `str.splitlines`, which also
    breaks at the U+0085 or U+2028 a raw row may hold)."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def read_and_validate(spec: dict[str, Any], work: Path) -> tuple[int, int, list[dict[str, Any]]]:
    """The pipeline's read + validate stage on one input: rows read, rows passed on to
    redaction, and the quarantine file's records."""
    config = validate_config(
        IngestConfig,
        {"inputs": [spec], "output_dir": str(work / "run"), "num_proc": 1, "batch_size": 2},
        "fuzz",
    )
    ledger = _Ledger(work)
    try:
        with closing(SeenIds()) as seen, tqdm(disable=True) as bar:
            passed = sum(len(batch) for batch in _validated_batches(config, ledger, bar, seen))
    finally:
        ledger.close()
    quarantine = jsonl_records(work / QUARANTINE_FILE)
    assert sum(ledger.quarantined.values()) == len(quarantine)
    return ledger.read, passed, quarantine


def assert_accounted(
    read: int, passed: int, quarantine: list[dict[str, Any]], source: Path, max_line: int
) -> None:
    """Every row read is passed on or quarantined, and each quarantined row says where it was
    and why."""
    assert read == passed + len(quarantine)
    for record in quarantine:
        assert record["source"] == str(source)
        assert 1 <= record["line"] <= max_line, record
        assert isinstance(record["reason"], str) and record["reason"].strip(), record


# -- JSON lines and OpenAI-style logs -----------------------------------------------------------


def with_lines(*rows: dict[str, Any]) -> bytes:
    """A JSON lines file of `rows`."""
    return b"\n".join(json.dumps(row).encode() for row in rows)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["jsonl", "openai"])
@settings(FUZZ, max_examples=2500)
@given(content=JSON_LINES, spec=SPEC)
@example(  # a role that is a list crashed validation (unhashable in the set of roles)
    content=with_lines(transcript("c1", "u1", "hi", messages=[{"role": [], "content": "x"}])),
    spec={},
)
@example(  # ... and the role map
    content=with_lines(transcript("c1", "u1", "hi", messages=[{"role": {}, "content": "x"}])),
    spec={"role_map": {"human": "user"}},
)
@example(  # a thumbs value that is a list
    content=with_lines(transcript("c1", "u1", "hi", signals={"thumbs": [{"value": []}]})),
    spec={},
)
@example(  # a time whose UTC value falls outside the years datetime can hold
    content=with_lines(transcript("c1", "u1", "hi", started_at="0001-01-01T00:00:00+01:00")),
    spec={},
)
@example(content=b"[" * 100_000, spec={})  # nesting past the JSON decoder's recursion limit
@example(content=b'{"n": ' + b"9" * 5000 + b"}", spec={})  # past int()'s digit limit
@example(  # a lone surrogate: no UTF-8 for the id index or the Arrow file
    content=json.dumps(transcript("\ud800", "u1", "hi")).encode(), spec={}
)
def test_json_lines_rows_are_passed_on_or_quarantined(
    fmt: str, content: bytes, spec: dict[str, Any]
) -> None:
    """A JSON lines file is never refused as a whole: each non-blank line is one row."""
    with workdir() as work:
        path = work / "logs.jsonl"
        path.write_bytes(content)
        read, passed, quarantine = read_and_validate(
            {**spec, "path": str(path), "format": fmt}, work
        )
    lines = content.split(b"\n")
    assert read == sum(1 for line in lines if line.strip())
    assert_accounted(read, passed, quarantine, path, len(lines))


# -- CSV, one row per message -------------------------------------------------------------------

CSV_CELLS = {  # a column's cells: mostly valid, so conversations form and pass
    "conversation_id": st.sampled_from(["c1", "c2", "c3", ""]),
    "role": st.sampled_from(["user", "assistant", "user", "system", "bot", ""]),
    "content": TEXTS,
    "created_at": st.sampled_from(["2026-10-01T09:00:00Z", "2026-10-01T11:00:00+02:00", "", "x"]),
    "customer_id": st.sampled_from(["u1", "u2", ""]),
    "topic": st.sampled_from(["returns", ""]),
    "extra": TEXTS,
}
CSV_COLUMNS = [column for column in CSV_CELLS if column != "extra"]


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    """A header (some columns renamed through the mapping, some missing, some extra), rows of
    any length, and now and then a line of raw bytes (invalid UTF-8, stray quotes)."""
    renamed = draw(st.dictionaries(st.sampled_from(CSV_COLUMNS), st.sampled_from(["a", "b"])))
    mapping = {field: f"{column}_{field}" for field, column in renamed.items()}
    columns = draw(st.permutations([*(mapping.get(f, f) for f in CSV_COLUMNS), "extra"]))
    width = draw(st.sampled_from([len(columns)] * 3) | st.integers(1, len(columns)))
    header = columns[:width]
    fields = {mapping.get(field, field): field for field in CSV_CELLS}
    cells = st.tuples(*(CSV_CELLS[fields[column]] for column in header)).map(list)
    short_or_long = st.sampled_from([0, 0, -1, 1])  # a cell missing, or one past the header
    rows = [
        row[: len(row) + cut] if cut < 0 else row + ["x"] * cut
        for row, cut in draw(st.lists(st.tuples(cells, short_or_long), max_size=8))
    ]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    lines = text.getvalue().encode().split(b"\r\n")
    junk_lines = st.tuples(st.integers(0, len(lines)), st.binary(max_size=12))
    for at, junk in draw(st.lists(junk_lines, max_size=2)):
        lines.insert(at, junk)
    return b"\r\n".join(lines), mapping


@pytest.mark.slow
@settings(FUZZ, max_examples=2600)
@given(case=csv_files())
@example(  # one bad byte in a row refused the whole file, blamed on the header (one chunk)
    case=(b"conversation_id,role,content\r\nc1,user,caf\xe9\r\nc2,user,hi\r\n", {})
)
def test_csv_rows_are_passed_on_or_quarantined(case: tuple[bytes, dict[str, str]]) -> None:
    """A CSV is refused only for its header (columns missing, not UTF-8); any row after it is
    grouped into a conversation or quarantined."""
    content, mapping = case
    with workdir() as work:
        path = work / "turns.csv"
        path.write_bytes(content)
        try:
            read, passed, quarantine = read_and_validate(
                {"path": str(path), "format": "csv", "mapping": mapping}, work
            )
        except UnusableInputError as exc:
            if "header is not valid UTF-8" in str(exc):  # its record, which quotes may stretch
                text = io.StringIO(content.decode(errors="surrogateescape"), newline="")
                with pytest.raises(UnicodeEncodeError):
                    "".join(next(csv.reader(text))).encode()
            else:
                assert "CSV lacks column" in str(exc)
            return
    lines = re.split(rb"\r\n|\r|\n", content)  # the csv module's lines: a quoted \r ends one
    assert_accounted(read, passed, quarantine, path, len(lines))


# -- Parquet files and saved datasets -------------------------------------------------------------


COLUMN_VALUES = {  # one Arrow type per column, so any draw makes a table
    "str": TEXTS | st.none(),
    "int": st.integers(-(2**63), 2**63 - 1) | st.none(),
    "float": st.floats() | st.none(),
    "bool": st.booleans() | st.none(),
    "time": st.datetimes() | st.none(),
    "json": JSON.map(json.dumps) | st.none(),
    "messages_json": st.lists(MESSAGE, max_size=3).map(json.dumps),
    "messages": st.lists(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["user", "assistant", "bot"]), "content": TEXTS},
            optional={"created_at": st.sampled_from(["2026-10-01T09:00:00Z", "soon"])},
        ),
        max_size=3,
    ),
}
TABLE_COLUMNS = [*CONTRACT_FIELDS, "context", "signals", "metadata", "conv", "user"]


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    """Rows in the contract's columns (nested values as JSON text, like the `mixed_inputs`
    saved dataset) or not, plus a draw of columns of one type each (messages as JSON text or
    as structs)."""
    size = draw(st.integers(0, 6))
    columns: dict[str, list[Any]] = {}
    if draw(st.booleans()):
        rows = draw(st.lists(VALID, min_size=size, max_size=size))
        for key in transcript("c", "u", "text"):
            values = [row[key] for row in rows]
            columns[key] = [json.dumps(v) if isinstance(v, dict | list) else v for v in values]
    kinds = draw(
        st.dictionaries(st.sampled_from(TABLE_COLUMNS), st.sampled_from(sorted(COLUMN_VALUES)))
    )
    for name, kind in kinds.items():
        columns[name] = draw(st.lists(COLUMN_VALUES[kind], min_size=size, max_size=size))
    if not columns:
        return pa.table({"empty": pa.array([None] * size)})
    return pa.table(columns)


def save_dataset(table: pa.Table, path: Path) -> None:
    """One shard even without rows, as `supportloop.runs` saves: datasets cannot load the
    zero shards it writes for an empty dataset by default."""
    Dataset(InMemoryTable(table)).save_to_disk(str(path), num_shards=1)


def assert_table_accounted(
    spec: dict[str, Any], table: pa.Table, hurt: tuple[float, bytes, bool] | None, work: Path
) -> None:
    """An intact file is read row by row; a damaged one is read or refused as a whole."""
    try:
        read, passed, quarantine = read_and_validate(spec, work)
    except UnusableInputError:
        assert hurt is not None, "an intact file was refused"
        return
    if hurt is None:
        assert read == table.num_rows
    assert_accounted(read, passed, quarantine, Path(spec["path"]), max(read, 1))


@pytest.mark.slow
@settings(FUZZ, max_examples=1800)
@given(table=tables(), spec=SPEC, hurt=DAMAGE)
@example(  # a damaged page header: pyarrow's OSError escaped while reading the batches
    table=pa.table({"empty": [None]}), spec={}, hurt=(0.0625, b"\x00", False)
)
def test_parquet_rows_are_passed_on_or_quarantined(
    table: pa.Table, spec: dict[str, Any], hurt: tuple[float, bytes, bool] | None
) -> None:
    """Parquet of any columns; a file cut short or overwritten is refused, never a crash."""
    with workdir() as work:
        path = work / "logs.parquet"
        pq.write_table(table, path)
        if hurt is not None:
            damage(path, *hurt)
        assert_table_accounted({**spec, "path": str(path)}, table, hurt, work)


@pytest.mark.slow
@settings(FUZZ, max_examples=400)
@given(table=tables(), spec=SPEC, hurt=DAMAGE, victim=st.sampled_from(["json", "arrow"]))
def test_saved_dataset_rows_are_passed_on_or_quarantined(
    table: pa.Table, spec: dict[str, Any], hurt: tuple[float, bytes, bool] | None, victim: str
) -> None:
    """A `save_to_disk` directory, intact or with one of its files damaged."""
    with workdir() as work:
        path = work / "dataset"
        save_dataset(table, path)
        if hurt is not None:
            damage(min(path.glob("*.json" if victim == "json" else "*.arrow")), *hurt)
        assert_table_accounted({**spec, "path": str(path), "format": "hf"}, table, hurt, work)


# -- the whole pipeline ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedder() -> SentenceEncoder:
    """The real encoder, loaded once: a customer's two contacts without topics need it."""
    return load_sentence_encoder("minilm")


def write_input(work: Path, fmt: str, content: bytes | pa.Table) -> Path:
    """`content` written as an input of format `fmt` in `work`."""
    if fmt == "parquet":
        pq.write_table(content, path := work / "logs.parquet")
    elif fmt == "hf":
        save_dataset(content, path := work / "dataset")
    else:
        (path := work / f"logs.{'csv' if fmt == 'csv' else 'jsonl'}").write_bytes(content)
    return path


INPUTS = st.one_of(
    st.tuples(st.sampled_from(["jsonl", "openai"]), JSON_LINES, SPEC),
    csv_files().map(lambda case: ("csv", case[0], {"mapping": case[1]})),
    st.tuples(st.sampled_from(["parquet", "hf"]), tables(), SPEC),
)


@pytest.mark.slow
@settings(FUZZ, max_examples=200)
@given(case=INPUTS)
def test_ingest_balances_its_ledger(
    embedder: SentenceEncoder, case: tuple[str, bytes | pa.Table, dict[str, Any]]
) -> None:
    """The whole run: read = accepted + quarantined + duplicates, and the side files agree."""
    fmt, content, spec = case
    with workdir() as work:
        path = write_input(work, fmt, content)
        config = validate_config(
            IngestConfig,
            {
                "inputs": [{**spec, "path": str(path), "format": fmt}],
                "output_dir": str(work / "run"),
                "num_proc": 1,
                "batch_size": 2,
            },
            "fuzz",
        )
        try:
            summary = run_ingest(config, progress=False, embedder=embedder)
        except UnusableInputError:
            assert fmt == "csv", "only a CSV header can make a generated input unusable"
            return
        run = work / "run"
        quarantine = jsonl_records(run / QUARANTINE_FILE)
        duplicates = jsonl_records(run / DUPLICATES_FILE)
        accepted = len(load_from_disk(str(run / "conversations")))
    assert summary["balanced"] is True
    assert summary["read"] == accepted + len(quarantine) + len(duplicates)
    assert (summary["accepted"], summary["quarantined"]) == (accepted, len(quarantine))
    assert summary["duplicates_removed"] == len(duplicates)
    for record in quarantine:
        assert record["source"] == str(path) and record["line"] >= 1 and record["reason"]
