"""`supportloop argilla listen`: a real record.completed webhook from the server triggers a pull."""

from __future__ import annotations

import time

import pytest

from supportloop.feedback.argilla.push import push
from supportloop.feedback.argilla.webhooks import WebhookListener
from tests.argilla.helpers import fixed_candidates, make_conversation

pytestmark = [pytest.mark.argilla, pytest.mark.slow]


def test_completed_record_triggers_incremental_pull(owner, annotator_connections, dataset_config):
    pushed = push(
        owner,
        dataset_config,
        [make_conversation(0), make_conversation(1)],
        fixed_candidates(["No.", "Maybe."]),
    )
    assert pushed["records"] == 2
    with WebhookListener(owner, dataset_config) as listener:
        # A forged delivery is refused.
        assert listener.receive(b'{"type": "record.completed"}', {"webhook-id": "x"}) == 401
        url = owner.api_url
        first = None
        for name in ("annotator-1", "annotator-2"):  # min_submitted=2: the 2nd completes it
            conn = annotator_connections[name]
            search = f"{url}/api/v1/me/datasets/{pushed['dataset_id']}/records/search"
            records = conn.session().post(search, json={}).json()["items"]
            first = first or sorted(r["record"]["id"] for r in records)[0]
            ranking = [{"value": f"candidate_{i}", "rank": i} for i in (1, 2, 3)]
            reply = conn.session().post(
                f"{url}/api/v1/records/{first}/responses",
                json={"status": "submitted", "values": {"ranking": {"value": ranking}}},
            )
            assert reply.status_code == 201, reply.text
        deadline = time.monotonic() + 30
        while not listener.pulls and time.monotonic() < deadline:
            time.sleep(0.2)
        assert listener.events_received == 1
        assert listener.pulls, "no pull after the record.completed webhook"
        assert listener.pulls[0]["new"] == 2 and listener.pulls[0]["rows"] == 2
    hooks = owner.session().get(f"{owner.api_url}/api/v1/webhooks").json()["items"]
    assert listener.url not in {h["url"] for h in hooks}  # unregistered on exit
