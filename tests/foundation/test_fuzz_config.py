"""Fuzzing the config loader (issue #13, bad input): any YAML file and any `key=value`
overrides either load into the stage's model or raise ConfigError, whose lines each name the
file or the override at fault; never a traceback of another exception type.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from supportloop.commands.run import PipelineConfig
from supportloop.config import (
    ConfigError,
    apply_overrides,
    load_config,
    project_root,
    read_yaml,
    validate_config,
)
from supportloop.eval.config import EvalConfig
from supportloop.feedback.argilla.settings import ArgillaConfig
from supportloop.feedback.ingest.config import IngestConfig
from supportloop.feedback.preferences.config import PreferencesConfig
from supportloop.training.recipes import Recipe
from tests.helpers import FUZZ

ROOT = project_root(Path(__file__).parent)
SHIPPED: dict[str, type[BaseModel]] = {
    "configs/ingest/demo.yaml": IngestConfig,
    "configs/argilla/default.yaml": ArgillaConfig,
    "configs/preferences/default.yaml": PreferencesConfig,
    "configs/eval/retail.yaml": EvalConfig,
    "configs/pipeline/demo.yaml": PipelineConfig,
    "configs/train/dpo.yaml": Recipe,
}


def dotted_keys(data: Any, prefix: str = "") -> list[str]:
    """Every key path of a loaded YAML document, `inputs.0.path` style."""
    items = data.items() if isinstance(data, dict) else enumerate(data)
    keys = []
    for key, value in items:
        path = f"{prefix}{key}"
        keys.append(path)
        if isinstance(value, dict | list) and value:
            keys += dotted_keys(value, f"{path}.")
    return keys


@contextmanager
def loads_or_says_why(source: Path) -> Iterator[None]:
    """Only ConfigError may escape, each of its lines naming the file or the override."""
    try:
        yield
    except ConfigError as exc:
        lines = str(exc).split("\n")
        assert all(line.startswith((str(source), "override ")) for line in lines), str(exc)


# -- strategies ---------------------------------------------------------------------------------

YAML_CHARS = st.sampled_from(list(":-[]{}!&*#|>'\"%@`?,. \t\n0123456789aeZ\\")) | st.characters(
    codec="utf-8"
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=10)
    | st.dates()
    | st.datetimes()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
# Texts YAML gives a meaning no small generated value reaches: its loader's constructors raise
# ValueError or TypeError for them. (Nesting past the recursion limit is an explicit example:
# PyYAML takes ~60 ms to get there.)
EDGE_VALUES = st.sampled_from(
    [
        "2020-13-01",
        "!!int x",
        "!!float x",
        "!!timestamp x",
        "!!binary ?",
        "!!python/object:os.system x",
        "&a [*a]",
        "\x00",
        "a: b: c",
    ]
)
YAML_SNIPPETS = (
    st.text(YAML_CHARS, max_size=30) | EDGE_VALUES | VALUES.map(lambda v: yaml.safe_dump(v).strip())
)
SHIPPED_DATA = {name: read_yaml(ROOT / name) for name in SHIPPED}
SHIPPED_KEYS = {name: dotted_keys(data) for name, data in SHIPPED_DATA.items()}
INGEST_KEYS = SHIPPED_KEYS["configs/ingest/demo.yaml"]
INGEST_TEXT = (ROOT / "configs/ingest/demo.yaml").read_text()


@st.composite
def yaml_files(draw: st.DrawFn) -> bytes:
    """An ingest config as a YAML document of generated values, a shipped one with text spliced
    in, any text in YAML's punctuation, or bytes that may not be UTF-8."""
    kind = draw(st.sampled_from(["document", "spliced", "text", "bytes"]))
    if kind == "document":
        keys = st.sampled_from([k for k in INGEST_KEYS if "." not in k]) | st.text(max_size=8)
        return yaml.safe_dump(draw(st.dictionaries(keys, VALUES, max_size=6))).encode()
    if kind == "spliced":
        at = draw(st.integers(0, len(INGEST_TEXT)))
        return (INGEST_TEXT[:at] + draw(YAML_SNIPPETS) + INGEST_TEXT[at:]).encode()
    if kind == "text":
        return draw(st.text(YAML_CHARS, max_size=80) | EDGE_VALUES).encode()
    return draw(st.binary(max_size=60))


def overrides(keys: list[str]) -> st.SearchStrategy[list[str]]:
    """`key=value` items: the config's own key paths (plus list indexes past the end, digits
    that are not ASCII, made-up keys) set to any YAML; and items without `=`."""
    key = (
        st.sampled_from(keys)
        | st.tuples(st.sampled_from(keys), st.sampled_from(["0", "9", "²", "x", ""])).map(".".join)
        | st.text(YAML_CHARS, max_size=12)
    )
    item = st.tuples(key, YAML_SNIPPETS).map("=".join) | st.text(YAML_CHARS, max_size=12)
    return st.lists(item, max_size=3)


# -- tests ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file rewritten by every example (pytest's tmp_path would be shared by them anyway)."""
    return tmp_path_factory.mktemp("fuzz-config") / "ingest.yaml"


@pytest.mark.slow
@settings(FUZZ, max_examples=2800)
@given(content=yaml_files(), items=overrides(INGEST_KEYS))
@example(content=b"max_message_chars: 2020-13-01\n", items=[])  # ValueError from PyYAML
@example(content=b"batch_size: !!int x\n", items=[])  # ValueError
@example(content=b"batch_size: !!timestamp x\n", items=[])  # AttributeError
@example(content=b"[" * 600, items=[])  # RecursionError
@example(content=b"caf\xe9: 1\n", items=[])  # UnicodeDecodeError
@example(content=b"a: \x00\n", items=[])  # the YAML message ran over several lines
@example(content=b"{}", items=["batch_size=["])  # an override's YAML error
@example(content=b"{}", items=["batch_size=" + "[" * 600])  # RecursionError
@example(content=b"{}", items=["inputs.\xb2.path=a"])  # '²'.isdigit(), yet int('²') fails
@example(content=b"? 'a\n\n  b'\n: null\n", items=[])  # a key with a line break
def test_any_yaml_and_overrides_load_or_raise_a_config_error(
    config_path: Path, content: bytes, items: list[str]
) -> None:
    """The whole loader on the ingest config: generated files, then generated overrides."""
    config_path.write_bytes(content)
    with loads_or_says_why(config_path):
        load_config(IngestConfig, config_path, items)


@pytest.mark.slow
@pytest.mark.parametrize("shipped", sorted(SHIPPED))
@settings(FUZZ, max_examples=1200)
@given(data=st.data())
def test_overrides_of_shipped_configs_load_or_raise_a_config_error(
    shipped: str, data: st.DataObject
) -> None:
    """Each stage's shipped config with generated overrides of its own keys: what load_config
    does after reading the file, on the file read once (PyYAML takes most of a load's time)."""
    items = data.draw(overrides(SHIPPED_KEYS[shipped]))
    with loads_or_says_why(ROOT / shipped):
        config = apply_overrides(copy.deepcopy(SHIPPED_DATA[shipped]), items)
        validate_config(SHIPPED[shipped], config, str(ROOT / shipped), root=ROOT)
