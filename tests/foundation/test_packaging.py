"""The wheel installs one namespace, `supportloop`, and imports beside other projects' modules.

The stage folders (feedback/, training/, eval/, models/) sit at the top of the repository and
are mapped under `supportloop.` by pyproject's package-dir; a wheel that shipped them as
top-level `eval` or `training` would shadow, or be shadowed by, other projects' modules.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MAPPED = {"supportloop": "supportloop", "feedback": "supportloop/feedback"}
MAPPED |= {"training": "supportloop/training", "eval": "supportloop/eval"}
MAPPED |= {"models": "supportloop/models"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the sources: setuptools leaves a build/ folder where it builds."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    skip = shutil.ignore_patterns("__pycache__")
    for folder in MAPPED:
        shutil.copytree(REPO / folder, source / folder, ignore=skip)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(source)],
        check=True, capture_output=True, text=True, cwd=out,
    )  # fmt: skip
    (built,) = out.glob("supportloop-*.whl")
    return built


def test_the_wheel_holds_one_top_level_package_with_every_module(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"supportloop"}
    expected = {
        f"{installed}/{path.relative_to(REPO / folder).as_posix()}"
        for folder, installed in MAPPED.items()
        for path in (REPO / folder).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert expected - set(names) == set(), "modules missing: add their package to pyproject"


def test_the_installed_wheel_imports_beside_modules_named_eval_training_feedback(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    # another project's top-level modules with the names the stage folders have
    other = tmp_path / "other_project"
    other.mkdir()
    for name in ("eval", "training", "feedback", "models"):
        (other / f"{name}.py").write_text(f"OWNER = 'other:{name}'\n")
    code = (
        "import eval, training, feedback, models\n"
        "import supportloop.feedback.argilla.settings, supportloop.eval.gate\n"
        "import supportloop.training.algorithms, supportloop.models.sampling, supportloop.cli\n"
        "assert {m.OWNER for m in (eval, training, feedback, models)} == "
        "{'other:eval', 'other:training', 'other:feedback', 'other:models'}\n"
        "print(supportloop.eval.gate.__file__)\n"
    )
    deps = sysconfig.get_paths()["purelib"]  # the dependencies, not the editable install
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(other), deps])}
    result = subprocess.run(
        [sys.executable, "-S", "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).is_relative_to(target)
