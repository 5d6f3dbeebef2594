"""No PII value from the input reaches anything the loop sends or keeps: Argilla, W&B, a report,
a dataset, a log line or an exception message.

Logs (JSONL and a CSV of turns) are seeded with valid card numbers, IBANs, emails, phones, SSNs
and full names where customers write them: the opening, later turns, the assistant echoing the
name, the customer profile and a free-text metadata note; bad rows carry PII too. The loop runs
in fresh processes through the CLI (ingest -> argilla push -> simulate -> pull -> agreement ->
preferences -> train -> eval, W&B offline), then every seeded value (as written, without
spaces, digits only; any case) is searched for in every file under the test's directories
(the Argilla server's data dir, HOME and TMPDIR included), in everything printed, and in the
records the server returns. The one exception is the quarantine file: it keeps bad rows raw so
nothing is lost, and is owner-only (mode 0600 while written, read-only once sealed).
"""

from __future__ import annotations

import csv
import html
import io
import json
import random
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from supportloop.feedback.argilla.pull import find_dataset, iter_records
from supportloop.feedback.argilla.settings import ArgillaConfig
from supportloop.feedback.transcripts import InvalidTranscript, validate_transcript
from supportloop.runs import load_dataset_artifact
from tests.eval.helpers import ACME_SUITE
from tests.foundation.leak_search import files_holding
from tests.pii.pii_labelled import (
    CARD_SENTENCES,
    EMAIL_SENTENCES,
    GIVEN,
    IBAN_SENTENCES,
    NAME_SENTENCES,
    PHONE_SENTENCES,
    SSN_SENTENCES,
    SURNAMES,
    make_emails,
    make_ibans,
    make_pans,
    make_phones,
    make_ssns,
)

pytestmark = [pytest.mark.slow, pytest.mark.argilla]

SENTENCES = {
    "CARD": CARD_SENTENCES,
    "IBAN": IBAN_SENTENCES,
    "EMAIL": EMAIL_SENTENCES,
    "PHONE": PHONE_SENTENCES,
    "SSN": SSN_SENTENCES,
}
OPENINGS = [s for s in NAME_SENTENCES if "{g} {s}" in s and not s.startswith("{g}")]
JSONL_CONVERSATIONS = 30
CSV_CONVERSATIONS = 4
PUSHED = 26  # the rest stay out of the preferences: the eval's held-out win-rate prompts
SERVER_DATASET = "pii-leaks"


@dataclass(frozen=True)
class Seeded:
    """One PII value put into the logs, and the forms it could take in an artifact."""

    kind: str
    value: str

    def forms(self) -> set[str]:
        """Lower-case needles: as written, without spaces, and (numbers) digits only."""
        text = self.value.lower()
        forms = {text, re.sub(r"\s", "", text)}
        digits = re.sub(r"\D", "", text)
        if self.kind in ("CARD", "PHONE", "SSN") and len(digits) >= 9:
            forms.add(digits)
        if self.kind == "IBAN":
            forms.add(re.sub(r"[^0-9a-z]", "", text))
        return forms


def seeded_values(seed: int = 13) -> dict[str, list[str]]:
    """Valid values of each kind the redactor is meant to catch, in several layouts."""
    rng = random.Random(seed)
    names = [
        f"{g} {s}" for g, s in zip(rng.sample(GIVEN, 12), rng.sample(SURNAMES, 12), strict=True)
    ]
    return {
        "CARD": make_pans(rng, 12),  # four brands; plain, spaced, dashed
        "IBAN": make_ibans(rng, 24)[::2],  # twelve countries; compact and printed
        "EMAIL": make_emails(rng, 10),
        "PHONE": make_phones(rng, 20)[8:],  # international and E.164 layouts
        "SSN": [s for s in make_ssns(rng, 12) if "-" in s],
        "NAME": names,
    }


class Logs:
    """Transcripts seeded with every value, each placed at least once, round robin."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self.values = values
        self.numbers = [(k, v) for k, vs in values.items() if k != "NAME" for v in vs]
        self.next_number = 0

    def said(self) -> str:
        kind, value = self.numbers[self.next_number % len(self.numbers)]
        template = SENTENCES[kind][self.next_number % len(SENTENCES[kind])]
        self.next_number += 1
        return template.format(v=value)

    def conversation(self, i: int) -> dict:
        name = self.values["NAME"][i % len(self.values["NAME"])]
        given, surname = name.split(" ", 1)
        stamp = f"2026-10-{1 + i // 10:02d}T{i % 10 + 8:02d}:00:00Z"
        opening = OPENINGS[i % len(OPENINGS)].format(g=given, s=surname)
        profile = {"tier": "gold"}
        if i % 3 == 0:
            profile |= {"name": name, "email": self.values["EMAIL"][i % 10]}
        if i % 5 == 1:  # what a CRM keeps as free text
            profile["notes"] = f"Prefers chat. {self.said()}"
        metadata = {"intent": ["refund", "delivery", "billing"][i % 3]}
        if i % 4 == 0:  # a free-text note the support tool logs beside the chat
            metadata["agent_note"] = f"Callback requested by {name}: {self.said()}"
        return {
            "conversation_id": f"conv-{i:03d}",
            "customer_id": f"cust-{i % 20 if i < PUSHED else i:03d}",
            "started_at": stamp,
            "channel": "chat",
            "locale": "en-US",
            "model_version": "assistant-2026-10",
            "messages": [
                {"role": "user", "content": f"{opening} {self.said()}", "created_at": stamp},
                {
                    "role": "assistant",
                    "content": f"Thank you, {name}. I am sorry about that, let me check.",
                    "created_at": stamp,
                },
                {"role": "user", "content": self.said(), "created_at": stamp},
                {
                    "role": "assistant",
                    "content": "Thanks, I have updated the request and a refund follows policy.",
                    "created_at": stamp,
                },
            ],
            "context": {
                "retrieved_docs": [{"doc_id": "p1", "title": "Refunds", "text": "30 days."}],
                "customer_profile": profile,
            },
            "signals": {"thumbs": [{"turn_index": 1, "value": "up"}], "csat": 1 + i % 5},
            "metadata": metadata,
        }

    def bad_rows(self) -> list[str]:
        """JSON lines the contract refuses, each carrying PII, some in the refused field."""
        name, card = self.values["NAME"][0], self.values["CARD"][0]
        phone, email = self.values["PHONE"][0], self.values["EMAIL"][0]
        timestamp = self.conversation(90) | {"started_at": f"{card} was charged twice"}
        role = self.conversation(91)
        role["messages"][1]["role"] = name  # an export naming the agent instead of the role
        csat = self.conversation(92)
        csat["signals"]["csat"] = f"call {phone}"
        duplicate = self.conversation(0) | {"customer_id": "cust-093"}
        broken = json.dumps(self.conversation(94))[:-40] + f" {email} {name}"
        return [*(json.dumps(row) for row in (timestamp, role, csat, duplicate)), broken]

    def csv_turns(self, first: int) -> str:
        """A flat CSV of turns; the last conversation's agent is logged by name (quarantined)."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["chat", "customer_id", "speaker", "text", "time"])
        for i in range(first, first + CSV_CONVERSATIONS):
            conversation = self.conversation(i)
            agent = self.values["NAME"][1] if i == first + CSV_CONVERSATIONS - 1 else "agent"
            for message in conversation["messages"]:
                speaker = "customer" if message["role"] == "user" else agent
                row = [conversation["conversation_id"], conversation["customer_id"], speaker]
                writer.writerow([*row, message["content"], message["created_at"]])
        return out.getvalue()


def write_logs(top: Path, values: dict[str, list[str]]) -> dict[str, Path]:
    logs = Logs(values)
    jsonl = [json.dumps(logs.conversation(i)) for i in range(JSONL_CONVERSATIONS)]
    paths = {"jsonl": top / "logs.jsonl", "csv": top / "turns.csv"}
    paths["jsonl"].write_text("\n".join(jsonl + logs.bad_rows()) + "\n", encoding="utf-8")
    paths["csv"].write_text(logs.csv_turns(JSONL_CONVERSATIONS), encoding="utf-8")
    return paths


def leaks_in(text: str, seeded: list[Seeded]) -> list[str]:
    low = text.lower()
    return [f"{s.kind} {s.value!r}" for s in seeded if any(form in low for form in s.forms())]


def write_configs(top: Path, logs: dict[str, Path], runs: dict[str, Path], stack) -> dict:
    ingest = {
        "inputs": [
            {"path": str(logs["jsonl"])},
            {
                "path": str(logs["csv"]),
                "format": "csv",
                "mapping": {
                    "conversation_id": "chat",
                    "role": "speaker",
                    "content": "text",
                    "created_at": "time",
                },
                "role_map": {"customer": "user", "agent": "assistant"},
            },
        ],
        "output_dir": str(runs["ingest"]),
        "num_proc": 1,
    }
    argilla = {
        "dataset": SERVER_DATASET,
        "credentials": str(stack.credentials_file),
        "conversations": str(runs["ingest"] / "conversations"),
        "max_records": PUSHED,
        "sampling": {"num_candidates": 2, "max_new_tokens": 8, "batch_size": 16, "seed": 3},
        "simulation": {"annotators": {"annotator-1": 0.0, "annotator-2": 0.2}, "seed": 1},
        "pull_dir": str(runs["pull"]),
    }
    paths = {"ingest": top / "ingest.yaml", "argilla": top / "argilla.yaml"}
    paths["ingest"].write_text(yaml.safe_dump(ingest))
    paths["argilla"].write_text(yaml.safe_dump(argilla))
    return paths


def loop_commands(model: Path, configs: dict, runs: dict[str, Path], top: Path) -> list[list[str]]:
    """The loop's CLI calls at the smallest settings the stage tests use."""
    argilla = str(configs["argilla"])
    return [
        ["ingest", str(configs["ingest"])],
        ["argilla", "push", argilla, f"policy.model={model}", "--out", str(runs["push"])],
        ["argilla", "simulate", argilla],
        ["argilla", "pull", argilla],
        ["argilla", "agreement", argilla, "--out", str(runs["agreement"])],
        [
            "preferences",
            "configs/preferences/default.yaml",
            f"inputs.responses={runs['pull'] / 'responses'}",
            f"inputs.agreement={runs['agreement'] / 'record_agreement'}",
            f"inputs.conversations={runs['ingest'] / 'conversations'}",
            f"output_dir={runs['preferences']}",
        ],
        [
            "train",
            "configs/train/dpo.yaml",
            f"model.name={model}",
            f"data.path={runs['preferences'] / 'pairs'}",
            f"output_dir={runs['train']}",
            "trainer.max_steps=2",
            "trainer.max_length=512",
            "trainer.bf16=false",
            "trainer.logging_steps=1",
            "trainer.save_strategy=no",
        ],
        [
            "eval",
            "configs/eval/retail.yaml",
            f"candidate.name={model}",
            f"candidate.adapter={runs['train']}",
            f"champion.name={model}",
            "suite.kind=jsonl",
            f"suite.path={ACME_SUITE}",
            "suite.annotated=null",
            "suite.limit=2",
            "judge.kind=none",
            "simulator.trials=1",
            "simulator.max_turns=2",
            "sampling.max_new_tokens=8",
            "win_rate.prompts=conversations",
            f"win_rate.conversations={runs['ingest'] / 'conversations'}",
            "win_rate.limit=4",
            f"log_conversations={runs['ingest'] / 'conversations'}",
            f"registry={top / 'registry.sqlite'}",
            f"output_dir={runs['eval']}",
        ],
    ]


@pytest.fixture(scope="module")
def loop(tmp_path_factory, fresh_cli, tiny_llama_dir, argilla_stack, owner) -> dict:
    """The loop run once; what it printed, and the records the server holds after it."""
    top = tmp_path_factory.mktemp("pii-leaks")
    names = ("ingest", "push", "pull", "agreement", "preferences", "train", "eval", "home", "tmp")
    runs = {name: top / "runs" / name for name in names}
    runs["home"].mkdir(parents=True)
    runs["tmp"].mkdir()
    values = seeded_values()
    logs = write_logs(top, values)
    configs = write_configs(top, logs, runs, argilla_stack)
    env = {"HOME": str(runs["home"]), "TMPDIR": str(runs["tmp"]), "WANDB_MODE": "offline"}
    printed = []
    for args in loop_commands(tiny_llama_dir, configs, runs, top):
        result = fresh_cli(*args, OMP_NUM_THREADS="1", **env)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{args[:2]}: {output[-4000:]}"
        printed.append(output)
    settings = ArgillaConfig(dataset=SERVER_DATASET, credentials=argilla_stack.credentials_file)
    dataset_id = find_dataset(owner, settings)["id"]
    return {
        "top": top,
        "runs": runs,
        "logs": logs,
        "seeded": [Seeded(kind, v) for kind, vs in values.items() for v in vs],
        "printed": printed,
        "records": iter_records(owner, dataset_id),
    }


def test_the_search_finds_what_the_logs_hold_and_the_loop_wrote_what_it_searches(loop):
    """Not a vacuous search: the logs hold every seeded value, the quarantine some, and the
    artifacts searched exist (W&B offline runs, the HTML report, datasets, responses)."""
    seeded = loop["seeded"]
    logs = "".join(path.read_text() for path in loop["logs"].values())
    assert len(leaks_in(logs, seeded)) == len(seeded)
    quarantine = loop["runs"]["ingest"] / "quarantine.jsonl"
    assert leaks_in(quarantine.read_text(), seeded)
    conversations = load_dataset_artifact(loop["runs"]["ingest"] / "conversations")
    notes = [json.loads(m).get("agent_note") for m in conversations["metadata"]]
    assert any(note and "<PERSON_" in note for note in notes)  # metadata is redacted, not dropped
    for written in (
        "ingest/conversations/data-*.arrow",
        "pull/responses/data-*.arrow",
        "preferences/pairs/*/data-*.arrow",
        "train/wandb/offline-run-*/run-*.wandb",
        "eval/wandb/offline-run-*/run-*.wandb",
        "eval/report.html",
        "eval/summary.json",
    ):
        assert list(loop["runs"]["ingest"].parent.glob(written)), f"{written}: not written"
    assert len(loop["records"]) == PUSHED


def test_no_seeded_value_is_in_any_file_the_loop_wrote_but_the_quarantine(loop, stack_config):
    """Every file under the runs, HOME, TMPDIR and the Argilla server's data dir but the logs
    themselves: the quarantine file, which keeps raw rows, is the only one the search finds."""
    found = {}
    for root in (loop["top"], stack_config.data_dir):
        found |= files_holding(
            root, lambda text: leaks_in(text, loop["seeded"]), loop["logs"].values()
        )
    assert list(found) == [str(loop["runs"]["ingest"] / "quarantine.jsonl")], found


def test_no_seeded_value_is_printed_by_any_stage(loop):
    printed = "\n".join(loop["printed"])
    assert "W&B offline" in printed
    assert leaks_in(printed, loop["seeded"]) == []


def test_no_seeded_value_is_in_the_records_on_the_server(loop):
    """Fields, metadata (the owner-only part too) and responses, as the REST API returns them."""
    records = html.unescape(json.dumps(loop["records"], ensure_ascii=False))
    assert "<PERSON_1>" in records and "<EMAIL_1>" in records
    assert leaks_in(records, loop["seeded"]) == []


def test_quarantine_keeps_bad_rows_raw_but_owner_only_and_its_reasons_name_no_value(loop):
    """Raw rows (so nothing is lost), readable by the owner alone; the reasons, which the
    summary tallies and the CLI prints, show no value of the row."""
    quarantine = loop["runs"]["ingest"] / "quarantine.jsonl"
    assert stat.S_IMODE(quarantine.stat().st_mode) & 0o077 == 0
    records = [json.loads(line) for line in quarantine.read_text().splitlines()]
    assert len(records) == 6
    reasons = [record["reason"] for record in records]
    assert any(r.startswith("started_at: not a timestamp: a str of ") for r in reasons)
    assert leaks_in("\n".join(reasons), loop["seeded"]) == [], reasons


def test_an_error_on_a_row_with_pii_does_not_show_it(loop):
    """validate_transcript's message (the quarantine reason) on each refused, parseable row."""
    seeded = loop["seeded"]
    rows = loop["logs"]["jsonl"].read_text().splitlines()[JSONL_CONVERSATIONS:]
    messages = []
    for line in rows[:3]:
        with pytest.raises(InvalidTranscript) as info:
            validate_transcript(json.loads(line), 20_000)
        messages.append(str(info.value))
    assert leaks_in(json.dumps(rows[:3]), seeded)  # the rows do carry PII
    assert leaks_in("\n".join(messages), seeded) == [], messages
