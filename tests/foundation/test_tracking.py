"""One W&B rule for every stage: online with a key (env or `wandb login`), else offline."""

from __future__ import annotations

import os

import pytest

from supportloop.tracking import wandb_credentials, wandb_mode


@pytest.fixture
def fresh_user(tmp_path, monkeypatch):
    """No W&B variables and a home without netrc, as on a fresh machine.

    WANDB_SERVICE stays: it is W&B's token for this process's service, not user settings.
    Deleting it lets a teardown inside the test stop that service, and monkeypatch then
    restores the token of a dead socket, which breaks every later `wandb.init` in the session.
    """
    user_settings = [n for n in os.environ if n.startswith("WANDB_") and n != "WANDB_SERVICE"]
    for name in [*user_settings, "NETRC"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_no_key_means_offline_and_the_line_says_how_to_go_online(fresh_user):
    setting = wandb_mode()
    assert (setting.mode, setting.reason) == ("offline", "no W&B key configured")
    line = setting.line()
    assert line.startswith("W&B offline (no W&B key configured)")
    assert "`wandb login` or WANDB_API_KEY" in line and "report.wandb=false" in line


@pytest.mark.parametrize("host", ["api.wandb.ai", "api.forge.coreweave.com"])
def test_wandb_login_netrc_means_online(fresh_user, host):
    (fresh_user / ".netrc").write_text(f"machine {host}\n  login user\n  password abc123\n")
    setting = wandb_mode()
    assert setting.online and host in setting.reason
    assert "WANDB_MODE=offline" in setting.line()


def test_netrc_for_another_host_or_a_self_hosted_server(fresh_user, monkeypatch):
    (fresh_user / ".netrc").write_text("machine wandb.corp.example\n  login u\n  password k\n")
    assert wandb_mode().mode == "offline"
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.corp.example")
    assert wandb_mode().online
    monkeypatch.setenv("NETRC", str(fresh_user / "elsewhere"))  # W&B reads $NETRC first
    assert wandb_credentials() is None


def test_api_key_means_online_and_wandb_mode_wins(fresh_user, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert wandb_mode().reason == "WANDB_API_KEY is set"
    monkeypatch.setenv("WANDB_MODE", "dryrun")
    assert wandb_mode().mode == "offline"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert wandb_mode().line() == (
        "W&B disabled (WANDB_MODE=disabled): unset WANDB_MODE to log runs"
    )


def test_the_stage_switch_turns_it_off(fresh_user, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    setting = wandb_mode(False, off="trainer.report_to=none", on="trainer.report_to=wandb")
    assert setting.line() == (
        "W&B disabled (trainer.report_to=none): trainer.report_to=wandb logs a run"
    )


def test_training_sets_the_mode_for_its_run_and_puts_the_environment_back(
    fresh_user, monkeypatch, tmp_path
):
    from supportloop.training.artifacts import finish_wandb, prepare_wandb

    for name in ("WANDB_MODE", "WANDB_DIR", "WANDB_PROJECT"):  # conftest sets WANDB_MODE
        monkeypatch.delenv(name, raising=False)
    line = prepare_wandb(["wandb"], tmp_path / "run", "proj")
    assert line.startswith("W&B offline (no W&B key configured)")
    assert os.environ["WANDB_MODE"] == "offline"
    assert os.environ["WANDB_DIR"] == str(tmp_path / "run")
    finish_wandb()
    assert not {"WANDB_MODE", "WANDB_DIR", "WANDB_PROJECT"} & set(os.environ)
    assert prepare_wandb([], tmp_path / "run", "proj").startswith("W&B disabled")
    assert "WANDB_MODE" not in os.environ
