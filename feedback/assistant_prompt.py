"""The assistant's prompt: one builder for every place that prompts the policy model.

Sample logs (the production assistant's replies), Argilla candidates, the preference and KTO
prompts the trainers read, and eval (suite scenarios and held-out conversations) all build
their prompts here, so the prompt a model is trained on is the prompt it is evaluated with.
It lives in feedback because eval may import feedback, never the reverse.

The system message is built from the conversation's context (retrieved knowledge-base
passages and the customer profile), never stored as a logged message: a logged copy would go
through PII redaction (which may rewrite policy text) and would make one customer's repeat
contacts look like near-duplicates. A conversation logged with its own system message keeps
it; one logged without any context is replayed as logged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field

from supportloop.config import StrictModel

PREAMBLE = (
    "You are a customer-support assistant. Follow the policy in the knowledge base, never "
    "promise what it does not allow, and be brief."
)
PROMPT_ROLES = ("system", "user", "assistant")
_RETRIEVAL_WORD = re.compile(r"[a-z]{4,}")

Doc = Mapping[str, str]
Message = dict[str, str]


class PromptSettings(StrictModel):
    """How much context goes into the prompt; prompt length drives CPU cost (prefill).

    Training data is always built with the defaults; an eval that overrides them judges the
    model on prompts it was not trained on.
    """

    max_docs: int = Field(1, ge=0, description="knowledge-base passages retrieved into the prompt")
    max_doc_chars: int = Field(400, gt=0, description="characters kept of each passage")
    max_profile_chars: int = Field(
        400, ge=0, description="characters kept of the customer profile (compact JSON)"
    )


def retrieve(docs: Sequence[Doc], query: str, k: int) -> list[Doc]:
    """The `k` docs sharing most words (4+ letters) with the query; ties keep document order."""
    words = set(_RETRIEVAL_WORD.findall(query.lower()))
    scored = sorted(
        docs, key=lambda d: -len(words & set(_RETRIEVAL_WORD.findall(d["text"].lower())))
    )
    return list(scored[:k])


def profile_json(profile: Mapping[str, Any] | str | None) -> str:
    """The profile as compact JSON with sorted keys ("" when empty); logged profiles are JSON."""
    if isinstance(profile, str):
        profile = json.loads(profile) if profile.strip() else None
    if not profile:
        return ""
    return json.dumps(profile, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def system_prompt(
    docs: Sequence[Doc], profile: Mapping[str, Any] | str | None, settings: PromptSettings
) -> str | None:
    """Preamble, knowledge base and customer profile; None when there is no context at all."""
    kept = list(docs)[: settings.max_docs]
    profile_text = profile_json(profile)[: settings.max_profile_chars]
    if not kept and not profile_text:
        return None
    parts = [PREAMBLE]
    if kept:
        kb = "\n\n".join(f"[{d['title']}]\n{d['text'][: settings.max_doc_chars]}" for d in kept)
        parts.append(f"Knowledge base:\n{kb}")
    if profile_text:
        parts.append(f"Customer profile:\n{profile_text}")
    return "\n\n".join(parts)


def prompt_messages(
    docs: Sequence[Doc],
    profile: Mapping[str, Any] | str | None,
    messages: Sequence[Mapping[str, Any]],
    settings: PromptSettings,
) -> list[Message]:
    """The chat the model sees: the context's system message (unless the messages bring their
    own), then the messages' role and content (other keys are not part of the prompt)."""
    chat = [
        {"role": m["role"], "content": m["content"] or ""}
        for m in messages
        if m["role"] in PROMPT_ROLES
    ]
    if any(m["role"] == "system" for m in chat):
        return chat
    system = system_prompt(docs, profile, settings)
    return [{"role": "system", "content": system}, *chat] if system else chat


def turn_prompt(
    conversation: Mapping[str, Any], index: int, settings: PromptSettings | None = None
) -> list[Message]:
    """The prompt of the logged assistant turn at `index`, rebuilt from the logged context."""
    context = conversation.get("context") or {}
    return prompt_messages(
        context.get("retrieved_docs") or [],
        context.get("customer_profile"),
        conversation["messages"][:index],
        settings or PromptSettings(),
    )
