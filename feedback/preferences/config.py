"""The `supportloop preferences` config: which annotations and signals become which rows.

Every choice that changes what a trainer learns (aggregation rule, agreement threshold, pair
sources, KTO sources and weights, split) is a field here, so a dataset card can state it and a
re-run with the same config gives the same rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from supportloop.config import ProjectPath, StrictModel, project_root


class InputsConfig(StrictModel):
    """Saved datasets this stage reads (paths to `save_to_disk` directories)."""

    responses: ProjectPath = Field(description="`<argilla pull run>/responses`")
    agreement: ProjectPath | None = Field(
        None, description="`<argilla agreement run>/record_agreement`; None: agreement unknown"
    )
    conversations: ProjectPath | None = Field(
        None, description="`<ingest run>/conversations`, for logged implicit signals"
    )


class AggregationConfig(StrictModel):
    """How the answers of several annotators on one record become one answer."""

    ranking: Literal["borda", "mean_rank"] = "borda"
    rating: Literal["mean", "median"] = "mean"
    flags: Literal["any", "majority"] = Field(
        "any", description="a candidate is flagged when any / a strict majority of raters flag it"
    )


class AgreementConfig(StrictModel):
    """What happens to records whose annotators disagree (per-record agreement, 0..1)."""

    threshold: float | None = Field(0.5, ge=0.0, le=1.0, description="None: no filtering")
    below: Literal["drop", "downweight"] = "drop"
    below_weight: float = Field(0.5, gt=0.0, le=1.0, description="row weight when downweighted")
    missing: Literal["keep", "drop"] = Field(
        "keep", description="records without agreement (a single annotator, no agreement input)"
    )


class SourceConfig(StrictModel):
    """A row source that can be switched off and weighted (the row's `weight` column)."""

    include: bool = True
    weight: float = Field(1.0, gt=0.0)


class RankingPairsConfig(SourceConfig):
    mode: Literal["all_pairs", "best_vs_worst"] = "all_pairs"
    margin: float = Field(
        0.0, ge=0.0, description="pair only when the aggregated score gap is strictly above this"
    )


class RatingPairsConfig(SourceConfig):
    min_difference: float = Field(1.0, gt=0.0, description="aggregated rating gap for a pair")


class CorrectionPairsConfig(SourceConfig):
    against: Literal["logged", "annotator_best", "all"] = Field(
        "logged",
        description=(
            "the reply a correction is preferred over: the logged candidate, the candidate the "
            "correcting annotator ranked best, or every candidate"
        ),
    )


class PairsConfig(StrictModel):
    """DPO / reward-model pairs, by source."""

    ranking: RankingPairsConfig = RankingPairsConfig()
    rating: RatingPairsConfig = RatingPairsConfig()
    correction: CorrectionPairsConfig = CorrectionPairsConfig()
    flag: SourceConfig = SourceConfig()


class ResolvesKtoConfig(SourceConfig):
    partly: Literal["drop", "desirable", "undesirable"] = "drop"


class RatingKtoConfig(SourceConfig):
    desirable_min: float = Field(4.0, ge=1.0, le=5.0)
    undesirable_max: float = Field(2.0, ge=1.0, le=5.0)

    @model_validator(mode="after")
    def _ordered(self) -> RatingKtoConfig:
        if self.undesirable_max >= self.desirable_min:
            raise ValueError("undesirable_max must be below desirable_min")
        return self


class CsatKtoConfig(SourceConfig):
    desirable_min: int = Field(4, ge=1, le=5)
    undesirable_max: int = Field(2, ge=1, le=5)

    @model_validator(mode="after")
    def _ordered(self) -> CsatKtoConfig:
        if self.undesirable_max >= self.desirable_min:
            raise ValueError("undesirable_max must be below desirable_min")
        return self


class KtoConfig(StrictModel):
    """KTO rows `{prompt, completion, label}` by source; implicit signals weigh less by default."""

    resolves: ResolvesKtoConfig = ResolvesKtoConfig()
    rating: RatingKtoConfig = RatingKtoConfig()
    flag: SourceConfig = Field(
        SourceConfig(), description="a flagged candidate becomes an undesirable row"
    )
    thumbs: SourceConfig = SourceConfig(weight=0.5)
    csat: CsatKtoConfig = CsatKtoConfig(weight=0.5)
    escalation: SourceConfig = Field(
        SourceConfig(weight=0.5),
        description="an escalated conversation's last assistant reply is undesirable",
    )
    repeat_contact: SourceConfig = Field(
        SourceConfig(weight=0.5),
        description="the last assistant reply of a conversation the customer came back about",
    )


class SplitConfig(StrictModel):
    """Train/test split by conversation (and customer): nothing seen in train appears in test."""

    test_size: float = Field(0.2, ge=0.0, lt=1.0)
    by_customer: bool = False
    seed: int = 0


class HubConfig(StrictModel):
    """Optional `push_to_hub`; each dataset goes to `<repo_prefix>-<name>`."""

    repo_prefix: str | None = None
    private: bool = True


class PreferencesConfig(StrictModel):
    inputs: InputsConfig
    output_dir: ProjectPath | None = Field(
        None, description="default runs/preferences/<UTC time>, linked as runs/preferences/latest"
    )
    aggregation: AggregationConfig = AggregationConfig()
    agreement: AgreementConfig = AgreementConfig()
    pairs: PairsConfig = PairsConfig()
    kto: KtoConfig = KtoConfig()
    split: SplitConfig = SplitConfig()
    hub: HubConfig = HubConfig()

    def resolved_output_dir(self) -> Path:
        if self.output_dir is not None:
            return self.output_dir
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return project_root() / "runs" / "preferences" / stamp
