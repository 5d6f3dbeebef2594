"""The eval config (`configs/eval/*.yaml`): suite, models, simulator, judge, gate, reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from supportloop.config import ProjectPath, StrictModel
from supportloop.feedback.assistant_prompt import PromptSettings
from supportloop.models.checkpoints import SMOLLM2_ALIAS
from supportloop.models.sampling import SamplingConfig
from supportloop.runs import file_fingerprint


class ModelSpec(StrictModel):
    """A base model (alias, path or hub id) plus an optional PEFT adapter directory."""

    name: str = SMOLLM2_ALIAS
    adapter: ProjectPath | None = None

    def model_id(self) -> str:
        if self.adapter is None:
            return self.name
        digest = file_fingerprint(self.adapter).split(":", 1)[1][:12]
        return f"{self.name}+{self.adapter.name}@{digest}"

    def record(self) -> dict[str, Any]:
        """The registry row for this model, with the adapter's training lineage when it has one."""
        lineage = None
        if self.adapter is not None and (self.adapter / "lineage.json").is_file():
            from supportloop.runs import read_lineage

            lineage = read_lineage(self.adapter)
        return {
            "model_id": self.model_id(),
            "base": self.name,
            "adapter": str(self.adapter) if self.adapter else None,
            "adapter_fingerprint": file_fingerprint(self.adapter) if self.adapter else None,
            "lineage": lineage,
        }


class SuiteConfig(StrictModel):
    kind: Literal["tau2", "jsonl"] = "tau2"
    path: ProjectPath | None = Field(
        None, description="tau2: wheel or domain folder (default: the cached wheel); jsonl: file"
    )
    domain: str = "retail"
    split: str | None = "test"
    limit: int | None = Field(None, ge=1, description="base scenarios kept (before injections)")
    injections: int = Field(2, ge=1, description="injection scenarios added (every suite has some)")
    annotated: ProjectPath | None = Field(
        None, description="labelled turns for the judge: JSONL or an argilla-pull responses dataset"
    )


class SimulatorConfig(StrictModel):
    kind: Literal["scripted", "llm"] = "scripted"
    max_turns: int = Field(3, ge=2, description="model turns per conversation")
    trials: int = Field(1, ge=1, description="k: conversations per scenario (pass^k)")
    model: str | None = Field(None, description="llm: HF model name/path, or endpoint model name")
    adapter: ProjectPath | None = None
    base_url: str | None = Field(
        None, description="llm: OpenAI-compatible endpoint, e.g. http://host:8000/v1"
    )
    api_key_env: str = "OPENAI_API_KEY"
    max_new_tokens: int = 48
    temperature: float = 0.7
    repeat_threshold: float = 0.75


class MatchingConfig(StrictModel):
    embedder: str = "minilm"
    threshold: float = Field(0.6, ge=0, le=1)


class JudgeConfig(StrictModel):
    kind: Literal["minilm", "reward_model", "none"] = "minilm"
    reward_model: ProjectPath | None = Field(None, description="reward run dir (reward_model kind)")
    heldout_fraction: float = Field(0.3, gt=0, lt=1)


class WinRateConfig(StrictModel):
    """Win rate of candidate against champion on held-out prompts (both models reply).

    Prompts from the preference datasets' conversations, customers or openings are dropped
    (and counted); the adapters' own training data (their `training_summary.json`) always
    counts as such a dataset.
    """

    prompts: Literal["suite", "conversations", "none"] = Field(
        "suite", description="suite: the scenario openings; conversations: logged conversations"
    )
    conversations: ProjectPath | None = Field(
        None, description="conversations: an ingest conversations dataset"
    )
    turns: Literal["last", "all"] = Field("last", description="judged turns, as argilla push")
    preferences: list[ProjectPath] = Field(
        default_factory=list,
        description="preference datasets or preferences run dirs whose sources are not held out",
    )
    exclude_conversations: list[str] = Field(
        default_factory=list, description="conversation ids that are never held-out prompts"
    )
    by_customer: bool = Field(True, description="drop prompts of customers in the preferences")
    opening_overlap: float = Field(
        0.8, gt=0, le=1, description="openings sharing this share of words count as the same"
    )
    limit: int | None = Field(None, ge=1, description="held-out prompts kept (after dropping)")
    samples: int = Field(1, ge=1, description="replies per prompt and model, averaged per prompt")
    reward_model: ProjectPath | None = Field(
        None, description="reward run dir judging beside the gold rules; default judge.reward_model"
    )


class ReportConfig(StrictModel):
    wandb: bool = True
    wandb_project: str = "supportloop-eval"
    wandb_entity: str | None = None
    html: bool = True
    top_differences: int = Field(4, ge=0)


class GateRef(StrictModel):
    path: ProjectPath = Path("configs/eval/gate.yaml")
    overrides: dict[str, Any] = Field(default_factory=dict)


class EvalConfig(StrictModel):
    suite: SuiteConfig = Field(default_factory=SuiteConfig)
    candidate: ModelSpec
    champion: ModelSpec | None = Field(None, description="default: the registry's champion")
    sampling: SamplingConfig = Field(
        default_factory=lambda: SamplingConfig(max_new_tokens=48, temperature=0.7, batch_size=8)
    )
    simulator: SimulatorConfig = Field(default_factory=SimulatorConfig)
    matching: MatchingConfig = Field(default_factory=MatchingConfig)
    context: PromptSettings = Field(
        default_factory=PromptSettings,
        description="the assistant's prompt; other values than the defaults (what the training "
        "data is built with) judge the model on prompts it was not trained on",
    )
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    win_rate: WinRateConfig = Field(default_factory=WinRateConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    gate: GateRef = Field(default_factory=GateRef)
    registry: ProjectPath = Path("runs/registry.sqlite")
    log_conversations: ProjectPath | None = Field(
        None, description="an ingest conversations dataset: the champion's log repeat-contact rate"
    )
    champion_model_version: str | None = None
    output_dir: ProjectPath | None = Field(None, description="default runs/eval/<timestamp>")
