"""Pattern PII (cards, IBANs, emails, phones, SSNs, IPs) with presidio, offline and fast.

Phones: presidio's validated matcher, plus any possible number written with a country code
(`InternationalPhoneRecognizer`), so a mistyped number is still redacted.

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

import phonenumbers
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


# IBAN length per country (ISO 13616 registry). A run that validates but is longer than its
# country's IBAN is the IBAN plus the next words ("...286 please"), which pass presidio's
# check by chance (1 in 97 per cut tried); the run of the registered length is preferred.
_IBAN_LENGTHS_TEXT = """
    AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DK18 DO28
    EE20 EG29 ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26
    IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MR27 MT31 MU30
    NL18 NO15 PK24 PL28 PS29 PT25 QA29 RO24 RS22 SA24 SC31 SE24 SI19 SK24 SM27 ST25 SV28 TL23
    TN24 TR26 UA29 VA22 VG24 XK20
    """
IBAN_LENGTHS = {item[:2]: int(item[2:]) for item in _IBAN_LENGTHS_TEXT.split()}


class TolerantIbanRecognizer(IbanRecognizer):
    """presidio's IBAN validation (mod-97 checksum, per-country format) over a tolerant
    search: any case, any grouping, and the longest run that validates ending at a separator
    (of the country's IBAN length where one does). presidio's own pattern wants upper case
    in groups of four, and once it has swallowed the next word ("...9240 PLEASE") no shorter
    candidate it tries can validate."""

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        results, taken = [], 0
        for start in (m.start() for m in _IBAN_START.finditer(text)):
            run = _IBAN_RUN.match(text, start) if start >= taken else None
            if run is None:
                continue  # too short, or inside an IBAN already found
            valid = [c for c in _cuts(run.group()) if self.validate_result(c.upper())]
            if valid:
                length = IBAN_LENGTHS.get(valid[0][:2].upper())
                exact = [c for c in valid if len(re.sub(r"[ -]", "", c)) == length]
                taken = start + len((exact or valid)[0])
                results.append(self._result(start, taken))
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


def _cuts(run: str) -> list[str]:
    """The prefixes of an IBAN-like run that end between groups, longest first."""
    return [
        run[:end].rstrip(" -")
        for end in range(len(run), 14, -1)
        if end == len(run) or run[end] in " -"
    ]


# A number written with its country code ("+49 ...", "0049 ...", "(+44) ...", "+33 (0)6...")
# that phonenumbers calls possible (a plausible length for that country) is a phone even when
# it fails validation: a customer's mistyped number is still theirs, and the country code
# says it is a phone number, not an order id.
_INTERNATIONAL = re.compile(
    r"(?<![\w+(])(?:\(\+\d{1,3}\)|\+\d{1,3}|00\d{1,3})(?:[ .-]{0,2}(?:\(0\)[ -]?)?\d){7,14}(?!\w)"
)
_GROUP_END = re.compile(r"\d(?=[ .-])")
INTERNATIONAL_SCORE = 0.6  # above score_threshold and presidio's 0.4: "+33 (0)6..." wins whole


class InternationalPhoneRecognizer(EntityRecognizer):
    """Phones with a country code that are possible but maybe not valid (see above); the
    longest prefix ending at a digit group that is possible wins."""

    def load(self) -> None:
        """Nothing to load."""

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        results = []
        for match in _INTERNATIONAL.finditer(text):
            ends = [match.end()] + [
                match.start() + m.end() for m in reversed(list(_GROUP_END.finditer(match.group())))
            ]
            for end in ends:
                if _possible_international(text[match.start() : end]):
                    results.append(self._result(match.start(), end))
                    break
        return results

    def _result(self, start: int, end: int) -> RecognizerResult:
        return RecognizerResult(
            "PHONE_NUMBER",
            start,
            end,
            INTERNATIONAL_SCORE,
            AnalysisExplanation(
                recognizer=self.name,
                original_score=INTERNATIONAL_SCORE,
                pattern_name="country code + possible number",
            ),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )


def _possible_international(candidate: str) -> bool:
    """A possible number of at least 7 national digits once written as +CC..."""
    digits = re.sub(r"\D", "", candidate.replace("(0)", ""))
    if candidate.startswith("00"):
        digits = digits[2:]
    try:
        number = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return False
    return len(str(number.national_number)) >= 7 and phonenumbers.is_possible_number(number)


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
            PhoneRecognizer(supported_regions=tuple(phone_regions), leniency=PHONE_LENIENCY),
            InternationalPhoneRecognizer(supported_entities=["PHONE_NUMBER"]),
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
