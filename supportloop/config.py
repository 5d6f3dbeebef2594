"""YAML configs with dotted `key=value` overrides, validated by pydantic models.

Every stage describes its config as a `StrictModel`; `load_config` reads the YAML, applies the
command-line overrides and validates. Errors name the file, the dotted key and what was
expected, in one line per problem, so a typo in a recipe never becomes a silent default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, ValidationInfo

from supportloop.errors import UserError, one_line

ModelT = TypeVar("ModelT", bound=BaseModel)


class ConfigError(UserError):
    """A config that cannot be used; the message is meant to be shown as is."""


class StrictModel(BaseModel):
    """Base for config sections: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def project_root(start: Path | None = None) -> Path:
    """The directory holding `pyproject.toml` above `start` (or the cwd); paths resolve from it."""
    here = (start or Path.cwd()).resolve()
    for candidate in [here, *here.parents]:
        if (candidate / "pyproject.toml").is_file() and (candidate / "configs").is_dir():
            return candidate
    return Path.cwd().resolve()


def _resolve_project_path(value: Path, info: ValidationInfo) -> Path:
    if value.is_absolute():
        return value
    root = (info.context or {}).get("root") or project_root()
    return (Path(root) / value).resolve()


ProjectPath = Annotated[Path, AfterValidator(_resolve_project_path)]
"""A path in a config: absolute, or relative to the project root (not to the cwd)."""


def _load_yaml(text: str, where: str) -> Any:
    """`yaml.safe_load`, every failure a one-line ConfigError at `where` (a file or an override).

    Besides YAMLError, PyYAML's constructors raise ValueError or TypeError for some tagged or
    date-like scalars (`2020-13-01`, `!!int x`), and deep nesting exhausts the recursion limit.
    """
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc) or type(exc).__name__
        raise ConfigError(f"{where}:{line} invalid YAML: {problem.splitlines()[0]}") from None
    except RecursionError:
        raise ConfigError(f"{where}: invalid YAML: nested too deeply") from None
    except Exception as exc:
        raise ConfigError(f"{where}: invalid YAML: {one_line(exc)}") from None


def parse_override(item: str) -> tuple[list[str], Any]:
    """`trainer.learning_rate=5e-5` -> (["trainer", "learning_rate"], 5e-05); YAML typing rules."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {item!r}: expected key=value (e.g. trainer.max_steps=10)")
    value = _load_yaml(raw, f"override {item!r}") if raw.strip() else ""
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set each dotted key in a (nested) dict; a number picks a list item (`inputs.0.path`).

    Missing (or null) sections are created; list items are not, so a wrong index is an
    error rather than a silently new item.
    """
    for item in overrides:
        keys, value = parse_override(item)
        node: dict[str, Any] | list[Any] = data
        for depth, key in enumerate(keys):
            slot = _slot(node, key, item, ".".join(keys[:depth]))
            if depth == len(keys) - 1:
                node[slot] = value
                break
            child = node.get(slot) if isinstance(node, dict) else node[slot]
            if child is None:
                child = node[slot] = {}
            if not isinstance(child, dict | list):
                where = ".".join(keys[: depth + 1])
                raise ConfigError(f"override {item!r}: {where} is a value, not a section or list")
            node = child
    return data


def _slot(node: dict[str, Any] | list[Any], key: str, item: str, where: str) -> str | int:
    """The dict key, or the list index, that `key` names in `node` (found at `where`)."""
    if isinstance(node, dict):
        return key
    if not (key.isascii() and key.isdigit()):  # '²'.isdigit(), but int('²') fails
        raise ConfigError(
            f"override {item!r}: {where} is a list: name an item by its index, e.g. {where}.0"
        )
    index = int(key)
    if index >= len(node):
        items = f"{len(node)} item" + ("" if len(node) == 1 else "s")
        raise ConfigError(f"override {item!r}: {where} has no item {index} ({items})")
    return index


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, turning every failure into a one-line ConfigError."""
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    data = _load_yaml(text, str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return data


def format_validation_error(source: str, exc: ValidationError) -> str:
    """One line per problem: `file: key a.b: expected ..., got ...`."""
    lines = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        key = key if key.isprintable() else repr(key)  # a YAML key may hold a line break
        if err["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key {key}")
            continue
        got = err.get("input")
        shown = "" if isinstance(got, dict) or err["type"] == "missing" else f" (got {got!r})"
        lines.append(f"{source}: key {key}: {err['msg']}{shown}")
    return "\n".join(lines)


def validate_config(
    model: type[ModelT], data: dict[str, Any], source: str, root: Path | None = None
) -> ModelT:
    """Validate a mapping against `model`; relative paths resolve against `root`."""
    try:
        return model.model_validate(data, context={"root": root or project_root()})
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None


def load_config(model: type[ModelT], path: Path | str, overrides: list[str] = ()) -> ModelT:
    """Read `path`, apply `key=value` overrides, validate against `model`."""
    path = Path(path)
    data = apply_overrides(read_yaml(path), list(overrides))
    return validate_config(model, data, str(path), root=project_root(path.parent))


def dump_config(config: BaseModel) -> dict[str, Any]:
    """A JSON-ready dict of a config (paths as strings), for lineage and W&B."""
    return config.model_dump(mode="json")
