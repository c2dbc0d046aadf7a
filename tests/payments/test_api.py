"""The compliance API through HTTP: who may read and write what, auditors' writes refused, bad input, real values."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from payments.audits.checks import CHECKS, Check, Draft
from payments.audits.models import AuditRun, Finding
from payments.audits.services import audit_run
from payments.models import CloseRun, EntryKind, LedgerEntry, PayPeriod, Report
from payments.reports.services import report_file, report_request, report_run
from payments.services.close import period_close
from payments.urls import api_urlpatterns
from tests.payments.work import NEXT_WEEK, WEEK, at, floors_loaded, person, piece_project, task_time, week
from tests.workforce.factories import staff_user
from workforce.celery import app as celery_app
from workforce.models import AuditEvent, Role, User

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "contractor", "ops", "auditor", "ops_without_mfa", "auditor_without_mfa")
TUESDAY = WEEK + datetime.timedelta(days=1)
READ_ONLY = "Auditors have read-only access, so nothing was changed."


@dataclass
class ApiWorld:
    users: dict[str, User]
    period: PayPeriod  # WEEK, closed: one contractor under the floor, topped up
    open_period: PayPeriod  # NEXT_WEEK, not closed
    critical: Finding  # open
    warning: Finding  # open
    report: Report  # made: a CSV of ``period``
    run: AuditRun

    def client(self, role: str) -> APIClient:
        client = APIClient()
        if role != "anonymous":
            client.force_login(self.users[role])
        return client


def _check(code: str, *drafts: Draft) -> Check:
    return Check(code, f"The {code} check of the test.", lambda scope: list(drafts))


@pytest.fixture
def world(db: None, settings: Any, tmp_path: Path) -> ApiWorld:
    floors_loaded()
    settings.FAIRTASK_REPORT_DIR = tmp_path / "reports"
    worker = person()
    task_time(worker, piece_project(), started=at(TUESDAY, 9), seconds=3600)
    period = period_close(period=week(WEEK), job="test").period
    ops = staff_user(Role.OPERATIONS)
    critical = Draft("decision_reason", "critical", "Decision without a reason", "Decision #1 gives no reason.", "r:1")
    warning = Draft("appeal_overdue", "warning", "Appeal past its due date", "Appeal #2 is 3 days late.", "a:2")
    run = audit_run(
        trigger="daily",
        checks=[_check("decision_reason", critical), _check("appeal_overdue", warning)],
    )
    report = report_run(report_id=report_request(actor=ops, format="csv", period=period).pk)
    return ApiWorld(
        users={
            "contractor": worker,
            "ops": ops,
            "auditor": staff_user(Role.AUDITOR),
            "ops_without_mfa": staff_user(Role.OPERATIONS, with_mfa=False),
            "auditor_without_mfa": staff_user(Role.AUDITOR, with_mfa=False),
        },
        period=period,
        open_period=week(NEXT_WEEK),
        critical=Finding.objects.get(fingerprint="r:1"),
        warning=Finding.objects.get(fingerprint="a:2"),
        report=report,
        run=run,
    )


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Run enqueued jobs in this process (tests/payments/test_audit_worker.py uses a real worker)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=True)
    yield
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=before)


def _assert_error_shape(body: dict[str, Any]) -> None:
    assert set(body) == {"message", "code", "extra"}
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["extra"], dict)


def state() -> tuple[object, ...]:
    """Everything a compliance write could change: reports, findings, runs, the audit log, periods, the ledger."""
    return (
        list(Report.objects.order_by("pk").values_list("pk", "status", "parameters")),
        list(Finding.objects.order_by("pk").values_list("pk", "status", "resolution_note", "resolved_by")),
        list(AuditRun.objects.order_by("pk").values_list("pk", "status")),
        list(AuditEvent.objects.order_by("seq").values_list("seq", "hash")),
        list(PayPeriod.objects.order_by("pk").values_list("pk", "status")),
        list(CloseRun.objects.order_by("pk").values_list("pk", "status")),
        LedgerEntry.objects.count(),
    )


# The matrix ------------------------------------------------------------------------------------


def read_routes(w: ApiWorld) -> dict[str, str]:
    return {
        "payments:api:pay-period-list": reverse("payments:api:pay-period-list"),
        "payments:api:pay-period-detail": reverse("payments:api:pay-period-detail", args=[w.period.pk]),
        "payments:api:report-list": reverse("payments:api:report-list"),
        "payments:api:report-detail": reverse("payments:api:report-detail", args=[w.report.pk]),
        "payments:api:finding-list": reverse("payments:api:finding-list"),
        "payments:api:finding-detail": reverse("payments:api:finding-detail", args=[w.critical.pk]),
        "payments:api:audit-run-list": reverse("payments:api:audit-run-list"),
        "payments:api:audit-run-detail": reverse("payments:api:audit-run-detail", args=[w.run.pk]),
    }


def write_routes(w: ApiWorld) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        "request a report": (reverse("payments:api:report-list"), {"period": w.period.pk, "format": "csv"}),
        "resolve a finding": (
            reverse("payments:api:finding-resolve", args=[w.critical.pk]),
            {"note": "A reason was added to decision #1 by a correction."},
        ),
        "start an audit": (reverse("payments:api:audit-run-list"), {}),
    }


READ_EXPECTED = {
    "anonymous": 403,
    "contractor": 403,
    "ops": 200,
    "auditor": 200,
    "ops_without_mfa": 403,
    "auditor_without_mfa": 403,
}
WRITE_EXPECTED = {
    "anonymous": {"request a report": 403, "resolve a finding": 403, "start an audit": 403},
    "contractor": {"request a report": 403, "resolve a finding": 403, "start an audit": 403},
    "ops": {"request a report": 202, "resolve a finding": 200, "start an audit": 202},
    # Asking for a report is part of an audit (payments/reports/services.py); everything else is read-only.
    "auditor": {"request a report": 202, "resolve a finding": 403, "start an audit": 403},
    "ops_without_mfa": {"request a report": 403, "resolve a finding": 403, "start an audit": 403},
    "auditor_without_mfa": {"request a report": 403, "resolve a finding": 403, "start an audit": 403},
}
ERROR_CODES = {
    "anonymous": "not_authenticated",
    "contractor": "permission_denied",
    "auditor": "permission_denied",
    "ops_without_mfa": "mfa_required",
    "auditor_without_mfa": "mfa_required",
}


def test_every_read_answers_each_role_as_the_matrix_says(world: ApiWorld) -> None:
    seen = {}
    for name, url in read_routes(world).items():
        for role in ROLES:
            response = world.client(role).get(url)
            seen[name, role] = response.status_code
            if response.status_code != 200:
                _assert_error_shape(response.json())
                assert response.json()["code"] == ERROR_CODES[role], (name, role)
    assert seen == {(name, role): READ_EXPECTED[role] for name in read_routes(world) for role in ROLES}
    routes = {f"payments:api:{p.name}" for p in api_urlpatterns}
    assert routes == set(read_routes(world)) | {"payments:api:finding-resolve"}, "a new route needs a row here"


@pytest.mark.parametrize("role", [r for r in ROLES if r != "ops"])
def test_nobody_but_operations_changes_anything_through_the_api(
    world: ApiWorld, role: str, django_capture_on_commit_callbacks: Any
) -> None:
    for write, (url, body) in write_routes(world).items():
        expected = WRITE_EXPECTED[role][write]
        if expected != 403:
            continue  # the auditor's report request: see test_an_auditor_may_request_a_report
        before = state()
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = world.client(role).post(url, body, format="json")
        assert response.status_code == 403, (write, role)
        _assert_error_shape(response.json())
        assert response.json()["code"] == ERROR_CODES[role]
        if role == "auditor":
            assert READ_ONLY in response.json()["message"]
        assert state() == before and callbacks == [], (write, role)


def test_an_auditor_writing_any_other_way_to_any_route_changes_nothing(world: ApiWorld) -> None:
    auditor = world.client("auditor")
    before = state()
    urls = [*read_routes(world).values(), reverse("payments:api:finding-resolve", args=[world.critical.pk])]
    for url in urls:
        for method in ("put", "patch", "delete"):
            response = getattr(auditor, method)(url, {"note": "x", "status": "resolved"}, format="json")
            assert response.status_code == 405, (method, url)
            _assert_error_shape(response.json())
    assert state() == before


def test_an_auditor_is_refused_before_their_input_is_read(world: ApiWorld) -> None:
    """A blank note or an unknown finding still gets the read-only 403, never a hint about the input."""
    auditor = world.client("auditor")
    blank = auditor.post(reverse("payments:api:finding-resolve", args=[world.critical.pk]), {"note": ""}, format="json")
    missing = auditor.post(reverse("payments:api:finding-resolve", args=[999999]), {"note": "Done."}, format="json")
    assert (blank.status_code, missing.status_code) == (403, 403)
    assert READ_ONLY in blank.json()["message"] and READ_ONLY in missing.json()["message"]


def test_a_token_client_without_mfa_is_refused_and_an_auditors_token_reads(world: ApiWorld) -> None:
    def token_client(user: User) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        return client

    url = reverse("payments:api:finding-list")
    for role in ("ops_without_mfa", "auditor_without_mfa"):
        response = token_client(world.users[role]).get(url)
        assert response.status_code == 403 and response.json()["code"] == "mfa_required"
    before = state()
    resolve = reverse("payments:api:finding-resolve", args=[world.critical.pk])
    refused = token_client(world.users["ops_without_mfa"]).post(resolve, {"note": "Done."}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "mfa_required" and state() == before
    auditor = token_client(world.users["auditor"])
    assert [f["id"] for f in auditor.get(url).json()] == [world.warning.pk, world.critical.pk]
    assert auditor.post(resolve, {"note": "Done."}, format="json").status_code == 403
    assert state() == before


def test_the_lists_read_the_same_number_of_queries_however_many_rows_they_show(world: ApiWorld) -> None:
    auditor = world.client("auditor")
    lists = [
        reverse("payments:api:pay-period-list"),
        reverse("payments:api:report-list"),
        reverse("payments:api:finding-list"),
        reverse("payments:api:audit-run-list"),
    ]

    def queries() -> list[int]:
        counts = []
        for url in lists:
            with CaptureQueriesContext(connection) as captured:
                assert auditor.get(url).status_code == 200
            counts.append(len(captured))
        return counts

    before = queries()
    for weeks in (3, 4, 5):
        CloseRun.objects.create(
            period=week(WEEK - datetime.timedelta(weeks=weeks)), job="test", status="done", finished_at=timezone.now()
        )
    ops = world.users["ops"]
    for _ in range(2):
        report_run(report_id=report_request(actor=ops, format="csv", period=world.period).pk)
    drafts = [Draft("decision_human", "critical", "Paused by a job", f"Decision #{n}.", f"h:{n}") for n in range(3)]
    audit_run(trigger="manual", started_by=ops, checks=[_check("decision_human", *drafts)])
    assert queries() == before


# Pay periods -----------------------------------------------------------------------------------


def test_pay_periods_list_each_week_with_its_status_and_latest_close(world: ApiWorld) -> None:
    body = world.client("auditor").get(reverse("payments:api:pay-period-list")).json()
    by_start = {p["start"]: p for p in body}
    closed, still_open = by_start["2026-11-09"], by_start["2026-11-16"]
    assert (closed["id"], closed["status"], closed["end"], closed["last_day"]) == (
        world.period.pk,
        "closed",
        "2026-11-16",
        "2026-11-15",
    )
    assert closed["closed_at"] is not None and closed["timezone"] == "UTC"
    run = CloseRun.objects.get(period=world.period)
    assert closed["close"]["id"] == run.pk
    assert (closed["close"]["status"], closed["close"]["percent"], closed["close"]["total"]) == ("done", 100, 1)
    assert closed["close"]["entries_posted"] == run.entries_posted > 0
    assert (still_open["status"], still_open["close"], still_open["closed_at"]) == ("open", None, None)


def test_a_closed_periods_detail_gives_the_close_summary_from_the_ledger(world: ApiWorld) -> None:
    body = world.client("auditor").get(reverse("payments:api:pay-period-detail", args=[world.period.pk])).json()
    entries = LedgerEntry.objects.filter(period=world.period)
    topup = sum(e.amount_minor for e in entries.filter(kind=EntryKind.TOPUP))
    earnings = sum(e.amount_minor for e in entries.exclude(kind=EntryKind.TOPUP))
    assert topup > 0  # the piece rate alone is under the floor
    summary = body["summary"]
    assert (summary["contractors"], summary["paid_seconds"], summary["hours"]) == (1, 3600, "1.00")
    assert (summary["earnings_minor"], summary["topups_minor"], summary["currency"]) == (earnings, topup, "USD")
    assert (summary["compliant"], summary["open_findings"]) == (1, 0)
    totals = {t["kind"]: t for t in body["totals"]}
    assert totals["topup"] == {"kind": "topup", "currency": "USD", "entries": 1, "total_minor": topup}
    assert body["open_exceptions"] == 0 and body["close"]["status"] == "done"


def test_an_open_periods_detail_has_no_summary_and_an_unknown_period_is_404(world: ApiWorld) -> None:
    ops = world.client("ops")
    body = ops.get(reverse("payments:api:pay-period-detail", args=[world.open_period.pk])).json()
    assert (body["status"], body["summary"], body["totals"], body["close"]) == ("open", None, [], None)
    missing = ops.get(reverse("payments:api:pay-period-detail", args=[999999]))
    assert missing.status_code == 404
    _assert_error_shape(missing.json())


# Reports ---------------------------------------------------------------------------------------


def test_a_made_report_states_its_parameters_checkpoint_and_hash_and_links_the_download(world: ApiWorld) -> None:
    auditor = world.client("auditor")
    body = auditor.get(reverse("payments:api:report-detail", args=[world.report.pk])).json()
    report = world.report
    assert body["parameters"] == {
        "periods": [world.period.pk],
        "first_day": "2026-11-09",
        "last_day": "2026-11-15",
        "jurisdiction": "",
        "real_names": False,
    }
    assert (body["status"], body["progress"], body["format"], body["rows"]) == ("done", 100, "csv", 1)
    assert body["sha256"] == hashlib.sha256(report_file(report).read_bytes()).hexdigest() == report.sha256
    assert body["ledger_checkpoint"]["id"] == report.checkpoint_id == LedgerEntry.objects.order_by("-pk")[0].pk
    assert body["ledger_checkpoint"]["at"] is not None and body["made_at"] is not None
    assert body["fairtask_version"] == report.version != ""
    assert body["made_by"] == world.users["ops"].email
    assert body["download_url"] == reverse("payments:report-download", args=[report.pk])
    download = auditor.get(body["download_url"])
    assert download.status_code == 200 and download["X-Content-SHA256"] == body["sha256"]
    assert hashlib.sha256(download.getvalue()).hexdigest() == body["sha256"]
    listed = auditor.get(reverse("payments:api:report-list")).json()
    assert [r["id"] for r in listed] == [report.pk] and listed[0] == body


def test_a_report_requested_through_the_api_is_recorded_with_its_parameters_and_queued(
    world: ApiWorld, django_capture_on_commit_callbacks: Any
) -> None:
    ops = world.client("ops")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = ops.post(
            reverse("payments:api:report-list"),
            {"date_from": "2026-11-01", "date_to": "2026-11-30", "jurisdiction": "us-ca", "format": "xlsx"},
            format="json",
        )
    assert response.status_code == 202
    body = response.json()
    report = Report.objects.get(pk=body["id"])
    assert report.parameters == {
        "periods": [world.period.pk],
        "first_day": "2026-11-09",
        "last_day": "2026-11-15",
        "jurisdiction": "US-CA",
        "real_names": False,
    }
    assert (report.format, report.status, report.created_by) == ("xlsx", "pending", world.users["ops"])
    assert (body["parameters"], body["status"], body["download_url"]) == (report.parameters, "pending", None)
    assert body["url"] == reverse("payments:api:report-detail", args=[report.pk])
    assert len(callbacks) == 1  # the job, after the commit
    assert AuditEvent.objects.filter(action="report.request", object_id=str(report.pk)).exists()


def test_an_auditor_may_request_a_report_and_a_worker_makes_it(
    world: ApiWorld, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    auditor = world.client("auditor")
    with django_capture_on_commit_callbacks(execute=True):
        response = auditor.post(reverse("payments:api:report-list"), {"period": world.period.pk}, format="json")
    assert response.status_code == 202
    body = auditor.get(response.json()["url"]).json()
    report = Report.objects.get(pk=body["id"])
    assert (report.created_by, report.format) == (world.users["auditor"], "csv")
    assert (body["status"], body["made_by"], body["sha256"]) == ("done", world.users["auditor"].email, report.sha256)
    # The same parameters at the same checkpoint: the same bytes as the report made before.
    assert report.sha256 == world.report.sha256 and report.checkpoint_id == world.report.checkpoint_id
    assert auditor.get(body["download_url"])["X-Content-SHA256"] == report.sha256


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"date_from": "2026-11-30", "date_to": "2026-11-01"}, "date_to", "before the start date"),
        ({"period": "WEEK", "jurisdiction": "XX"}, "jurisdiction", "not an ISO 3166-1 country code"),
        ({"period": "WEEK", "jurisdiction": "US-ZZ"}, "jurisdiction", "not an ISO 3166-2 subdivision"),
        ({"period": 999999}, "period", "There is no pay period 999999"),
        ({"period": "NEXT_WEEK"}, "period", "not closed yet"),
        ({}, "period", "Choose a pay period, or give both a start and an end date."),
        ({"period": "WEEK", "date_from": "2026-11-01", "date_to": "2026-11-30"}, "period", "not both"),
        ({"date_from": "2026-12-01", "date_to": "2026-12-31"}, "date_from", "No closed pay period"),
        ({"period": "WEEK", "format": "docx"}, "format", "not a valid choice"),
        ({"period": "WEEK", "real_names": True}, "real_names", "FAIRTASK_REPORT_REAL_NAMES"),
        ({"date_from": "2026-11-01", "date_to": "9999-12-31"}, "date_to", "out of range"),
        ({"date_from": "2026-11-01", "date_to": "30/11/2026"}, "date_to", "wrong format"),
    ],
)
@pytest.mark.parametrize("role", ["ops", "auditor"])
def test_a_bad_report_request_is_a_400_naming_the_field_and_records_nothing(
    world: ApiWorld, role: str, data: dict[str, Any], field: str, words: str, django_capture_on_commit_callbacks: Any
) -> None:
    ids = {"WEEK": world.period.pk, "NEXT_WEEK": world.open_period.pk}
    if isinstance(data.get("period"), str):
        data = {**data, "period": ids[data["period"]]}
    before = state()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = world.client(role).post(reverse("payments:api:report-list"), data, format="json")
    assert response.status_code == 400
    body = response.json()
    _assert_error_shape(body)
    assert body["code"] == "invalid"
    assert body["message"].startswith(f"{field}: ") and words in body["message"]
    assert list(body["extra"]["fields"]) == [field]
    assert state() == before and callbacks == []


def test_a_contractors_report_request_is_refused_before_its_input_is_read(world: ApiWorld) -> None:
    before = state()
    response = world.client("contractor").post(
        reverse("payments:api:report-list"), {"date_from": "2026-11-30", "date_to": "2026-11-01"}, format="json"
    )
    assert response.status_code == 403
    assert "operations managers and compliance auditors" in response.json()["message"]
    assert state() == before


# Findings --------------------------------------------------------------------------------------


def test_findings_are_listed_newest_first_and_filtered_by_status_and_severity(world: ApiWorld) -> None:
    auditor = world.client("auditor")
    url = reverse("payments:api:finding-list")

    def ids(query: dict[str, str]) -> list[int]:
        response = auditor.get(url, query)
        assert response.status_code == 200
        return [f["id"] for f in response.json()]

    assert ids({}) == [world.warning.pk, world.critical.pk]
    assert ids({"severity": "critical"}) == [world.critical.pk]
    assert ids({"status": "open", "severity": "warning"}) == [world.warning.pk]
    assert ids({"check": "decision_reason"}) == [world.critical.pk]
    assert ids({"status": "resolved"}) == []
    detail = auditor.get(reverse("payments:api:finding-detail", args=[world.critical.pk])).json()
    assert (detail["check_code"], detail["severity"], detail["status"]) == ("decision_reason", "critical", "open")
    assert (detail["message"], detail["first_run"], detail["seen_count"]) == (
        "Decision #1 gives no reason.",
        world.run.pk,
        1,
    )
    assert (detail["resolved_by"], detail["resolution_note"]) == (None, "")


@pytest.mark.parametrize(("name", "value"), [("status", "closed"), ("severity", "urgent"), ("check", "nope")])
def test_an_unknown_filter_value_is_a_400_naming_the_parameter(world: ApiWorld, name: str, value: str) -> None:
    response = world.client("ops").get(reverse("payments:api:finding-list"), {name: value})
    assert response.status_code == 400
    _assert_error_shape(response.json())
    assert response.json()["message"].startswith(f"{name}: ") and list(response.json()["extra"]["fields"]) == [name]


def test_an_operations_manager_resolves_a_finding_with_a_note_and_it_stays_listed(world: ApiWorld) -> None:
    ops = world.client("ops")
    note = "A reason was added to decision #1 by a correction."
    events = AuditEvent.objects.count()
    response = ops.post(reverse("payments:api:finding-resolve", args=[world.critical.pk]), {"note": note})
    assert response.status_code == 200
    finding = Finding.objects.get(pk=world.critical.pk)
    assert (finding.status, finding.resolution_note, finding.resolved_by) == ("resolved", note, world.users["ops"])
    body = response.json()
    assert (body["status"], body["resolution_note"]) == ("resolved", note)
    assert body["resolved_by"] == world.users["ops"].email
    assert AuditEvent.objects.count() == events + 1
    assert AuditEvent.objects.order_by("-seq")[0].action == "finding.resolve"
    url = reverse("payments:api:finding-list")
    assert [f["id"] for f in ops.get(url, {"status": "resolved"}).json()] == [finding.pk]
    assert [f["id"] for f in ops.get(url, {"status": "open"}).json()] == [world.warning.pk]
    assert [f["id"] for f in ops.get(url).json()] == [world.warning.pk, finding.pk]
    # The auditor reads the resolution too.
    seen = world.client("auditor").get(reverse("payments:api:finding-detail", args=[finding.pk])).json()
    assert (seen["status"], seen["resolution_note"]) == ("resolved", note)


@pytest.mark.parametrize("body", [{"note": "   "}, {"note": ""}, {}])
def test_a_blank_or_missing_note_is_a_400_naming_note_and_the_finding_stays_open(
    world: ApiWorld, body: dict[str, str]
) -> None:
    before = state()
    response = world.client("ops").post(
        reverse("payments:api:finding-resolve", args=[world.critical.pk]), body, format="json"
    )
    assert response.status_code == 400
    _assert_error_shape(response.json())
    assert response.json()["message"].startswith("note: ") and list(response.json()["extra"]["fields"]) == ["note"]
    assert state() == before


def test_resolving_a_resolved_finding_is_a_409_and_keeps_the_first_note(world: ApiWorld) -> None:
    ops = world.client("ops")
    url = reverse("payments:api:finding-resolve", args=[world.critical.pk])
    assert ops.post(url, {"note": "First."}, format="json").status_code == 200
    before = state()
    again = ops.post(url, {"note": "Second."}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "wrong_state"
    assert again.json()["message"].startswith("finding: ")
    assert state() == before and Finding.objects.get(pk=world.critical.pk).resolution_note == "First."
    assert ops.post(reverse("payments:api:finding-resolve", args=[999999]), {"note": "x"}).status_code == 404


# Audit runs ------------------------------------------------------------------------------------


def test_audit_runs_are_listed_with_their_counts(world: ApiWorld) -> None:
    body = world.client("auditor").get(reverse("payments:api:audit-run-list")).json()
    assert [r["id"] for r in body] == [world.run.pk]
    run = body[0]
    assert (run["trigger"], run["status"], run["new_findings"], run["started_by"]) == ("daily", "done", 2, None)
    assert run["checks"] == {"decision_reason": {"findings": 1, "new": 1}, "appeal_overdue": {"findings": 1, "new": 1}}


def test_an_operations_manager_starts_an_audit_recorded_at_once_and_a_worker_performs_that_run(
    world: ApiWorld, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    ops = world.client("ops")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = ops.post(reverse("payments:api:audit-run-list"), format="json")

    assert response.status_code == 202 and len(callbacks) == 1
    run = AuditRun.objects.exclude(pk=world.run.pk).get()
    body = response.json()
    assert (body["id"], body["url"]) == (run.pk, reverse("payments:api:audit-run-detail", args=[run.pk]))
    assert (body["trigger"], body["status"], body["started_by"], body["finished_at"]) == (
        "manual",
        "running",
        world.users["ops"].email,
        None,
    )
    assert (run.trigger, run.started_by, run.status) == ("manual", world.users["ops"], "running")
    callbacks[0]()  # the commit enqueues the job; eager, the worker's work happens here

    run.refresh_from_db()
    assert run.status == "done" and AuditRun.objects.count() == 2  # the job filled in this run, made no other
    detail = ops.get(body["url"]).json()
    assert (detail["id"], detail["status"], detail["checks"]) == (run.pk, "done", run.checks)
    assert detail["finished_at"] is not None and set(detail["checks"]) == {check.code for check in CHECKS}
    listed = ops.get(reverse("payments:api:audit-run-list")).json()
    assert [r["id"] for r in listed] == [run.pk, world.run.pk]
    assert listed[0]["started_by"] == world.users["ops"].email


def test_an_unknown_audit_run_is_a_404(world: ApiWorld) -> None:
    response = world.client("auditor").get(reverse("payments:api:audit-run-detail", args=[world.run.pk + 1000]))
    assert response.status_code == 404
    _assert_error_shape(response.json())
