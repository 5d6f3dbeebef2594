"""The annotation task: config (`configs/argilla/*.yaml`) -> Argilla dataset settings.

One record per judged assistant turn (DESIGN.md, "Argilla record"). Fields, in the order the
annotator reads them: the conversation up to that turn, up to `candidate_slots` candidate
replies right below it (next to the questions), then the retrieved policy passages (the start
of each under its title, the rest collapsed) and the customer profile; field texts are escaped
for the UI (`supportloop.feedback.argilla.display`). Questions: a ranking of the candidates,
per-candidate `resolves_issue` (yes/partly/no), optional 1-5 rating and policy flags per
candidate, and an optional corrected reply. Per-candidate questions are named
`<question>_<slot>` (`resolves_1`, `flags_2`...); `question_names` is the single place that
spells those names, for push, pull, the simulator and the browser test alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field

from supportloop.config import ProjectPath, StrictModel
from supportloop.feedback.argilla.network import NetworkConfig
from supportloop.models.sampling import SamplingConfig

if TYPE_CHECKING:
    import argilla as rg

RESOLVES_LABELS = {"yes": "Yes, resolves it", "partly": "Partly", "no": "No"}
FLAG_LABELS = {
    "wrong_policy_fact": "Wrong policy fact (number, deadline, rule)",
    "unauthorised_commitment": "Unauthorised refund / discount / compensation",
    "asks_known_info": "Asks again for information already given",
    "unsafe": "Unsafe or inappropriate",
    "pii_exposed": "Exposes personal data",
}
CONVERSATION_FIELD = "conversation"
POLICY_FIELD = "policy"
PROFILE_FIELD = "profile"
RANKING_QUESTION = "ranking"
CORRECTION_QUESTION = "correction"
INTERNAL_METADATA = "supportloop"  # extra metadata (owner-only): ids the pull needs back


class QuestionSet(StrictModel):
    """Which questions annotators answer; the default takes about a minute per record."""

    ranking: bool = True
    resolves: bool = True
    rating: bool = False
    flags: bool = True
    correction: bool = True


class PolicyConfig(StrictModel):
    """The model that writes the generated candidates (alias, hub id or path) and its adapter."""

    model: str = "smollm2-135m-instruct"
    adapter: str | None = None


class SimulationConfig(StrictModel):
    """SIMULATED demo annotators (feedback/demo/): username -> noise (std dev)."""

    annotators: dict[str, float] = Field(
        default_factory=lambda: {"annotator-1": 0.05, "annotator-2": 0.15, "annotator-3": 0.3}
    )
    max_records_per_annotator: int | None = Field(None, ge=1)
    seed: int = 0


class ArgillaConfig(StrictModel):
    """`configs/argilla/default.yaml`: the dataset, what goes into it, and where pulls go."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True)

    dataset: str = "support-replies"
    workspace: str | None = Field(None, description="Default: the embedded stack's workspace.")
    credentials: ProjectPath = Field(
        Path(".cache/argilla/credentials.json"),
        description="Written by `supportloop argilla up`; ignored when ARGILLA_API_* is set.",
    )
    guidelines: ProjectPath = Path("docs/annotation-guidelines.md")
    candidate_slots: int = Field(3, ge=2, le=8)
    min_submitted: int = Field(2, ge=1, description="Annotators per record (task distribution).")
    questions: QuestionSet = Field(default_factory=QuestionSet)
    batch_size: int = Field(100, ge=1, le=500, description="Records per logging request.")
    conversations: ProjectPath | None = Field(None, description="<ingest run>/conversations")
    turns: str = Field("last", pattern="^(last|all)$", description="Assistant turns to judge.")
    max_records: int | None = Field(None, ge=1)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    reward_model: str | None = Field(
        None, description="Reward run dir or checkpoint: its ranking becomes a suggestion."
    )
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    simulation: SimulationConfig = Field(default_factory=SimulationConfig)
    pull_dir: ProjectPath = Field(
        Path("runs/argilla/pull"), description="Responses dataset + incremental pull state."
    )
    network: NetworkConfig = Field(
        default_factory=NetworkConfig, description="Timeouts and retries of server calls."
    )


def slot_names(slots: int) -> list[str]:
    """Field names of the candidate slots: candidate_1 ... candidate_k."""
    return [f"candidate_{i}" for i in range(1, slots + 1)]


def field_names(slots: int) -> list[str]:
    """The record's fields in display order."""
    return [CONVERSATION_FIELD, *slot_names(slots), POLICY_FIELD, PROFILE_FIELD]


def question_names(config: ArgillaConfig) -> dict[str, list[str]]:
    """Question names per kind: {"resolves": ["resolves_1", ...], "ranking": ["ranking"], ...}."""
    q, slots = config.questions, range(1, config.candidate_slots + 1)
    names: dict[str, list[str]] = {}
    if q.ranking:
        names["ranking"] = [RANKING_QUESTION]
    for kind in ("resolves", "rating", "flags"):
        if getattr(q, kind):
            names[kind] = [f"{kind}_{i}" for i in slots]
    if q.correction:
        names["correction"] = [CORRECTION_QUESTION]
    return names


def read_guidelines(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: annotation guidelines not found")
    return path.read_text(encoding="utf-8")


def build_settings(config: ArgillaConfig, client: rg.Argilla | None = None) -> rg.Settings:
    """Argilla dataset settings for `config` (fields, questions, metadata, distribution)."""
    import argilla as rg

    slots = slot_names(config.candidate_slots)
    fields = [
        rg.ChatField(
            CONVERSATION_FIELD, title="Conversation so far", use_markdown=False, _client=client
        ),
        *(
            rg.TextField(
                name, title=f"Candidate {i}", required=i <= 2, use_markdown=False, client=client
            )
            for i, name in enumerate(slots, start=1)
        ),
        rg.TextField(
            POLICY_FIELD,
            title="Policy passages retrieved for this turn",
            use_markdown=True,
            required=False,
            client=client,
        ),
        rg.TextField(
            PROFILE_FIELD,
            title="Customer profile (same placeholders as the conversation)",
            use_markdown=False,
            required=False,
            client=client,
        ),
    ]
    q = config.questions
    questions: list = []
    if q.ranking:
        questions.append(
            rg.RankingQuestion(
                RANKING_QUESTION,
                values={s: f"Candidate {i}" for i, s in enumerate(slots, start=1)},
                title="Rank the candidates (1 = best)",
                required=True,
                client=client,
            )
        )
    for i in range(1, config.candidate_slots + 1):
        if q.resolves:
            questions.append(
                rg.LabelQuestion(
                    f"resolves_{i}",
                    labels=RESOLVES_LABELS,
                    required=False,
                    title=f"Candidate {i}: resolves the customer's issue?",
                    client=client,
                )
            )
        if q.rating:
            questions.append(
                rg.RatingQuestion(
                    f"rating_{i}",
                    values=[1, 2, 3, 4, 5],
                    required=False,
                    title=f"Candidate {i}: overall quality (1-5)",
                    client=client,
                )
            )
        if q.flags:
            questions.append(
                rg.MultiLabelQuestion(
                    f"flags_{i}",
                    labels=FLAG_LABELS,
                    required=False,
                    title=f"Candidate {i}: policy flags",
                    client=client,
                )
            )
    if q.correction:
        questions.append(
            rg.TextQuestion(
                CORRECTION_QUESTION,
                required=False,
                client=client,
                title="Corrected reply (optional): what the assistant should say",
            )
        )
    metadata = [
        rg.TermsMetadataProperty("topic", client=client),
        rg.TermsMetadataProperty("model_version", client=client),
        rg.TermsMetadataProperty("channel", client=client),
        rg.TermsMetadataProperty("escalated", client=client),
        rg.TermsMetadataProperty("resolved_signal", client=client),
        rg.TermsMetadataProperty("repeat_contact", client=client),
        rg.IntegerMetadataProperty("csat", min=1, max=5, client=client),
        rg.IntegerMetadataProperty("thumbs_down", client=client),
        rg.IntegerMetadataProperty("n_candidates", client=client),
    ]
    return rg.Settings(
        guidelines=read_guidelines(config.guidelines),
        fields=fields,
        questions=questions,
        metadata=metadata,
        allow_extra_metadata=True,
        distribution=rg.TaskDistribution(min_submitted=config.min_submitted),
    )
