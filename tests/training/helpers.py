"""Plain helpers and toy data for the training tests: a learnable toy preference (polite
replies chosen, rude ones rejected) in the TRL conversational formats of the preferences stage,
and the overrides that turn a shipped recipe into a few-step run on the tiny model."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

QUESTIONS = [
    "Where is my order?",
    "Can I change my delivery address?",
    "How do I reset my password?",
    "My package arrived damaged.",
    "Can I return these shoes?",
    "Why was I charged twice?",
    "When will my refund arrive?",
    "How do I cancel my subscription?",
    "Do you ship to Canada?",
    "The app keeps crashing.",
    "I never received a confirmation email.",
    "Can I speak to a person?",
    "How do I update my card?",
    "Is there a warranty on this?",
    "My coupon code does not work.",
    "Can I add an item to my order?",
]
POLITE = [
    "Thank you for reaching out, I am happy to help you with that right away.",
    "Thanks so much for asking, I will gladly sort this out for you.",
]
RUDE = [
    "Not my problem, figure it out yourself.",
    "Stop bothering us with this stuff.",
]


def _prompt(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


def _reply(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def _provenance(i: int, source: str) -> dict:
    return {
        "conversation_id": f"conv-{i}",
        "source": source,
        "agreement": 1.0,
        "annotators": ["ann-a", "ann-b"],
    }


def pair_rows(questions: list[str]) -> list[dict]:
    return [
        {
            "prompt": _prompt(q),
            "chosen": _reply(POLITE[i % 2]),
            "rejected": _reply(RUDE[i % 2]),
            **_provenance(i, "ranking"),
        }
        for i, q in enumerate(questions)
    ]


def kto_rows(questions: list[str]) -> list[dict]:
    rows = []
    for i, q in enumerate(questions):
        rows.append(
            {
                "prompt": _prompt(q),
                "completion": _reply(POLITE[i % 2]),
                "label": True,
                **_provenance(i, "rating"),
            }
        )
        rows.append(
            {
                "prompt": _prompt(q),
                "completion": _reply(RUDE[i % 2]),
                "label": False,
                **_provenance(i, "rating"),
            }
        )
    return rows


def sft_rows(questions: list[str]) -> list[dict]:
    return [
        {"messages": _prompt(q) + _reply(POLITE[i % 2]), **_provenance(i, "correction")}
        for i, q in enumerate(questions)
    ]


def save_splits(rows_fn, path: Path) -> Path:
    """Save `rows_fn` of the first 12 questions as train, of the last 4 as test."""
    from datasets import Dataset, DatasetDict

    DatasetDict(
        {
            "train": Dataset.from_list(rows_fn(QUESTIONS[:12])),
            "test": Dataset.from_list(rows_fn(QUESTIONS[12:])),
        }
    ).save_to_disk(str(path))
    return path


def quick_overrides(tiny_model: Path, data: Path, output_dir: Path, steps: int = 2) -> list[str]:
    """Overrides that turn a shipped recipe into a few-step run on the tiny model.

    Offline recipes also take `trainer.max_length=64` (online ones have no such option).
    """
    return [
        f"model.name={tiny_model}",
        f"data.path={data}",
        f"output_dir={output_dir}",
        f"trainer.max_steps={steps}",
        "trainer.logging_steps=1",
        "trainer.report_to=[]",
        "trainer.save_strategy='no'",
        "trainer.dataloader_num_workers=0",
    ]


def run_recipe(name: str, overrides: list[str]) -> dict:
    """Train a shipped recipe in this process (what `supportloop train` does without launch)."""
    from supportloop.training.recipes import load_recipe
    from supportloop.training.trainers import train_recipe

    return train_recipe(load_recipe(name, overrides), say=lambda text: None)


def checkpointing_overrides(tiny_model: Path, data: Path, output_dir: Path) -> list[str]:
    """A 30-step SFT run (5 epochs of 6 batches) saving a checkpoint every 4 steps, logging
    each step, on one thread: slow enough (~0.3 s a step) to be killed between checkpoints."""
    return [
        *quick_overrides(tiny_model, data, output_dir, steps=30),
        "trainer.save_strategy=steps",
        "trainer.save_steps=4",
        "trainer.save_total_limit=null",
        "trainer.max_length=64",
        "trainer.per_device_train_batch_size=2",
        "data.eval_split=null",
        "threads=1",
    ]


def cli_argv(*args: str) -> list[str]:
    """`supportloop ARGS` as a new process would run it (the venv's console script)."""
    import sys

    return [str(Path(sys.executable).parent / "supportloop"), *args]


def kill_when_created(process, path: Path, timeout: float = 300) -> None:
    """SIGKILL `process` the moment `path` appears (polled every 2 ms, with a deadline).

    The Trainer creates a checkpoint folder when it starts saving into it, so killing then
    usually lands in the middle of the save.
    """
    import signal
    import time

    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared (exit status {process.poll()})")
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
