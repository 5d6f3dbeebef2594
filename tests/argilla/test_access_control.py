"""Roles on the real server: an annotator (or a workspace admin) cannot reach past its role.

The datasets the project pushes carry customers' conversations; annotators work in the
stack's workspace with accounts of their own. The UI is only one client of the REST API: an
annotator's API key (X-Argilla-Api-Key) calls the API directly, so what matters is what the
server refuses on plain HTTP: another workspace's records (read or write) and any change to a
dataset's settings, even in the annotator's own workspace. Every refusal is checked twice:
by its status code and by reading everything back as the owner afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from supportloop.feedback.argilla.connection import Connection
from supportloop.feedback.argilla.push import push
from supportloop.feedback.argilla.rest import check
from supportloop.feedback.argilla.settings import ArgillaConfig
from supportloop.feedback.argilla.stack import StackInfo
from tests.argilla.helpers import REPO, fixed_candidates, make_conversation

pytestmark = [pytest.mark.argilla, pytest.mark.slow]

# Argilla answers 403 to every request below; an exact code (not "any of 401/403/404") keeps
# a mistyped path, answered 404, from passing as a refusal.
FORBIDDEN = 403
ONE_ANSWER = {"strategy": "overlap", "min_submitted": 1}  # a record done after one answer
EXTRA = ["Please send me the order number.", "Sorry, I cannot help with that."]


@dataclass(frozen=True)
class Target:
    """A pushed dataset and the ids a request needs to name its parts."""

    workspace_id: str
    dataset_id: str
    record_id: str
    field_id: str
    question_id: str


@dataclass(frozen=True)
class Attempt:
    """One request as the attacker would send it, with a body the server accepts as valid."""

    method: str
    path: str
    body: dict[str, Any] | None = None

    def send(self, url: str, api_key: str) -> requests.Response:
        return requests.request(
            self.method,
            f"{url}{self.path}",
            json=self.body,
            headers={"X-Argilla-Api-Key": api_key},
            timeout=30,
        )


def _get(user: Connection, path: str, **params: Any) -> Any:
    return check(user.session().get(f"{user.api_url}{path}", params=params)).json()


def _post(owner: Connection, path: str, body: dict[str, Any]) -> Any:
    return check(owner.session().post(f"{owner.api_url}{path}", json=body)).json()


def _push_dataset(
    owner: Connection, stack: StackInfo, tmp: Path, name: str, workspace: str
) -> Target:
    config = ArgillaConfig(
        dataset=name,
        workspace=workspace,
        credentials=stack.credentials_file,
        guidelines=REPO / "docs" / "annotation-guidelines.md",
        pull_dir=tmp / "pull",
    )
    dataset_id = push(owner, config, [make_conversation(0)], fixed_candidates(EXTRA))["dataset_id"]
    dataset = _get(owner, f"/api/v1/datasets/{dataset_id}")
    (record,) = _get(owner, f"/api/v1/datasets/{dataset_id}/records")["items"]
    return Target(
        workspace_id=dataset["workspace_id"],
        dataset_id=dataset_id,
        record_id=record["id"],
        field_id=_get(owner, f"/api/v1/datasets/{dataset_id}/fields")["items"][0]["id"],
        question_id=_get(owner, f"/api/v1/datasets/{dataset_id}/questions")["items"][0]["id"],
    )


def _snapshot(owner: Connection, target: Target) -> dict[str, Any]:
    """Everything an attempt could have changed, read as the owner."""
    base = f"/api/v1/datasets/{target.dataset_id}"
    records = _get(owner, f"{base}/records", include=["responses", "suggestions"])["items"]
    return {
        "dataset": _get(owner, base),
        "fields": _get(owner, f"{base}/fields")["items"],
        "questions": _get(owner, f"{base}/questions")["items"],
        "metadata": _get(owner, f"/api/v1/me/datasets/{target.dataset_id}/metadata-properties")[
            "items"
        ],
        "records": records,
        "members": _get(owner, f"/api/v1/workspaces/{target.workspace_id}/users")["items"],
        "users": _get(owner, "/api/v1/users")["items"],
    }


def _member_reads(t: Target) -> list[Attempt]:
    """What a member annotator reads through the UI: the dataset, its records, one record."""
    return [
        Attempt("GET", f"/api/v1/datasets/{t.dataset_id}"),
        Attempt("GET", f"/api/v1/datasets/{t.dataset_id}/fields"),
        Attempt("POST", f"/api/v1/me/datasets/{t.dataset_id}/records/search", {}),
        Attempt("GET", f"/api/v1/records/{t.record_id}"),
        Attempt("GET", f"/api/v1/records/{t.record_id}/suggestions"),
    ]


def _reads(t: Target) -> list[Attempt]:
    """Every way to read the dataset's records, the owners' and admins' list included."""
    return [*_member_reads(t), Attempt("GET", f"/api/v1/datasets/{t.dataset_id}/records")]


def _answer(t: Target) -> Attempt:
    return Attempt(
        "POST",
        f"/api/v1/records/{t.record_id}/responses",
        {"values": {"correction": {"value": "forged"}}, "status": "submitted"},
    )


def _record_edits(t: Target) -> list[Attempt]:
    """Changes to the records themselves (owners' and admins' work, not annotators')."""
    return [
        Attempt("PATCH", f"/api/v1/records/{t.record_id}", {"metadata": {"topic": "forged"}}),
        Attempt("DELETE", f"/api/v1/records/{t.record_id}"),
        Attempt(
            "POST",
            f"/api/v1/datasets/{t.dataset_id}/records/bulk",
            {"items": [{"fields": {"conversation": [{"role": "user", "content": "forged"}]}}]},
        ),
        Attempt(
            "PUT",
            f"/api/v1/records/{t.record_id}/suggestions",
            {"question_id": t.question_id, "type": "model", "value": []},
        ),
    ]


def _settings_changes(t: Target) -> list[Attempt]:
    return [
        Attempt("PATCH", f"/api/v1/datasets/{t.dataset_id}", {"guidelines": "Label all: yes."}),
        Attempt("PATCH", f"/api/v1/datasets/{t.dataset_id}", {"distribution": ONE_ANSWER}),
        Attempt("DELETE", f"/api/v1/datasets/{t.dataset_id}"),
        Attempt(
            "POST",
            f"/api/v1/datasets/{t.dataset_id}/questions",
            {"name": "sneaky", "title": "Sneaky", "settings": {"type": "text"}},
        ),
        Attempt(
            "POST",
            f"/api/v1/datasets/{t.dataset_id}/fields",
            {"name": "sneaky", "title": "Sneaky", "settings": {"type": "text"}},
        ),
        Attempt(
            "POST",
            f"/api/v1/datasets/{t.dataset_id}/metadata-properties",
            {"name": "sneaky", "title": "Sneaky", "settings": {"type": "terms"}},
        ),
        Attempt("PATCH", f"/api/v1/fields/{t.field_id}", {"title": "Forged"}),
        Attempt("DELETE", f"/api/v1/fields/{t.field_id}"),
        Attempt("PATCH", f"/api/v1/questions/{t.question_id}", {"title": "Forged"}),
        Attempt("DELETE", f"/api/v1/questions/{t.question_id}"),
    ]


def _not_forbidden(url: str, api_key: str, attempts: list[Attempt]) -> dict[str, int]:
    """The attempts the server did not refuse as forbidden, with the status it answered."""
    answers = {f"{a.method} {a.path}": a.send(url, api_key).status_code for a in attempts}
    return {call: code for call, code in answers.items() if code != FORBIDDEN}


@pytest.fixture(scope="module")
def other_workspace(owner: Connection) -> str:
    """A second workspace, which the stack's annotators are not members of."""
    name = f"other-{secrets.token_hex(4)}"
    _post(owner, "/api/v1/workspaces", {"name": name})
    return name


@pytest.fixture(scope="module")
def home(owner: Connection, argilla_stack: StackInfo, tmp_path_factory) -> Target:
    """A dataset in the annotators' own workspace."""
    tmp = tmp_path_factory.mktemp("home")
    return _push_dataset(owner, argilla_stack, tmp, "access-home", owner.workspace)


@pytest.fixture(scope="module")
def away(owner: Connection, argilla_stack: StackInfo, tmp_path_factory, other_workspace) -> Target:
    """A dataset in the other workspace."""
    tmp = tmp_path_factory.mktemp("away")
    return _push_dataset(owner, argilla_stack, tmp, "access-away", other_workspace)


@pytest.fixture(scope="module")
def admin_key(owner: Connection, home: Target) -> Iterator[str]:
    """A real admin user, member of the annotators' workspace only."""
    user = _post(
        owner,
        "/api/v1/users",
        {
            "first_name": "Admin",
            "username": f"admin-{secrets.token_hex(4)}",
            "role": "admin",
            "password": secrets.token_urlsafe(16),
        },
    )
    _post(owner, f"/api/v1/workspaces/{home.workspace_id}/users", {"user_id": user["id"]})
    yield user["api_key"]
    check(owner.session().delete(f"{owner.api_url}/api/v1/users/{user['id']}"))


def test_annotator_reads_its_own_workspace(owner, annotator_connections, home):
    """The control for every refusal below: the same key and requests work where they may,
    so a refusal is the role's doing, not a bad key or a malformed request."""
    key = annotator_connections["annotator-1"].api_key
    answers = {f"{a.method} {a.path}": a.send(owner.api_url, key) for a in _member_reads(home)}
    assert {call: reply.status_code for call, reply in answers.items()} == dict.fromkeys(
        answers, 200
    )


def test_annotator_cannot_read_or_write_another_workspace(owner, annotator_connections, away):
    """Workspaces separate teams (or customers' data): an annotator of one must not read a
    conversation of another, answer it, or alter it, even knowing its ids."""
    before = _snapshot(owner, away)
    annotator = annotator_connections["annotator-1"]
    attempts = [*_reads(away), _answer(away), *_record_edits(away)]
    assert _not_forbidden(owner.api_url, annotator.api_key, attempts) == {}
    listed = _get(annotator, "/api/v1/me/datasets")["items"]
    assert away.dataset_id not in {d["id"] for d in listed}
    assert _snapshot(owner, away) == before


def test_annotator_cannot_change_dataset_settings(owner, annotator_connections, home):
    """An annotator who could edit the guidelines, questions or task distribution (or delete
    the dataset, or edit records and their suggestions) could change what every annotator is
    asked or shown, or what counts as done, in their own workspace; only owners and admins
    may."""
    before = _snapshot(owner, home)
    key = annotator_connections["annotator-1"].api_key
    attempts = [*_settings_changes(home), *_record_edits(home)]
    assert _not_forbidden(owner.api_url, key, attempts) == {}
    assert _snapshot(owner, home) == before


def test_annotator_cannot_raise_its_own_role(owner, annotator_connections, away, home):
    """Joining another workspace, becoming owner, creating a user or listing users (whose
    API keys the user list carries) are not an annotator's: it cannot grant itself what the
    tests above refuse it."""
    before = _snapshot(owner, away)
    annotator = annotator_connections["annotator-1"]
    my_id = _get(annotator, "/api/v1/me")["id"]
    attempts = [
        Attempt("POST", f"/api/v1/workspaces/{away.workspace_id}/users", {"user_id": my_id}),
        Attempt("PATCH", f"/api/v1/users/{my_id}", {"role": "owner"}),
        Attempt(
            "POST",
            "/api/v1/users",
            {"first_name": "X", "username": "x-owner", "role": "owner", "password": "p" * 12},
        ),
        Attempt("GET", "/api/v1/users"),
        Attempt("GET", f"/api/v1/workspaces/{home.workspace_id}/users"),
    ]
    assert _not_forbidden(owner.api_url, annotator.api_key, attempts) == {}
    assert _get(annotator, "/api/v1/me")["role"] == "annotator"
    assert _snapshot(owner, away) == before


def test_admin_of_one_workspace_cannot_touch_another(owner, admin_key, away):
    """An admin manages its own workspace's datasets, not the others'."""
    before = _snapshot(owner, away)
    attempts = [*_reads(away), _answer(away), *_record_edits(away), *_settings_changes(away)]
    assert _not_forbidden(owner.api_url, admin_key, attempts) == {}
    assert _snapshot(owner, away) == before
