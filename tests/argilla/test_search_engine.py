"""The osmem search-engine adapter (read-modify-write updates) under real server traffic."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from supportloop.feedback.argilla.push import push
from tests.argilla.helpers import fixed_candidates, make_conversation

pytestmark = [pytest.mark.argilla]

SUBMITTED = {
    "filters": {
        "and": [
            {
                "type": "terms",
                "values": ["submitted"],
                "scope": {"entity": "response", "property": "status"},
            }
        ]
    }
}


def _search(conn, dataset_id: str, body: dict) -> list[str]:
    url = f"{conn.api_url}/api/v1/me/datasets/{dataset_id}/records/search"
    reply = conn.session().post(url, json=body)
    assert reply.status_code == 200, reply.text
    return [item["record"]["id"] for item in reply.json()["items"]]


def test_concurrent_submissions_and_deletion_reach_the_index(
    owner, annotator_connections, dataset_config
):
    config = dataset_config.model_copy(update={"min_submitted": 3})
    pushed = push(owner, config, [make_conversation(0)], fixed_candidates(["No.", "Maybe."]))
    dataset_id = pushed["dataset_id"]
    conns = list(annotator_connections.values())
    (record_id,) = _search(conns[0], dataset_id, {})
    ranking = {"value": [{"value": f"candidate_{i}", "rank": i} for i in (1, 2, 3)]}

    def submit(conn):
        return conn.session().post(
            f"{conn.api_url}/api/v1/records/{record_id}/responses",
            json={"status": "submitted", "values": {"ranking": ranking}},
        )

    with ThreadPoolExecutor(len(conns)) as pool:
        replies = list(pool.map(submit, conns))
    assert [r.status_code for r in replies] == [201] * len(conns)
    # Every annotator's response made it into the one indexed document (no lost update).
    for conn in conns:
        assert _search(conn, dataset_id, SUBMITTED) == [record_id]

    deleted = (
        conns[0].session().delete(f"{conns[0].api_url}/api/v1/responses/{replies[0].json()['id']}")
    )
    assert deleted.status_code == 200, deleted.text
    assert _search(conns[0], dataset_id, SUBMITTED) == []
    assert _search(conns[1], dataset_id, SUBMITTED) == [record_id]
