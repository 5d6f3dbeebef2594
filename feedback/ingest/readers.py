"""Readers that stream raw rows out of each supported input shape, one conversation at a time.

A reader never raises on a bad row: it yields a `RawRow` with an `error`, so the row is
quarantined with its source and line. It raises `UnusableInputError` only when the input as a
whole cannot be read (missing file, not a Parquet file, CSV without the needed columns).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from supportloop.errors import UserError, one_line
from supportloop.feedback.ingest.config import InputLimits, InputSpec

_HF_MARKERS = ("dataset_info.json", "state.json")
_CSV_CONVERSATION_FIELDS = (
    "customer_id",
    "started_at",
    "channel",
    "locale",
    "model_version",
    "topic",
)


class UnusableInputError(UserError):
    """The input cannot be read at all; bad rows inside a readable input are quarantined."""


@dataclass
class RawRow:
    """One conversation as read, before validation; `raw` is kept for the quarantine file."""

    source: str
    location: int
    payload: dict[str, Any] | None
    raw: str
    error: str | None = None


def detect_format(spec: InputSpec) -> str:
    if spec.format != "auto":
        return spec.format
    path = spec.path
    if path.is_dir() and any((path / marker).is_file() for marker in _HF_MARKERS):
        return "hf"
    suffix = path.suffix.lower()
    formats = {".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".csv": "csv"}
    if suffix not in formats:
        raise UnusableInputError(f"{path}: cannot tell the format; set format: in the input spec")
    return formats[suffix]


# json.loads raises JSONDecodeError for bad syntax, but a plain ValueError for an integer past
# int()'s digit limit and RecursionError for nesting past the interpreter's recursion limit.
_JSON_ERRORS = (ValueError, RecursionError)


def _json_problem(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} (col {exc.colno})"
    return str(exc).partition(":")[0]  # "Exceeds the limit (4300 digits) for integer string..."


def _dig(row: dict[str, Any], dotted: str) -> Any:
    value: Any = row
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def apply_mapping(row: dict[str, Any], spec: InputSpec, remap: bool = True) -> dict[str, Any]:
    """Rename source columns onto contract fields, fill defaults, normalise role names."""
    mapped = dict(row)
    for field, source in spec.mapping.items() if remap else ():
        mapped[field] = _dig(row, source)
    for field, value in spec.defaults.items():
        if mapped.get(field) in (None, ""):
            mapped[field] = value
    messages = mapped.get("messages")
    if isinstance(messages, str):
        with contextlib.suppress(*_JSON_ERRORS):  # validation reports a bad value
            mapped["messages"] = messages = json.loads(messages)
    if spec.role_map and isinstance(messages, list):
        mapped["messages"] = [
            {**m, "role": spec.role_map.get(m["role"], m["role"])}
            if isinstance(m, dict) and isinstance(m.get("role"), str)
            else m
            for m in messages
        ]
    for field in ("context", "signals", "metadata"):
        if isinstance(mapped.get(field), str):
            with contextlib.suppress(*_JSON_ERRORS):
                mapped[field] = json.loads(mapped[field])
    return mapped


def _require_file(path: Path) -> None:
    if not path.exists():
        raise UnusableInputError(f"{path}: input not found")


_SHOWN_BYTES = 1_000  # of a record too large to keep: what the quarantine file shows


def _lines(handle: BinaryIO, limit: int) -> Iterator[tuple[bytes, int]]:
    """(line, its length without the line break), holding at most `limit` + 2 bytes (room for
    a CRLF): the rest of a longer line is skipped in 1 MiB reads and only its start is kept."""
    while line := handle.readline(limit + 2):
        if len(line) <= limit or line.endswith(b"\n"):
            yield line, len(line.rstrip(b"\r\n"))
            continue
        size = len(line)
        while chunk := handle.readline(1 << 20):
            size += len(chunk)
            if chunk.endswith(b"\n"):
                size -= len(chunk) - len(chunk.rstrip(b"\r\n"))
                break
        yield line[:_SHOWN_BYTES], size


def read_jsonl(spec: InputSpec, openai_style: bool, limits: InputLimits) -> Iterator[RawRow]:
    """JSON lines, decoded line by line so one bad line never hides the others."""
    _require_file(spec.path)
    if spec.path.is_dir():
        raise UnusableInputError(f"{spec.path}: is a directory, expected a JSON lines file")
    source, limit = str(spec.path), limits.max_record_bytes
    with spec.path.open("rb") as handle:
        for number, (line, size) in enumerate(_lines(handle, limit), start=1):
            if not line.strip():
                continue
            if size > limit:
                shown = line.decode("utf-8", errors="backslashreplace") + " [cut]"
                reason = f"record too large: {size} bytes, over the {limit} limit"
                yield RawRow(source, number, None, shown, reason)
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                shown = line.decode("utf-8", errors="backslashreplace").rstrip("\n")
                yield RawRow(source, number, None, shown, f"invalid UTF-8 at byte {exc.start}")
                continue
            text = text.rstrip("\r\n")
            try:
                payload = json.loads(text)
            except RecursionError:
                yield RawRow(source, number, None, text, _too_deep(limits))
                continue
            except _JSON_ERRORS as exc:
                yield RawRow(source, number, None, text, f"malformed JSON: {_json_problem(exc)}")
                continue
            if not isinstance(payload, dict):
                kind = type(payload).__name__
                yield RawRow(source, number, None, text, f"expected a JSON object, got {kind}")
                continue
            if openai_style:
                payload = _from_openai(payload)
            yield RawRow(source, number, apply_mapping(payload, spec), text)


def _too_deep(limits: InputLimits) -> str:
    return f"record nested too deeply: over the {limits.max_json_depth} limit of levels"


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects/lists nest more than `limit` levels (iterative: no recursion limit)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)
    return False


def limit_problem(payload: dict[str, Any], limits: InputLimits) -> str | None:
    """Which of `limits` a read record breaks (message count, nesting), or None."""
    messages = payload.get("messages")
    if isinstance(messages, list) and len(messages) > limits.max_messages:
        return f"messages: {len(messages)} messages, over the {limits.max_messages} limit"
    if _deeper_than(payload, limits.max_json_depth):
        return _too_deep(limits)
    return None


def _within_limits(rows: Iterator[RawRow], limits: InputLimits) -> Iterator[RawRow]:
    """The rows, with those that break a limit turned into quarantined ones."""
    for raw in rows:
        problem = limit_problem(raw.payload, limits) if raw.payload is not None else None
        yield RawRow(raw.source, raw.location, None, raw.raw, problem) if problem else raw


def _from_openai(payload: dict[str, Any]) -> dict[str, Any]:
    """`{"messages": [...], ...}`: derive a stable conversation id when the log has none."""
    row = dict(payload)
    if not row.get("conversation_id") and not row.get("id"):
        digest = hashlib.sha256(json.dumps(row.get("messages"), sort_keys=True).encode())
        row["conversation_id"] = "oa-" + digest.hexdigest()[:16]
    elif not row.get("conversation_id"):
        row["conversation_id"] = row.get("id")
    return row


def _rows_from_table_batches(spec: InputSpec, batches: Iterator[Any]) -> Iterator[RawRow]:
    """The rows of Arrow batches; a batch that cannot be read (a damaged page, a file cut
    short) makes the input unusable, like a file that cannot be opened."""
    source, number, batches = str(spec.path), 0, iter(batches)
    while True:
        try:
            rows = next(batches).to_pylist()
        except StopIteration:
            return
        except Exception as exc:  # pyarrow raises OSError, ArrowInvalid... for damaged data
            raise UnusableInputError(
                f"{source}: unreadable after row {number}: {one_line(exc)}"
            ) from None
        for row in rows:
            number += 1
            raw = json.dumps(row, default=str, ensure_ascii=False)
            yield RawRow(source, number, apply_mapping(row, spec), raw)


def read_parquet(spec: InputSpec, batch_size: int = 1024) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    _require_file(spec.path)
    try:
        parquet = pq.ParquetFile(spec.path)
    except Exception as exc:  # pyarrow raises several types for "not parquet"
        raise UnusableInputError(f"{spec.path}: not a readable Parquet file ({exc})") from None
    yield from _rows_from_table_batches(spec, parquet.iter_batches(batch_size=batch_size))


def read_hf(spec: InputSpec, batch_size: int = 1024) -> Iterator[RawRow]:
    from datasets import Dataset, load_from_disk

    _require_file(spec.path)
    try:
        dataset = load_from_disk(str(spec.path))
    except Exception as exc:
        raise UnusableInputError(f"{spec.path}: not a saved dataset ({exc})") from None
    if not isinstance(dataset, Dataset):
        raise UnusableInputError(f"{spec.path}: a DatasetDict; point at one split's directory")
    yield from _rows_from_table_batches(spec, dataset.with_format("arrow").iter(batch_size))


def read_csv_turns(spec: InputSpec) -> Iterator[RawRow]:
    """A flat CSV, one row per message; consecutive rows with the same conversation id form one
    conversation. A conversation id that reappears after another one started is a duplicate
    id (logged out of order) and is quarantined by the duplicate check, not merged silently.
    """
    _require_file(spec.path)
    columns = {
        "conversation_id": spec.mapping.get("conversation_id", "conversation_id"),
        "role": spec.mapping.get("role", "role"),
        "content": spec.mapping.get("content", "content"),
        "created_at": spec.mapping.get("created_at", "created_at"),
    }
    source = str(spec.path)
    # Bytes that are not UTF-8 are kept as lone surrogates and found row by row: a strict
    # decoder fails a whole read-ahead chunk, which lost the rows in it (or blamed the header).
    with spec.path.open(encoding="utf-8", errors="surrogateescape", newline="") as text:
        reader = csv.DictReader(text)
        header = reader.fieldnames or []
        if any(_UNDECODED.search(name) for name in header):
            raise UnusableInputError(f"{source}: header is not valid UTF-8")
        missing = [c for k, c in columns.items() if k != "created_at" and c not in header]
        if missing:
            raise UnusableInputError(f"{source}: CSV lacks column(s) {', '.join(missing)}")
        yield from _group_turns(spec, reader, columns, source)


def _group_turns(
    spec: InputSpec, reader: csv.DictReader, columns: dict[str, str], source: str
) -> Iterator[RawRow]:
    current: dict[str, Any] | None = None
    lines: list[str] = []
    start = 0

    def flush() -> RawRow:
        # columns were already mapped while grouping; only defaults and roles remain
        return RawRow(source, start, apply_mapping(current, spec, remap=False), "\n".join(lines))

    while True:
        line_number = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield RawRow(source, line_number, None, "", f"malformed CSV: {exc}")
            continue
        if (undecoded := _undecoded_column(row)) is not None:
            if current is not None:
                yield flush()
                current = None
            yield RawRow(
                source, line_number, None, json.dumps(row), f"invalid UTF-8 in {undecoded}"
            )
            continue
        conversation_id = row.get(columns["conversation_id"])
        if current is None or conversation_id != current["conversation_id"]:
            if current is not None:
                yield flush()
            start, lines = line_number, []
            current = {"conversation_id": conversation_id, "messages": []}
            for field in _CSV_CONVERSATION_FIELDS:
                column = spec.mapping.get(field, field)
                if row.get(column) not in (None, ""):
                    current[field] = row[column]
        lines.append(json.dumps(row, ensure_ascii=False))
        current["messages"].append(
            {
                "role": row.get(columns["role"]),
                "content": row.get(columns["content"]),
                "created_at": row.get(columns["created_at"]) or None,
            }
        )
    if current is not None:
        yield flush()


_UNDECODED = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of a non-UTF-8 byte


def _undecoded_column(row: dict[str | None, Any]) -> str | None:
    """The first column of a CSV row holding bytes that were not UTF-8, if any."""
    for column, value in row.items():
        for text in value if isinstance(value, list) else [value]:  # a list: values past the header
            if isinstance(text, str) and _UNDECODED.search(text):
                return "a value past the header" if column is None else column
    return None


def read_input(spec: InputSpec, limits: InputLimits | None = None) -> Iterator[RawRow]:
    """Dispatch on the (detected) format; records past `limits` come out quarantined."""
    limits = limits or InputLimits()
    fmt = detect_format(spec)
    if fmt in ("jsonl", "openai"):
        rows = read_jsonl(spec, openai_style=fmt == "openai", limits=limits)
    elif fmt == "parquet":
        rows = read_parquet(spec)
    elif fmt == "hf":
        rows = read_hf(spec)
    else:
        rows = read_csv_turns(spec)
    return _within_limits(rows, limits)
