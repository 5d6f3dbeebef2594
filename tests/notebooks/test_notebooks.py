"""The notebooks run, top to bottom, on the artifacts of a small real run: they cannot rot.

Each notebook is executed with nbclient in a `python3` kernel of this environment, from the
notebooks/ folder as Jupyter would start it, with its inputs in the environment variables it
reads (the kernel inherits this process's environment):
- annotation analysis and preference explorer: the annotation round of
  tests/preferences/helpers.py (three annotators, six records), saved as `argilla pull` and
  ingest save it, then through `supportloop argilla agreement` and `supportloop preferences`;
- eval comparison: two `run_eval` runs on the acme suite with tiny random Llamas (A: one
  model against itself, B: another one against it), ~15 s each.
Reading must leave every run exactly as its lineage recorded it. Notebooks are stored without
outputs, and every notebook in notebooks/ must be listed here, so none is left unexecuted.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from datasets import Dataset
from nbclient import NotebookClient
from typer.testing import CliRunner

from supportloop.cli import app
from supportloop.runs import verify_artifacts
from tests.eval.helpers import ACME_SUITE, single_torch_thread
from tests.helpers import save_tiny_llama
from tests.preferences.helpers import CONVERSATIONS, RESPONSES

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = REPO / "notebooks"

NOTEBOOKS = {
    "annotation_analysis.ipynb": "annotation_inputs",
    "preference_explorer.ipynb": "preference_inputs",
    "eval_comparison.ipynb": "eval_inputs",
}
"""Each notebook -> the fixture giving (its environment variables, the runs it reads)."""


@pytest.fixture(scope="module")
def annotation_round(tmp_path_factory) -> dict[str, Path]:
    """The round's responses and conversations as the pull and ingest stages save them, then
    its agreement and preferences, written by the CLI commands a user runs."""
    root = tmp_path_factory.mktemp("notebook-round")
    pull_dir = root / "pull"
    Dataset.from_list(RESPONSES).save_to_disk(str(pull_dir / "responses"))
    Dataset.from_list(CONVERSATIONS).save_to_disk(str(root / "ingest" / "conversations"))
    agreement = CliRunner().invoke(
        app,
        [
            "argilla",
            "agreement",
            str(REPO / "configs/argilla/default.yaml"),
            f"pull_dir={pull_dir}",
            "--out",
            str(root / "agreement"),
        ],
    )
    assert agreement.exit_code == 0, agreement.output
    preferences = CliRunner().invoke(
        app,
        [
            "preferences",
            str(REPO / "configs/preferences/default.yaml"),
            f"inputs.responses={pull_dir / 'responses'}",
            f"inputs.agreement={root / 'agreement' / 'record_agreement'}",
            f"inputs.conversations={root / 'ingest' / 'conversations'}",
            f"output_dir={root / 'preferences'}",
        ],
    )
    assert preferences.exit_code == 0, preferences.output
    return {"pull": pull_dir, "agreement": root / "agreement", "preferences": root / "preferences"}


@pytest.fixture
def annotation_inputs(annotation_round):
    env = {
        "SUPPORTLOOP_PULL_DIR": annotation_round["pull"],
        "SUPPORTLOOP_AGREEMENT_DIR": annotation_round["agreement"],
    }
    return env, [annotation_round["agreement"]]


@pytest.fixture
def preference_inputs(annotation_round):
    env = {"SUPPORTLOOP_PREFERENCES_DIR": annotation_round["preferences"]}
    return env, [annotation_round["preferences"], annotation_round["agreement"]]


@pytest.fixture(scope="module")
def eval_runs(tiny_llama_dir, tmp_path_factory):
    """Two eval runs on the same suite and seeds: A pits a model against itself, B another
    model against it (the held-out win rate is computed; no resolution judge, no W&B)."""
    from supportloop.eval.config import EvalConfig
    from supportloop.eval.run import run_eval

    root = tmp_path_factory.mktemp("notebook-evals")
    other = save_tiny_llama(root / "other-llama", max_position_embeddings=2048)
    runs = {}
    for name, candidate in (("A", tiny_llama_dir), ("B", other)):
        config = EvalConfig.model_validate(
            {
                "suite": {"kind": "jsonl", "path": str(ACME_SUITE), "injections": 2},
                "candidate": {"name": str(candidate)},
                "champion": {"name": str(tiny_llama_dir)},
                "sampling": {"max_new_tokens": 24, "batch_size": 8},
                "simulator": {"max_turns": 2, "trials": 2},
                "judge": {"kind": "none"},
                "report": {"wandb": False, "html": True},
                "gate": {"overrides": {"min_scenarios": 4}},
                "registry": str(root / "registry.sqlite"),
                "output_dir": str(root / f"eval-{name}"),
            }
        )
        with single_torch_thread():  # tiny models: a second thread only waits
            runs[name] = run_eval(config, log=lambda _: None).run_dir
    return runs


@pytest.fixture
def eval_inputs(eval_runs):
    env = {"SUPPORTLOOP_EVAL_A": eval_runs["A"], "SUPPORTLOOP_EVAL_B": eval_runs["B"]}
    return env, list(eval_runs.values())


def _outputs(notebook) -> tuple[str, int]:
    """(every text the notebook showed, the number of images)."""
    texts, images = [], 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                texts.append(output.text)
            data = output.get("data", {})
            texts += [data.get("text/plain", ""), data.get("text/html", "")]
            images += "image/png" in data
    return "\n".join(texts), images


EXPECTED = {
    # notebook: (texts it must show, images it must draw at least)
    "annotation_analysis.ipynb": (
        ["records with 2+ annotators", "ranking", "resolves", "flags", "customer:"],
        3,
    ),
    "preference_explorer.ipynb": (["ranking_margin", "<th>chosen</th>", "correction"], 3),
    "eval_comparison.ipynb": (["B candidate - A candidate", "difference score", "gold"], 4),
}


def test_every_notebook_is_tested_and_stored_without_outputs():
    stored = sorted(path.name for path in NOTEBOOK_DIR.glob("*.ipynb"))
    assert stored == sorted(NOTEBOOKS), "each notebook needs an entry in NOTEBOOKS"
    assert set(EXPECTED) == set(NOTEBOOKS)
    for name in stored:
        notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
        nbformat.validate(notebook)
        assert notebook.metadata.kernelspec.name == "python3", name
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, (
                    f"{name} is stored with outputs: clear them before committing "
                    "(jupyter nbconvert --clear-output --inplace notebooks/*.ipynb)"
                )


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_runs_on_a_small_run(name, request, monkeypatch):
    env, runs = request.getfixturevalue(NOTEBOOKS[name])
    for variable, path in env.items():
        monkeypatch.setenv(variable, str(path))
    notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        startup_timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on an error
    print(f"{name}: executed in {time.perf_counter() - started:.1f} s")

    shown, images = _outputs(notebook)
    for variable, path in env.items():
        assert f"{variable}={path}" in shown  # the first cell says which inputs it read
    texts, min_images = EXPECTED[name]
    for text in texts:
        assert text in shown, f"{name} did not show {text!r}"
    assert images >= min_images, f"{name}: {images} plots"
    for run in runs:
        assert verify_artifacts(run) == [], f"{name} changed {run}"
