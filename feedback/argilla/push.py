"""Conversations + candidate replies -> Argilla records, logged in batches, idempotently.

Each judged assistant turn becomes one record whose id is a stable hash of the conversation
id, the turn index and the candidate set, so re-running or resuming a push updates records
instead of duplicating them. Candidates come from `supportloop.models.generate.load_generator`
(logged reply first, then the policy's samples) unless the caller supplies them. With a
`reward_model` configured, its ranking of each record's candidates is attached as a suggestion.
Record fields hold what the UI shows (`supportloop.feedback.argilla.display`: escaped texts, policy
passages shortened, the profile as lines); whoever reads them back unescapes them. The
prompt's system message is not shown (the policy and profile fields say the same, readably):
it travels in the owner-only metadata, and the pull puts it back in front of the conversation.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supportloop.errors import UserError
from supportloop.feedback.argilla import display
from supportloop.feedback.argilla.connection import Connection, connect
from supportloop.feedback.argilla.rest import check
from supportloop.feedback.argilla.sdk import sdk_errors
from supportloop.feedback.argilla.settings import (
    CONVERSATION_FIELD,
    INTERNAL_METADATA,
    POLICY_FIELD,
    PROFILE_FIELD,
    RANKING_QUESTION,
    ArgillaConfig,
    build_settings,
    field_names,
    slot_names,
)
from supportloop.feedback.assistant_prompt import PromptSettings, turn_prompt
from supportloop.models.sampling import Candidate, candidate_identity

CandidateFn = Callable[[list[list[dict]], list[str | None]], list[list[Candidate]]]


class PushError(UserError):
    """The dataset cannot be created or written."""


@dataclass(frozen=True)
class JudgedTurn:
    """One assistant turn to judge, with what the record needs from its conversation."""

    conversation: dict[str, Any]
    turn_index: int
    prompt: list[dict[str, str]]
    logged: str | None


def record_id(conversation_id: str, turn_index: int, candidates: list[Candidate]) -> str:
    """Stable id: same conversation, turn and candidate texts -> same record."""
    key = json.dumps(
        [conversation_id, turn_index, sorted(candidate_identity(c.text) for c in candidates)],
        ensure_ascii=False,
    )
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def judged_turns(conversations: Iterable[dict[str, Any]], which: str) -> Iterator[JudgedTurn]:
    """Assistant turns preceded by a user message: the last one, or all of them, each with the
    prompt the assistant had (`supportloop.feedback.assistant_prompt`: the one training and eval
    use)."""
    for conv in conversations:
        messages = conv["messages"]
        indices = [
            i
            for i, m in enumerate(messages)
            if m["role"] == "assistant" and any(p["role"] == "user" for p in messages[:i])
        ]
        for index in indices[-1:] if which == "last" else indices:
            prompt = turn_prompt(conv, index)
            yield JudgedTurn(conv, index, prompt, messages[index]["content"] or None)


def _metadata(conv: dict[str, Any], turn: JudgedTurn, candidates: list[Candidate]) -> dict:
    signals = conv.get("signals") or {}
    thumbs = signals.get("thumbs") or []
    yes_no = {True: "yes", False: "no", None: "unknown"}
    metadata = {
        "topic": conv.get("topic") or "unknown",
        "model_version": conv.get("model_version") or "unknown",
        "channel": conv.get("channel") or "unknown",
        "escalated": yes_no[signals.get("escalated")],
        "resolved_signal": yes_no[signals.get("resolved")],
        "repeat_contact": yes_no[conv.get("repeat_contact")],
        "thumbs_down": sum(1 for t in thumbs if t["value"] == "down"),
        "n_candidates": len(candidates),
        INTERNAL_METADATA: json.dumps(
            {
                "conversation_id": conv["conversation_id"],
                "customer_id": conv.get("customer_id"),
                "turn_index": turn.turn_index,
                "system": display.split_system(turn.prompt)[0],
                "topic": conv.get("topic"),
                "model_version": conv.get("model_version"),
                "candidates": [
                    {"candidate_id": c.candidate_id, "source": c.source} for c in candidates
                ],
            }
        ),
    }
    if signals.get("csat") is not None:
        metadata["csat"] = int(signals["csat"])
    return metadata


def build_record_payloads(
    turns: list[JudgedTurn], candidates: list[list[Candidate]], slots: int
) -> tuple[list[dict[str, Any]], int]:
    """Record dicts (id, fields, metadata, and the turn's prompt as the pipeline has it); turns
    with fewer than two candidates are skipped."""
    payloads, skipped = [], 0
    names = slot_names(slots)
    for turn, cands in zip(turns, candidates, strict=True):
        cands = cands[:slots]
        if len(cands) < 2:
            skipped += 1
            continue
        conv = turn.conversation
        context = conv.get("context") or {}
        fields = {
            CONVERSATION_FIELD: display.chat(display.split_system(turn.prompt)[1]),
            **{name: display.escape(cand.text) for name, cand in zip(names, cands, strict=False)},
            POLICY_FIELD: display.policy_markdown(
                context.get("retrieved_docs"), PromptSettings().max_doc_chars
            ),
            PROFILE_FIELD: display.profile_text(context.get("customer_profile")),
        }
        fields = {name: value for name, value in fields.items() if value}  # empty: no field
        payloads.append(
            {
                "id": record_id(conv["conversation_id"], turn.turn_index, cands),
                "fields": fields,
                "metadata": _metadata(conv, turn, cands),
                "prompt": turn.prompt,
            }
        )
    return payloads, skipped


def policy_candidates(config: ArgillaConfig) -> CandidateFn:
    """Candidates from the configured policy model (loaded once, on first use)."""

    def generate(prompts: list[list[dict]], logged: list[str | None]) -> list[list[Candidate]]:
        from supportloop.models.generate import load_generator

        with load_generator(config.policy.model, config.policy.adapter, config.sampling) as gen:
            return gen.candidates(prompts, logged)  # freed before the reward model loads

    return generate


def _discard_draft(connection: Connection, dataset: Any) -> None:
    """Delete a dataset that was never published: what a push leaves when it is cut off while
    setting the dataset up (fields, questions, metadata, then publish). A draft cannot hold
    records, so nothing is lost, and the push creates it anew instead of refusing its fields."""
    with sdk_errors(connection.network):
        dataset.delete()


def ensure_dataset(connection: Connection, config: ArgillaConfig) -> Any:
    """The configured dataset, created with `build_settings` when it does not exist yet (or was
    left unpublished by an interrupted push)."""
    import argilla as rg

    client = connection.client()
    workspace = config.workspace or connection.workspace
    if workspace is None:
        raise PushError("no workspace: set `workspace:` in the config or ARGILLA_WORKSPACE")
    with warnings.catch_warnings(), sdk_errors(connection.network):
        warnings.simplefilter("ignore", UserWarning)  # "not found": the normal first push
        dataset = client.datasets(name=config.dataset, workspace=workspace)
    if dataset is not None and dataset.api_model().status != "ready":
        _discard_draft(connection, dataset)
        dataset = None
    if dataset is not None:
        existing, wanted = (
            [f.name for f in dataset.settings.fields],
            field_names(config.candidate_slots),
        )
        if set(existing) != set(wanted):
            raise PushError(
                f"dataset {config.dataset!r} has the fields {existing}, this version pushes "
                f"{wanted} (Argilla cannot change a published dataset's fields): push into a "
                "new one (`dataset=<new name>`) or delete it in the UI (dataset settings)"
            )
        return dataset
    with sdk_errors(connection.network):
        settings = build_settings(config, client=client)
        dataset = rg.Dataset(config.dataset, workspace=workspace, settings=settings, client=client)
        return dataset.create()


def reward_scores(reward_model: str, payloads: list[dict[str, Any]]) -> list[list[float]]:
    """Per record, the reward model's preference for each candidate, squashed into 0..1."""
    import math

    from supportloop.models.reward import load_reward_model

    model = load_reward_model(reward_model)
    prompts, replies, sizes = [], [], []
    for payload in payloads:
        fields = payload["fields"]
        texts = [display.unescape(t) for name, t in fields.items() if name.startswith("candidate_")]
        prompts += [payload["prompt"]] * len(texts)
        replies += texts
        sizes.append(len(texts))
    flat = [1 / (1 + math.exp(-score)) for score in model.score(prompts, replies)]
    out, start = [], 0
    for size in sizes:
        out.append(flat[start : start + size])
        start += size
    return out


def put_ranking_suggestions(
    connection: Connection,
    dataset_id: str,
    payloads: list[dict[str, Any]],
    scores: list[list[float]],
    agent: str,
) -> int:
    """One ranking suggestion per record (best score = rank 1), through the REST API.

    The SDK's ranking suggestions drop the ranks, so they are written here with them.
    """
    from supportloop.feedback.argilla.pull import iter_records

    session, url = connection.session(), connection.api_url
    questions = check(session.get(f"{url}/api/v1/datasets/{dataset_id}/questions")).json()["items"]
    question_id = next(q["id"] for q in questions if q["name"] == RANKING_QUESTION)
    uuids = {r["external_id"]: r["id"] for r in iter_records(connection, dataset_id, False)}
    for payload, record_scores in zip(payloads, scores, strict=True):
        order = sorted(range(len(record_scores)), key=lambda i: -record_scores[i])
        names = slot_names(len(record_scores))
        check(
            session.put(
                f"{url}/api/v1/records/{uuids[payload['id']]}/suggestions",
                json={
                    "question_id": question_id,
                    "type": "model",
                    "agent": agent,
                    "value": [{"value": names[i], "rank": r} for r, i in enumerate(order, 1)],
                    "score": [round(record_scores[i], 4) for i in order],
                },
            )
        )
    return len(payloads)


def dataset_record_count(connection: Connection, dataset_id: Any) -> int:
    url = f"{connection.api_url}/api/v1/datasets/{dataset_id}/progress"
    return int(check(connection.session().get(url)).json()["total"])


def push(
    connection: Connection,
    config: ArgillaConfig,
    conversations: Iterable[dict[str, Any]],
    candidate_fn: CandidateFn | None = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Push one record per judged turn; returns counts (turns, logged, created, updated...)."""
    import argilla as rg

    turns = list(judged_turns(conversations, config.turns))
    if config.max_records is not None:
        turns = turns[: config.max_records]
    dataset = ensure_dataset(connection, config)  # before generating: fail fast on the server
    candidate_fn = candidate_fn or policy_candidates(config)
    candidates = candidate_fn([t.prompt for t in turns], [t.logged for t in turns]) if turns else []
    payloads, skipped = build_record_payloads(turns, candidates, config.candidate_slots)
    before = dataset_record_count(connection, dataset.id)
    if payloads:
        records = [
            rg.Record(id=p["id"], fields=p["fields"], metadata=p["metadata"]) for p in payloads
        ]
        with sdk_errors(connection.network):
            dataset.records.log(records, batch_size=batch_size or config.batch_size)
    created = dataset_record_count(connection, dataset.id) - before
    suggested = 0
    if config.reward_model and payloads and config.questions.ranking:
        scores = reward_scores(config.reward_model, payloads)
        agent = f"reward-model:{Path(config.reward_model).name}"
        suggested = put_ranking_suggestions(connection, str(dataset.id), payloads, scores, agent)
    return {
        "dataset": config.dataset,
        "dataset_id": str(dataset.id),
        "turns": len(turns),
        "records": len(payloads),
        "created": created,
        "updated": len(payloads) - created,
        "skipped_fewer_than_2_candidates": skipped,
        "suggestions": suggested,
        "annotation_url": f"{connection.api_url}/dataset/{dataset.id}/annotation-mode",
    }


def run_push(config: ArgillaConfig, out: Path) -> dict[str, Any]:
    """`supportloop argilla push`: the configured conversations pushed; summary and lineage in
    the run directory `out` (the dataset itself lives on the Argilla server)."""
    from supportloop.config import dump_config
    from supportloop.runs import (
        RunDir,
        dataset_fingerprint,
        load_dataset_artifact,
        require_same_pipeline_run,
    )

    if config.conversations is None:
        raise UserError("the Argilla config sets no `conversations:` (an ingest run's dataset)")
    require_same_pipeline_run(config.conversations, "conversations")
    conversations = load_dataset_artifact(config.conversations)
    summary = push(connect(config.credentials, network=config.network), config, conversations)
    run = RunDir(out, "argilla-push")
    run.write_summary(summary)
    run.write_lineage(
        inputs={"conversations": dataset_fingerprint(conversations)},
        config=dump_config(config),
        outputs={"dataset_id": summary["dataset_id"]},
    )
    return summary
