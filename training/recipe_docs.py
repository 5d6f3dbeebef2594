"""Reference tables of docs/recipes.md, generated from the recipe models and the registry.

The field descriptions live on the pydantic models (supportloop.training.recipes) and the algorithms
in supportloop.training.algorithms; this writes both between marker comments so the docs cannot
drift:

    python -m supportloop.training.recipe_docs          # rewrite docs/recipes.md
    python -m supportloop.training.recipe_docs --check  # exit 1 when it is stale (tests do this)
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from supportloop.training.algorithms import ALGORITHMS, FORMATS, AlgorithmSpec
from supportloop.training.recipes import Recipe

DOCS = Path(__file__).resolve().parents[1] / "docs" / "recipes.md"
BEGIN = "<!-- BEGIN GENERATED: {name} (python -m supportloop.training.recipe_docs) -->"
END = "<!-- END GENERATED: {name} -->"


def _code(value: Any) -> str:
    return f"`{json.dumps(value) if not isinstance(value, str) else value}`"


def _type(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    """A short human type for a JSON-schema node: `int > 0`, `"nf4" | "fp4"`, `str | null`."""
    if "anyOf" in schema:
        return " \\| ".join(_type(option, defs) for option in schema["anyOf"])
    if "$ref" in schema:
        return "section"
    if "enum" in schema:
        return " \\| ".join(_code(value) for value in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list[{_type(schema.get('items', {}), defs)}]"
    if kind == "object":
        return "mapping"
    name = {"string": "path" if schema.get("format") == "path" else "str", "integer": "int"}
    text = {"number": "float", "boolean": "bool"}.get(kind, name.get(kind, kind))
    bounds = [
        f"{sign} {schema[key]}"
        for key, sign in (
            ("exclusiveMinimum", ">"),
            ("minimum", ">="),
            ("exclusiveMaximum", "<"),
            ("maximum", "<="),
        )
        if key in schema
    ]
    return " ".join([text, ", ".join(bounds)]) if bounds else text


def _sections(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(dotted prefix, object schema) for the recipe and each nested section, depth first."""
    defs = schema.get("$defs", {})
    found = [("", schema)]
    for key, field in schema["properties"].items():
        refs = [field, *field.get("anyOf", [])]
        for ref in (node["$ref"] for node in refs if "$ref" in node):
            inner = defs[ref.rsplit("/", 1)[-1]]
            for prefix, section in _sections({**inner, "$defs": defs}):
                found.append((f"{key}.{prefix}" if prefix else f"{key}.", section))
    return found


def fields_table() -> str:
    """One table per section: key, type, default, description."""
    schema = Recipe.model_json_schema()
    defs = schema.get("$defs", {})
    parts = []
    for prefix, section in _sections(schema):
        title = f"`{prefix.rstrip('.')}`" if prefix else "top level"
        parts.append(f"**{title}**: {section.get('description', '')}\n")
        parts.append("| key | type | default | description |\n| --- | --- | --- | --- |")
        required = set(section.get("required", []))
        for key, field in section["properties"].items():
            nested = "$ref" in field or any("$ref" in o for o in field.get("anyOf", []))
            if key in required:
                default = "required"
            elif nested and field.get("default") is not None:
                default = f"see `{prefix}{key}`"
            else:  # a default_factory leaves no default in the schema: trainer's {}
                default = _code(field.get("default", {} if field.get("type") == "object" else None))
            kind = _type(field, defs)
            row = [f"`{prefix}{key}`", kind, default, field.get("description", "")]
            parts.append("| " + " | ".join(row) + " |")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def _algorithm_row(spec: AlgorithmSpec) -> str:
    classes = f"`{spec.config.split(':')[-1]}` / `{spec.trainer.split(':')[-1]}`"
    data = " or ".join(f"{name} `{{{', '.join(FORMATS[name])}}}`" for name in spec.formats)
    if spec.reads:
        data = f"any dataset with `{', '.join(spec.reads)}`"
    runs = f"`{spec.venv}` ({spec.note})" if spec.venv else "main environment"
    reward = "yes" if spec.needs_reward else "no"
    adapter = {"SEQ_CLS": "sequence classification"}.get(spec.task_type, "causal LM")
    return f"| `{spec.name}` | {classes} | {data} | {reward} | {adapter} | {runs} |"


def algorithms_table() -> str:
    """One row per registered algorithm (supportloop.training.algorithms)."""
    head = "| algorithm | TRL config / trainer | data | reward model | adapter | runs in |"
    rows = [head, "| --- | --- | --- | --- | --- | --- |"]
    rows += [_algorithm_row(spec) for spec in ALGORITHMS.values()]
    return "\n".join(rows) + "\n"


BLOCKS = {"algorithms": algorithms_table, "recipe fields": fields_table}


def render(text: str) -> str:
    """`text` with every generated block replaced by its current content."""
    for name, make in BLOCKS.items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.DOTALL)
        found = pattern.search(text)
        if not found:
            raise ValueError(f"{DOCS}: markers for {name!r} not found ({begin})")
        text = f"{text[: found.start()]}{begin}\n{make()}{end}{text[found.end() :]}"
    return text


def main(argv: list[str]) -> int:
    """Rewrite the docs, or with --check report whether they are current."""
    current = DOCS.read_text(encoding="utf-8")
    fresh = render(current)
    if "--check" in argv:
        if fresh != current:
            print(
                f"{DOCS} is stale: run `python -m supportloop.training.recipe_docs`",
                file=sys.stderr,
            )
            return 1
        return 0
    DOCS.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
