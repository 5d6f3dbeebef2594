"""What annotators see: pipeline text <-> Argilla field text, and the context fields' layout.

Argilla 2.8's UI inserts every field as HTML: a ChatField or a TextField with markdown off
through innerHTML, with markdown on through marked + DOMPurify. A placeholder such as
`<EMAIL_1>` is read as an unknown tag and vanishes. Checked in Chromium for all four modes:
`&lt;EMAIL_1&gt;` shows `<EMAIL_1>` in each, a backslash escape only with markdown on. So
every text is HTML-escaped (`&`, `<`, `>` and nothing else) on its way into Argilla and
unescaped exactly on its way back (`unescape(escape(t)) == t`); the placeholders the pipeline
uses stay as they are, and the preference datasets built from a pull are unchanged.

The policy field is the one with markdown on, and its passages come from the logs, so they
are data too: their link and image syntax is backslash-escaped (`\\`, `[`, `]`), checked in
Chromium. Without it `[docs](https://elsewhere)` showed as a live link whose text hides its
target, `![x](https://elsewhere/p.png)` made the annotator's browser fetch an image from
anywhere, and `[click](javascript:...)` showed only "click" (DOMPurify drops the href); now
the annotator reads the characters as logged, and bold or lists still render.
"""

from __future__ import annotations

import json
import re
from typing import Any

_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ENTITY = re.compile(r"&(amp|lt|gt);")
_CHARS = {"amp": "&", "lt": "<", "gt": ">"}
_MARKUP = re.compile(r"<[^>]*>")  # after escaping, the only tags left are the layout's own
_LINK_SYNTAX = str.maketrans({"\\": "\\\\", "[": "\\[", "]": "\\]"})
_LINK_ESCAPE = re.compile(r"\\([\\\[\]])")


def escape(text: str) -> str:
    """Text as Argilla must store it to show it literally, in any field mode."""
    return text.translate(_ESCAPE)


def markdown_escape(text: str) -> str:
    """Text for a field with markdown on: `escape`d, and links and images shown literally."""
    return escape(text).translate(_LINK_SYNTAX)


def unescape(text: str) -> str:
    """The exact inverse of `escape`; also undoes the escaping in text an annotator pasted
    from the UI's copy button (which copies the stored field text)."""
    return _ENTITY.sub(lambda m: _CHARS[m.group(1)], text)


def split_system(prompt: list[dict[str, str]]) -> tuple[str | None, list[dict[str, str]]]:
    """The prompt's leading system message (the policy and profile the assistant was given,
    which the policy and profile fields show readably) and the turns the annotator reads."""
    if prompt and prompt[0]["role"] == "system":
        return prompt[0]["content"], prompt[1:]
    return None, prompt


def chat(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """A conversation for the ChatField (role + escaped content)."""
    return [{"role": m["role"], "content": escape(m["content"])} for m in messages]


def chat_back(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """A ChatField's messages back in the pipeline's form."""
    return [{"role": m["role"], "content": unescape(m["content"])} for m in messages]


def policy_markdown(docs: list[dict[str, Any]] | None, shown_chars: int) -> str:
    """The retrieved passages under their titles, each cut to its first `shown_chars`
    characters (what the assistant's prompt keeps of a passage), the rest collapsed; markdown
    in the passage text still renders. The UI keeps keyboard focus in the questions, so what
    an annotator must read cannot sit behind a click: only the rest is collapsed."""
    blocks = []
    for doc in docs or []:
        shown, rest = _cut(doc["text"].strip(), shown_chars)
        title, doc_id = markdown_escape(doc["title"]), markdown_escape(str(doc["doc_id"]))
        block = f"**{title}** ({doc_id})\n\n{markdown_escape(shown)}"
        if rest:
            block += (
                f" …\n\n<details>\n<summary>Rest of this passage ({len(rest.split())} words)"
                f"</summary>\n\n{markdown_escape(rest)}\n\n</details>"
            )
        blocks.append(block)
    return "\n\n".join(blocks)


def _cut(text: str, limit: int) -> tuple[str, str]:
    """`text` split near `limit` characters: at the last line break past half of it, else at
    the last space; never inside a word."""
    if len(text) <= limit:
        return text, ""
    at = text.rfind("\n", 0, limit + 1)
    if at < limit // 2:
        at = text.rfind(" ", 0, limit + 1)
    if at <= 0:
        at = limit
    return text[:at].rstrip(), text[at:].strip()


def plain_text(markdown: str) -> str:
    """A field's words without the layout's tags and escapes (for rules that read the text)."""
    return unescape(_LINK_ESCAPE.sub(r"\1", _MARKUP.sub(" ", markdown)))


def profile_text(profile: str | dict | None) -> str:
    """The customer profile as indented `key: value` lines (escaped, for a plain TextField)."""
    if isinstance(profile, str):
        try:
            profile = json.loads(profile)
        except json.JSONDecodeError:
            return escape(profile)
    if not profile:
        return ""
    return escape("\n".join(_lines(profile, 0)))


def _lines(value: Any, depth: int) -> list[str]:
    pad = "  " * depth
    if isinstance(value, dict):
        out = []
        for key, child in value.items():
            if isinstance(child, dict | list) and not _flat(child):
                out += [f"{pad}{key}:", *_lines(child, depth + 1)]
            else:
                out.append(f"{pad}{key}: {_scalar(child)}")
        return out
    if isinstance(value, list) and not _flat(value):
        out = []
        for item in value:
            inner = _lines(item, depth + 1)
            out += [f"{pad}- {inner[0].lstrip()}", *inner[1:]]
        return out
    return [f"{pad}{_scalar(value)}"]


def _flat(value: dict | list) -> bool:
    """An empty container or a list of scalars fits on one line."""
    items = value.values() if isinstance(value, dict) else value
    return not items or (
        isinstance(value, list) and not any(isinstance(i, dict | list) for i in items)
    )


def _scalar(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_scalar(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return "(none)"
    return "(none)" if value is None else str(value)
