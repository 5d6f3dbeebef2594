"""Registry: default champion, challenger from a passing eval, promote, refusals, rollback."""

from __future__ import annotations

import sqlite3

import pytest

from supportloop.eval.registry import Registry, RegistryError

BASE = {"model_id": "base", "base": "smollm2-135m-instruct"}


def _model(name: str) -> dict:
    return {
        "model_id": name,
        "base": "smollm2-135m-instruct",
        "adapter": f"/runs/{name}",
        "adapter_fingerprint": f"sha256:{name}",
        "lineage": {"stage": "train"},
    }


def _eval(reg: Registry, eval_id: str, candidate: str, champion: str, verdict: str) -> None:
    reg.record_eval(
        eval_id,
        _model(candidate),
        reg.model(champion) or BASE,
        "retail",
        verdict,
        {"resolved": {"diff": 0.1}},
        {"verdict": verdict},
        f"/runs/{eval_id}",
    )


def test_promotion_lifecycle(tmp_path):
    reg = Registry(tmp_path / "registry.sqlite")
    assert reg.ensure_champion(BASE)["model_id"] == "base"
    assert reg.ensure_champion(_model("other"))["model_id"] == "base"  # only on an empty registry
    _eval(reg, "e1", "a1", "base", "reject")
    _eval(reg, "e1b", "a1b", "base", "insufficient_evidence")
    assert reg.role("challenger") is None
    with pytest.raises(RegistryError, match="no challenger"):
        reg.promote()
    with pytest.raises(RegistryError, match="did not pass the gate"):
        reg.promote("e1")
    with pytest.raises(RegistryError, match=r"did not pass the gate \(verdict: insufficient_evid"):
        reg.promote("e1b")
    assert reg.eval("e1b")["verdict"] == "insufficient_evidence"
    _eval(reg, "e2", "a2", "base", "promote")
    assert reg.role("challenger")["model_id"] == "a2"
    assert reg.promote()["model_id"] == "a2"
    assert reg.role("challenger") is None
    _eval(reg, "e3", "a3", "a2", "promote")
    _eval(reg, "e4", "a4", "base", "promote")  # compared against a champion that is gone
    with pytest.raises(RegistryError, match="re-run the eval"):
        reg.promote("e4")
    assert reg.promote("e3")["model_id"] == "a3"
    assert reg.rollback()["model_id"] == "a2"
    assert reg.rollback()["model_id"] == "base"
    with pytest.raises(RegistryError, match="nothing to roll back"):
        reg.rollback()
    actions = [h["action"] for h in reg.history()]
    assert actions == [
        "bootstrap",
        "challenger",
        "promote",
        "challenger",
        "challenger",
        "promote",
        "rollback",
        "rollback",
    ]
    assert reg.model("a2")["lineage"] == '{"stage": "train"}'


def test_a_failed_transaction_changes_nothing(tmp_path):
    reg = Registry(tmp_path / "registry.sqlite")
    reg.ensure_champion(BASE)
    _eval(reg, "e1", "a1", "base", "promote")
    with pytest.raises(sqlite3.IntegrityError):
        _eval(reg, "e1", "a9", "base", "promote")  # duplicate eval id fails mid-transaction
    assert reg.model("a9") is None
    assert reg.role("challenger")["model_id"] == "a1"
    assert len(reg.evals()) == 1


def _unreachable():
    raise OSError("unreachable\nretried 3 times")


def test_the_wandb_alias_is_a_mirror_its_failure_never_undoes_a_promotion(tmp_path, monkeypatch):
    """Offline, or online with W&B failing, the registry changes and a line says what to do."""
    import wandb

    reg = Registry(tmp_path / "registry.sqlite")
    reg.ensure_champion(BASE)
    for number in (1, 2):
        _eval(reg, f"e{number}", f"a{number}", reg.role("champion")["model_id"], "promote")
        reg.set_wandb_artifact(f"a{number}", f"team/proj/policy:v{number}")
        monkeypatch.setenv("WANDB_MODE", "offline" if number == 1 else "online")
        monkeypatch.setattr(wandb, "Api", _unreachable)
        promoted = reg.promote()
        assert promoted["model_id"] == f"a{number}" == reg.role("champion")["model_id"]
        why = "W&B offline: WANDB_MODE=offline" if number == 1 else "OSError: unreachable"
        assert promoted["wandb_alias"] == (
            f"W&B alias 'champion' not moved ({why}); the registry changed: "
            f"add it to team/proj/policy:v{number} in W&B"
        )
    assert reg.rollback()["wandb_alias"].startswith("W&B alias 'champion' not moved (OSError")
