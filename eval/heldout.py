"""Held-out prompts for the win rate, kept apart from everything the preferences came from.

Prompts come from an ingest conversations dataset (each conversation's judged assistant turn,
its prompt built as push built the training prompts) or from the eval suite's scenario
openings (built as the harness prompts the model), so a model is judged on the prompt it was
trained with. A prompt overlaps the preferences when its conversation, its customer (a repeat
contact repeats the opening) or its opening (nearly the same words: tau2 has tasks with the
same instructions) is one a preference row came from: `drop_overlapping` drops and counts
those, `assert_held_out` refuses a prompt set that has any.
"""

from __future__ import annotations

import gc
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supportloop.config import project_root
from supportloop.errors import UserError
from supportloop.eval.harness import opening_prompt, select_docs
from supportloop.eval.suites import Suite
from supportloop.feedback.assistant_prompt import Message, PromptSettings
from supportloop.runs import load_dataset_artifact

if TYPE_CHECKING:
    from supportloop.eval.config import ModelSpec
    from supportloop.models.sampling import SamplingConfig

_CONTENT_WORD = re.compile(r"[a-z0-9]{3,}")
_STOPWORDS = frozenset(
    {
        "the", "and", "for", "with", "that", "this", "was", "have", "has", "had", "not",
        "but", "you", "your", "are", "can", "will", "would", "could", "from", "they", "them",
        "their", "what", "when", "where", "which", "who", "why", "how", "all", "any", "its",
        "our", "out", "get", "got", "been", "did", "does", "just", "about", "there", "then",
        "than", "also",
    }
)  # fmt: skip
MIN_OPENING_WORDS = 5
"""Openings shorter than this (in content words) overlap only when their words are the same."""


class HeldOutOverlapError(UserError):
    """Held-out prompts that share a conversation, customer or opening with the preferences."""


@dataclass(frozen=True)
class HeldOutPrompt:
    """One prompt both models answer; `docs` are the retrieved passages the gold judge reads."""

    prompt_id: str
    messages: list[Message]
    docs: list[dict[str, str]] = field(default_factory=list)
    conversation_id: str | None = None
    customer_id: str | None = None

    @property
    def opening(self) -> str:
        return first_user_message(self.messages)


def first_user_message(messages: Sequence[Mapping[str, Any]]) -> str:
    return next((m["content"] or "" for m in messages if m["role"] == "user"), "")


def opening_words(text: str) -> frozenset[str]:
    return frozenset(_CONTENT_WORD.findall(text.lower())) - _STOPWORDS


def prompts_from_conversations(
    conversations: Iterable[Mapping[str, Any]], turns: str = "last"
) -> list[HeldOutPrompt]:
    """The judged turns of logged conversations (`turns`: last | all), prompted as push does."""
    from supportloop.feedback.argilla.push import judged_turns

    prompts = []
    for turn in judged_turns(conversations, turns):
        conv = turn.conversation
        prompts.append(
            HeldOutPrompt(
                prompt_id=f"{conv['conversation_id']}:{turn.turn_index}",
                messages=turn.prompt,
                docs=list((conv.get("context") or {}).get("retrieved_docs") or []),
                conversation_id=conv["conversation_id"],
                customer_id=conv.get("customer_id"),
            )
        )
    return prompts


def prompts_from_suite(suite: Suite, settings: PromptSettings) -> list[HeldOutPrompt]:
    """The openings of the suite's scenarios (injection scenarios left out), prompted as the
    harness prompts the model's first turn."""
    return [
        HeldOutPrompt(
            prompt_id=s.scenario_id,
            messages=opening_prompt(s, settings),
            docs=select_docs(s, settings),
        )
        for s in suite.scenarios
        if s.injection is None
    ]


@dataclass
class PreferenceSources:
    """Where preference rows came from: their conversations, customers and openings."""

    conversation_ids: set[str] = field(default_factory=set)
    customer_ids: set[str] = field(default_factory=set)
    openings: set[frozenset[str]] = field(default_factory=set)
    paths: list[str] = field(default_factory=list)

    def add_row(self, conversation_id: str | None, customer_id: str | None, opening: str) -> None:
        if conversation_id:
            self.conversation_ids.add(conversation_id)
        if customer_id:
            self.customer_ids.add(customer_id)
        words = opening_words(opening)
        if words:
            self.openings.add(words)


def _dataset_dirs(path: Path) -> list[Path]:
    """A saved dataset, or every dataset in a preferences run directory."""
    if (path / "dataset_dict.json").is_file() or (path / "dataset_info.json").is_file():
        return [path]
    found = (
        sorted(p for p in path.iterdir() if p.is_dir() and (p / "dataset_dict.json").is_file())
        if path.is_dir()
        else []
    )
    if not found:
        raise HeldOutOverlapError(f"{path}: neither a preference dataset nor a preferences run")
    return found


def preference_sources(
    paths: Iterable[Path], exclude_conversations: Iterable[str] = ()
) -> PreferenceSources:
    """Conversations, customers and openings of every row of the given preference datasets
    (all splits), plus conversations excluded by id."""
    from datasets import DatasetDict

    sources = PreferenceSources(conversation_ids=set(exclude_conversations))
    for path in paths:
        for directory in _dataset_dirs(Path(path)):
            loaded = load_dataset_artifact(directory)
            splits = loaded.values() if isinstance(loaded, DatasetDict) else [loaded]
            for split in splits:
                column = "prompt" if "prompt" in split.column_names else "messages"
                customers = (
                    split["customer_id"]
                    if "customer_id" in split.column_names
                    else [None] * split.num_rows
                )
                for conversation_id, customer_id, messages in zip(
                    split["conversation_id"], customers, split[column], strict=True
                ):
                    sources.add_row(conversation_id, customer_id, first_user_message(messages))
            sources.paths.append(str(directory))
    return sources


def training_data(adapter: Path | None) -> Path | None:
    """The preference dataset an adapter was trained on (its `training_summary.json`), if any."""
    if adapter is None or not (Path(adapter) / "training_summary.json").is_file():
        return None
    summary = json.loads((Path(adapter) / "training_summary.json").read_text(encoding="utf-8"))
    path = Path(summary["data"]["path"])
    path = path if path.is_absolute() else project_root() / path
    if not path.exists():
        raise HeldOutOverlapError(
            f"{adapter} was trained on {path}, which is gone: held-out prompts cannot be "
            "checked against it (pass the preference dataset in win_rate.preferences)"
        )
    return path


def _near(words: frozenset[str], other: frozenset[str], threshold: float) -> bool:
    """Overlap coefficient |A & B| / min(|A|, |B|) at or above `threshold` (a repeat contact's
    prefix, a longer or shorter cut of the same instructions); short openings must be equal."""
    smaller = min(len(words), len(other))
    if smaller < MIN_OPENING_WORDS:
        return words == other
    return len(words & other) / smaller >= threshold


def overlap_reason(
    prompt: HeldOutPrompt, sources: PreferenceSources, by_customer: bool, threshold: float
) -> str | None:
    """Why the prompt is not held out ("conversation", "customer", "opening"), or None."""
    if prompt.conversation_id and prompt.conversation_id in sources.conversation_ids:
        return "conversation"
    if by_customer and prompt.customer_id and prompt.customer_id in sources.customer_ids:
        return "customer"
    words = opening_words(prompt.opening)
    if words and any(_near(words, other, threshold) for other in sources.openings):
        return "opening"
    return None


def drop_overlapping(
    prompts: Sequence[HeldOutPrompt],
    sources: PreferenceSources,
    by_customer: bool = True,
    threshold: float = 0.8,
) -> tuple[list[HeldOutPrompt], dict[str, int]]:
    """The prompts that are held out, and how many were dropped for each reason."""
    kept, dropped = [], Counter()
    for prompt in prompts:
        reason = overlap_reason(prompt, sources, by_customer, threshold)
        if reason is None:
            kept.append(prompt)
        else:
            dropped[reason] += 1
    return kept, dict(dropped)


def assert_held_out(
    prompts: Sequence[HeldOutPrompt],
    sources: PreferenceSources,
    by_customer: bool = True,
    threshold: float = 0.8,
) -> None:
    """Refuse a prompt set that shares anything with the preferences (names the first few)."""
    found = [
        (p.prompt_id, reason)
        for p in prompts
        if (reason := overlap_reason(p, sources, by_customer, threshold)) is not None
    ]
    if found:
        shown = ", ".join(f"{pid} ({reason})" for pid, reason in found[:5])
        raise HeldOutOverlapError(
            f"{len(found)} of {len(prompts)} held-out prompts overlap the preferences: {shown}"
        )


def model_replies(
    spec: ModelSpec, prompts: Sequence[Sequence[Message]], sampling: SamplingConfig
) -> list[str]:
    """One reply per prompt from a model spec (base + adapter), generated in batches by the
    backend `sampling.backend` resolves to (`supportloop.models.generate.load_generator`); the
    model is freed afterwards. Two specs given the same prompts and sampling get the same
    batches and seed: a paired comparison."""
    from supportloop.models.generate import load_generator

    generator = load_generator(spec.name, spec.adapter, sampling)
    try:
        return [r[0] for r in generator.replies([list(p) for p in prompts], 1, sampling)]
    finally:
        generator.close()
        del generator
        gc.collect()
