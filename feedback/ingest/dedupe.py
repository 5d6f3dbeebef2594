"""Logging duplicates: the same customer's conversation stored twice, exactly or nearly.

Exact duplicates compare a hash of the customer and the normalised messages; near duplicates
use MinHash over word shingles (datasketch), compared with the same customer's earlier
conversations; the index lives on disk (SQLite), not in memory. Both key on the customer,
because two customers asking the same short question are two contacts, not a logging fault.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from functools import cache
from pathlib import Path

import numpy as np
import xxhash
from datasketch import LeanMinHash, MinHash

from supportloop.feedback.ingest.config import DedupeConfig

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

    Shingles are hashed with xxh32 (faster than datasketch's default SHA-1, and as
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


def _scratch_database(path: Path | str) -> sqlite3.Connection:
    """A scratch SQLite database: no journal, no fsync (it is rebuilt if a run dies)."""
    db = sqlite3.connect(path)
    db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
    return db


class DuplicateIndex:
    """Remembers what was accepted; answers "is this a duplicate, and of what?".

    Kept in SQLite (a file in the run's scratch folder during ingest), so memory does not
    grow with the logs. Near duplicates are looked for among the same customer's earlier
    conversations only, so no LSH is needed; without a customer id only exact duplicates
    count (two anonymous contacts with the same question may be two customers)."""

    def __init__(self, config: DedupeConfig, path: Path | str = ":memory:") -> None:
        self.config = config
        self.db = _scratch_database(path)
        self.db.executescript(
            """
            CREATE TABLE exact (digest BLOB PRIMARY KEY, conversation_id TEXT) WITHOUT ROWID;
            CREATE TABLE near (customer TEXT, conversation_id TEXT, signature BLOB);
            CREATE INDEX near_by_customer ON near (customer);
            """
        )

    def check_and_add(
        self,
        conversation_id: str,
        customer_id: str | None,
        digest: bytes,
        signature: LeanMinHash | None,
    ) -> tuple[str, str, float] | None:
        """None for a new conversation (now indexed), else (kind, duplicate_of, similarity)."""
        exact = self.db.execute("SELECT conversation_id FROM exact WHERE digest = ?", (digest,))
        if (hit := exact.fetchone()) is not None:
            return "exact", hit[0], 1.0
        values = None
        if signature is not None and customer_id and self.config.near_duplicates:
            values = np.asarray(signature.hashvalues)
            best = None
            earlier = self.db.execute(
                "SELECT conversation_id, signature FROM near WHERE customer = ?", (customer_id,)
            )
            for other, blob in earlier:
                # the MinHash estimate of Jaccard similarity: the share of equal hash values
                similarity = float(np.mean(np.frombuffer(blob, dtype=values.dtype) == values))
                if similarity >= self.config.threshold and (best is None or similarity > best[1]):
                    best = (other, similarity)
            if best is not None:
                return "near", best[0], round(best[1], 4)
        self.db.execute("INSERT INTO exact VALUES (?, ?)", (digest, conversation_id))
        if values is not None:
            row = (customer_id, conversation_id, values.tobytes())
            self.db.execute("INSERT INTO near VALUES (?, ?, ?)", row)
        return None

    def close(self) -> None:
        self.db.close()


class SeenIds:
    """Where each conversation id was first read (for the duplicate-id quarantine reason);
    in SQLite like DuplicateIndex, so memory does not grow with the logs."""

    def __init__(self, path: Path | str = ":memory:") -> None:
        self.db = _scratch_database(path)
        self.db.execute("CREATE TABLE ids (id TEXT PRIMARY KEY, location TEXT) WITHOUT ROWID")

    def first_seen(self, conversation_id: str, location: str) -> str | None:
        """Where `conversation_id` was read before, or None (and it is now recorded here)."""
        row = self.db.execute("SELECT location FROM ids WHERE id = ?", (conversation_id,))
        if (hit := row.fetchone()) is not None:
            return hit[0]
        self.db.execute("INSERT INTO ids VALUES (?, ?)", (conversation_id, location))
        return None

    def close(self) -> None:
        self.db.close()
