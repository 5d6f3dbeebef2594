"""Pattern PII (cards, IBANs, emails, phones, SSNs, IPs) with presidio, offline and fast.

presidio's `AnalyzerEngine()` wants a spaCy model it would download; pattern recognizers need
none, so the engine gets `_TokenNlpEngine`, a regex tokenizer that still feeds presidio's
context enhancer (the "ssn" next to a bare nine-digit number). Most support messages hold no
pattern PII at all, so a cheap pre-filter decides per message which entities can occur (no
run of 7 digits and no '@' -> nothing to look for) and presidio only runs for those.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

# tldextract (behind presidio's email validation) fetches the public suffix list over the
# network unless this is empty; it reads the variable when it is first imported.
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

import tldextract.tldextract
from presidio_analyzer import (
    AnalysisExplanation,
    AnalyzerEngine,
    EntityRecognizer,
    Pattern,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UsSsnRecognizer,
)

if tldextract.tldextract.TLD_EXTRACTOR.suffix_list_urls:  # imported before us, with URLs
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())

# Our entity names (also the placeholder names) -> presidio's entity names.
PRESIDIO_ENTITY = {
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN": "IBAN_CODE",
    "EMAIL": "EMAIL_ADDRESS",
    "PHONE": "PHONE_NUMBER",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP_ADDRESS",
}
OUR_ENTITY = {v: k for k, v in PRESIDIO_ENTITY.items()}

_TOKEN = re.compile(r"\w+|[^\w\s]")
_STOPWORDS_TEXT = """
    a an and are as at be by for from has he in is it its of on or that the to was were will
    with my your me i
    """
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


class _TokenNlpEngine(NlpEngine):
    """Regex tokens with lowercase "lemmas": enough for presidio's context words, no model."""

    def load(self) -> None:
        """Nothing to load."""

    def is_loaded(self) -> bool:
        return True

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        matches = list(_TOKEN.finditer(text))
        tokens = [m.group() for m in matches]
        return NlpArtifacts(
            entities=[],
            tokens=tokens,
            tokens_indices=[m.start() for m in matches],
            lemmas=[t.lower() for t in tokens],
            nlp_engine=self,
            language=language,
        )

    def process_batch(self, texts: Iterable[str], language: str, **kwargs):
        for text in texts:
            yield text, self.process_text(text, language)

    def is_stopword(self, word: str, language: str) -> bool:
        return word.lower() in _STOPWORDS

    def is_punct(self, word: str, language: str) -> bool:
        return len(word) == 1 and not word.isalnum()

    def get_supported_entities(self) -> list[str]:
        return []

    def get_supported_languages(self) -> list[str]:
        return ["en"]


# presidio's card pattern with Mastercard's 2221-2720 range added (its prefixes stop at 5[0-5]).
CARD_PATTERN = Pattern(
    "All credit cards incl. Mastercard 2-series",
    r"\b(?!1\d{12}(?!\d))((4\d{3})|(5[0-5]\d{2})|(2[2-7]\d{2})|(6\d{3})|(1\d{3})|(3\d{3}))"
    r"[- ]?(\d{3,4})[- ]?(\d{3,4})[- ]?(\d{3,5})\b",
    0.3,
)


# An IBAN starts with a country code and check digits; every such start is tried, so a
# leading word like "ref AB12" does not hide the IBAN that follows it.
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}")
_IBAN_RUN = re.compile(r"[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]){11,40}")


class TolerantIbanRecognizer(IbanRecognizer):
    """presidio's IBAN validation (mod-97 checksum, per-country format) over a tolerant
    search: any case, any grouping, and the longest run that validates ending at a separator.
    presidio's own pattern wants upper case in groups of four, and once it has swallowed the
    next word ("...9240 PLEASE") no shorter candidate it tries can validate."""

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        results, taken = [], 0
        for start in (m.start() for m in _IBAN_START.finditer(text)):
            run = _IBAN_RUN.match(text, start) if start >= taken else None
            if run is None:
                continue  # too short, or inside an IBAN already found
            for end in range(len(run.group()), 14, -1):
                candidate = run.group()[:end]
                if end < len(run.group()) and run.group()[end] not in " -":
                    continue  # only cut between groups
                if self.validate_result(candidate.rstrip(" -").upper()):
                    taken = start + len(candidate.rstrip(" -"))
                    results.append(self._result(start, taken))
                    break
        return results

    def _result(self, start: int, end: int) -> RecognizerResult:
        return RecognizerResult(
            self.supported_entities[0],
            start,
            end,
            EntityRecognizer.MAX_SCORE,
            AnalysisExplanation(
                recognizer=self.name,
                original_score=EntityRecognizer.MAX_SCORE,
                pattern_name="IBAN, any case and grouping",
                validation_result=True,
            ),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )


# phonenumbers' STRICT_GROUPING: the digits must be grouped as the region writes numbers.
# VALID (presidio's default) also takes part numbers and ticket ids like "2024-11-0032".
PHONE_LENIENCY = 2


def build_analyzer(entities: list[str], phone_regions: list[str]) -> AnalyzerEngine:
    """An AnalyzerEngine with only the pattern recognizers for `entities` (our names)."""
    factories = {
        "CREDIT_CARD": lambda: [CreditCardRecognizer(patterns=[CARD_PATTERN])],
        "IBAN": lambda: [TolerantIbanRecognizer()],
        "EMAIL": lambda: [EmailRecognizer()],
        "PHONE": lambda: [
            PhoneRecognizer(supported_regions=tuple(phone_regions), leniency=PHONE_LENIENCY)
        ],
        "US_SSN": lambda: [UsSsnRecognizer()],
        "IP_ADDRESS": lambda: [IpRecognizer()],
    }
    registry = RecognizerRegistry(supported_languages=["en"])
    for entity in entities:
        for recognizer in factories[entity]():
            registry.add_recognizer(recognizer)
    return AnalyzerEngine(
        registry=registry, nlp_engine=_TokenNlpEngine(), supported_languages=["en"]
    )


# Pre-filters: necessary conditions for each entity. Words mixing letters and digits (order ids
# like #W2378156, tracking numbers) and stand-alone dates and amounts with cents are blanked
# before looking for digit runs: no card, phone or SSN is written like them, and they are in
# most support messages. tests/pii/test_filters.py checks that the pre-filter lets through
# everything presidio finds.
_NOT_PII = re.compile(
    r"(?<![\w#.,/+-])(?:"
    r"(?:19|20)\d\d-\d\d-\d\d"  # 2024-03-15
    r"|\d{1,2}[./]\d{1,2}[./](?:19|20)\d\d"  # 15.03.2024, 03/15/2024
    r"|\d+(?:,\d{3})*\.\d\d"  # 1,234.56
    r")(?![\w.,/-]*\d)"
    r"|(?<![\w#])#?(?=\w*[A-Za-z])(?=\w*\d)\w+"  # #W2378156, A2141, 1Z999AA1012345: mixed
)
_DIGIT_RUN = re.compile(r"\d(?:[ \-.()/]{0,3}\d){6}")  # 7+ digits, loosely separated
_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_IPV6 = re.compile(r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:")


def possible_entities(text: str, entities: frozenset[str]) -> list[str]:
    """The presidio entities that could occur in `text` at all (a cheap superset test)."""
    found = []
    if "@" in text and "EMAIL" in entities:
        found.append("EMAIL_ADDRESS")
    if "IBAN" in entities and _IBAN_RUN.search(text):  # superset of what the recognizer tries
        found.append("IBAN_CODE")
    if _DIGIT_RUN.search(text) and _DIGIT_RUN.search(_NOT_PII.sub(" ", text)):
        found += [PRESIDIO_ENTITY[e] for e in ("CREDIT_CARD", "PHONE", "US_SSN") if e in entities]
    if "IP_ADDRESS" in entities and (_IPV4.search(text) or _IPV6.search(text)):
        found.append("IP_ADDRESS")
    return found


class PatternDetector:
    """Runs presidio's pattern recognizers on the messages that can hold pattern PII."""

    def __init__(self, entities: list[str], phone_regions: list[str], score_threshold: float):
        self.entities = frozenset(entities)
        self.analyzer = build_analyzer(list(entities), phone_regions)
        self.score_threshold = score_threshold
        self.analyzed = 0  # messages that reached presidio (for the benchmark and tests)

    def detect(self, text: str) -> list[RecognizerResult]:
        wanted = possible_entities(text, self.entities)
        if not wanted:
            return []
        self.analyzed += 1
        results = self.analyzer.analyze(
            text, language="en", entities=wanted, score_threshold=self.score_threshold
        )
        for result in results:
            result.entity_type = OUR_ENTITY[result.entity_type]
        return results
