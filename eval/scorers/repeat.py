"""Repeat-inquiry proxies for one simulated conversation, and the log rate from ingest.

A customer who has to ask again, or is asked again for what they already said, is the
customer who contacts support a second time; these proxies stand in for the repeat-contact
rate that only production logs can measure.
"""

from __future__ import annotations

from pathlib import Path

from supportloop.eval.harness import Conversation


def customer_repeats(conversation: Conversation) -> bool:
    """The simulator had to ask its question again (a reply did not address the issue)."""
    return any(m.get("kind") == "repeat" for m in conversation.messages)


def redundant_question(conversation: Conversation) -> bool:
    """The model asked for something the customer or the context had already given."""
    return any(m.get("redundant") for m in conversation.messages)


def unresolved_at_end(conversation: Conversation) -> bool:
    return not all(conversation.delivered)


def log_repeat_contact_rate(conversations_dir: Path, model_version: str | None) -> dict:
    """Share of logged conversations labelled `repeat_contact` by ingest (for one version)."""
    from supportloop.runs import load_dataset_artifact

    dataset = load_dataset_artifact(conversations_dir)
    if model_version is not None:
        dataset = dataset.filter(lambda row: row["model_version"] == model_version)
    # one list: a datasets column read item by item re-selects the table each time
    flags = dataset.select_columns(["repeat_contact"]).to_dict()["repeat_contact"]
    return {
        "model_version": model_version,
        "conversations": len(flags),
        "repeat_contact_rate": (sum(flags) / len(flags)) if flags else None,
    }
