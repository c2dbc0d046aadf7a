import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tasks.models import Answer
from tests.tasks.factories import project, tasks, worker

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def test_a_worker_claims_submits_and_resubmits_idempotently_over_the_api(ops):
    p = project()
    tasks(p, 1)
    client = _client(worker(ops=ops))
    task = client.post("/api/v1/next-task/", {}, format="json")
    assert task.status_code == 200
    body = task.json()
    assert body["choices"] == ["cat", "dog", "bird"]
    assert set(body["data"]) == {"text"}
    url = f"/api/v1/assignments/{body['assignment']}/submit/"
    first = client.post(url, {"answer": "cat"}, format="json")
    again = client.post(url, {"answer": "cat"}, format="json")
    assert first.status_code == 201
    assert again.status_code == 200
    assert first.json()["answer"] == again.json()["answer"]
    assert Answer.objects.count() == 1


def test_an_answer_outside_the_schema_names_the_field(ops):
    p = project()
    tasks(p, 1)
    client = _client(worker(ops=ops))
    assignment = client.post("/api/v1/next-task/", {}, format="json").json()["assignment"]
    response = client.post(f"/api/v1/assignments/{assignment}/submit/", {"answer": "horse"}, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("answer: ")
    assert not Answer.objects.exists()


def test_no_task_is_a_409_with_the_reason_and_when_to_retry(ops):
    client = _client(worker(ops=ops))
    response = client.post("/api/v1/next-task/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "no_projects"


def test_a_submit_for_someone_elses_assignment_is_404(ops):
    p = project()
    tasks(p, 1)
    owner = _client(worker(ops=ops))
    assignment = owner.post("/api/v1/next-task/", {}, format="json").json()["assignment"]
    other = _client(worker(ops=ops))
    response = other.post(f"/api/v1/assignments/{assignment}/submit/", {"answer": "cat"}, format="json")
    assert response.status_code == 404
    assert not Answer.objects.exists()


def test_an_auditor_cannot_review_and_a_manager_can(ops, auditor):
    p = project()
    tasks(p, 1)
    w = _client(worker(ops=ops))
    assignment = w.post("/api/v1/next-task/", {}, format="json").json()["assignment"]
    answer = w.post(f"/api/v1/assignments/{assignment}/submit/", {"answer": "cat"}, format="json").json()["answer"]
    denied = _client(auditor).post(f"/api/v1/answers/{answer}/review/", {"verdict": "approve"}, format="json")
    assert denied.status_code == 403
    missing = _client(ops).post(f"/api/v1/answers/{answer}/review/", {"verdict": "reject"}, format="json")
    assert missing.status_code == 400
    assert missing.json()["message"].startswith("code: ")
    ok = _client(ops).post(f"/api/v1/answers/{answer}/review/", {"verdict": "approve"}, format="json")
    assert ok.json()["review_status"] == "approved"


def test_the_openapi_schema_and_its_docs_page_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/next-task/" in schema.content
    docs = client.get("/api/docs/").content.decode()
    assert "cdn" not in docs.lower()
    assert "/static/drf_spectacular_sidecar/" in docs
