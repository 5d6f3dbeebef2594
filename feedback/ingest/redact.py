"""Per-batch work of ingest that runs in worker processes: redaction and dedupe fingerprints.

Every text that leaves ingest passes through here: the messages, and the free text of the
customer profile and of the metadata (read as more text of the conversation, so a name in an
agent's note is the same `<PERSON_1>` as in the chat). Values the customer profile names (name,
email, phone, address...) are known PII: the redactor replaces them everywhere in the
conversation, numbered like its own detections, and the profile keeps only placeholders, in
the conversation's numbering (the profile's email is the conversation's `<EMAIL_1>`), so an
annotator can match the two.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

from supportloop.errors import UserError
from supportloop.feedback.ingest.config import IngestConfig
from supportloop.feedback.ingest.dedupe import content_hash, conversation_text, minhash_signature
from supportloop.feedback.pii import PERSON, PiiRedactor, profile_placeholders

_PROFILE_ENTITY = {
    "name": "PERSON",
    "first_name": "PERSON",
    "last_name": "PERSON",
    "full_name": "PERSON",
    "email": "EMAIL",
    "phone": "PHONE",
    "zip": "ZIP_CODE",
}
_MIN_KNOWN_VALUE = 3  # shorter values (a state code, an initial) would erase ordinary words


def profile_values(profile: Any, keys: set[str], key: str | None = None) -> list[tuple[str, str]]:
    """(value, entity) for each value under a PII key, at any depth, in the order
    `mask_profile` fills placeholders in."""
    found: list[tuple[str, str]] = []
    if isinstance(profile, dict):
        for child_key, value in profile.items():
            inherited = child_key if child_key in keys else key
            found += profile_values(value, keys, inherited)
    elif isinstance(profile, list):
        for value in profile:
            found += profile_values(value, keys, key)
    elif key is not None and profile not in (None, ""):
        found.append((str(profile), _PROFILE_ENTITY.get(key, "ADDRESS")))
    return found


def full_names(profile: Any, keys: set[str]) -> list[tuple[str, str]]:
    """ "first last" of every first_name/last_name pair, as one PERSON value: numbered before
    its parts, both parts share its placeholder even when the conversation never names them."""
    found: list[tuple[str, str]] = []
    if isinstance(profile, dict):
        first, last = profile.get("first_name"), profile.get("last_name")
        if {"first_name", "last_name"} <= keys and isinstance(first, str) and isinstance(last, str):
            found.append((f"{first} {last}", PERSON))
        for value in profile.values():
            found += full_names(value, keys)
    elif isinstance(profile, list):
        for value in profile:
            found += full_names(value, keys)
    return found


def mask_profile(
    profile: Any, keys: set[str], placeholders: Iterator[str], key: str | None = None
) -> Any:
    """The profile with every value under a PII key replaced by the next of `placeholders`
    (one per `profile_values` entry, in its order)."""
    if isinstance(profile, dict):
        return {
            child: mask_profile(value, keys, placeholders, child if child in keys else key)
            for child, value in profile.items()
        }
    if isinstance(profile, list):
        return [mask_profile(value, keys, placeholders, key) for value in profile]
    if key is not None and profile not in (None, ""):
        return next(placeholders)
    return profile


def free_text(value: Any, skip: set[str]) -> list[str]:
    """Every string in a JSON value, depth first, but those under a `skip` key: the free
    text of metadata and profile fields (a logged agent note, a profile's `notes`), which
    the redactor reads as more text of the conversation."""
    if isinstance(value, dict):
        return [t for k, v in value.items() if k not in skip for t in free_text(v, skip)]
    if isinstance(value, list):
        return [t for v in value for t in free_text(v, skip)]
    return [value] if isinstance(value, str) else []


def with_free_text(value: Any, skip: set[str], texts: Iterator[str]) -> Any:
    """The value with each `free_text` string replaced by the next of `texts`, in order."""
    if isinstance(value, dict):
        return {k: v if k in skip else with_free_text(v, skip, texts) for k, v in value.items()}
    if isinstance(value, list):
        return [with_free_text(v, skip, texts) for v in value]
    return next(texts) if isinstance(value, str) else value


class BatchProcessor:
    """Redacts a batch of validated conversations and fingerprints them for dedupe."""

    def __init__(self, config: IngestConfig) -> None:
        self.config = config
        self.redactor = PiiRedactor(config.pii) if config.pii.enabled else None
        self.keys = set(config.profile_pii_keys)

    def __call__(self, rows: list[dict[str, Any]]) -> list[tuple[dict, bytes, Any, Counter]]:
        fingerprints = []
        for row in rows:
            text = conversation_text(row["customer_id"], row["messages"])
            signature = (
                minhash_signature(text, self.config.dedupe)
                if self.config.dedupe.near_duplicates
                else None
            )
            fingerprints.append((content_hash(text), signature))
        profiles = [json.loads(row["context"]["customer_profile"]) for row in rows]
        metadata = [json.loads(row["metadata"]) for row in rows]
        texts = [
            [m["content"] for m in row["messages"]]
            + free_text(profile, self.keys)
            + free_text(meta, set())
            for row, profile, meta in zip(rows, profiles, metadata, strict=True)
        ]
        names = [full_names(profile, self.keys) for profile in profiles]
        known = [
            n + profile_values(profile, self.keys)
            for n, profile in zip(names, profiles, strict=True)
        ]
        redacted = (
            self.redactor.redact_with_profiles(texts, known, _MIN_KNOWN_VALUE)
            if self.redactor is not None
            else [
                (t, Counter(), profile_placeholders(k)) for t, k in zip(texts, known, strict=True)
            ]
        )
        results = []
        for row, profile, meta, n, (texts, counts, placeholders), (digest, signature) in zip(
            rows, profiles, metadata, names, redacted, fingerprints, strict=True
        ):
            rest = iter(texts[len(row["messages"]) :])
            masked = mask_profile(profile, self.keys, iter(placeholders[len(n) :]))
            masked = with_free_text(masked, self.keys, rest)
            row["context"]["customer_profile"] = json.dumps(masked, sort_keys=True)
            row["metadata"] = json.dumps(with_free_text(meta, set(), rest), sort_keys=True)
            for message, text in zip(row["messages"], texts, strict=False):
                message["content"] = text
            results.append((row, digest, signature, counts))
        return results


class WorkerStartError(UserError):
    """A redaction worker could not build its redactor (e.g. the name model is missing)."""


_WORKER: BatchProcessor | None = None
_START_ERROR = "init_worker was not called"

# Optional imports presidio makes at import time that redaction never uses: its Hugging Face
# NER pipe (transformers) and thinc's torch support. Both catch the ImportError a None entry
# raises. Blocking them in a worker cuts its start from about 10 s to 3 s; only in spawned
# workers, which run nothing but redaction.
_UNUSED_IN_WORKERS = ("torch", "transformers")


def init_worker(config_json: str) -> None:
    """Pool initializer: build the (heavy) redactor once per worker process.

    A failure is kept and raised by the first task instead: an initializer that raises makes
    multiprocessing.Pool start replacement workers forever, and ingest would hang."""
    global _WORKER, _START_ERROR
    for module in _UNUSED_IN_WORKERS:
        sys.modules.setdefault(module, None)  # type: ignore[arg-type]
    try:
        _WORKER = BatchProcessor(IngestConfig.model_validate_json(config_json))
    except Exception as exc:  # reported to the parent by process_in_worker
        _START_ERROR = f"{type(exc).__name__}: {exc}"


def process_in_worker(rows: list[dict[str, Any]]) -> list[tuple[dict, bytes, Any, Counter]]:
    if _WORKER is None:
        raise WorkerStartError(f"a redaction worker could not start: {_START_ERROR}")
    return _WORKER(rows)
