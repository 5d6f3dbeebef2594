"""Win rate of two models on held-out prompts, end to end: replies of both, judges, metrics.

`compare_on_held_out` is the library call (the loop benchmark uses it); `evaluate_win_rate` is
`run_eval`'s step: it builds the held-out prompts from the eval config, runs the comparison,
saves every compared pair as the run's `win_rate` dataset and returns the summary's
`win_rate` section. A win rate that cannot be computed (no held-out prompt left, training data
that cannot be checked for overlap, a model that fails) leaves an `error` in the section; the
rest of the eval goes on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from supportloop.errors import UserError
from supportloop.eval.config import EvalConfig, ModelSpec
from supportloop.eval.heldout import (
    HeldOutPrompt,
    drop_overlapping,
    model_replies,
    preference_sources,
    prompts_from_conversations,
    prompts_from_suite,
    training_data,
)
from supportloop.eval.stats import Comparison
from supportloop.eval.suites import Suite
from supportloop.eval.winrate import (
    BUSINESS_METRICS,
    Agreement,
    WinRate,
    business_metrics,
    business_per_prompt,
    gold_judge,
    judge_agreement,
    reward_model_judge,
    win_rate,
)
from supportloop.feedback.assistant_prompt import PromptSettings
from supportloop.runs import RunDir, load_dataset_artifact

if TYPE_CHECKING:
    from supportloop.eval.gate import GateConfig
    from supportloop.models.sampling import SamplingConfig


@dataclass
class HeldOutComparison:
    """Candidate vs champion on the same prompts: win rates by judge, their agreement, and
    the business metrics; `entries` are the prompts as compared (each repeated per sample)."""

    entries: list[HeldOutPrompt]
    replies: dict[str, list[str]]
    judges: dict[str, WinRate]
    agreement: Agreement | None
    metrics: dict[str, Comparison]
    business_pairs: dict[str, tuple[np.ndarray, np.ndarray]]

    def section(self) -> dict[str, Any]:
        return {
            "judges": {name: rate.as_dict() for name, rate in self.judges.items()},
            "agreement": self.agreement.as_dict() if self.agreement else None,
            "metrics": {
                name: {**m.as_dict(), "higher_is_better": BUSINESS_METRICS[name][0]}
                for name, m in self.metrics.items()
            },
        }

    def rows(self) -> list[dict[str, Any]]:
        """One row per compared pair: prompt, both replies, each judge's outcome."""
        return [
            {
                "prompt_id": prompt.prompt_id,
                "conversation_id": prompt.conversation_id,
                "prompt": json.dumps(prompt.messages, ensure_ascii=False),
                "candidate": self.replies["candidate"][i],
                "champion": self.replies["champion"][i],
                **{f"{name}_outcome": rate.outcomes[i] for name, rate in self.judges.items()},
            }
            for i, prompt in enumerate(self.entries)
        ]


def compare_on_held_out(
    prompts: Sequence[HeldOutPrompt],
    candidate: ModelSpec,
    champion: ModelSpec,
    sampling: SamplingConfig,
    samples: int = 1,
    reward_model: str | Path | None = None,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    power: float = 0.8,
) -> HeldOutComparison:
    """Both models reply `samples` times to every prompt (same batches, same seed), judged by
    the gold rules and, given a reward run dir, by the reward model; CIs over prompts."""
    entries = [p for p in prompts for _ in range(samples)]
    chats = [p.messages for p in entries]
    replies = {
        "candidate": model_replies(candidate, chats, sampling),
        "champion": model_replies(champion, chats, sampling),
    }
    pair = (entries, replies["candidate"], replies["champion"])
    bootstrap = {"confidence": confidence, "n_resamples": n_resamples, "seed": seed}
    judges = {"gold": win_rate(*pair, gold_judge, **bootstrap)}
    agreement = None
    if reward_model is not None:
        from supportloop.models.reward import load_reward_model

        judge = reward_model_judge(load_reward_model(reward_model))
        judges["reward_model"] = win_rate(*pair, judge, **bootstrap)
        agreement = judge_agreement(
            judges["gold"].outcomes, judges["reward_model"].outcomes, confidence
        )
    business = business_per_prompt(*pair)
    metrics = business_metrics(business, **bootstrap, power=power)
    return HeldOutComparison(entries, replies, judges, agreement, metrics, business)


def held_out_prompts(
    cfg: EvalConfig, suite: Suite, specs: dict[str, ModelSpec]
) -> tuple[list[HeldOutPrompt], dict[str, Any]]:
    """The configured prompts minus those overlapping any preference data, and what was done."""
    wr = cfg.win_rate
    if wr.prompts == "suite":
        prompts = prompts_from_suite(suite, cfg.context)
    else:
        if wr.conversations is None:
            raise UserError("win_rate.conversations: the conversations source needs a dataset")
        prompts = prompts_from_conversations(load_dataset_artifact(wr.conversations), wr.turns)
    paths = list(wr.preferences)
    paths += [p for spec in specs.values() if (p := training_data(spec.adapter)) is not None]
    sources = preference_sources(paths, wr.exclude_conversations)
    kept, dropped = drop_overlapping(prompts, sources, wr.by_customer, wr.opening_overlap)
    info = {
        "source": wr.prompts,
        "candidate_prompts": len(prompts),
        "dropped": dropped,
        "preferences": sources.paths,
    }
    return kept[: wr.limit] if wr.limit else kept, info


PER_PROMPT = "per_prompt"
"""Section key of the per-prompt (candidate, champion) values the gate judges: each judge's
wins against a coin's 0.5 (`win_rate:<judge>`) and each business metric
(`held_out:<metric>`); not kept in the summary."""


def evaluate_win_rate(
    cfg: EvalConfig,
    specs: dict[str, ModelSpec],
    suite: Suite,
    run: RunDir,
    gate: GateConfig,
    log: Callable[[str], None] = print,
) -> dict[str, Any] | None:
    """The summary section (None when `win_rate.prompts` is none); the paired statistics use
    the gate's confidence, resamples, seed and power."""
    wr = cfg.win_rate
    if wr.prompts == "none":
        return None
    as_trained = cfg.context == PromptSettings()
    if not as_trained:
        log("win rate: context differs from the prompt settings the training data is built with")
    started = time.perf_counter()
    try:
        prompts, section = held_out_prompts(cfg, suite, specs)
    except UserError as exc:
        log(f"win rate: {exc}")
        return {"source": wr.prompts, "error": str(exc)}
    if not prompts:
        return {**section, "error": "no held-out prompt left"}
    try:
        comparison = compare_on_held_out(
            prompts,
            specs["candidate"],
            specs["champion"],
            cfg.sampling,
            wr.samples,
            wr.reward_model or cfg.judge.reward_model,
            gate.confidence,
            gate.n_resamples,
            gate.seed,
            gate.power,
        )
    except Exception as exc:  # a failing model leaves the win rate out, not the whole eval
        return {**section, "error": f"win rate failed: {type(exc).__name__}: {exc}"}
    from datasets import Dataset

    run.save_dataset("win_rate", Dataset.from_list(comparison.rows()))
    gold = comparison.judges["gold"]
    log(
        f"win rate (gold) {gold.rate:.3f} [{gold.ci_low:.3f}, {gold.ci_high:.3f}] "
        f"on {gold.n} held-out prompts"
    )
    return {
        **section,
        "prompts": len(prompts),
        "samples": wr.samples,
        "prompt_settings_as_trained": as_trained,
        **comparison.section(),
        "seconds": round(time.perf_counter() - started, 1),
        PER_PROMPT: {
            **{
                f"win_rate:{name}": (rate.per_prompt, np.full(len(rate.per_prompt), 0.5))
                for name, rate in comparison.judges.items()
            },
            **{f"held_out:{name}": pair for name, pair in comparison.business_pairs.items()},
        },
    }
