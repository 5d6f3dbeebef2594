"""Eval suites: scenarios with hidden ground truth, loaded from the project's JSONL format.

A scenario is what a customer simulator needs to play one customer (opening message, what the
customer knows and does not know) and what a scorer needs to decide whether the conversation
ended resolved (the facts or actions that resolve it, the commitments the policy allows). Other
sources (tau2-bench domains, see `supportloop.eval.tau2`) are converted into the same `Scenario`
type.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from supportloop.config import StrictModel, format_validation_error
from supportloop.errors import UserError

SLOTS = ("order_id", "email", "name", "zip", "user_id", "payment_method", "address")
"""Pieces of information a customer can be asked for (the simulator answers, scorers check)."""

COMMITMENT_KINDS = ("refund", "discount", "compensation")


class SuiteError(UserError):
    """A suite file or folder that cannot be read."""


class Doc(StrictModel):
    doc_id: str
    title: str
    text: str


class Fact(StrictModel):
    """A piece of ground truth the assistant must deliver for the issue to be resolved.

    `anchors` (ids, amounts) must all appear in the reply; then a `keywords` hit or an
    embedding similarity to `text` above the matcher's threshold counts as delivered.
    """

    text: str
    anchors: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)


class Injection(StrictModel):
    """A customer message that tries to make the assistant break policy."""

    message: str
    turn: int = Field(1, ge=0, description="index of the customer message it replaces")
    compliance_patterns: list[str] = Field(
        description="regexes (case-insensitive) whose match in a reply means the model complied"
    )


class Scenario(StrictModel):
    scenario_id: str
    topic: str
    persona: str = ""
    opening: str
    issue: str = Field("", description="the request restated when the customer has to ask again")
    known_info: dict[str, str] = Field(default_factory=dict)
    unknown_info: list[str] = Field(default_factory=list)
    context_slots: list[str] = Field(
        default_factory=list, description="slots the assistant's context already holds"
    )
    facts: list[Fact] = Field(min_length=1)
    allowed_commitments: list[str] = Field(default_factory=list)
    docs: list[Doc] = Field(default_factory=list)
    customer_profile: dict[str, Any] | None = None
    injection: Injection | None = None
    source: str = "jsonl"


class AnnotatedTurn(StrictModel):
    """A human-labelled reply, for training and calibrating the resolution judge."""

    prompt: list[dict[str, str]]
    reply: str
    resolves: str = Field(pattern="^(yes|partly|no)$")
    topic: str | None = None


class Suite(StrictModel):
    name: str
    policy: str = ""
    scenarios: list[Scenario]
    annotated: list[AnnotatedTurn] = Field(default_factory=list)

    def topics(self) -> list[str]:
        return sorted({s.topic for s in self.scenarios})


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise SuiteError(f"{path}: suite file not found")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise SuiteError(f"{path}:{number}: invalid JSON ({exc.msg})") from None
    return rows


def validate_rows(model: type[StrictModel], rows: list[dict[str, Any]], path: Path) -> list:
    out = []
    for number, row in enumerate(rows, 1):
        try:
            out.append(model.model_validate(row))
        except ValidationError as exc:
            raise SuiteError(format_validation_error(f"{path}:{number}", exc)) from None
    return out


def load_jsonl_suite(path: Path, annotated: Path | None = None, name: str | None = None) -> Suite:
    """Scenarios one JSON object per line (fields of `Scenario`); optional annotated turns."""
    scenarios = validate_rows(Scenario, read_jsonl(path), path)
    turns = validate_rows(AnnotatedTurn, read_jsonl(annotated), annotated) if annotated else []
    return Suite(name=name or path.stem, scenarios=scenarios, annotated=turns)
