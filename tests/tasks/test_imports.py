"""Task import and answer export: good files land whole, bad files change nothing and say why."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tasks.jobs import import_run_job
from tasks.models import Batch, GoldAnswer, ImportJob, ImportStatus, Project, ReviewStatus, Task, TaskTemplate
from tasks.services.exports import consensus_for, worker_pseudonym
from tasks.services.imports import ImportProgress, _TaskWriter, import_create, import_run
from tests.tasks.answers import answer
from tests.tasks.factories import project, tasks
from tests.workforce.factories import UserFactory
from workforce.celery import app as celery_app
from workforce.models import AuditEvent, User

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(autouse=True)
def upload_dir(settings: Any, tmp_path: Path) -> Path:
    settings.FAIRTASK_UPLOAD_DIR = tmp_path / "uploads"
    return settings.FAIRTASK_UPLOAD_DIR


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _jsonl(rows: list[Any]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def _import(p: Project, path: Path, actor: User, **kwargs: Any) -> ImportJob:
    job = import_create(project=p, path=path, file_name=path.name, actor=actor)
    return import_run(job_id=job.pk, **kwargs)


def _counts() -> tuple[int, int, int]:
    return Task.objects.count(), Batch.objects.count(), GoldAnswer.objects.count()


def _problems(job: ImportJob) -> list[tuple[int | None, str]]:
    return [(p["row"], p["field"]) for p in job.errors]


# Good files ---------------------------------------------------------------------------------


def test_a_good_jsonl_file_creates_a_batch_of_tasks_with_their_gold_answers(ops, tmp_path):
    p = project(overlap=3)
    path = _write(
        tmp_path,
        "animals.jsonl",
        _jsonl(
            [
                {"id": "a1", "text": "A cat sits.", "meta": {"source": "web"}},
                {"id": 2, "image_url": "https://example.com/dog.png"},
                {"text": "A bird flies.", "gold_answer": "bird"},
            ]
        )
        + "\n",  # a trailing blank line is not a row
    )
    job = _import(p, path, ops)
    assert job.status == ImportStatus.DONE
    assert job.rows_imported == 3 and job.percent == 100 and job.errors == []
    batch = Batch.objects.get()
    assert job.batch == batch and batch.name == "animals.jsonl" and batch.project == p
    first, second, gold = Task.objects.order_by("pk")
    assert (first.external_id, first.data) == ("a1", {"text": "A cat sits.", "meta": {"source": "web"}})
    assert (second.external_id, second.data) == ("2", {"image_url": "https://example.com/dog.png"})
    assert (first.overlap, first.is_gold, first.priority) == (3, False, batch.priority)
    assert gold.is_gold and gold.overlap == 2_000_000_000 and gold.gold.answer == "bird"
    assert "gold_answer" not in gold.data
    event = AuditEvent.objects.get(action="tasks.import")
    assert event.actor == ops and event.object_id == str(batch.pk)
    assert event.summary["rows"] == 3 and event.summary["gold"] == 1 and len(event.summary["sha256"]) == 64


def test_a_good_csv_file_creates_tasks_and_reads_a_multi_label_gold_answer_as_json(ops, tmp_path):
    p = project(template=TaskTemplate.MULTI_LABEL, answer_schema={"choices": ["cat", "dog", "bird"]})
    rows = [
        ["id", "text", "image_url", "gold_answer", "meta"],
        ["t1", "Cats, and dogs", "", "", '{"lang": "en"}'],
        ["t2", "Line one\nline two", "https://example.com/x.png", '["dog", "cat"]', ""],
    ]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    job = _import(p, _write(tmp_path, "labels.csv", out.getvalue()), ops)
    assert job.status == ImportStatus.DONE, job.errors
    t1, t2 = Task.objects.order_by("pk")
    assert t1.data == {"text": "Cats, and dogs", "meta": {"lang": "en"}} and not t1.is_gold
    assert t2.data == {"text": "Line one\nline two", "image_url": "https://example.com/x.png"}
    assert t2.gold.answer == ["cat", "dog"]  # canonical order, from the schema


def test_a_good_json_array_creates_tasks(ops, tmp_path):
    p = project()
    rows = [{"id": f"r{i}", "text": f"item {i}", "meta": {"score": 0.5}} for i in range(5)]
    job = _import(p, _write(tmp_path, "tasks.json", json.dumps(rows, indent=2)), ops)
    assert job.status == ImportStatus.DONE
    assert list(Task.objects.order_by("pk").values_list("external_id", flat=True)) == [f"r{i}" for i in range(5)]
    assert Task.objects.order_by("pk")[0].data["meta"] == {"score": 0.5}


def test_a_large_file_is_inserted_in_chunks_and_reports_progress_along_the_way(ops, tmp_path):
    p = project()
    path = _write(tmp_path, "big.jsonl", _jsonl([{"text": f"item {i}"} for i in range(4500)]))
    seen: list[ImportProgress] = []
    job = _import(p, path, ops, progress=seen.append)
    assert job.status == ImportStatus.DONE and Task.objects.count() == 4500
    assert [s.rows_done for s in seen] == [1000, 2000, 3000, 4000, 4500]
    assert seen[-1].is_final and seen[-1].percent == 100
    assert 0 < seen[0].bytes_done <= seen[1].bytes_done <= path.stat().st_size


def test_the_bulk_create_path_for_sqlite_writes_the_same_rows_as_copy(ops):
    p = project(overlap=2)
    rows = [("e1", {"text": "one"}, None), ("", {"image_url": "https://example.com/a.png"}, "dog")]
    fields = ("project_id", "external_id", "data", "is_gold", "priority", "overlap", "filled")
    written = []
    for use_copy in (True, False):
        batch = Batch.objects.create(project=p, name=f"copy={use_copy}", priority=4)
        writer = _TaskWriter(p, batch, use_copy=use_copy)
        writer.write(rows)
        assert writer.gold_count == 1
        written.append(
            [
                (*t, GoldAnswer.objects.filter(task_id=t_id).values_list("answer", flat=True).first())
                for t_id, *t in Task.objects.filter(batch=batch).order_by("pk").values_list("pk", *fields)
            ]
        )
    assert written[0] == written[1]
    assert written[0][1] == (p.pk, "", {"image_url": "https://example.com/a.png"}, True, 4, 2_000_000_000, 0, "dog")


def test_running_a_finished_import_again_imports_nothing_more(ops, tmp_path):
    p = project()
    job = _import(p, _write(tmp_path, "once.jsonl", _jsonl([{"text": "x"}])), ops)
    again = import_run(job_id=job.pk)
    assert again.status == ImportStatus.DONE and _counts() == (1, 1, 0)


# Bad files: a clear problem, and nothing changes ----------------------------------------------


@pytest.fixture
def unchanged(ops: User) -> Callable[[], None]:
    """Asserts that the tasks tables are as they were when the test started."""
    p = project()
    tasks(p, 2, gold=True)
    before = _counts()
    audit_before = AuditEvent.objects.filter(action="tasks.import").count()

    def check() -> None:
        assert _counts() == before
        assert AuditEvent.objects.filter(action="tasks.import").count() == audit_before

    return check


def test_a_malformed_jsonl_line_gives_its_line_number_and_nothing_changes(ops, tmp_path, unchanged):
    p = project()
    content = '{"text": "fine"}\n{"text": "broken",\n{"text": "fine again"}\n'
    job = _import(p, _write(tmp_path, "bad.jsonl", content), ops)
    assert job.status == ImportStatus.FAILED
    assert job.errors == [{"row": 2, "field": "line", "message": job.errors[0]["message"]}]
    assert "not valid JSON" in job.errors[0]["message"]
    assert job.rows_imported == 0 and job.batch is None
    unchanged()


def test_a_problem_after_thousands_of_good_rows_still_leaves_no_tasks(ops, tmp_path, unchanged):
    p = project()
    rows: list[Any] = [{"text": f"item {i}"} for i in range(5000)] + [{"text": 42}]
    job = _import(p, _write(tmp_path, "late.jsonl", _jsonl(rows)), ops)
    assert job.status == ImportStatus.FAILED
    assert _problems(job) == [(5001, "text")]
    assert job.rows_done == 5001
    unchanged()


def test_a_csv_row_with_a_missing_column_names_the_column_and_nothing_changes(ops, tmp_path, unchanged):
    p = project()
    content = "id,text,image_url\nt1,hello,https://example.com/a.png\nt2,only two values\n"
    job = _import(p, _write(tmp_path, "short.csv", content), ops)
    assert job.status == ImportStatus.FAILED
    assert _problems(job) == [(2, "image_url")]
    assert "image_url" in job.errors[0]["message"]
    unchanged()


def test_a_csv_header_without_a_text_or_image_url_column_is_refused_naming_it(ops, tmp_path, unchanged):
    p = project()
    job = _import(p, _write(tmp_path, "nocol.csv", "id,label\n1,cat\n"), ops)
    assert job.status == ImportStatus.FAILED
    assert _problems(job) == [(None, "label"), (None, "text")]
    assert "no “text” column" in job.errors[1]["message"]
    unchanged()


def test_a_value_of_the_wrong_type_gives_row_and_field(ops, tmp_path, unchanged):
    p = project()
    rows = [{"text": "ok"}, {"text": "ok", "meta": "not an object"}, {"image_url": "ftp://example.com/a.png"}]
    job = _import(p, _write(tmp_path, "types.jsonl", _jsonl(rows)), ops)
    assert _problems(job) == [(2, "meta"), (3, "image_url")]
    assert job.errors[0]["message"] == "meta must be an object."
    unchanged()


def test_an_unknown_field_is_named(ops, tmp_path, unchanged):
    p = project()
    job = _import(p, _write(tmp_path, "unknown.jsonl", _jsonl([{"text": "ok", "label": "cat"}])), ops)
    assert _problems(job) == [(1, "label")]
    assert "Unknown field" in job.errors[0]["message"]
    unchanged()


def test_a_gold_answer_outside_the_schema_is_refused(ops, tmp_path, unchanged):
    p = project()
    job = _import(p, _write(tmp_path, "gold.jsonl", _jsonl([{"text": "ok", "gold_answer": "horse"}])), ops)
    assert _problems(job) == [(1, "gold_answer")]
    assert "Choose one of: cat, dog, bird." in job.errors[0]["message"]
    unchanged()


def test_a_multi_label_gold_answer_in_csv_must_be_a_json_list(ops, tmp_path, unchanged):
    p = project(template=TaskTemplate.MULTI_LABEL)
    job = _import(p, _write(tmp_path, "gold.csv", "text,gold_answer\nhello,cat\n"), ops)
    assert _problems(job) == [(1, "gold_answer")]
    assert "JSON list" in job.errors[0]["message"]
    unchanged()


def test_a_json_file_that_is_not_an_array_is_refused(ops, tmp_path, unchanged):
    p = project()
    job = _import(p, _write(tmp_path, "obj.json", '{"item": {"text": "sneaky"}}'), ops)
    assert _problems(job) == [(None, "file")]
    unchanged()


def test_a_malformed_json_array_names_the_row_it_broke_in(ops, tmp_path, unchanged):
    p = project()
    job = _import(p, _write(tmp_path, "broken.json", '[{"text": "a"}, {"text": "b"}, {"text": ]'), ops)
    assert _problems(job) == [(3, "json")]
    unchanged()


def test_a_file_that_is_not_utf8_is_refused(ops, tmp_path, unchanged):
    p = project()
    job = _import(p, _write(tmp_path, "latin1.jsonl", '{"text": "ok"}\n{"text": "caf\xe9"}\n'.encode("latin-1")), ops)
    assert _problems(job) == [(2, "line")]
    assert "UTF-8" in job.errors[0]["message"]
    unchanged()


def test_at_most_100_problems_are_reported(ops, tmp_path, unchanged):
    p = project()
    job = _import(p, _write(tmp_path, "many.jsonl", _jsonl([{"text": 1}] * 250)), ops)
    assert len(job.errors) == 100
    assert [e["row"] for e in job.errors] == list(range(1, 101))
    unchanged()


def test_an_oversize_file_is_refused_naming_file_and_nothing_is_written(ops, tmp_path, settings, upload_dir, unchanged):
    settings.FAIRTASK_IMPORT_MAX_BYTES = 100
    p = project()
    path = _write(tmp_path, "big.jsonl", _jsonl([{"text": "x" * 50}] * 3))
    with pytest.raises(ValidationError) as exc:
        import_create(project=p, path=path, file_name=path.name, actor=ops)
    assert list(exc.value.message_dict) == ["file"]
    assert "the limit is 100\xa0bytes" in exc.value.message_dict["file"][0]
    assert ImportJob.objects.count() == 0
    assert not upload_dir.exists() or not any(upload_dir.iterdir())
    unchanged()


@pytest.mark.parametrize(("name", "content"), [("tasks.txt", "text\nhello\n"), ("empty.jsonl", "")])
def test_a_file_of_an_unknown_kind_or_with_nothing_in_it_is_refused_naming_file(ops, tmp_path, name, content):
    p = project()
    path = _write(tmp_path, name, content)
    with pytest.raises(ValidationError) as exc:
        import_create(project=p, path=path, file_name=path.name, actor=ops)
    assert list(exc.value.message_dict) == ["file"]
    assert ImportJob.objects.count() == 0


def test_a_file_of_blank_lines_has_no_tasks_and_is_refused(ops, tmp_path, unchanged):
    p = project()
    job = _import(p, _write(tmp_path, "blank.jsonl", "\n\n  \n"), ops)
    assert job.status == ImportStatus.FAILED and _problems(job) == [(None, "file")]
    unchanged()


# The command ---------------------------------------------------------------------------------


def test_the_command_prints_a_progress_line_and_a_summary(ops, tmp_path):
    p = project()
    path = _write(tmp_path, "cmd.jsonl", _jsonl([{"text": f"item {i}"} for i in range(2100)]))
    out = io.StringIO()
    call_command("import_tasks", p.slug, str(path), stdout=out)
    text = out.getvalue()
    assert "\r" in text and "rows/s" in text and "%" in text
    assert "Imported 2,100 tasks from cmd.jsonl" in text
    assert Task.objects.filter(project=p).count() == 2100


def test_the_command_accepts_a_project_id_and_lists_the_problems_of_a_bad_file(ops, tmp_path):
    p = project()
    path = _write(tmp_path, "bad.jsonl", '{"text": "ok"}\nnot json\n')
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("import_tasks", str(p.pk), str(path), stdout=io.StringIO(), stderr=err)
    assert "row 2, field line: This line is not valid JSON" in err.getvalue()
    assert Task.objects.count() == 0


def _test_database_url() -> str:
    db = connection.settings_dict
    password = f":{quote(str(db['PASSWORD']), safe='')}" if db["PASSWORD"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    host = quote(str(db["HOST"] or ""), safe="")
    return f"postgres://{quote(str(db['USER']), safe='')}{password}@{host}{port}/{quote(str(db['NAME']), safe='')}"


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_non_zero_on_a_bad_file(ops, tmp_path):
    p = project()
    path = _write(tmp_path, "bad.csv", "text,colour\nhello,red\n")
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "DJANGO_SETTINGS_MODULE": "workforce.settings.test"}
    env["FAIRTASK_UPLOAD_DIR"] = str(tmp_path / "uploads")
    result = subprocess.run(
        [sys.executable, "manage.py", "import_tasks", p.slug, str(path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "file, field colour: Unknown column" in result.stderr
    assert Task.objects.count() == 0


# The job and the portal -----------------------------------------------------------------------


def test_the_celery_job_runs_the_import(ops, tmp_path):
    p = project()
    job = import_create(
        project=p, path=_write(tmp_path, "job.jsonl", _jsonl([{"text": "x"}])), file_name="job.jsonl", actor=ops
    )
    assert import_run_job.apply(args=(job.pk,)).get() == ImportStatus.DONE
    assert Task.objects.filter(project=p).count() == 1
    assert import_run_job(job.pk) == ImportStatus.DONE  # a second delivery changes nothing
    assert Task.objects.filter(project=p).count() == 1


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Run enqueued jobs in this process (the worker suite runs them in a real worker)."""
    before = celery_app.conf.task_always_eager
    # The app reads Django settings under the CELERY_ namespace, so the key carries the prefix.
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=True)
    assert celery_app.conf.task_always_eager
    yield
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=before)


def test_an_operations_manager_uploads_a_file_and_the_import_runs_after_commit(
    ops, login, eager_celery, django_capture_on_commit_callbacks
):
    p = project()
    client = login(ops)
    page = client.get(reverse("tasks:import-list", args=[p.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'enctype="multipart/form-data"' in html and "csrfmiddlewaretoken" in html
    assert '<label for="id_file">' in html
    upload = SimpleUploadedFile("web.jsonl", _jsonl([{"text": "a"}, {"text": "b"}]).encode())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("tasks:import-list", args=[p.pk]), {"file": upload})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("tasks:import-detail", args=[job.pk])
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and Task.objects.filter(project=p).count() == 2
    detail = client.get(response["Location"]).content.decode()
    assert "<progress" in detail and "2 tasks imported" in detail


def test_a_rejected_upload_shows_the_table_of_problems(ops, login, eager_celery, django_capture_on_commit_callbacks):
    p = project()
    client = login(ops)
    upload = SimpleUploadedFile("bad.jsonl", b'{"text": "ok"}\n{"txt": "typo"}\n')
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("tasks:import-list", args=[p.pk]), {"file": upload})
    detail = client.get(response["Location"]).content.decode()
    assert 'id="import-errors"' in detail and "nothing was imported" in detail
    assert "<td>2</td><td><code>txt</code></td>" in detail
    assert Task.objects.count() == 0


def test_an_upload_of_the_wrong_kind_shows_the_error_next_to_the_file_field(ops, login):
    p = project()
    upload = SimpleUploadedFile("tasks.xlsx", b"PK\x03\x04")
    response = login(ops).post(reverse("tasks:import-list", args=[p.pk]), {"file": upload})
    assert response.status_code == 400
    assert "Choose a .jsonl, .json or .csv file" in response.content.decode()
    assert ImportJob.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_to_the_portal_while_the_import_transaction_is_open(ops, login, tmp_path):
    p = project()
    client = login(ops)
    job = import_create(
        project=p,
        path=_write(tmp_path, "slow.jsonl", _jsonl([{"text": f"item {i}"} for i in range(2500)])),
        file_name="slow.jsonl",
        actor=ops,
    )
    status_url = reverse("tasks:import-status", args=[job.pk])
    observed: list[dict[str, Any]] = []

    def watch(progress: ImportProgress) -> None:
        if progress.is_final:
            return
        # Another session (as a second web worker would be) sees the progress and no tasks yet.
        other = connection.get_new_connection(connection.get_connection_params())
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT rows_done, status FROM tasks_importjob WHERE id = %s", [job.pk])
                rows_done, status = cursor.fetchone()
                cursor.execute("SELECT count(*) FROM tasks_task WHERE project_id = %s", [p.pk])
                (task_count,) = cursor.fetchone()
        finally:
            other.close()
        observed.append({"rows_done": rows_done, "status": status, "tasks": task_count})
        observed[-1]["endpoint"] = client.get(status_url).json()

    job = import_run(job_id=job.pk, progress=watch)
    assert job.status == ImportStatus.DONE
    assert [o["rows_done"] for o in observed] == [1000, 2000]
    assert all(o["status"] == "running" and o["tasks"] == 0 for o in observed)
    first = observed[0]["endpoint"]
    assert first["rows_done"] == 1000 and first["status"] == "running" and 0 < first["percent"] < 100
    final = client.get(status_url).json()
    assert final["status"] == "done" and final["percent"] == 100 and final["rows_imported"] == 2500


def test_the_progress_page_polls_the_status_endpoint_with_a_script(ops, login, tmp_path):
    p = project()
    job = import_create(
        project=p, path=_write(tmp_path, "x.jsonl", _jsonl([{"text": "x"}])), file_name="x.jsonl", actor=ops
    )
    html = login(ops).get(reverse("tasks:import-detail", args=[job.pk])).content.decode()
    assert f'data-status-url="{reverse("tasks:import-status", args=[job.pk])}"' in html
    assert "workforce/progress.js" in html and '<progress id="import-bar" max="100" value="0"' in html


# Access -------------------------------------------------------------------------------------------


def _portal_urls(p: Project, job: ImportJob) -> dict[str, str]:
    return {
        "import-list": reverse("tasks:import-list", args=[p.pk]),
        "import-detail": reverse("tasks:import-detail", args=[job.pk]),
        "import-status": reverse("tasks:import-status", args=[job.pk]),
        "export-jsonl": reverse("tasks:project-export-jsonl", args=[p.pk]),
        "export-csv": reverse("tasks:project-export-csv", args=[p.pk]),
        "api-import-detail": reverse("tasks:api:import-detail", args=[job.pk]),
        "api-export-jsonl": reverse("tasks:api:export-jsonl", args=[p.pk]),
        "api-export-csv": reverse("tasks:api:export-csv", args=[p.pk]),
    }


def test_a_contractor_cannot_upload_read_imports_or_export(ops, login, tmp_path):
    p = project()
    job = _import(p, _write(tmp_path, "x.jsonl", _jsonl([{"text": "x"}])), ops)
    client = login(UserFactory.create())
    for name, url in _portal_urls(p, job).items():
        assert client.get(url).status_code == 403, name
    upload = SimpleUploadedFile("c.jsonl", b'{"text": "x"}\n')
    assert client.post(reverse("tasks:import-list", args=[p.pk]), {"file": upload}).status_code == 403
    upload = SimpleUploadedFile("c.jsonl", b'{"text": "x"}\n')
    assert client.post(reverse("tasks:api:import-create", args=[p.pk]), {"file": upload}).status_code == 403
    assert ImportJob.objects.count() == 1 and Task.objects.count() == 1


def test_an_auditor_reads_imports_and_exports_but_cannot_upload(ops, auditor, login, tmp_path):
    p = project()
    job = _import(p, _write(tmp_path, "x.jsonl", _jsonl([{"text": "x"}])), ops)
    client = login(auditor)
    for name, url in _portal_urls(p, job).items():
        assert client.get(url).status_code == 200, name
    page = client.get(reverse("tasks:import-list", args=[p.pk])).content.decode()
    assert 'type="file"' not in page
    upload = SimpleUploadedFile("a.jsonl", b'{"text": "x"}\n')
    assert client.post(reverse("tasks:import-list", args=[p.pk]), {"file": upload}).status_code == 403
    upload = SimpleUploadedFile("a.jsonl", b'{"text": "x"}\n')
    response = client.post(reverse("tasks:api:import-create", args=[p.pk]), {"file": upload})
    assert response.status_code == 403 and "operations manager" in response.json()["message"]
    assert ImportJob.objects.count() == 1


def test_an_anonymous_visitor_is_sent_to_sign_in(ops, tmp_path):
    p = project()
    response = Client().get(reverse("tasks:import-list", args=[p.pk]))
    assert response.status_code == 302 and "login" in response["Location"]


# The API ---------------------------------------------------------------------------------------------


def test_the_api_accepts_a_file_with_202_and_reports_the_job(
    ops, login, eager_celery, django_capture_on_commit_callbacks
):
    p = project()
    client = login(ops)
    upload = SimpleUploadedFile("api.csv", b"id,text\n1,hello\n2,world\n")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("tasks:api:import-create", args=[p.pk]), {"file": upload})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending" and body["file_format"] == "csv"
    status = client.get(body["status_url"]).json()
    assert status["status"] == "done" and status["rows_imported"] == 2 and status["problems"] == []
    assert Task.objects.filter(project=p).count() == 2


def test_a_token_client_imports_without_a_session_or_csrf_token(ops, eager_celery, django_capture_on_commit_callbacks):
    p = project()
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=ops).key}")
    upload = SimpleUploadedFile("token.jsonl", b'{"text": "by token"}\n')
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("tasks:api:import-create", args=[p.pk]), {"file": upload}, format="multipart")
    assert response.status_code == 202
    assert Task.objects.get(project=p).data == {"text": "by token"}


def test_the_api_names_the_file_field_when_the_upload_is_missing_or_too_big(ops, login, settings):
    p = project()
    client = login(ops)
    url = reverse("tasks:api:import-create", args=[p.pk])
    missing = client.post(url, {})
    assert missing.status_code == 400 and list(missing.json()["extra"]["fields"]) == ["file"]
    settings.FAIRTASK_IMPORT_MAX_BYTES = 10
    big = client.post(url, {"file": SimpleUploadedFile("big.jsonl", b'{"text": "more than ten bytes"}\n')})
    assert big.status_code == 400
    assert big.json()["message"].startswith("file: The file is 32\xa0bytes; the limit is 10\xa0bytes.")
    assert ImportJob.objects.count() == 0


def test_the_api_reports_the_problems_of_a_rejected_file(ops, login, tmp_path):
    p = project()
    job = _import(p, _write(tmp_path, "bad.jsonl", '{"text": 5}\n'), ops)
    body = login(ops).get(reverse("tasks:api:import-detail", args=[job.pk])).json()
    assert body["status"] == "failed"
    assert body["problems"] == [{"row": 1, "field": "text", "message": "text must be a string."}]


def test_an_unknown_import_is_a_404(ops, login):
    assert login(ops).get(reverse("tasks:api:import-detail", args=[999999])).status_code == 404
    assert login(ops).get(reverse("tasks:import-detail", args=[999999])).status_code == 404


# Export ---------------------------------------------------------------------------------------------


@pytest.fixture
def answered(ops: User) -> dict[str, Any]:
    """Two ordinary tasks answered by three workers, and a gold task with a secret text."""
    p = project(overlap=3)
    t1, t2 = tasks(p, 2)
    Task.objects.filter(pk=t1.pk).update(external_id="ext-1", data={"text": "=cmd|calc", "meta": {"k": 1}})
    (gold,) = tasks(p, 1, gold=True)
    Task.objects.filter(pk=gold.pk).update(data={"text": "GOLD-SECRET-TEXT"})
    GoldAnswer.objects.filter(task=gold).update(answer="bird")
    w1, w2, w3 = (UserFactory.create() for _ in range(3))
    answer(w1, t1, "cat")
    answer(w2, t1, "cat")
    rejected = answer(w3, t1, "dog")
    answer(w1, t2, "dog")
    answer(w2, t2, "bird")
    answer(w1, gold, "bird")
    answer(w2, gold, "bird")
    return {"project": p, "t1": t1, "t2": t2, "gold": gold, "workers": (w1, w2, w3), "rejected": rejected}


def test_consensus_is_the_majority_label_with_its_share_of_the_votes(answered):
    consensus = consensus_for(answered["project"])
    assert consensus[answered["t1"].pk] == ("cat", 0.6667)
    assert consensus[answered["t2"].pk] == ("dog", 0.5)  # a tie goes to the label given first
    assert answered["gold"].pk not in consensus


def test_a_rejected_answer_does_not_vote(answered):
    answered["rejected"].review_status = ReviewStatus.REJECTED
    answered["rejected"].rejection_code = "wrong"
    answered["rejected"].review_message = "Not a dog."
    answered["rejected"].save()
    assert consensus_for(answered["project"])[answered["t1"].pk] == ("cat", 1.0)


def _streamed(response: Any) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def test_the_jsonl_export_streams_each_answered_task_with_answers_and_consensus(ops, login, answered):
    response = login(ops).get(reverse("tasks:project-export-jsonl", args=[answered["project"].pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in _streamed(response).splitlines()]
    assert [line["task_id"] for line in lines] == [answered["t1"].pk, answered["t2"].pk]
    first = lines[0]
    assert first["external_id"] == "ext-1" and first["data"] == {"text": "=cmd|calc", "meta": {"k": 1}}
    w1, w2, w3 = answered["workers"]
    assert [a["worker"] for a in first["answers"]] == [worker_pseudonym(w.pk) for w in (w1, w2, w3)]
    assert [a["value"] for a in first["answers"]] == ["cat", "cat", "dog"]
    assert first["consensus"] == {"label": "cat", "confidence": 0.6667}
    assert all(w.email not in json.dumps(lines) for w in (w1, w2, w3))


def test_the_csv_export_has_a_row_per_answer_and_defuses_formulas(ops, login, answered):
    response = login(ops).get(reverse("tasks:api:export-csv", args=[answered["project"].pk]), HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(_streamed(response))))
    assert len(rows) == 5
    assert rows[0]["task_id"] == str(answered["t1"].pk) and rows[0]["text"] == "'=cmd|calc"
    assert rows[0]["meta"] == '{"k": 1}'
    assert (rows[0]["consensus_label"], rows[0]["consensus_confidence"]) == ("cat", "0.6667")
    assert rows[0]["worker"].startswith("w-") and rows[0]["review_status"] == "pending"


def test_exports_never_contain_gold_tasks_or_gold_answers(ops, auditor, login, answered):
    gold_id = answered["gold"].pk
    for user in (ops, auditor):
        client = login(user)
        for name in ("tasks:project-export-jsonl", "tasks:api:export-jsonl"):
            body = _streamed(client.get(reverse(name, args=[answered["project"].pk])))
            assert gold_id not in {json.loads(line)["task_id"] for line in body.splitlines()}
            assert "GOLD-SECRET-TEXT" not in body and "gold" not in body.lower()
        for name in ("tasks:project-export-csv", "tasks:api:export-csv"):
            body = _streamed(client.get(reverse(name, args=[answered["project"].pk])))
            assert str(gold_id) not in {row["task_id"] for row in csv.DictReader(io.StringIO(body))}
            assert "GOLD-SECRET-TEXT" not in body and "gold" not in body.lower()


def test_an_id_repeated_in_the_file_names_both_rows_and_nothing_changes(ops, tmp_path, unchanged):
    p = project()
    rows = [{"id": "a", "text": "one"}, {"id": "b", "text": "two"}, {"id": "a", "text": "three"}]
    job = _import(p, _write(tmp_path, "dup.jsonl", _jsonl(rows)), ops)
    assert job.status == ImportStatus.FAILED
    assert _problems(job) == [(3, "id")]
    assert "repeats row 1" in job.errors[0]["message"]
    unchanged()


def test_an_id_already_used_in_the_project_is_refused_and_nothing_changes(ops, tmp_path):
    p = project()
    first = _import(p, _write(tmp_path, "first.jsonl", _jsonl([{"id": "x-1", "text": "one"}])), ops)
    assert first.status == ImportStatus.DONE
    before = _counts()
    rows = [{"id": "x-2", "text": "two"}, {"id": "x-1", "text": "again"}]
    second = _import(p, _write(tmp_path, "second.jsonl", _jsonl(rows)), ops)
    assert second.status == ImportStatus.FAILED
    assert _problems(second) == [(2, "id")]
    assert "already used by a task in this project" in second.errors[0]["message"]
    assert _counts() == before


def test_uploaded_files_are_deleted_after_the_retention_period_and_the_job_stays(ops, tmp_path, settings):
    from datetime import timedelta

    from django.utils import timezone

    from tasks.services.imports import import_uploads_purge

    settings.FAIRTASK_UPLOAD_RETENTION_DAYS = 30
    p = project()
    job = _import(p, _write(tmp_path, "keep.jsonl", _jsonl([{"text": "one"}])), ops)
    stored = Path(job.file_path)
    assert stored.is_file()
    assert import_uploads_purge() == 0  # too recent
    ImportJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(days=31))
    assert import_uploads_purge() == 1
    assert not stored.exists()
    job.refresh_from_db()
    assert job.file_path == "" and job.status == ImportStatus.DONE
    assert import_uploads_purge() == 0
