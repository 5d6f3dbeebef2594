"""Plain helpers for the forget tests: a loop's stores holding one customer to forget.

The logs are the annotation round of tests/preferences/helpers.py as transcripts: customer
u1 has conversations c1 and c3 (and records R1, R3, R6). The logs add, for u1, a row the
contract refuses, a broken JSON line and an exact logging duplicate of c3, and for
another customer a refused row that must stay.
"""

from __future__ import annotations

import json
from pathlib import Path

from datasets import Dataset, DatasetDict

from supportloop.config import validate_config
from supportloop.runs import RunDir, dataset_fingerprint, load_dataset_artifact, verify_artifacts
from tests.ingest.helpers import transcript
from tests.preferences.helpers import CONVERSATIONS

CUSTOMER = "u1"
CUSTOMER_CONVERSATIONS = {"c1", "c3"}
CUSTOMER_RECORDS = {"R1", "R3", "R6"}
OTHER_QUARANTINED = "u9"


def write_logs(path: Path) -> None:
    rows = [
        transcript(c["conversation_id"], c["customer_id"], c["messages"][0]["content"], hour=i)
        for i, c in enumerate(CONVERSATIONS)
    ]
    c3 = next(c for c in CONVERSATIONS if c["conversation_id"] == "c3")
    lines = [json.dumps(row) for row in rows]
    lines += [
        json.dumps(transcript("c3-copy", CUSTOMER, c3["messages"][0]["content"], hour=2)),
        json.dumps(transcript("c9", CUSTOMER, "hi", started_at="yesterday")),
        '{"conversation_id": "c10", "customer_id": "u1", "messages": [',
        json.dumps(transcript("c11", OTHER_QUARANTINED, "hi", started_at="yesterday")),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def ingest(logs: Path, out: Path) -> None:
    from supportloop.feedback.ingest.config import IngestConfig
    from supportloop.feedback.ingest.pipeline import run_ingest

    write_logs(logs)
    config = {"inputs": [{"path": str(logs)}], "output_dir": str(out), "num_proc": 1}
    run_ingest(validate_config(IngestConfig, config, "test"), progress=False)


def build_preferences(responses: Path, conversations: Path, out: Path, agreement: Path | None):
    from supportloop.feedback.preferences import PreferencesConfig, build_preferences

    inputs = {"responses": str(responses), "conversations": str(conversations)}
    if agreement is not None:
        inputs["agreement"] = str(agreement)
    config = {"inputs": inputs, "output_dir": str(out)}
    build_preferences(validate_config(PreferencesConfig, config, "test"))


def eval_run(out: Path, conversations: Path, exclude: tuple[str, ...] = ()) -> None:
    """An eval run's held-out win-rate rows on logged prompts, saved as the eval saves them;
    `exclude`: conversation ids its config keeps out of the prompts (named in its lineage)."""
    from supportloop.eval.heldout import prompts_from_conversations

    prompts = prompts_from_conversations(load_dataset_artifact(conversations))
    rows = [
        {
            "prompt_id": p.prompt_id,
            "conversation_id": p.conversation_id,
            "prompt": json.dumps(p.messages),
            "candidate": "Let me check that order for you.",
            "champion": "Sorry to hear that.",
            "gold_outcome": 0.5,
        }
        for p in prompts
    ]
    run = RunDir(out, "eval")
    saved = run.save_dataset("win_rate", Dataset.from_list(rows))
    run.write_lineage(
        inputs={"conversations": dataset_fingerprint(load_dataset_artifact(conversations))},
        config={
            "win_rate": {
                "prompts": "conversations",
                "conversations": str(conversations),
                "exclude_conversations": list(exclude),
            }
        },
        outputs={"win_rate": dataset_fingerprint(load_dataset_artifact(saved))},
    )


def adapter_run(out: Path, data: Path) -> None:
    """A training run's lineage as training writes it (no weights: only lineage is read)."""
    split = load_dataset_artifact(data)
    train = split["train"] if isinstance(split, DatasetDict) else split
    RunDir(out, "train").write_lineage(
        inputs={"data:train": dataset_fingerprint(train), "model": "tiny-llama"},
        config={"algorithm": "dpo", "data": {"path": str(data)}, "output_dir": str(out)},
        outputs={},
    )


def rows_naming(path: Path, customers: set[str], conversations: set[str]) -> int:
    """Rows of a saved dataset (all splits) that name any of the customers or conversations."""
    loaded = load_dataset_artifact(path)
    splits = loaded.values() if isinstance(loaded, DatasetDict) else [loaded]
    found = 0
    for split in splits:
        columns = split.column_names
        for row in split.select_columns(
            [c for c in ("customer_id", "conversation_id") if c in columns]
        ):
            found += row.get("customer_id") in customers
            found += row.get("conversation_id") in conversations
    return found


def total_rows(path: Path) -> int:
    loaded = load_dataset_artifact(path)
    return sum(loaded.num_rows.values()) if isinstance(loaded, DatasetDict) else len(loaded)


def unverified(run_dirs: list[Path]) -> dict[str, list[str]]:
    """verify_artifacts of each run, only those with problems."""
    problems = {str(run): verify_artifacts(run) for run in run_dirs}
    return {run: found for run, found in problems.items() if found}
