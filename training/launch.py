"""How a recipe runs: in this process, under `accelerate launch`, or in its algorithm's venv.

`supportloop train` calls `launch(...)`; each process started by `accelerate launch` runs
`python -m supportloop.training.launch RECIPE [key=value ...]`, which trains in-process. An
algorithm with its own venv (supportloop.training.algorithms; PPO: .venv-ppo, TRL 1.12, see
supportloop.training.ppo_worker) runs its worker there with the same recipe and outputs.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from supportloop.config import project_root
from supportloop.errors import UserError
from supportloop.training.algorithms import AlgorithmSpec
from supportloop.training.hardware import CHANGE_THREADS, Threads, detect_threads
from supportloop.training.rank_exit import run_rank
from supportloop.training.recipes import Recipe, load_recipe, recipe_dict, resolve_recipe_path


class LaunchError(UserError):
    """A launch that cannot start: unknown accelerate config, missing algorithm environment."""


def accelerate_config_path(name: str) -> Path:
    """`cpu_ddp` -> configs/accelerate/cpu_ddp.yaml; a path stays a path."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path.resolve()
    folder = project_root() / "configs" / "accelerate"
    candidate = folder / f"{name}.yaml"
    if candidate.is_file():
        return candidate
    known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml")))
    raise LaunchError(f"accelerate config {name!r} not found (known: {known})")


def free_port() -> int:
    """A free TCP port for the rendezvous, so two launches on one machine never collide."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def venv_python(root: Path, spec: AlgorithmSpec) -> Path:
    """The interpreter of an algorithm's own virtualenv (PPO: .venv-ppo)."""
    python = root / spec.venv / "bin" / "python"
    note = f" ({spec.note})" if spec.note else ""
    if not python.is_file():
        raise LaunchError(
            f"the {spec.name} recipe runs in {root / spec.venv}{note}, which is missing: "
            "run `bash scripts/setup.sh --ppo`"
        )
    return python


def worker_spec(recipe: Recipe, source: str) -> Path:
    """The validated recipe as JSON for a venv's worker (paths already resolved)."""
    recipe.output_dir.mkdir(parents=True, exist_ok=True)
    spec = recipe.output_dir / f"{recipe.algorithm}_recipe.json"
    spec.write_text(json.dumps({"recipe": recipe_dict(recipe), "source": source}, indent=2))
    return spec


def command(recipe: Recipe, source: str, overrides: list[str], accelerate: str | None) -> list[str]:
    """The argv that runs this recipe (empty when it runs in this process)."""
    root = project_root()
    if recipe.spec.worker:
        python = venv_python(root, recipe.spec)
        target = ["-m", recipe.spec.worker, str(worker_spec(recipe, source))]
    elif accelerate:
        python = Path(sys.executable)
        target = ["-m", "supportloop.training.launch", source, *overrides]
    else:
        return []
    if not accelerate:
        return [str(python), *target]
    launcher = [str(python), "-m", "accelerate.commands.launch"]
    port = ["--main_process_port", str(free_port())]
    config = ["--config_file", str(accelerate_config_path(accelerate))]
    return [*launcher, *config, *port, *target]


def accelerate_processes(name: str) -> int:
    """`num_processes` of an accelerate config (1 where it leaves it to accelerate)."""
    import yaml

    config = yaml.safe_load(accelerate_config_path(name).read_text()) or {}
    return int(config.get("num_processes") or 1)


@contextmanager
def cpu_threads(requested: int | None = None, processes: int = 1) -> Iterator[Threads]:
    """Torch's CPU threads while a recipe trains, chosen by supportloop.training.hardware.

    The recipe's `threads`, else OMP_NUM_THREADS, else the cores other work leaves free,
    divided among the processes. Exported as OMP_NUM_THREADS, so spawned processes (each rank
    of `accelerate launch`, which would otherwise give each one thread; the PPO worker) follow
    it; both settings are restored afterwards for callers that train in-process (tests).
    """
    import torch

    before_env, before_threads = os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads()
    try:
        threads = detect_threads(requested, processes)
    except ValueError as exc:
        raise LaunchError(str(exc)) from None
    os.environ["OMP_NUM_THREADS"] = str(threads.count)
    torch.set_num_threads(threads.count)
    try:
        yield threads
    finally:
        torch.set_num_threads(before_threads)
        if before_env is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before_env


def launch(recipe_name: str, overrides: list[str], accelerate: str | None = None, say=print) -> int:
    """Train a recipe the way it has to run; returns the exit status (0 = trained)."""
    from supportloop.training.trainers import check_inputs, resume_point, train_recipe

    source = str(resolve_recipe_path(recipe_name))
    recipe = load_recipe(source, overrides)
    if recipe.resume and not recipe.spec.resumable:
        raise LaunchError(f"{recipe.spec.label} cannot resume from a checkpoint")
    resume_point(recipe)  # refuse to mix runs here, not once per spawned process
    argv = command(recipe, source, overrides, accelerate)
    processes = accelerate_processes(accelerate) if accelerate else 1
    with cpu_threads(recipe.threads, processes) as threads:
        if not argv:
            train_recipe(recipe, source, say, threads)
            return 0
        check_inputs(recipe)
        say(f"{threads.count} CPU thread(s) per process ({threads.why}; change: {CHANGE_THREADS})")
        say(" ".join(argv))
        return subprocess.run(argv, check=False).returncode


def main(argv: list[str]) -> int:
    """Entry of each process under `accelerate launch`: train in-process."""
    from supportloop.training.trainers import train_recipe

    source, overrides = argv[0], argv[1:]
    return run_rank(lambda: train_recipe(load_recipe(source, overrides), source))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
