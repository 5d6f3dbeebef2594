"""Every file shipped under configs/ loads and validates through the loader its command uses.

Parametrized over the directory, so a new config is covered as soon as it is added; a file no
loader claims fails the test (register its loader in `LOADERS`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from supportloop.config import load_config, project_root

ROOT = project_root(Path(__file__).parent)
SHIPPED = sorted(p.relative_to(ROOT) for p in (ROOT / "configs").rglob("*") if p.is_file())


def _argilla(path: Path) -> Any:
    if path.name == "stack.yaml":  # `argilla up/down/status --config`
        from supportloop.feedback.argilla.stack import StackConfig

        return load_config(StackConfig, path)
    from supportloop.feedback.argilla.settings import ArgillaConfig  # push, pull, agreement, listen

    return load_config(ArgillaConfig, path)


def _ingest(path: Path) -> Any:
    if path.name == "sample_logs.yaml":  # `ingest sample-logs`
        from supportloop.feedback.demo.sample_logs import SampleLogsConfig

        return load_config(SampleLogsConfig, path)
    from supportloop.feedback.ingest.config import IngestConfig

    return load_config(IngestConfig, path)


def _eval(path: Path) -> Any:
    if path.name == "gate.yaml":  # read by `eval` through the config's `gate.path`
        from supportloop.eval.gate import load_gate

        return load_gate(path)
    from supportloop.eval.config import EvalConfig

    return load_config(EvalConfig, path)


def _suite(path: Path) -> Any:
    from supportloop.eval.suites import AnnotatedTurn, load_jsonl_suite, read_jsonl, validate_rows

    if path.stem.endswith("-annotated"):  # an eval config's `suite.annotated`
        return validate_rows(AnnotatedTurn, read_jsonl(path), path)
    return load_jsonl_suite(path).scenarios


def _pipeline(path: Path) -> Any:
    from supportloop.commands.run import PipelineConfig

    return load_config(PipelineConfig, path)


def _preferences(path: Path) -> Any:
    from supportloop.feedback.preferences import PreferencesConfig

    return load_config(PreferencesConfig, path)


def _recipe(path: Path) -> Any:
    from supportloop.training.recipes import load_recipe  # also builds TRL's config from `trainer:`

    return load_recipe(path)


def _accelerate(path: Path) -> Any:
    from accelerate.commands.config.config_args import load_config_from_file

    return load_config_from_file(str(path))  # what `accelerate launch --config_file` reads


LOADERS: dict[str, Callable[[Path], Any]] = {
    "configs/accelerate/*.yaml": _accelerate,
    "configs/argilla/*.yaml": _argilla,
    "configs/eval/*.yaml": _eval,
    "configs/eval/suites/*.jsonl": _suite,
    "configs/ingest/*.yaml": _ingest,
    "configs/pipeline/*.yaml": _pipeline,
    "configs/preferences/*.yaml": _preferences,
    "configs/train/*.yaml": _recipe,
}


def _loader(relative: Path) -> Callable[[Path], Any]:
    matches = [load for pattern, load in LOADERS.items() if relative.match(pattern)]
    assert len(matches) == 1, f"{relative}: no loader registered in LOADERS (or several)"
    return matches[0]


def test_configs_are_found():
    assert len(SHIPPED) >= 20, SHIPPED


@pytest.mark.parametrize("relative", SHIPPED, ids=str)
def test_shipped_config_validates(relative: Path):
    loaded = _loader(relative)(ROOT / relative)
    assert loaded, f"{relative} loaded as nothing"
