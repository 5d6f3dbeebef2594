"""tau2-bench text as the loop uses it: the policy as knowledge-base documents, and scenario
instructions in the customer's own voice.

Sample logs (the demo's customers) and the eval suite (`supportloop.eval.tau2`) both read tau2
through these two functions, so a policy passage or an opening means the same text in the training
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


# Sentences tau2 writes for its simulated user, never said by a customer: anything about "the
# agent", conditions on the conversation ("When asked for order ID, provide 9502127 first.",
# "If that doesn't work..."), orders to the simulator ("Insist that...", "Mention the two things
# together..."), and the scenario's goal.
_STAGE_DIRECTION = re.compile(
    r"\bagent\b|\bwhen asked\b|^your goal\b|^(if|when|once|unless|as you|do|don't|be|make|only|"
    r"never|try|ask|insist|mention|respond|say|provide|tell|pretend|act)\b",
    re.I,
)
# "You first ask about...", "You then want to ask...": the script's order of events.
_SEQUENCE = re.compile(r"^You(?:'ll| will)? (?:first |then )+(?:want to )?")
_SENTENCE_END = (".", "!", "?", ")", '"', "'", ";", ":", "}")


def spoken_sentences(reason_for_call: str) -> list[str]:
    """The sentences of a tau2 reason for call that the customer would say, in the first
    person, without the stage directions and without fragments the source cut off."""
    pieces = re.split(r"(?<=[.!?])\s+|\s{2,}(?=[A-Z])", reason_for_call.strip())
    spoken = []
    for i, piece in enumerate(pieces):
        sentence = " ".join(piece.split()).lstrip(".,;: ")
        last = i == len(pieces) - 1
        if not sentence or _STAGE_DIRECTION.search(sentence):
            continue
        if not last and not sentence.endswith(_SENTENCE_END):
            continue  # "You do not want the  You prefer...": a sentence the source lost
        spoken.append(first_person(_SEQUENCE.sub("You want to ", sentence)))
    return spoken


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
