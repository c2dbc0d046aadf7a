"""PostgreSQL stores no U+0000 in text or jsonb: every way in refuses it with a message naming the field.

Before these checks each of these requests was a 500 (psycopg DataError), found while fuzzing
the API (see test_schemathesis.py): NUL is one of the first characters a fuzzer tries.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tasks.models import Answer, ImportStatus, Task, TaskTemplate
from tasks.services.imports import import_create, import_run
from tasks.services.work import next_task
from tests.tasks.factories import project, tasks, worker
from workforce.models import User

pytestmark = pytest.mark.django_db


def _api(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_a_free_text_answer_with_a_nul_byte_is_refused_over_the_api_and_nothing_is_stored(ops: User) -> None:
    p = project(template=TaskTemplate.FREE_TEXT, answer_schema={"max_length": 50})
    tasks(p, 1)
    contractor = worker(ops=ops)
    assignment = next_task(worker=contractor, project=p)

    response = _api(contractor).post(
        reverse("tasks:api:submit", args=[assignment.pk]), {"answer": "a cat\x00"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["message"].startswith("answer: Remove the NUL character")
    assert not Answer.objects.exists()


def test_a_free_text_answer_with_a_nul_byte_is_refused_on_the_work_page(ops: User) -> None:
    p = project(template=TaskTemplate.FREE_TEXT, answer_schema={"max_length": 50})
    tasks(p, 1)
    contractor = worker(ops=ops)
    assignment = next_task(worker=contractor, project=p)
    client = Client()
    client.force_login(contractor)

    response = client.post(reverse("tasks:assignment", args=[assignment.pk]), {"answer": "a cat\x00"})

    assert response.status_code == 200
    assert "Remove the NUL character" in response.content.decode()
    assert not Answer.objects.exists()


@pytest.mark.parametrize("parameter", ["q", "state", "country", "skill"])
def test_a_contractor_filter_with_a_nul_byte_is_a_400_naming_the_parameter(ops: User, parameter: str) -> None:
    response = _api(ops).get(reverse("workforce:api-contractor-list"), {parameter: "a\x00"})

    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == [parameter]


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"text": "a\x00b"}, "text"),
        ({"text": "ok", "meta": {"source\x00": 1}}, "meta"),
        ({"id": "7\x00", "text": "ok"}, "id"),
    ],
)
def test_an_imported_row_with_a_nul_byte_is_a_row_problem_and_nothing_is_imported(
    ops: User, settings: Any, tmp_path: Path, row: dict[str, Any], field: str
) -> None:
    settings.FAIRTASK_UPLOAD_DIR = tmp_path / "uploads"
    p = project()
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps({"text": "fine"}) + "\n" + json.dumps(row) + "\n")
    job = import_create(project=p, path=path, file_name=path.name, actor=ops)

    job = import_run(job_id=job.pk)

    assert job.status == ImportStatus.FAILED
    assert job.errors[0]["row"] == 2
    assert job.errors[0]["field"] == field
    assert "NUL" in job.errors[0]["message"]
    assert not Task.objects.filter(project=p).exists()
