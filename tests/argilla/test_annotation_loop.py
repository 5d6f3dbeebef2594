"""Push -> annotate through the API as annotators -> pull -> agreement, on the real server."""

from __future__ import annotations

import json
import os
import stat

import pytest
from datasets import load_from_disk
from typer.testing import CliRunner

from supportloop.cli import app
from supportloop.feedback.argilla.agreement import compute_agreement
from supportloop.feedback.argilla.pull import find_dataset, iter_records, pull
from supportloop.feedback.argilla.push import push
from supportloop.feedback.argilla.settings import SimulationConfig
from supportloop.feedback.demo.simulated_annotators import simulate
from supportloop.runs import OUTPUTS_ENV
from tests.argilla.helpers import fixed_candidates, make_conversation

pytestmark = [pytest.mark.argilla, pytest.mark.slow]

EXTRA = ["Sorry, no returns.", "Please send me your order number."]


def _records_by_external_id(owner, dataset_id: str) -> dict[str, dict]:
    return {r["external_id"]: r for r in iter_records(owner, dataset_id, responses=False)}


def _respond(conn, record_uuid: str, status: str, values: dict) -> dict:
    reply = conn.session().post(
        f"{conn.api_url}/api/v1/records/{record_uuid}/responses",
        json={"status": status, "values": values},
    )
    assert reply.status_code == 201, reply.text
    return reply.json()


def _ranking(*ranks: int) -> dict:
    return {"value": [{"value": f"candidate_{i}", "rank": r} for i, r in enumerate(ranks, 1)]}


def test_credentials_file_is_private(argilla_stack):
    mode = stat.S_IMODE(os.stat(argilla_stack.credentials_file).st_mode)
    assert mode == 0o600
    users = json.loads(argilla_stack.credentials_file.read_text())["users"]
    assert {"owner", "annotator-1", "annotator-2", "annotator-3"} <= set(users)


def test_push_annotate_pull_agreement(
    owner, annotator_connections, dataset_config, tmp_path, monkeypatch
):
    convs = [make_conversation(i) for i in range(5)]
    convs.append(make_conversation(5, n_turns=2))  # turns="last": one record for it too
    # A conversation whose only candidate is the logged reply is skipped (nothing to rank).
    convs.append(make_conversation(6))
    candidate_fn = fixed_candidates(EXTRA)

    def some_single(prompts, logged):
        out = candidate_fn(prompts, logged)
        out[-1] = out[-1][:1]
        return out

    first = push(owner, dataset_config, convs, some_single, batch_size=4)
    assert (first["turns"], first["records"], first["created"], first["updated"]) == (7, 6, 6, 0)
    assert first["skipped_fewer_than_2_candidates"] == 1
    again = push(owner, dataset_config, convs, some_single, batch_size=4)
    assert (again["created"], again["updated"]) == (0, 6)

    dataset_id = find_dataset(owner, dataset_config)["id"]
    records = _records_by_external_id(owner, dataset_id)
    assert len(records) == 6
    ids = sorted(records)
    a1, a2, a3 = (annotator_connections[f"annotator-{i}"] for i in (1, 2, 3))
    # Two hand-made responses on one record, with a known agreement of 2/3:
    # rankings [1,2,3] vs [1,3,2] order 2 of 3 candidate pairs alike; resolves match on 2 of 3.
    first_uuid = records[ids[0]]["id"]
    _respond(
        a1,
        first_uuid,
        "submitted",
        {
            "ranking": _ranking(1, 2, 3),
            "resolves_1": {"value": "yes"},
            "resolves_2": {"value": "no"},
            "resolves_3": {"value": "no"},
        },
    )
    a2_first = _respond(
        a2,
        first_uuid,
        "submitted",
        {
            "ranking": _ranking(1, 3, 2),
            "resolves_1": {"value": "yes"},
            "resolves_2": {"value": "partly"},
            "resolves_3": {"value": "no"},
            "flags_3": {"value": ["asks_known_info"]},
            "correction": {"value": "Yes: within 30 days of delivery."},
        },
    )
    # Simulated annotators (demo rules) submit through their own queues: annotator-1 does the
    # remaining 5 records, annotator-2 three of them.
    sim = SimulationConfig(annotators={"annotator-1": 0.0}, seed=1)
    assert simulate(owner, annotator_connections, dataset_config, sim) == {"annotator-1": 5}
    sim = SimulationConfig(annotators={"annotator-2": 0.2}, max_records_per_annotator=3, seed=1)
    assert simulate(owner, annotator_connections, dataset_config, sim) == {"annotator-2": 3}
    # annotator-2 discards one more record; annotator-3 leaves a draft on another.
    pending = [r for r in ids if r != ids[0]]
    done_by_a2 = {row["external_id"] for row in _a2_submitted(owner, dataset_id, a2)}
    left = [r for r in pending if r not in done_by_a2]
    assert len(left) == 2
    _respond(a2, records[left[0]]["id"], "discarded", {})
    _respond(a3, records[left[1]]["id"], "draft", {"resolves_1": {"value": "yes"}})

    announced = tmp_path / "outputs"  # as `supportloop run` listens for --resume
    monkeypatch.setenv(OUTPUTS_ENV, str(announced))
    result = pull(owner, dataset_config)
    assert announced.read_text().split() == [str(dataset_config.pull_dir.resolve())]
    assert result["rows"] == 1 + 1 + 5 + 3 + 1  # hand-made 2, simulated 8, one discard
    assert (result["submitted"], result["discarded"], result["drafts_skipped"]) == (10, 1, 1)
    assert (result["new"], result["changed"], result["fetched"]) == (11, 0, True)
    assert result["records_with_responses"] == 6
    responses = load_from_disk(str(dataset_config.pull_dir / "responses"))
    assert len(responses) == 11
    row = next(r for r in responses if r["record_id"] == ids[0] and r["annotator"] == "annotator-2")
    assert row["ranking"] == [1, 3, 2]  # ranks survive (the SDK would drop them)
    assert row["resolves"] == ["yes", "partly", "no"]
    assert row["flags"] == [[], [], ["asks_known_info"]]
    assert row["correction"] == "Yes: within 30 days of delivery."
    assert [c["source"] for c in row["candidates"]] == ["logged", "generated", "generated"]
    assert row["prompt"][-1]["role"] == "user" and row["turn_index"] == 1
    discarded = [r for r in responses if r["status"] == "discarded"]
    assert len(discarded) == 1 and discarded[0]["ranking"] is None
    assert discarded[0]["resolves"] == [None, None, None]

    # Nothing new: the pull does not even fetch.
    assert pull(owner, dataset_config)["fetched"] is False
    # One response changes: the next pull reports exactly that one as changed.
    reply = a2.session().put(
        f"{a2.api_url}/api/v1/responses/{a2_first['id']}",
        json={
            "status": "submitted",
            "values": {**a2_first["values"], "resolves_2": {"value": "no"}},
        },
    )
    assert reply.status_code == 200, reply.text
    changed = pull(owner, dataset_config)
    assert (changed["new"], changed["changed"], changed["rows"]) == (0, 1, 11)
    new_rows = load_from_disk(str(dataset_config.pull_dir / "new_responses"))
    assert [(r["annotator"], r["resolves"]) for r in new_rows] == [
        ("annotator-2", ["yes", "no", "no"])
    ]

    records_table, summary = compute_agreement(responses)
    by_record = {r["record_id"]: r for r in records_table}
    assert by_record[ids[0]]["n_annotators"] == 2
    assert by_record[ids[0]]["agreement"] == pytest.approx(2 / 3)
    assert summary["records"] == 6
    assert summary["records_with_2plus_annotators"] == 4  # the hand-made one + 3 simulated
    assert sum(r["agreement"] is None for r in records_table) == 2
    assert set(summary["annotators"]) == {"annotator-1", "annotator-2"}
    assert summary["alpha"]["ranking"] is not None and -1 <= summary["alpha"]["ranking"] <= 1

    # The CLI reads the latest pull, where annotator-2 changed resolves_2 to "no": resolves
    # now match on 3 of 3, so that record's agreement is (2/3 + 1) / 2 (contract:
    # <run>/record_agreement).
    config = dataset_config.pull_dir.parent / "argilla.yaml"
    config.write_text(f"dataset: {dataset_config.dataset}\npull_dir: {dataset_config.pull_dir}\n")
    out = dataset_config.pull_dir.parent / "agreement"
    result = CliRunner().invoke(app, ["argilla", "agreement", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Krippendorff alpha" in result.output
    saved = {r["record_id"]: r for r in load_from_disk(str(out / "record_agreement"))}
    assert saved[ids[0]]["agreement"] == pytest.approx(5 / 6) and len(saved) == 6


def _a2_submitted(owner, dataset_id, a2):
    users = {
        u["username"]: u["id"]
        for u in owner.session().get(f"{owner.api_url}/api/v1/users").json()["items"]
    }
    return [
        r
        for r in iter_records(owner, dataset_id)
        if any(resp["user_id"] == users[a2.username] for resp in r.get("responses") or [])
    ]


def test_repush_after_changes_only_adds_new_turns(owner, dataset_config):
    convs = [make_conversation(i) for i in range(3)]
    push(owner, dataset_config, convs, fixed_candidates(EXTRA))
    more = push(owner, dataset_config, [*convs, make_conversation(9)], fixed_candidates(EXTRA))
    assert (more["records"], more["created"], more["updated"]) == (4, 1, 3)


def test_annotator_cannot_read_other_workspace(owner, annotator_connections, dataset_config):
    session = owner.session()
    reply = session.post(f"{owner.api_url}/api/v1/workspaces", json={"name": "restricted"})
    assert reply.status_code == 201, reply.text
    restricted = dataset_config.model_copy(update={"workspace": "restricted"})
    pushed = push(owner, restricted, [make_conversation(0)], fixed_candidates(EXTRA))
    dataset_id = pushed["dataset_id"]
    annotator = annotator_connections["annotator-1"].session()
    url = annotator_connections["annotator-1"].api_url
    assert annotator.get(f"{url}/api/v1/datasets/{dataset_id}").status_code in (403, 404)
    records = annotator.get(f"{url}/api/v1/datasets/{dataset_id}/records")
    assert records.status_code in (403, 404)
    search = annotator.post(f"{url}/api/v1/me/datasets/{dataset_id}/records/search", json={})
    assert search.status_code in (403, 404)
    listed = annotator.get(f"{url}/api/v1/me/datasets").json()["items"]
    assert dataset_id not in {d["id"] for d in listed}


def test_push_refuses_a_dataset_made_with_other_fields(owner, dataset_config):
    """A dataset from an older layout (e.g. one `context` field) cannot take today's records:
    Argilla cannot add fields to a published dataset, so the push says what to do instead."""
    import argilla as rg

    from supportloop.feedback.argilla.push import PushError

    client = owner.client()
    settings = rg.Settings(
        fields=[rg.TextField("context", client=client)],
        questions=[rg.LabelQuestion("ok", labels=["yes", "no"], client=client)],
    )
    rg.Dataset(
        dataset_config.dataset, workspace=owner.workspace, settings=settings, client=client
    ).create()
    with pytest.raises(PushError, match="dataset=<new name>"):
        push(owner, dataset_config, [make_conversation(0)], fixed_candidates(EXTRA))
