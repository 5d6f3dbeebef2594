"""Logging duplicates: the same customer's conversation stored twice, exactly or nearly.

Exact duplicates compare a hash of the customer and the normalised messages; near duplicates
use MinHash over word shingles (datasketch LSH), so the index costs a few hundred bytes per
conversation, not the conversation itself. Both key on the customer, because two customers
asking the same short question are two contacts, not a logging fault.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache

import numpy as np
import xxhash
from datasketch import LeanMinHash, MinHash, MinHashLSH

from feedback.ingest.config import DedupeConfig

_WORD = re.compile(r"\w+")


def conversation_text(customer_id: str | None, messages: list[dict]) -> str:
    body = "\n".join(f"{m['role']}: {' '.join(m['content'].split()).casefold()}" for m in messages)
    return f"{customer_id or ''}\n{body}"


def content_hash(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def shingles(text: str, width: int) -> list[bytes]:
    words = _WORD.findall(text)
    if len(words) <= width:
        return [" ".join(words).encode()]
    return [" ".join(words[i : i + width]).encode() for i in range(len(words) - width + 1)]


@cache
def _permutations(num_perm: int) -> tuple[str, tuple[np.ndarray, np.ndarray]]:
    """The hash permutations of every signature in a run; drawing them from the seed again
    for each conversation cost more than hashing its shingles."""
    template = MinHash(num_perm=num_perm, seed=1)
    return template.scheme, template.permutations


def minhash_signature(text: str, config: DedupeConfig) -> LeanMinHash:
    """A lean (immutable, compact) signature: cheap to send back from a worker process.

    Shingles are hashed with xxh32 (3x faster than datasketch's default SHA-1, and as
    stable across processes, which Python's own `hash` is not)."""
    scheme, permutations = _permutations(config.num_perm)
    minhash = MinHash(
        num_perm=config.num_perm,
        seed=1,
        hashfunc=xxhash.xxh32_intdigest,
        permutations=permutations,
        scheme=scheme,
    )
    minhash.update_batch(shingles(text, config.shingle_words))
    return LeanMinHash(minhash)


class DuplicateIndex:
    """Remembers what was accepted; answers "is this a duplicate, and of what?"."""

    def __init__(self, config: DedupeConfig) -> None:
        self.config = config
        self._exact: dict[bytes, str] = {}
        self._lsh = (
            MinHashLSH(threshold=config.threshold, num_perm=config.num_perm)
            if config.near_duplicates
            else None
        )
        self._signatures: dict[str, tuple[str | None, LeanMinHash]] = {}

    def check_and_add(
        self,
        conversation_id: str,
        customer_id: str | None,
        digest: bytes,
        signature: LeanMinHash | None,
    ) -> tuple[str, str, float] | None:
        """None for a new conversation (now indexed), else (kind, duplicate_of, similarity)."""
        if digest in self._exact:
            return "exact", self._exact[digest], 1.0
        lean = signature if self._lsh is not None else None
        if lean is not None:
            best = None
            for other in self._lsh.query(lean):
                other_customer, other_signature = self._signatures[other]
                if other_customer != customer_id:
                    continue
                similarity = lean.jaccard(other_signature)
                if similarity >= self.config.threshold and (best is None or similarity > best[1]):
                    best = (other, similarity)
            if best is not None:
                return "near", best[0], round(float(best[1]), 4)
        self._exact[digest] = conversation_id
        if lean is not None:
            self._lsh.insert(conversation_id, lean)
            self._signatures[conversation_id] = (customer_id, lean)
        return None
