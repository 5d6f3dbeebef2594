"""Recipe datasets: load the preferences stage's DatasetDict and check it fits the algorithm.

The checks run before a model is loaded, so a KTO dataset given to DPO (or a missing split)
costs a second and a one-line message instead of a stack trace from inside TRL.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from supportloop.errors import UserError

if TYPE_CHECKING:
    from datasets import Dataset

    from training.recipes import DataSection

ONLINE_RL = ("rloo", "grpo", "ppo")

# Column sets of the TRL conversational formats (see notes/contracts: preference datasets).
FORMATS: dict[str, tuple[str, ...]] = {
    "preference (dpo/reward)": ("prompt", "chosen", "rejected"),
    "unpaired preference (kto)": ("prompt", "completion", "label"),
    "conversation (sft)": ("messages",),
    "prompt-completion (sft)": ("prompt", "completion"),
    "prompt-only (online RL)": ("prompt",),
}
ACCEPTED: dict[str, tuple[str, ...]] = {
    "sft": ("conversation (sft)", "prompt-completion (sft)"),
    "reward": ("preference (dpo/reward)",),
    "dpo": ("preference (dpo/reward)",),
    "kto": ("unpaired preference (kto)",),
    "rloo": ("prompt-only (online RL)",),
    "grpo": ("prompt-only (online RL)",),
    "ppo": ("prompt-only (online RL)",),
}


class DatasetFormatError(UserError):
    """A dataset that is missing, lacks a split, or has the wrong columns for the recipe."""


def detect_format(columns: list[str]) -> str | None:
    """The most specific TRL format whose columns are all present."""
    for name, required in FORMATS.items():
        if all(column in columns for column in required):
            return name
    return None


def check_format(algorithm: str, columns: list[str], where: str) -> None:
    """The dataset's own format must be one the algorithm takes; online RL reads any prompts."""
    accepted = ACCEPTED[algorithm]
    found = detect_format(columns)
    if found in accepted or (algorithm in ONLINE_RL and "prompt" in columns):
        return
    needs = " or ".join(f"{name} {{{', '.join(FORMATS[name])}}}" for name in accepted)
    what = f"a {found} dataset" if found else f"columns {sorted(columns)}"
    raise DatasetFormatError(f"{where} is {what}; {algorithm} needs a {needs} dataset")


def _load(path: Path, cache_dir: Path | None):
    from datasets import DatasetDict

    from supportloop.reading import open_dataset

    if not path.exists():
        raise DatasetFormatError(
            f"dataset {path} not found: build it with the preferences stage or set data.path=..."
        )
    if not (path / "dataset_dict.json").is_file() and not (path / "dataset_info.json").is_file():
        raise DatasetFormatError(f"{path} is not a saved dataset (expected save_to_disk output)")
    loaded = open_dataset(path, cache_dir)
    return loaded if isinstance(loaded, DatasetDict) else DatasetDict({"train": loaded})


def load_splits(
    algorithm: str, data: DataSection, cache_dir: Path | None = None
) -> tuple[Dataset, Dataset | None]:
    """(train, eval-or-None), checked against the algorithm and trimmed to the recipe's caps.

    The trainer tokenizes what it is given with `map`: pass the training run's own
    `cache_dir` (supportloop.reading), or the caches go to memory.
    """
    splits = _load(data.path, cache_dir)
    if data.train_split not in splits:
        raise DatasetFormatError(
            f"{data.path} has no split {data.train_split!r} (splits: {', '.join(splits)})"
        )
    train = splits[data.train_split]
    check_format(algorithm, train.column_names, f"{data.path} [{data.train_split}]")
    if len(train) == 0:
        raise DatasetFormatError(f"{data.path} [{data.train_split}] is empty")
    evaluation = splits.get(data.eval_split) if data.eval_split else None
    if evaluation is not None and len(evaluation) == 0:
        evaluation = None
    if data.max_train_samples:
        train = train.select(range(min(data.max_train_samples, len(train))))
    if evaluation is not None and data.max_eval_samples:
        evaluation = evaluation.select(range(min(data.max_eval_samples, len(evaluation))))
    if algorithm in ONLINE_RL:
        # Online RL only reads prompts; other columns would be passed to reward functions.
        train = train.select_columns(["prompt"])
        evaluation = evaluation.select_columns(["prompt"]) if evaluation is not None else None
    return train, evaluation
