"""The API's fast path for next task and submit (tasks.api): same answers, same rules.

A plain request from a contractor's token is served without DRF's request cycle; every
other request, and every plain one that turns out irregular before anything is written,
goes through the full view. These tests drive both and compare, and check each fallback
keeps the API's one error shape.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import InterfaceError, OperationalError, connection, connections
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tasks import api
from tasks.models import Answer, Assignment, AssignmentStatus, ProjectStatus, Task
from tasks.services import work
from tests.tasks.factories import project, tasks, worker
from workforce.models import User

pytestmark = pytest.mark.django_db

NEXT = "/api/v1/next-task/"


def _token_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def _session_client(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def _submit(assignment: int) -> str:
    return f"/api/v1/assignments/{assignment}/submit/"


@pytest.fixture
def full_view_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the requests that reach the full DRF handlers (the fast path never calls them)."""
    calls = {"next": 0, "submit": 0}
    original_next, original_submit = api.NextTaskApi.post, api.SubmitApi.post

    def next_post(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        calls["next"] += 1
        return original_next(self, request, *args, **kwargs)

    def submit_post(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        calls["submit"] += 1
        return original_submit(self, request, *args, **kwargs)

    monkeypatch.setattr(api.NextTaskApi, "post", next_post)
    monkeypatch.setattr(api.SubmitApi, "post", submit_post)
    return calls


def test_a_token_claim_and_submit_take_the_fast_path_and_answer_like_the_full_view(ops, full_view_calls):
    p = project()
    tasks(p, 2)
    fast, full = _token_client(worker(ops=ops)), _session_client(worker(ops=ops))

    claimed = [c.post(NEXT, {}, format="json") for c in (fast, full)]
    assert [r.status_code for r in claimed] == [200, 200]
    assert full_view_calls["next"] == 1, "only the session request went through DRF"
    fast_body, full_body = (r.json() for r in claimed)
    assert set(fast_body) == set(full_body)
    for key in ("project", "template", "choices", "max_length", "status"):
        assert fast_body[key] == full_body[key]
    assert set(fast_body["data"]) == set(full_body["data"]) == {"text"}
    lease = Assignment.objects.get(pk=fast_body["assignment"])
    assert lease.status == AssignmentStatus.LEASED
    assert lease.expires_at.isoformat() == fast_body["expires_at"]
    assert lease.expires_at - lease.leased_at == timedelta(seconds=p.lease_seconds)
    assert Task.objects.get(pk=lease.task_id).filled == 1

    stored = [
        c.post(_submit(b["assignment"]), {"answer": "dog"}, format="json")
        for c, b in ((fast, fast_body), (full, full_body))
    ]
    assert [r.status_code for r in stored] == [201, 201]
    assert full_view_calls["submit"] == 1
    assert stored[0].json().keys() == stored[1].json().keys()
    answer = Answer.objects.get(pk=stored[0].json()["answer"])
    assert (answer.value, answer.assignment_id, answer.worker_id) == ("dog", lease.pk, lease.worker_id)
    lease.refresh_from_db()
    assert lease.status == AssignmentStatus.SUBMITTED
    assert lease.submitted_at == answer.submitted_at


def test_a_refusal_on_the_fast_path_has_the_full_views_body(ops, full_view_calls):
    closed = project(status=ProjectStatus.PAUSED)
    tasks(closed, 1)
    fast = _token_client(worker(ops=ops)).post(NEXT, {}, format="json")
    full = _session_client(worker(ops=ops)).post(NEXT, {}, format="json")
    assert fast.status_code == full.status_code == 409
    assert fast.json() == full.json()
    assert fast.json()["code"] == "no_projects"
    assert full_view_calls["next"] == 1


def test_a_repeated_submit_is_answered_by_the_full_view_idempotently(ops, full_view_calls):
    p = project()
    tasks(p, 1)
    client = _token_client(worker(ops=ops))
    assignment = client.post(NEXT, {}, format="json").json()["assignment"]
    first = client.post(_submit(assignment), {"answer": "cat"}, format="json")
    again = client.post(_submit(assignment), {"answer": "cat"}, format="json")
    changed = client.post(_submit(assignment), {"answer": "dog"}, format="json")
    assert (first.status_code, again.status_code, changed.status_code) == (201, 200, 409)
    assert again.json()["answer"] == first.json()["answer"]
    assert changed.json()["message"] == "answer: You already submitted an answer to this task."
    assert full_view_calls["submit"] == 2
    assert Answer.objects.get().value == "cat"


def test_a_submit_after_the_lease_ended_falls_back_and_explains(ops):
    p = project()
    tasks(p, 1)
    client = _token_client(worker(ops=ops))
    assignment = client.post(NEXT, {}, format="json").json()["assignment"]
    Assignment.objects.filter(pk=assignment).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(_submit(assignment), {"answer": "cat"}, format="json")
    assert response.status_code == 409
    assert response.json()["message"].startswith("assignment: Your lease on this task ended at ")
    assert "still paid" in response.json()["message"]
    assert not Answer.objects.exists()


def test_an_answer_outside_the_schema_falls_back_and_names_the_field(ops, full_view_calls):
    p = project()
    tasks(p, 1)
    client = _token_client(worker(ops=ops))
    assignment = client.post(NEXT, {}, format="json").json()["assignment"]
    response = client.post(_submit(assignment), {"answer": "horse"}, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("answer: ")
    assert full_view_calls["submit"] == 1
    assert Assignment.objects.get(pk=assignment).status == AssignmentStatus.LEASED
    assert not Answer.objects.exists()


@pytest.mark.parametrize(
    ("header", "status", "message"),
    [
        ("Token not-a-real-token", 403, "Invalid token."),
        ("Token two words", 403, "Invalid token header. Token string should not contain spaces."),
        ("Bearer abc", 403, "Authentication credentials were not provided."),
    ],
)
def test_a_bad_token_is_refused_in_the_apis_error_shape(ops, header, status, message):
    p = project()
    tasks(p, 1)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.post(NEXT, {}, format="json")
    assert response.status_code == status
    assert response.json()["message"] == message
    assert not Assignment.objects.exists()


def test_an_inactive_account_and_a_manager_get_no_task_through_a_token(ops):
    p = project()
    tasks(p, 1)
    gone = worker(ops=ops)
    gone_client = _token_client(gone)
    User.objects.filter(pk=gone.pk).update(is_active=False)
    inactive = gone_client.post(NEXT, {}, format="json")
    assert inactive.status_code == 403  # DRF: 403, as session authentication comes first
    assert inactive.json()["message"] == "User inactive or deleted."
    manager = _token_client(ops).post(NEXT, {}, format="json")
    assert manager.status_code == 403
    assert manager.json()["message"] == "Only contractors take tasks."
    assert not Assignment.objects.exists()


def test_malformed_json_and_a_draft_project_fall_back_to_the_full_errors(ops):
    draft = project(status=ProjectStatus.DRAFT)
    tasks(draft, 1)
    client = _token_client(worker(ops=ops))
    broken = client.post(NEXT, b"{not json", content_type="application/json")
    assert broken.status_code == 400
    assert broken.json()["code"] == "parse_error"
    hidden = client.post(NEXT, {"project": draft.pk}, format="json")
    assert hidden.status_code == 404
    wrong_type = client.post(NEXT, {"project": "first"}, format="json")
    assert wrong_type.status_code == 400
    assert wrong_type.json()["message"].startswith("project: ")
    assert not Assignment.objects.exists()


def test_a_named_project_is_served_on_the_fast_path(ops, full_view_calls):
    first, second = project(), project()
    tasks(first, 1)
    tasks(second, 1)
    client = _token_client(worker(ops=ops))
    response = client.post(NEXT, {"project": second.pk}, format="json")
    assert response.status_code == 200
    assert response.json()["project"]["id"] == second.pk
    assert full_view_calls["next"] == 0


@pytest.mark.django_db(transaction=True)
def test_racing_submits_of_one_assignment_store_exactly_one_answer(ops):
    p = project()
    tasks(p, 1)
    w = worker(ops=ops)
    key = Token.objects.create(user=w).key
    assignment = _token_client(w).post(NEXT, {}, format="json").json()["assignment"]
    start = threading.Barrier(8)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
            start.wait()
            statuses.append(client.post(_submit(assignment), {"answer": "cat"}, format="json").status_code)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(statuses) == [200] * 7 + [201]
    assert Answer.objects.filter(assignment_id=assignment).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_read_on_a_dropped_connection_is_retried_once_and_a_write_is_not(ops):
    connection.ensure_connection()
    connection.connection.close()  # as if the server had dropped the kept connection
    assert work._hot("SELECT 1", [], read=True) == [(1,)]
    connection.connection.close()
    with pytest.raises((OperationalError, InterfaceError)):
        work._hot("SELECT 1", [])
    connection.close()
