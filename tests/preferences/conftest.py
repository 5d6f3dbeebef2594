"""Fixtures for the preferences tests: the annotation round of tests/preferences/helpers.py,
saved as the Argilla and ingest stages write it."""

from __future__ import annotations

import pytest
from datasets import Dataset

from tests.preferences.helpers import AGREEMENT, CONVERSATIONS, RESPONSES


@pytest.fixture(scope="session")
def saved_inputs(tmp_path_factory):
    """The annotation round saved with `save_to_disk`, as the Argilla and ingest stages write it
    (read-only inputs, so saved once per session)."""
    root = tmp_path_factory.mktemp("annotation-round")
    paths = {
        "responses": root / "pull" / "responses",
        "agreement": root / "agreement" / "record_agreement",
        "conversations": root / "ingest" / "conversations",
    }
    Dataset.from_list(RESPONSES).save_to_disk(str(paths["responses"]))
    Dataset.from_list(AGREEMENT).save_to_disk(str(paths["agreement"]))
    Dataset.from_list(CONVERSATIONS).save_to_disk(str(paths["conversations"]))
    return paths
