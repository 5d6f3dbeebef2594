"""PII redaction for ingest: typed placeholders, stable within a conversation, counts per type.

Detection: presidio pattern recognizers for cards (Luhn), IBANs (mod-97), emails, phones,
SSNs and IPs (`supportloop.feedback.pii_patterns`), and person names from the Rampart ONNX model
(`supportloop.feedback.pii_names`), run batched over all messages of a batch of conversations.

Placeholders are `<TYPE_n>`, e.g. `<PERSON_1>`, `<EMAIL_1>`, `<PERSON_2>`: `n` numbers the
distinct values of that type in order of first appearance in the conversation, so the same
value always gets the same placeholder within a conversation and different values stay
distinguishable (numbering restarts in every conversation; nothing links conversations).
Values are compared normalised: digits only for cards, SSNs and phones (so "4111 1111..." and
"4111-1111-..." are one card), upper-case alphanumerics for IBANs, case-folded for emails and
names. A value detected anywhere in a conversation is replaced everywhere in it (case-
sensitive, whole words), because assistants repeat what customers write; a person's single
name parts ("Maria" of "Maria Gonzalez") are replaced too and share its number. Values the
caller already knows (profile fields) are matched in any case and numbered the same way;
`redact_with_profiles` also returns their placeholders, so the profile reads `<EMAIL_1>` too.
Counts are replaced occurrences per entity type.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from supportloop.config import StrictModel
from supportloop.feedback.pii_names import COMMON_WORDS

PatternEntity = Literal["CREDIT_CARD", "IBAN", "EMAIL", "PHONE", "US_SSN", "IP_ADDRESS"]
PATTERN_ENTITIES: tuple[str, ...] = (
    "CREDIT_CARD",
    "IBAN",
    "EMAIL",
    "PHONE",
    "US_SSN",
    "IP_ADDRESS",
)
PERSON = "PERSON"
PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*?)_(\d+)>")
KNOWN_SCORE = 2.0  # known values outrank any detection score (at most 1.0)


class PiiConfig(StrictModel):
    """What to redact and how hard to look; the `pii` section of the ingest config."""

    enabled: bool = True
    entities: list[PatternEntity] = Field(
        default_factory=lambda: list(PATTERN_ENTITIES),
        description="Pattern entities to redact (presidio recognizers).",
    )
    person_names: bool = Field(True, description="Redact person names with the Rampart model.")
    name_threshold: float = Field(
        0.7, ge=0.0, le=1.0, description="Confidence a snippet needs in at least one name token."
    )
    name_prefilter: bool = Field(
        True,
        description="Run the name model only around capitalised uncommon words (fast); "
        "false runs it on whole messages (much slower, catches lower-case names).",
    )
    name_context_words: int = Field(4, ge=1, le=64, description="Words either side of a candidate.")
    name_settle_after: int = Field(
        3,
        ge=0,
        description="After this many conversations with the same confident model verdict on a "
        "word, trust it without the model (0: always ask the model).",
    )
    name_allowlist: list[str] = Field(
        default_factory=list,
        description="Words never redacted as names: your brands and products (the model takes "
        "some for names, e.g. 'Philips Hue').",
    )
    name_batch_size: int = Field(64, ge=1, le=1024)
    name_threads: int = Field(1, ge=1, description="onnxruntime threads (1 per ingest process).")
    name_cache_size: int = Field(50_000, ge=0, description="Snippets whose result is remembered.")
    phone_regions: list[str] = Field(
        default_factory=lambda: ["US", "GB", "DE", "FR"],
        description="Regions for national phone formats (international +.. is always found).",
    )
    score_threshold: float = Field(
        0.35, ge=0.0, le=1.0, description="Min. presidio score (validated card/IBAN/email = 1)."
    )


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    entity: str
    score: float


def _key(entity: str, value: str) -> str:
    """The identity of a value: two spellings of one card/phone/IBAN/name are one value."""
    if entity in ("CREDIT_CARD", "US_SSN", "PHONE"):
        return "".join(ch for ch in value if ch.isdigit())
    if entity == "IBAN":
        return "".join(ch for ch in value if ch.isalnum()).upper()
    return " ".join(value.casefold().split())


class PiiRedactor:
    """Redacts batches of conversations; one instance per process (holds the ONNX session)."""

    def __init__(self, config: PiiConfig | None = None):
        self.config = config or PiiConfig()
        self.patterns = None
        self.names = None
        if not self.config.enabled:
            return
        if self.config.entities:
            from supportloop.feedback.pii_patterns import PatternDetector

            self.patterns = PatternDetector(
                list(dict.fromkeys(self.config.entities)),
                self.config.phone_regions,
                self.config.score_threshold,
            )
        if self.config.person_names:
            from supportloop.feedback.pii_names import RampartNames

            self.names = RampartNames(
                threshold=self.config.name_threshold,
                batch_size=self.config.name_batch_size,
                context_words=self.config.name_context_words,
                prefilter=self.config.name_prefilter,
                settle_after=self.config.name_settle_after,
                allow=self.config.name_allowlist,
                cache_size=self.config.name_cache_size,
                threads=self.config.name_threads,
            )

    def redact_conversations(
        self, batch: list[list[str]], known: list[list[tuple[str, str]]] | None = None
    ) -> list[tuple[list[str], Counter]]:
        """Redacted message texts and per-entity replacement counts, per conversation.

        `known` (optional, per conversation): (value, entity) pairs already known to be PII,
        e.g. from the customer profile; they are replaced like detections (any case, whole
        words) and share their numbering, so a profile name and the same name found by the
        model are one `<PERSON_1>`. Entities may be any name (`ZIP_CODE`, `ADDRESS`...).
        """
        return [(texts, counts) for texts, counts, _ in self.redact_with_profiles(batch, known)]

    def redact_with_profiles(
        self,
        batch: list[list[str]],
        known: list[list[tuple[str, str]]] | None = None,
        min_known_chars: int = 1,
    ) -> list[tuple[list[str], Counter, list[str]]]:
        """`redact_conversations`, plus the placeholder of each known value in the
        conversation's own numbering, so a profile shown beside the conversation names the
        same `<EMAIL_1>`; values the conversation never mentions take the next numbers.
        Values shorter than `min_known_chars` are numbered but not searched for in the texts
        (a state code or an initial would erase ordinary words)."""
        known = known or [[] for _ in batch]
        searched = [[(v, e) for v, e in values if len(v) >= min_known_chars] for values in known]
        if self.patterns is None and self.names is None and not any(searched):
            return [
                (list(texts), Counter(), profile_placeholders(k))
                for texts, k in zip(batch, known, strict=True)
            ]
        flat = [text for texts in batch for text in texts]
        found: list[list[_Found]] = [[] for _ in flat]
        if self.patterns is not None:
            for i, text in enumerate(flat):
                found[i] = [
                    _Found(r.start, r.end, r.entity_type, r.score)
                    for r in self.patterns.detect(text)
                ]
        if self.names is not None:
            names = [spans for conv in self.names.detect_conversations(batch) for spans in conv]
            for i, spans in enumerate(names):
                found[i].extend(_Found(s, e, PERSON, p) for s, e, p in spans)
        out, i = [], 0
        for texts, values, search in zip(batch, known, searched, strict=True):
            for k, text in enumerate(texts):
                found[i + k] += _known_in(text, search)
            numbering = _Numbering()
            redacted, counts = _redact_conversation(texts, found[i : i + len(texts)], numbering)
            out.append((redacted, counts, [numbering.placeholder(e, v) for v, e in values]))
            i += len(texts)
        return out

    def stats(self) -> dict[str, int]:
        """Work counters (messages analysed by presidio, name snippets, model tokens)."""
        stats = {}
        if self.patterns is not None:
            stats["presidio_messages"] = self.patterns.analyzed
        if self.names is not None:
            stats.update({f"name_{k}": v for k, v in self.names.stats.items()})
        return stats


def _resolve(found: list[_Found]) -> list[_Found]:
    """Non-overlapping spans: validated patterns beat names, then higher score, then longer."""
    ranked = sorted(found, key=lambda f: (f.entity == PERSON, -f.score, f.start - f.end))
    kept: list[_Found] = []
    for f in ranked:
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.start)


class _Numbering:
    """The placeholders of one conversation: `<ENTITY_n>`, `n` counting that entity's distinct
    values in order of first sight; a person's single name parts share its placeholder."""

    def __init__(self) -> None:
        self.placeholders: dict[tuple[str, str], str] = {}  # (entity, key) -> placeholder
        self.name_parts: dict[tuple[str, str], str] = {}  # single words of full names
        self.per_type: Counter = Counter()
        self.entity_of: dict[str, str] = {}  # placeholder -> entity

    def placeholder(self, entity: str, value: str) -> str:
        key = (entity, _key(entity, value))
        if key not in self.placeholders:
            same = _same_person(value, key, self.placeholders, self.name_parts)
            if same:
                self.placeholders[key] = same
            else:
                self.per_type[entity] += 1
                self.placeholders[key] = f"<{entity}_{self.per_type[entity]}>"
                self.entity_of[self.placeholders[key]] = entity
        if entity == PERSON:
            for part in _name_parts(value):
                self.name_parts.setdefault((PERSON, _key(PERSON, part)), self.placeholders[key])
        return self.placeholders[key]


def profile_placeholders(values: list[tuple[str, str]]) -> list[str]:
    """Placeholders for (value, entity) pairs numbered on their own (no conversation to share
    a numbering with, e.g. when redaction of the texts is off)."""
    numbering = _Numbering()
    return [numbering.placeholder(entity, value) for value, entity in values]


def _redact_conversation(
    texts: list[str], found: list[list[_Found]], numbering: _Numbering | None = None
) -> tuple[list[str], Counter]:
    numbering = numbering or _Numbering()
    surfaces: dict[str, str] = {}  # exact text -> placeholder
    spans = [_resolve(f) for f in found]
    for text, message_spans in zip(texts, spans, strict=True):
        for f in message_spans:
            value = text[f.start : f.end]
            placeholder = numbering.placeholder(f.entity, value)
            surfaces.setdefault(value, placeholder)
            if f.entity == PERSON:
                for part in _name_parts(value):
                    surfaces.setdefault(part, placeholder)
    if not surfaces:
        return list(texts), Counter()
    counts: Counter = Counter()
    redacted = []
    for text, message_spans in zip(texts, spans, strict=True):
        hits = [(f.start, f.end, surfaces[text[f.start : f.end]]) for f in message_spans]
        for surface, placeholder in surfaces.items():
            hits += [(s, s + len(surface), placeholder) for s in _whole_words(text, surface)]
        hits.sort(key=lambda h: (h[0], h[0] - h[1]))  # leftmost, then longest
        parts, pos = [], 0
        for start, end, placeholder in hits:
            if start < pos:
                continue  # inside a longer span already replaced
            parts += [text[pos:start], placeholder]
            counts[numbering.entity_of[placeholder]] += 1
            pos = end
        redacted.append("".join(parts) + text[pos:])
    return redacted, counts


def _same_person(
    value: str, key: tuple[str, str], placeholders: dict, name_parts: dict
) -> str | None:
    """The placeholder of a person already seen under another form: "Maria" after "Maria
    Gonzalez", or "Maria Gonzalez" after "Maria" alone (first name, then full name)."""
    if key[0] != PERSON:
        return None
    if key in name_parts:
        return name_parts[key]
    for part in _name_parts(value):
        seen = placeholders.get((PERSON, _key(PERSON, part)))
        if seen:
            return seen
    return None


def _known_in(text: str, values: list[tuple[str, str]]) -> list[_Found]:
    """Occurrences of known values in `text`: any case, whole words; they outrank detections.
    Known name parts next to each other ("Yusuf" "Rossi") make one person."""
    lowered, found = text.lower(), []
    for value, entity in values:
        if value.strip() and value.lower() in lowered:
            for m in re.finditer(re.escape(value), text, re.IGNORECASE):
                if not (m.start() and _is_word_char(text[m.start() - 1])) and not (
                    m.end() < len(text) and _is_word_char(text[m.end()])
                ):
                    found.append(_Found(m.start(), m.end(), entity, KNOWN_SCORE))
    merged: list[_Found] = []
    for f in sorted(found, key=lambda f: (f.start, -f.end)):
        last = merged[-1] if merged else None
        gap = text[last.end : f.start] if last else ""
        if (
            last
            and f.entity == last.entity == PERSON
            and f.start >= last.end
            and gap.strip(" -") == ""
            and gap
        ):
            merged[-1] = _Found(last.start, f.end, PERSON, KNOWN_SCORE)
        else:
            merged.append(f)
    return merged


def _whole_words(text: str, surface: str) -> list[int]:
    """Start offsets of `surface` in `text` not inside a longer word (str.find: a regex per
    conversation would cost more to compile than the search)."""
    starts, at = [], text.find(surface)
    while at != -1:
        end = at + len(surface)
        if not (at and _is_word_char(text[at - 1])) and not (
            end < len(text) and _is_word_char(text[end])
        ):
            starts.append(at)
        at = text.find(surface, at + 1)
    return starts


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _name_parts(name: str) -> list[str]:
    """Single words of a multi-word name worth replacing alone ("Maria", "Gonzalez"), not
    short or common ones ("Will" of "Will Smith" stays: "Will you...")."""
    words = name.split()
    return (
        [w for w in words if len(w) > 2 and w.lower() not in COMMON_WORDS] if len(words) > 1 else []
    )
