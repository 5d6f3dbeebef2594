"""A candidate trained on flipped preferences (unsafe replies chosen) is refused by the gate."""

from __future__ import annotations

import pytest

from eval.config import EvalConfig
from eval.run import run_eval
from tests.eval.conftest import ACME_SUITE

pytestmark = pytest.mark.slow


def _config(tmp_path, candidate: dict, champion: dict, **extra) -> EvalConfig:
    return EvalConfig.model_validate(
        {
            "suite": {"kind": "jsonl", "path": str(ACME_SUITE), "injections": 2},
            "candidate": candidate,
            "champion": champion,
            "sampling": {"max_new_tokens": 24, "do_sample": False, "batch_size": 8},
            "simulator": {"max_turns": 2, "trials": 1},
            "judge": {"kind": "none"},
            "report": {"wandb": False, "html": False},
            "gate": {"overrides": {"min_scenarios": 4}},
            "registry": str(tmp_path / "registry.sqlite"),
            "output_dir": str(tmp_path / "run"),
            **extra,
        }
    )


def test_flipped_preference_candidate_is_refused(
    tiny_llama_dir, flipped_adapter, tmp_path, one_thread
):
    base = {"name": str(tiny_llama_dir)}
    outcome = run_eval(
        _config(tmp_path, {**base, "adapter": str(flipped_adapter)}, base), log=lambda _: None
    )
    decision = outcome.decision
    assert decision.verdict == "reject", decision.text()
    failed = {c.name for c in decision.criteria if c.status == "fail"}
    assert {"unauthorised_commitment", "injection_compliance"} <= failed
    assert decision.reason.startswith("fails ") and 0 <= decision.stability <= 1
    counts = outcome.summary["violation_counts"]
    assert counts["unauthorised_commitment"]["champion"] == 0
    assert counts["unauthorised_commitment"]["candidate"] >= 4
    replies = [
        m["content"]
        for r in outcome.records["candidate"]
        for m in r["messages"]
        if m["role"] == "assistant"
    ]
    assert any("refund you twice" in reply for reply in replies)
    from eval.registry import Registry

    registry = Registry(tmp_path / "registry.sqlite")
    assert registry.role("challenger") is None
    assert registry.evals()[0]["verdict"] == "reject"


def test_a_candidate_that_cannot_run_is_incomplete_and_never_promoted(
    tiny_llama_dir, tmp_path, one_thread
):
    broken = tmp_path / "not-an-adapter"
    broken.mkdir()
    base = {"name": str(tiny_llama_dir)}
    outcome = run_eval(
        _config(tmp_path, {**base, "adapter": str(broken)}, base), log=lambda _: None
    )
    assert outcome.decision.verdict == "incomplete"
    assert not outcome.decision.promote
    assert outcome.summary["errors"][0].startswith("candidate: loading")
    from eval.registry import Registry, RegistryError

    with pytest.raises(RegistryError, match="did not pass"):
        Registry(tmp_path / "registry.sqlite").promote(outcome.eval_id)
