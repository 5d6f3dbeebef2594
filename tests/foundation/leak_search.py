"""Search everything a run wrote for values that must never be there (API keys, seeded PII).

A byte search alone misses text that a format stores encoded: JSON's \\uXXXX escapes (the
Argilla database, `ensure_ascii` dumps), HTML entities in reports, and the rows of Arrow and
Parquet datasets. So each file is searched as raw bytes and, where its format hides text, as
decoded text too.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from pathlib import Path

_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
Finder = Callable[[str], list[str]]


def _arrow_text(path: Path) -> str:
    """The rows of an Arrow file (datasets writes the stream format) or a Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        return str(pq.read_table(path).to_pylist())
    with pa.memory_map(str(path)) as source:
        try:
            return str(pa.ipc.open_stream(source).read_all().to_pylist())
        except pa.ArrowInvalid:
            return str(pa.ipc.open_file(source).read_all().to_pylist())


def readable_forms(path: Path) -> list[str]:
    """The file's bytes as text, plus each decoded form its format calls for."""
    raw = path.read_bytes().decode("utf-8", errors="replace")
    forms = [raw]
    if "\\u" in raw:
        forms.append(_JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw))
    if "&" in raw:
        forms.append(html.unescape(raw))
    if path.suffix in (".arrow", ".parquet"):
        forms.append(_arrow_text(path))
    return forms


def files_holding(root: Path, find: Finder, skip: Iterable[Path] = ()) -> dict[str, list[str]]:
    """file -> what `find` named in it, for every file under root (binary ones included)
    but the `skip` ones; files where it found nothing are left out."""
    skipped = {p.resolve() for p in skip}
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink() or path.resolve() in skipped:
            continue
        names = sorted({name for text in readable_forms(path) for name in find(text)})
        if names:
            found[str(path)] = names
    return found
