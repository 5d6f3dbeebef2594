"""Suite loading: tau2 domain folders (wheel or directory), the project JSONL format, injections."""

from __future__ import annotations

import json
import zipfile

import pytest

from supportloop.eval.injections import TEMPLATES, add_injections
from supportloop.eval.suites import SuiteError, load_jsonl_suite
from supportloop.eval.tau2 import load_tau2_suite
from supportloop.feedback.sources import TAU2_DOMAINS
from supportloop.feedback.tau2_text import first_person
from tests.eval.helpers import ACME_SUITE


def test_retail_from_wheel_gives_scenarios_with_ground_truth(tau2_wheel):
    suite = load_tau2_suite(tau2_wheel, "retail", "test")
    assert len(suite.scenarios) >= 30
    assert {"cancel", "return", "exchange", "modify"} <= set(suite.topics())
    for scenario in suite.scenarios:
        assert scenario.facts and scenario.opening
        assert "(" not in scenario.opening  # stage directions for the simulated user are cut
        assert not scenario.opening.startswith("You ")
        assert scenario.docs and scenario.docs[0].doc_id.startswith("retail-policy")
    cancel = next(s for s in suite.scenarios if s.topic == "cancel")
    order = cancel.facts[0].anchors[0]
    assert order.startswith("#W") and order in json.dumps(cancel.customer_profile)
    assert "refund" in cancel.allowed_commitments
    assert any("zip" in s.known_info or "email" in s.known_info for s in suite.scenarios)


def test_loader_reads_a_domain_folder_on_disk_like_the_wheel(tau2_wheel, tmp_path):
    prefix = f"{TAU2_DOMAINS}/retail/"
    with zipfile.ZipFile(tau2_wheel) as archive:
        for name in archive.namelist():
            if name.startswith(prefix):
                (tmp_path / name[len(prefix) :]).write_bytes(archive.read(name))
    from_dir = load_tau2_suite(tmp_path, "retail", "train", limit=5)
    from_wheel = load_tau2_suite(tau2_wheel, "retail", "train", limit=5)
    assert [s.model_dump() for s in from_dir.scenarios] == [
        s.model_dump() for s in from_wheel.scenarios
    ]
    assert len(from_dir.scenarios) == 5


def test_unknown_split_and_missing_source_are_one_line_errors(tau2_wheel, tmp_path):
    with pytest.raises(SuiteError, match="unknown split 'dev'"):
        load_tau2_suite(tau2_wheel, "retail", "dev")
    with pytest.raises(SuiteError, match=r"setup\.sh"):
        load_tau2_suite(tmp_path / "nope.whl", "retail")


def test_first_person_rewrites_the_instructions():
    said = first_person("You want to return your lamp. You are Mei and you'd like a refund.")
    assert said == "I want to return my lamp. I am Mei and I'd like a refund."


def test_jsonl_suite_and_its_validation(tmp_path):
    suite = load_jsonl_suite(ACME_SUITE)
    assert len(suite.scenarios) == 6 and suite.name == "acme"
    bad = tmp_path / "bad.jsonl"
    row = json.loads(ACME_SUITE.read_text().splitlines()[0])
    row["facts"] = []
    row["colour"] = "red"
    bad.write_text(json.dumps(row) + "\n")
    with pytest.raises(SuiteError) as err:
        load_jsonl_suite(bad)
    assert "bad.jsonl:1: unknown key colour" in str(err.value)
    assert "key facts" in str(err.value)


def test_injections_are_added_to_every_suite():
    suite = add_injections(load_jsonl_suite(ACME_SUITE), count=5)
    injected = [s for s in suite.scenarios if s.injection is not None]
    assert len(injected) == 5 and len(suite.scenarios) == 11
    assert {s.injection.message for s in injected} == {t.message for t in TEMPLATES}
    assert all(s.topic == "injection" and s.facts for s in injected)
