"""What every training run leaves behind besides the adapter: summary, lineage, W&B setup.

Shared by the TRL 1.16 recipes and the PPO worker (which runs in its own TRL 1.12 venv), so
this module imports neither pydantic nor TRL: it takes plain dicts and a transformers Trainer.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import sys
from pathlib import Path
from typing import Any

from supportloop.runs import (
    RunDir,
    dataset_fingerprint,
    file_fingerprint,
    package_versions,
    write_json_atomic,
)
from supportloop.tracking import wandb_mode

SUMMARY_FILE = "training_summary.json"
CHECKPOINT_MARKER = "supportloop_checkpoint.json"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


_WANDB_ENV = ("WANDB_DIR", "WANDB_PROJECT", "WANDB_MODE")
_wandb_env_before: dict[str, str | None] = {}


def prepare_wandb(report_to: list[str] | str | None, output_dir: Path, project: str) -> str:
    """Point the Trainer's W&B callback at the run dir, in the mode `supportloop.tracking` picks.

    The callback reads these from the environment, so they are set here and put back by
    `finish_wandb`: a later stage in the same process (`supportloop run`) decides afresh.
    Returns the line to show at the start of training.
    """
    targets = [report_to] if isinstance(report_to, str) else list(report_to or [])
    wanted = "wandb" in targets or "all" in targets
    setting = wandb_mode(wanted, off="trainer.report_to=none", on="trainer.report_to=wandb")
    if not wanted:
        return setting.line()
    if not _wandb_env_before:  # a run that failed before finish_wandb left its values behind
        _wandb_env_before.update({name: os.environ.get(name) for name in _WANDB_ENV})
    os.environ.setdefault("WANDB_DIR", str(output_dir))
    os.environ.setdefault("WANDB_PROJECT", project)
    os.environ["WANDB_MODE"] = setting.mode
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is None:
        # W&B reads WANDB_DIR/WANDB_MODE once per process: after an earlier run in this
        # process (an eval, a previous step of `supportloop run`) it would log elsewhere.
        wandb.teardown()
    return f"{setting.line()}; run under {os.environ['WANDB_DIR']}/wandb (project {project})"


def finish_wandb() -> None:
    """Close the W&B run the Trainer opened and restore the W&B environment prepare_wandb set."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()
    for name, value in _wandb_env_before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _wandb_env_before.clear()


def seal_checkpoint(folder: Path) -> None:
    """Record the size of every file of a checkpoint the Trainer has finished writing.

    The marker is written last and atomically, so a checkpoint without it (or whose files no
    longer have the recorded sizes) was cut short by a kill, a full disk or a crash.
    """
    sizes = {
        path.relative_to(folder).as_posix(): path.stat().st_size
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != CHECKPOINT_MARKER
    }
    write_json_atomic(folder / CHECKPOINT_MARKER, {"files": sizes})


def checkpoint_sealer():
    """A TrainerCallback that seals each checkpoint (on_save runs after the Trainer wrote it)."""
    from transformers import TrainerCallback

    class SealCheckpoint(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                seal_checkpoint(Path(args.output_dir) / f"checkpoint-{state.global_step}")

    return SealCheckpoint()


def checkpoint_problem(folder: Path) -> str | None:
    """Why a checkpoint cannot be resumed from (unsealed, a file missing or cut), or None."""
    marker = folder / CHECKPOINT_MARKER
    if not marker.is_file():
        return "unfinished: the run stopped while saving it"
    try:
        files: dict[str, int] = json.loads(marker.read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError, TypeError):
        return f"{CHECKPOINT_MARKER} is unreadable"
    for name, size in files.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != size:
            return f"{name} has {path.stat().st_size} of its {size} bytes"
    return None


def last_checkpoint(output_dir: Path) -> tuple[Path | None, list[str]]:
    """The newest complete `checkpoint-N` of a run dir, and a note per newer one skipped."""
    numbered = [p for p in output_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    skipped = []
    for path in sorted(numbered, key=lambda p: int(p.name.split("-")[-1]), reverse=True):
        problem = checkpoint_problem(path)
        if problem is None:
            return path, skipped
        skipped.append(f"skipping {path.name}: {problem}")
    return None, skipped


def trainable_digest(model) -> str:
    """sha256 over the trainable parameters: equal on every DDP rank when gradients synced."""
    digest = hashlib.sha256()
    for name, param in sorted(model.named_parameters(), key=lambda item: item[0]):
        if param.requires_grad:
            digest.update(name.encode())
            digest.update(param.detach().float().cpu().numpy().tobytes())
    return "sha256:" + digest.hexdigest()


def rank_reports(trainer) -> list[dict[str, Any]]:
    """One entry per process (gathered to all), proving which ranks trained and what they hold."""
    from accelerate.utils import gather_object

    accelerator = trainer.accelerator
    mine = {
        "rank": accelerator.process_index,
        "world_size": accelerator.num_processes,
        "backend": str(getattr(accelerator.state, "backend", None)),
        "device": str(accelerator.device),
        "pid": os.getpid(),
        "global_step": trainer.state.global_step,
        "trainable_sha256": trainable_digest(accelerator.unwrap_model(trainer.model)),
    }
    return gather_object([mine])


def peak_memory_mb() -> float:
    """Peak resident memory of this process (CPU) or peak CUDA memory allocated (GPU)."""
    import torch

    if torch.cuda.is_available() and torch.cuda.max_memory_allocated() > 0:
        return torch.cuda.max_memory_allocated() / 2**20
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def collect_metrics(log_history: list[dict[str, Any]]) -> dict[str, Any]:
    """Last value of every logged metric, the first training loss, and the full history."""
    final: dict[str, Any] = {}
    first_loss = None
    for entry in log_history:
        for key, value in entry.items():
            if isinstance(value, int | float):
                final[key] = value
        if first_loss is None and "loss" in entry:
            first_loss = entry["loss"]
    return {"final": final, "first_loss": first_loss, "history": log_history}


def write_training_outputs(
    output_dir: Path,
    recipe: dict[str, Any],
    trainer,
    datasets: dict[str, Any],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """training_summary.json + lineage.json (main process only); returns the summary.

    The run's caches of its datasets (tokenized customer text) are removed first.
    """
    run = RunDir(output_dir, "train")
    shutil.rmtree(run.cache_dir, ignore_errors=True)
    data_fps = {name: dataset_fingerprint(ds) for name, ds in datasets.items() if ds is not None}
    adapter = {
        name: file_fingerprint(output_dir / name)
        for name in ADAPTER_FILES
        if (output_dir / name).is_file()
    }
    summary = {
        "algorithm": recipe["algorithm"],
        "model": recipe["model"]["name"],
        "output_dir": str(output_dir),
        "global_step": trainer.state.global_step,
        "metrics": collect_metrics(trainer.state.log_history),
        "data": {
            "path": recipe["data"]["path"],
            "rows": {name: len(ds) for name, ds in datasets.items() if ds is not None},
            "fingerprints": data_fps,
        },
        "peak_memory_mb": round(peak_memory_mb(), 1),
        "recipe": recipe,
        "versions": package_versions(),
        **extra,
    }
    write_json_atomic(output_dir / SUMMARY_FILE, summary)
    inputs = {f"data:{name}": fp for name, fp in data_fps.items()}
    inputs["model"] = recipe["model"]["name"]
    if recipe.get("reward"):
        inputs["reward_model"] = recipe["reward"]["model"]
    run.record(SUMMARY_FILE, *adapter)
    run.write_lineage(inputs=inputs, config=recipe, outputs=adapter)
    return summary


def recipe_config_callback(recipe: dict[str, Any]):
    """A TrainerCallback that adds the recipe to the W&B run config (after W&B's own setup)."""
    from transformers import TrainerCallback

    class RecipeToWandb(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            if not state.is_world_process_zero:
                return
            try:
                import wandb
            except ImportError:
                return
            if wandb.run is not None:
                wandb.run.config.update({"recipe": recipe}, allow_val_change=True)

    return RecipeToWandb()
