"""Per-batch work of ingest that runs in worker processes: redaction and dedupe fingerprints.

Every text that leaves ingest passes through here. Values the customer profile names (name,
email, phone, address...) are known PII: the redactor replaces them everywhere in the
conversation, numbered like its own detections, and the profile keeps only placeholders.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any

from feedback.ingest.config import IngestConfig
from feedback.ingest.dedupe import content_hash, conversation_text, minhash_signature
from feedback.pii import PiiRedactor
from supportloop.errors import UserError

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
    """(value, entity) for each string under a PII key, at any depth of the profile."""
    found: list[tuple[str, str]] = []
    if isinstance(profile, dict):
        for child_key, value in profile.items():
            inherited = child_key if child_key in keys else key
            found += profile_values(value, keys, inherited)
    elif isinstance(profile, list):
        for value in profile:
            found += profile_values(value, keys, key)
    elif (
        key is not None and isinstance(profile, str | int) and len(str(profile)) >= _MIN_KNOWN_VALUE
    ):
        found.append((str(profile), _PROFILE_ENTITY.get(key, "ADDRESS")))
    return found


def mask_profile(profile: Any, keys: set[str], key: str | None = None) -> Any:
    """The profile with every value under a PII key replaced by its placeholder."""
    if isinstance(profile, dict):
        return {
            child: mask_profile(value, keys, child if child in keys else key)
            for child, value in profile.items()
        }
    if isinstance(profile, list):
        return [mask_profile(value, keys, key) for value in profile]
    if key is not None and profile not in (None, ""):
        return f"<{_PROFILE_ENTITY.get(key, 'ADDRESS')}>"
    return profile


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
        texts = [[m["content"] for m in row["messages"]] for row in rows]
        known = []
        for row in rows:
            profile = json.loads(row["context"]["customer_profile"])
            known.append(profile_values(profile, self.keys))
            masked = mask_profile(profile, self.keys)
            row["context"]["customer_profile"] = json.dumps(masked, sort_keys=True)
        redacted = (
            self.redactor.redact_conversations(texts, known)
            if self.redactor is not None
            else [(t, Counter()) for t in texts]
        )
        results = []
        for row, (texts, counts), (digest, signature) in zip(
            rows, redacted, fingerprints, strict=True
        ):
            for message, text in zip(row["messages"], texts, strict=True):
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
