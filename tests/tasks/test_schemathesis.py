"""Schemathesis against the served OpenAPI schema: no generated request may make the API answer 500.

The Django app runs in-process as a WSGI application inside the test's transaction, on the real
PostgreSQL database, once as an operations manager (with MFA) and once as a contractor, each
with a DRF token. The data gives generated requests something real to hit: projects with
tasks, live leases on each task template, an answer waiting for review, a rejection decision
and its appeal, an open qualification attempt and a finished import; and, for the compliance API,
a closed pay week and an open one, a made fair-wage report, and an audit run with an open finding.
Path ids are drawn either from what Schemathesis generates or from those real rows, and every
example is rolled back, so each one meets the same data.

Bounded: ``MAX_EXAMPLES`` per operation and role with a fixed seed, so a failure reproduces.
Raise both locally to explore further.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.db.models import QuerySet
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error

from payments.audits.checks import Check, Draft
from payments.audits.models import AuditRun, Finding
from payments.audits.services import audit_run
from payments.models import PayPeriod, Report
from payments.reports.services import report_request, report_run
from payments.services.close import period_close
from tasks.models import (
    Answer,
    Assignment,
    ImportJob,
    ImportStatus,
    Project,
    QualificationQuestion,
    QualificationTest,
    TaskTemplate,
)
from tasks.services import people
from tasks.services.work import assignment_submit, next_task
from tests.payments.work import NEXT_WEEK, WEEK, at, floors_loaded, person, piece_project, task_time, week
from tests.tasks.factories import project, tasks, worker
from tests.workforce.factories import SkillFactory, staff_user
from workforce import services
from workforce.models import Appeal, ContractorProfile, Decision, Role, User

pytestmark = pytest.mark.django_db

MAX_EXAMPLES = 25  # fuzzed examples per operation and role, on top of the schema-derived coverage cases
SEED = 20240601


@dataclass
class ApiData:
    ops: User
    contractor: User


def _api_data() -> ApiData:
    decider = staff_user(Role.OPERATIONS)
    ops = staff_user(Role.OPERATIONS)
    contractor = worker(ops=decider)
    other = worker(ops=decider)
    choice = project()
    tasks(choice, 6)
    submitted = next_task(worker=contractor, project=choice)
    assignment_submit(assignment_id=submitted.pk, worker=contractor, value="cat")  # waits for review
    rejected_assignment = next_task(worker=contractor, project=choice)
    rejected = assignment_submit(assignment_id=rejected_assignment.pk, worker=contractor, value="dog").answer
    rejected = people.answer_review(
        answer_id=rejected.pk, reviewer=decider, approve=False, code="wrong", message="It is a cat."
    )
    assert rejected.decision is not None
    services.appeal_file(decision=rejected.decision, appellant=contractor, message="It really is a dog.")
    next_task(worker=other, project=choice)
    # Live leases on each template, so generated answers reach the schema check and the database.
    next_task(worker=contractor, project=choice)
    for template, answer_schema in (
        (TaskTemplate.FREE_TEXT, {"max_length": 200}),
        (TaskTemplate.MULTI_LABEL, {"choices": ["cat", "dog"]}),
    ):
        other_template = project(template=template, answer_schema=answer_schema)
        tasks(other_template, 2)
        next_task(worker=contractor, project=other_template)
    test = QualificationTest.objects.create(
        skill=SkillFactory.create(slug="image-tagging"), title="Image tagging", answer_schema={"choices": ["cat"]}
    )
    QualificationQuestion.objects.create(test=test, data={"text": "q"}, answer="cat")
    people.attempt_start(worker=contractor, test=test)
    ImportJob.objects.create(
        project=choice,
        file_path="/nonexistent/tasks.jsonl",
        file_name="tasks.jsonl",
        file_format="jsonl",
        size_bytes=10,
        status=ImportStatus.DONE,
        rows_done=6,
        rows_imported=6,
        bytes_done=10,
        created_by=decider,
        finished_at=timezone.now(),
    )
    _compliance_data(ops)
    return ApiData(ops=ops, contractor=contractor)


def _compliance_data(ops: User) -> None:
    """A closed week (one contractor topped up to the floor) and an open one, a CSV report of the closed week,
    and an audit run with an open finding: real ids for /api/v1/pay-periods/, /reports/, /findings/ (and its
    resolve/) and /audit-runs/."""
    floors_loaded()
    task_time(person(), piece_project(), started=at(WEEK + datetime.timedelta(days=1), 9), seconds=3600)
    closed = period_close(period=week(WEEK), job="test").period
    week(NEXT_WEEK)
    report_run(report_id=report_request(actor=ops, format="csv", period=closed).pk)
    draft = Draft("wage_floor", "critical", "Paid under the floor", "Contractor #1 got less than the floor.", "w:1")
    audit_run(trigger="daily", checks=[Check("wage_floor", "The test's check.", lambda scope: [draft])])


@pytest.fixture(scope="module")
def api_data(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiData]:
    """Built once, in a transaction rolled back after the module; each operation's test runs in a savepoint."""
    reports = override_settings(FAIRTASK_REPORT_DIR=tmp_path_factory.mktemp("reports"))
    with django_db_blocker.unblock(), reports, transaction.atomic():
        yield _api_data()
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def _in_process(db: None, settings: Any, tmp_path: Path) -> Iterator[None]:
    """Requests run in this test's database transaction, and uploads land in a temporary directory.

    Django closes the connection when a request starts and ends; inside the test's transaction
    that would throw the transaction away, so, like Django's own test client, keep it open.
    """
    settings.FAIRTASK_UPLOAD_DIR = tmp_path / "uploads"
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


@pytest.fixture(params=["ops", "contractor"])
def auth_headers(request: pytest.FixtureRequest, api_data: ApiData) -> dict[str, str]:
    user = api_data.ops if request.param == "ops" else api_data.contractor
    token, _created = Token.objects.get_or_create(user=user)
    return {"Authorization": f"Token {token.key}"}


def _real_ids(segment: str) -> list[int]:
    """Primary keys of existing rows for a path such as /api/v1/answers/{id}/review/ ("answers")."""
    querysets: dict[str, QuerySet[Any]] = {
        "answers": Answer.objects.all(),
        "appeals": Appeal.objects.all(),
        "assignments": Assignment.objects.all(),
        "audit-runs": AuditRun.objects.all(),
        "contractors": ContractorProfile.objects.all(),
        "decisions": Decision.objects.all(),
        "findings": Finding.objects.all(),
        "imports": ImportJob.objects.all(),
        "pay-periods": PayPeriod.objects.all(),
        "projects": Project.objects.all(),
        "reports": Report.objects.all(),
    }
    queryset = querysets.get(segment)
    return list(queryset.order_by("pk").values_list("pk", flat=True)) if queryset is not None else []


# The schema is read once, when the module is collected, from the app's own /api/schema/.
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/",
    get_wsgi_application(),
    config=schemathesis.Config.from_dict({"seed": SEED, "generation": {"max-examples": MAX_EXAMPLES}}),
)


@schema.hook
def flatmap_path_parameters(context: schemathesis.HookContext, path_parameters: dict[str, Any]) -> Any:
    """Point about half the paths at a real row, so requests reach the services and not only a 404."""
    if not path_parameters or "id" not in path_parameters or context.operation is None:
        return st.just(path_parameters)
    segment = context.operation.path.removeprefix("/api/v1/").split("/")[0]
    real = [{**path_parameters, "id": pk} for pk in _real_ids(segment)]
    return st.one_of(st.just(path_parameters), st.sampled_from(real)) if real else st.just(path_parameters)


@schema.parametrize()
@settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_makes_the_api_answer_500(case: schemathesis.Case, auth_headers: dict[str, str]) -> None:
    # Each example starts from the same rows: a first valid submit would otherwise use up the
    # lease for every later example, and Hypothesis could not replay a failure to shrink it.
    with transaction.atomic():
        case.call_and_validate(headers=auth_headers, checks=[not_a_server_error])
        transaction.set_rollback(True)
