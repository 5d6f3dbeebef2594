"""The embedded server's speed-ups (server/serve.py) keep argilla-server's validation intact."""

from __future__ import annotations

import pytest

from supportloop.feedback.argilla.pull import iter_records
from supportloop.feedback.argilla.push import push
from tests.argilla.helpers import fixed_candidates, make_conversation

pytestmark = [pytest.mark.argilla]


def test_prebuilt_settings_validators_still_reject_invalid_values(
    owner, annotator_connections, dataset_config
):
    pushed = push(
        owner, dataset_config, [make_conversation(0)], fixed_candidates(["No.", "Maybe."])
    )
    dataset_id = pushed["dataset_id"]
    (record,) = iter_records(owner, dataset_id, responses=False)
    session, url = owner.session(), owner.api_url

    def upsert_csat(csat: int):
        metadata = {**record["metadata"], "csat": csat}
        return session.put(
            f"{url}/api/v1/datasets/{dataset_id}/records/bulk",
            json={"items": [{"id": record["id"], "metadata": metadata}]},
        )

    # Metadata values are checked against the metadata property settings (csat: 1..5).
    rejected = upsert_csat(9)
    assert rejected.status_code == 422, rejected.text
    assert "csat" in rejected.text
    accepted = upsert_csat(4)
    assert accepted.status_code == 200, accepted.text
    (updated,) = iter_records(owner, dataset_id, responses=False)
    assert updated["metadata"]["csat"] == 4

    # Response values are checked against the question settings (known ranking options only).
    annotator = annotator_connections["annotator-1"]
    names = ["candidate_1", "candidate_2", "candidate_9"]
    ranking = {"value": [{"value": name, "rank": i} for i, name in enumerate(names, 1)]}
    reply = annotator.session().post(
        f"{annotator.api_url}/api/v1/records/{record['id']}/responses",
        json={"status": "submitted", "values": {"ranking": ranking}},
    )
    assert reply.status_code == 422, reply.text
    assert "candidate_9" in reply.text
