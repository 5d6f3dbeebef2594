"""The config system every stage uses: YAML + dotted overrides, strict validation, paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from supportloop.config import (
    ConfigError,
    ProjectPath,
    StrictModel,
    apply_overrides,
    load_config,
    project_root,
)


class Window(StrictModel):
    hours: float = Field(72, gt=0)
    embed: bool = True


class Sample(StrictModel):
    name: str
    data: ProjectPath
    window: Window = Field(default_factory=Window)
    tags: list[str] = Field(default_factory=list)


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "configs").mkdir(exist_ok=True)
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    path = tmp_path / "configs" / "sample.yaml"
    path.write_text(text)
    return path


def test_overrides_are_typed_and_nested(tmp_path):
    path = write(tmp_path, "name: demo\ndata: logs/a.jsonl\n")
    config = load_config(Sample, path, ["window.hours=48", "window.embed=false", "tags=[a, b]"])
    assert config.window.hours == 48.0 and config.window.embed is False
    assert config.tags == ["a", "b"]


def test_relative_paths_resolve_against_the_project_root_not_the_cwd(tmp_path, monkeypatch):
    path = write(tmp_path, "name: demo\ndata: logs/a.jsonl\n")
    monkeypatch.chdir("/")
    assert load_config(Sample, path).data == (tmp_path / "logs" / "a.jsonl").resolve()
    assert load_config(Sample, path, ["data=/abs/b.jsonl"]).data == Path("/abs/b.jsonl")
    assert project_root(tmp_path / "configs") == tmp_path.resolve()


@pytest.mark.parametrize(
    ("text", "overrides", "message"),
    [
        ("name: demo\ndata: a\nwindo: {}\n", [], "sample.yaml: unknown key windo"),
        ("name: demo\ndata: a\n", ["window.hours=-1"], "key window.hours: Input should be greater"),
        (
            "name: demo\ndata: a\n",
            ["window.hours=soon"],
            "key window.hours: Input should be a valid number",
        ),
        ("data: a\n", [], "key name: Field required"),
        ("name: [unclosed\n", [], "invalid YAML"),
        ("- a\n- b\n", [], "expected a mapping"),
        ("name: demo\ndata: a\n", ["window"], "expected key=value"),
        ("name: demo\ndata: a\n", ["name.first=x"], "name is a value, not a section"),
        ("name: demo\ndata: a\ntags: [x]\n", ["tags.1=y"], "tags has no item 1 (1 item)"),
        ("name: demo\ndata: a\ntags: []\n", ["tags.0=y"], "tags has no item 0 (0 items)"),
        ("name: demo\ndata: a\ntags: [x]\n", ["tags.first=y"], "tags is a list: name an item"),
        ("name: demo\ndata: a\ntags: [x]\n", ["tags.0.a=y"], "tags.0 is a value, not a section"),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path, text, overrides, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(Sample, path, overrides)
    assert message in str(info.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Sample, tmp_path / "nope.yaml")


def test_a_number_in_an_override_picks_a_list_item(tmp_path):
    path = write(tmp_path, "name: demo\ndata: a\ntags: [x, y]\n")
    assert load_config(Sample, path, ["tags.1=z"]).tags == ["x", "z"]
    data = {"inputs": [{"path": "a.jsonl"}], "window": None}
    apply_overrides(data, ["inputs.0.path=b.jsonl", "inputs.0.mapping.user=customer"])
    apply_overrides(data, ["window.hours=3"])  # a null section becomes one
    assert data == {
        "inputs": [{"path": "b.jsonl", "mapping": {"user": "customer"}}],
        "window": {"hours": 3},
    }


def test_indexed_overrides_reach_shipped_ingest_inputs_and_pipeline_steps():
    from supportloop.commands.run import PipelineConfig
    from supportloop.feedback.ingest.config import IngestConfig

    root = project_root(Path(__file__).parent)
    ingest = load_config(
        IngestConfig, root / "configs/ingest/demo.yaml", ["inputs.0.path=/data/logs.jsonl"]
    )
    assert ingest.inputs[0].path == Path("/data/logs.jsonl")
    demo = root / "configs/pipeline/demo.yaml"
    last = len(load_config(PipelineConfig, demo).steps) - 1
    pipeline = load_config(
        PipelineConfig, demo, [f"steps.{last}.overrides=[suite.limit=2, simulator.trials=1]"]
    )
    assert pipeline.steps[last].command == "eval"
    assert pipeline.steps[last].overrides == ["suite.limit=2", "simulator.trials=1"]
    with pytest.raises(ConfigError, match=rf"steps has no item {last + 1} \({last + 1} items\)"):
        load_config(PipelineConfig, demo, [f"steps.{last + 1}.args=[]"])
