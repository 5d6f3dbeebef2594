"""The embedded stack: idempotent up, status, restart keeps annotations, env selects a server."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from supportloop.cli import app
from supportloop.feedback.argilla.connection import connect, external_server
from supportloop.feedback.argilla.pull import find_dataset
from supportloop.feedback.argilla.push import push
from supportloop.feedback.argilla.stack import down, status, up
from tests.argilla.helpers import fixed_candidates, make_conversation

pytestmark = [pytest.mark.argilla]


def test_up_is_idempotent_and_status_reports_health(argilla_stack, stack_config):
    again = up(stack_config)
    assert again.started is False and again.api_url == argilla_stack.api_url
    health = status(stack_config)
    assert health["api_ok"] is True
    assert set(health["processes"]) == {"redis", "osmem", "web", "worker"}
    assert all(health["processes"].values())


def test_cli_status_never_prints_secrets(argilla_stack, stack_config, tmp_path):
    config = tmp_path / "stack.yaml"
    config.write_text(f"data_dir: {stack_config.data_dir}\nport: {stack_config.port}\n")
    result = CliRunner().invoke(app, ["argilla", "status", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "API http://127.0.0.1" in result.output and ": ok" in result.output
    secrets = argilla_stack.credentials_file.read_text()
    import json

    for user in json.loads(secrets)["users"].values():
        assert user["api_key"] not in result.output and user["password"] not in result.output


@pytest.mark.slow
def test_restart_keeps_records_and_responses(
    argilla_stack,
    stack_config,
    owner,
    annotator_connections,
    dataset_config,
):
    pushed = push(
        owner, dataset_config, [make_conversation(0)], fixed_candidates(["No.", "Maybe."])
    )
    a1 = annotator_connections["annotator-1"]
    search = f"{a1.api_url}/api/v1/me/datasets/{pushed['dataset_id']}/records/search"
    record = a1.session().post(search, json={}).json()["items"][0]["record"]
    ranking = [{"value": f"candidate_{i}", "rank": i} for i in (1, 2, 3)]
    reply = a1.session().post(
        f"{a1.api_url}/api/v1/records/{record['id']}/responses",
        json={"status": "submitted", "values": {"ranking": {"value": ranking}}},
    )
    assert reply.status_code == 201, reply.text

    assert set(down(stack_config)) == {"redis", "osmem", "web", "worker"}
    assert status(stack_config)["api_ok"] is False
    restarted = up(stack_config)
    assert restarted.started and restarted.api_url == argilla_stack.api_url
    # The search index was rebuilt from SQLite: the annotator's submitted record is found by
    # a response-status search (served by osmem, not by the database).
    body = {
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
    found = a1.session().post(search, json=body, params={"include": "responses"}).json()
    assert [item["record"]["id"] for item in found["items"]] == [record["id"]]
    assert find_dataset(owner, dataset_config)["id"] == pushed["dataset_id"]


def test_env_selects_external_server_and_starts_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("ARGILLA_API_URL", "http://argilla.example:6900/")
    monkeypatch.setenv("ARGILLA_API_KEY", "external-key")
    assert external_server()
    conn = connect(tmp_path / "missing-credentials.json")
    assert conn.api_url == "http://argilla.example:6900" and conn.api_key == "external-key"
    assert "external-key" not in repr(conn)
    result = CliRunner().invoke(app, ["argilla", "up", "--config", str(tmp_path / "none.yaml")])
    assert result.exit_code == 0 and "starting none" in result.output


def test_missing_credentials_is_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.delenv("ARGILLA_API_URL", raising=False)
    monkeypatch.delenv("ARGILLA_API_KEY", raising=False)
    config = tmp_path / "dataset.yaml"
    config.write_text(f"credentials: {tmp_path / 'nope.json'}\n")
    result = CliRunner().invoke(app, ["argilla", "pull", str(config)])
    assert result.exit_code == 2
    assert "run `supportloop argilla up`" in result.output
