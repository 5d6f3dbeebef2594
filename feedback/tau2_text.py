"""tau2-bench text as the loop uses it: the policy as knowledge-base documents, and scenario
instructions in the customer's own voice.

Sample logs (the demo's customers) and the eval suite (`eval.tau2`) both read tau2 through
these two functions, so a policy passage or an opening means the same text in the training
data as in the eval.
"""

from __future__ import annotations

import re

_PRONOUNS = [
    (r"\b[Yy]ou are\b", "I am"),
    (r"\b[Yy]ou're\b", "I'm"),
    (r"\b[Yy]ou'd\b", "I'd"),
    (r"\b[Yy]ou've\b", "I've"),
    (r"\b[Yy]ou'll\b", "I'll"),
    (r"\byourself\b", "myself"),
    (r"\bYour\b", "My"),
    (r"\byour\b", "my"),
    # "you" as an object: after a preposition or a verb that takes a person.
    (
        r"\b(to|for|with|at|from|of|about|by|ask|asks|asked|tell|tells|told|give|gives|gave|"
        r"help|helps|send|sends|sent|let|lets|offer|offers|contact|contacts|call|calls|save|"
        r"saves|thank|thanks|remind|reminds|show|shows|assure|assures)\s+you\b",
        r"\1 me",
    ),
    (r"\b[Yy]ou\b", "I"),
]


def first_person(instruction: str) -> str:
    """tau2 writes scenarios to the simulated user ("You received your order..."): the same
    text as the customer says it ("I received my order...")."""
    text = instruction
    for pattern, replacement in _PRONOUNS:
        text = re.sub(pattern, replacement, text)
    return text


def policy_docs(policy: str, domain: str) -> list[dict[str, str]]:
    """The policy split at every markdown heading: one knowledge-base document per section,
    short enough that a retrieved passage is about one thing."""
    docs: list[dict[str, str]] = []
    title, lines = f"{domain} policy", []
    for line in [*policy.splitlines(), "#"]:
        if not line.startswith("#"):
            lines.append(line)
            continue
        text = "\n".join(lines).strip()
        if text:
            docs.append({"doc_id": f"{domain}-policy-{len(docs)}", "title": title, "text": text})
        title, lines = line.lstrip("# ").strip(), []
    return docs
