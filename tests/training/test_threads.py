"""CPU threads while a recipe trains: accelerate launch's rule (OMP_NUM_THREADS, else 1)."""

from __future__ import annotations

import os

import pytest
import torch

from training.launch import LaunchError, cpu_threads


def test_one_thread_unless_omp_num_threads_says_and_restored_after(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    with cpu_threads() as threads:
        assert threads == 1 and torch.get_num_threads() == 1
        assert os.environ["OMP_NUM_THREADS"] == "1"  # spawned ranks / PPO worker follow it
    assert torch.get_num_threads() == before and "OMP_NUM_THREADS" not in os.environ

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    with cpu_threads() as threads:
        assert threads == 2 and torch.get_num_threads() == 2
    assert os.environ["OMP_NUM_THREADS"] == "2" and torch.get_num_threads() == before


@pytest.mark.parametrize("value", ["0", "many", "-3"])
def test_a_bad_omp_num_threads_is_a_user_error(monkeypatch, value):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    with pytest.raises(LaunchError, match="OMP_NUM_THREADS"), cpu_threads():
        pass
