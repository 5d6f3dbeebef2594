"""Recipe datasets: load the preferences stage's DatasetDict and check it fits the algorithm.

The checks run before a model is loaded, so a KTO dataset given to DPO (or a missing split)
costs a second and a one-line message instead of a stack trace from inside TRL.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from supportloop.errors import UserError
from supportloop.training.algorithms import FORMATS, AlgorithmSpec

if TYPE_CHECKING:
    from datasets import Dataset


class DataSource(Protocol):
    """A recipe's `data:` section (recipes.DataSection, or the PPO worker's copy)."""

    path: Path
    train_split: str
    eval_split: str | None
    max_train_samples: int | None
    max_eval_samples: int | None


class DatasetFormatError(UserError):
    """A dataset that is missing, lacks a split, or has the wrong columns for the recipe."""


def detect_format(columns: list[str]) -> str | None:
    """The most specific TRL format whose columns are all present."""
    for name, required in FORMATS.items():
        if all(column in columns for column in required):
            return name
    return None


def check_format(spec: AlgorithmSpec, columns: list[str], where: str) -> None:
    """The dataset's own format must be one the algorithm takes, or hold all it reads."""
    found = detect_format(columns)
    if found in spec.formats or (spec.reads and all(c in columns for c in spec.reads)):
        return
    needs = " or ".join(f"{name} {{{', '.join(FORMATS[name])}}}" for name in spec.formats)
    what = f"a {found} dataset" if found else f"columns {sorted(columns)}"
    raise DatasetFormatError(f"{where} is {what}; {spec.name} needs a {needs} dataset")


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
    spec: AlgorithmSpec, data: DataSource, cache_dir: Path | None = None
) -> tuple[Dataset, Dataset | None]:
    """(train, eval-or-None), checked against the algorithm and trimmed to the recipe's caps.

    The trainer tokenizes what it is given with `map`: pass the training run's own
    `cache_dir` (supportloop.reading), or the caches go to memory.
    """
    from supportloop.runs import require_same_pipeline_run

    require_same_pipeline_run(data.path, "data.path")
    splits = _load(data.path, cache_dir)
    if data.train_split not in splits:
        raise DatasetFormatError(
            f"{data.path} has no split {data.train_split!r} (splits: {', '.join(splits)})"
        )
    train = splits[data.train_split]
    check_format(spec, train.column_names, f"{data.path} [{data.train_split}]")
    if len(train) == 0:
        raise DatasetFormatError(f"{data.path} [{data.train_split}] is empty")
    evaluation = splits.get(data.eval_split) if data.eval_split else None
    if evaluation is not None and len(evaluation) == 0:
        evaluation = None
    if data.max_train_samples:
        train = train.select(range(min(data.max_train_samples, len(train))))
    if evaluation is not None and data.max_eval_samples:
        evaluation = evaluation.select(range(min(data.max_eval_samples, len(evaluation))))
    if spec.reads:
        # Online RL only reads prompts; other columns would be passed to reward functions.
        train = train.select_columns(list(spec.reads))
        if evaluation is not None:
            evaluation = evaluation.select_columns(list(spec.reads))
    return train, evaluation
