"""Run directories: artifacts appear whole, become read-only, are digested in lineage, and
readers never write into them (supportloop.runs, supportloop.reading)."""

from __future__ import annotations

import stat
from pathlib import Path

from datasets import Dataset, DatasetDict, load_dataset, load_from_disk

from supportloop.runs import RunDir, load_dataset_artifact, read_lineage, verify_artifacts


def _pairs(n: int) -> Dataset:
    return Dataset.from_list(
        [{"prompt": f"q{i}", "chosen": "yes", "rejected": "no"} for i in range(n)]
    )


def _files(path: Path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}


def _finished_run(tmp_path: Path) -> Path:
    run = RunDir(tmp_path / "run", "test")
    run.save_dataset("pairs", DatasetDict({"train": _pairs(4), "test": _pairs(2)}))
    run.write_summary({"rows": 6})
    (run / "notes.txt").write_text("side file\n")
    run.record("notes.txt")
    run.write_lineage(inputs={}, config={}, outputs={})
    return run.path


def test_a_saved_dataset_is_whole_read_only_and_loads_with_both_loaders(tmp_path):
    run = RunDir(tmp_path / "run", "test")
    target = run.save_dataset(
        "pairs", DatasetDict({"train": _pairs(3), "test": _pairs(0)}), "# card"
    )

    assert sorted(p.name for p in run.path.iterdir()) == ["pairs"]  # no staging left behind
    assert (target / "README.md").read_text() == "# card"
    modes = [stat.S_IMODE(p.stat().st_mode) for p in target.rglob("*") if p.is_file()]
    assert modes and not any(mode & 0o222 for mode in modes)
    # the empty split stays off the disk: load_dataset refuses a split without rows
    assert set(load_from_disk(str(target))) == {"train"}
    assert load_dataset(str(target), cache_dir=str(tmp_path / "hf"))["train"].num_rows == 3


def test_saving_again_replaces_the_artifact_as_a_whole(tmp_path):
    run = RunDir(tmp_path / "run", "test")
    run.save_dataset("data", _pairs(5))
    target = run.save_dataset("data", _pairs(2))
    assert load_from_disk(str(target)).num_rows == 2
    assert sorted(p.name for p in run.path.iterdir()) == ["data"]


def test_lineage_digests_every_artifact_file_and_verify_names_each_difference(tmp_path):
    path = _finished_run(tmp_path)
    files = read_lineage(path)["files"]
    assert set(files) == {f"pairs/{name}" for name in _files(path / "pairs")} | {
        "summary.json",
        "notes.txt",
    }
    assert all(digest.startswith("sha256:") for digest in files.values())
    assert verify_artifacts(path) == []
    assert not stat.S_IMODE((path / "notes.txt").stat().st_mode) & 0o222

    (path / "pairs" / "train" / "cache-0123.arrow").write_bytes(b"tokens")
    (path / "summary.json").chmod(0o644)
    (path / "summary.json").write_text("{}")
    (path / "notes.txt").unlink()
    assert sorted(verify_artifacts(path)) == [
        "notes.txt: missing",
        "pairs/train/cache-0123.arrow: not written by the stage",
        "summary.json: changed",
    ]


def test_reopen_makes_a_finished_runs_files_writable_for_a_resume(tmp_path):
    path = _finished_run(tmp_path)
    RunDir(path, "test").reopen()
    assert stat.S_IMODE((path / "notes.txt").stat().st_mode) & 0o200


def test_readers_transform_without_writing_into_the_artifact(tmp_path):
    path = _finished_run(tmp_path)
    before = _files(path)

    in_memory = load_dataset_artifact(path / "pairs")["train"]
    in_memory.map(lambda row: {"n": len(row["prompt"])}).filter(lambda row: row["n"] > 1)
    cache_dir = tmp_path / "consumer" / "cache"
    cached = load_dataset_artifact(path / "pairs", cache_dir)["train"]
    mapped = cached.map(lambda row: {"n": len(row["prompt"])})

    assert _files(path) == before and verify_artifacts(path) == []
    assert Path(mapped.cache_files[0]["filename"]).is_relative_to(cache_dir)
    assert mapped["n"] == [2, 2, 2, 2]


def test_inside_a_pipeline_run_an_input_written_by_another_run_is_refused(tmp_path, monkeypatch):
    """The lineage names the `supportloop run` that wrote it; a step of another run refuses it,
    naming both runs; a stage run alone, or an input a stage wrote alone, is not checked."""
    import pytest

    from supportloop.errors import UserError
    from supportloop.runs import PIPELINE_RUN_ENV, require_same_pipeline_run

    monkeypatch.setenv(PIPELINE_RUN_ENV, "20990101T000000Z")
    written = _finished_run(tmp_path)
    assert read_lineage(written)["pipeline_run"] == "20990101T000000Z"
    require_same_pipeline_run(written / "pairs", "data.path")  # the same run: accepted

    monkeypatch.setenv(PIPELINE_RUN_ENV, "20990202T000000Z")
    with pytest.raises(UserError) as refused:
        require_same_pipeline_run(written / "pairs", "data.path")
    assert "20990101T000000Z" in str(refused.value) and "20990202T000000Z" in str(refused.value)

    monkeypatch.delenv(PIPELINE_RUN_ENV)
    require_same_pipeline_run(written / "pairs", "data.path")  # a stage run alone
    alone = RunDir(tmp_path / "alone", "test")
    alone.write_lineage(inputs={}, config={}, outputs={})
    assert read_lineage(alone.path)["pipeline_run"] is None
    monkeypatch.setenv(PIPELINE_RUN_ENV, "20990202T000000Z")
    require_same_pipeline_run(alone.path, "conversations")
