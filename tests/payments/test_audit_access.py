"""Every audit page for every role (a role x URL matrix), and auditors' writes refused with nothing changed."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from payments.audits.checks import Check, Draft
from payments.audits.models import AuditRun, Finding
from payments.audits.services import audit_run
from payments.models import CloseRun, PayPeriod, PeriodStatus
from payments.payouts.models import PayoutRun
from payments.services.close import period_close
from tests.payments.work import at, floors_loaded, person, piece_project, task_time, week
from tests.workforce.factories import staff_user
from workforce.celery import app as celery_app
from workforce.models import AuditEvent, Role, User

pytestmark = pytest.mark.django_db

LOGIN = "login"
ROLES = ("anonymous", "contractor", "ops", "auditor")
READ = (LOGIN, 403, 200, 200)
POST_ONLY = (LOGIN, 403, 405, 405)  # a GET changes nothing; the auditor's POST is refused below


@dataclass
class AuditWorld:
    users: dict[str, User]
    period: PayPeriod
    open_period: PayPeriod
    worker: User
    finding: Finding

    def client(self, role: str) -> Client:
        client = Client()
        if role != "anonymous":
            client.force_login(self.users[role])
        return client


@pytest.fixture
def world(db: None, tmp_path: Path, settings: Settings) -> AuditWorld:
    floors_loaded()
    settings.FAIRTASK_REPORT_DIR = tmp_path / "reports"  # the evidence pack makes the week's reports
    worker = person()
    task_time(worker, piece_project(), started=at(datetime.date(2026, 11, 10), 9), seconds=3600)
    period = period_close(period=week(), job="test").period
    draft = Draft("decision_reason", "critical", "Decision without a reason", "Decision #1 gives no reason.", "t:1")
    audit_run(trigger="daily", checks=[Check("decision_reason", "Reasons.", lambda scope: [draft])])
    return AuditWorld(
        users={
            "contractor": worker,
            "ops": staff_user(Role.OPERATIONS),
            "auditor": staff_user(Role.AUDITOR),
        },
        period=period,
        open_period=week(datetime.date(2026, 11, 16)),
        worker=worker,
        finding=Finding.objects.get(),
    )


def routes(w: AuditWorld) -> dict[str, tuple[str, tuple[object, ...]]]:
    return {
        "payments:audit-home": (reverse("payments:audit-home"), READ),
        "payments:audit-finding-list": (reverse("payments:audit-finding-list"), READ),
        "payments:audit-finding-detail": (reverse("payments:audit-finding-detail", args=[w.finding.pk]), READ),
        "payments:audit-run-start": (reverse("payments:audit-run-start"), POST_ONLY),
        "payments:audit-chain": (reverse("payments:audit-chain"), READ),
        "payments:audit-period-list": (reverse("payments:audit-period-list"), READ),
        "payments:audit-period-detail": (reverse("payments:audit-period-detail", args=[w.period.pk]), READ),
        "payments:audit-evidence": (reverse("payments:audit-evidence", args=[w.period.pk]), READ),
        "payments:audit-contractor-period": (
            reverse("payments:audit-contractor-period", args=[w.period.pk, w.worker.pk]),
            READ,
        ),
    }


def _status(response) -> int | str:
    if response.status_code == 302 and "/accounts/login/" in response["Location"]:
        return LOGIN
    return response.status_code


def test_every_audit_page_answers_each_role_as_the_matrix_says(world):
    seen = {}
    for name, (url, expected) in routes(world).items():
        got = tuple(_status(world.client(role).get(url)) for role in ROLES)
        seen[name] = got
        assert got == expected, f"{name}: {dict(zip(ROLES, got, strict=True))}"
    from payments.audits.urls import urlpatterns

    assert {f"payments:{p.name}" for p in urlpatterns} == set(seen), "a new audit page needs a row in the matrix"


def test_an_auditor_cannot_resolve_a_finding_and_is_told_why(world):
    before = AuditEvent.objects.count()
    response = world.client("auditor").post(
        reverse("payments:audit-finding-detail", args=[world.finding.pk]), {"note": "Fine."}
    )
    assert response.status_code == 403
    assert "Auditors have read-only access, so nothing was changed." in response.content.decode()
    world.finding.refresh_from_db()
    assert world.finding.status == "open" and AuditEvent.objects.count() == before


def test_an_auditor_cannot_start_an_audit(world):
    response = world.client("auditor").post(reverse("payments:audit-run-start"))
    assert response.status_code == 403 and AuditRun.objects.count() == 1


def test_an_operations_manager_starts_an_audit_from_the_portal_and_the_job_performs_that_run(
    world, django_capture_on_commit_callbacks
):
    eager = celery_app.conf.task_always_eager
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=True)  # the job runs here, at the commit (see test_api.py)
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = world.client("ops").post(reverse("payments:audit-run-start"), follow=True)
    finally:
        celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=eager)

    run = AuditRun.objects.get(trigger="manual")  # recorded by the button; the job made no run of its own
    assert response.status_code == 200 and response.redirect_chain == [(reverse("payments:audit-home"), 302)]
    assert f"Audit run #{run.pk} is queued" in response.content.decode()
    assert (run.status, run.started_by) == ("done", world.users["ops"])
    # Two commits ran a callback: the button's (queue the job) and the run's, which emails the operations
    # managers about its new finding: the open week of 2026-11-16 has long been over without a close.
    assert len(callbacks) == 2
    assert run.findings_opened.filter(check_code="pay_on_time").count() == 1


def test_an_auditor_cannot_close_a_period_or_start_a_payout_run(world):
    auditor = world.client("auditor")
    closing = auditor.post(reverse("payments:pay-period-close", args=[world.open_period.pk]))
    paying = auditor.post(reverse("payments:payout-run-list"), {"currency": "USD"})
    assert (closing.status_code, paying.status_code) == (403, 403)
    world.open_period.refresh_from_db()
    assert world.open_period.status == PeriodStatus.OPEN
    assert not CloseRun.objects.filter(period=world.open_period).exists() and not PayoutRun.objects.exists()


def test_an_operations_manager_resolves_a_finding_with_a_note(world):
    ops = world.client("ops")
    url = reverse("payments:audit-finding-detail", args=[world.finding.pk])
    assert ops.post(url, {"note": " "}).status_code == 400
    response = ops.post(url, {"note": "Reason added to decision #1 by a correction."})
    assert response.status_code == 302
    world.finding.refresh_from_db()
    assert (world.finding.status, world.finding.resolved_by) == ("resolved", world.users["ops"])
    assert "Reason added" in ops.get(url).content.decode()


def test_the_chain_page_names_the_first_broken_event(world):
    events = list(AuditEvent.objects.order_by("seq"))
    AuditEvent.objects.filter(pk=events[1].pk).update(action="rewritten")
    page = world.client("auditor").get(reverse("payments:audit-chain")).content.decode()
    assert "Chain broken." in page and f"First broken event: #{events[1].seq}" in page


def test_the_evidence_pack_holds_every_file_with_its_hash_and_the_page_shows_the_manifest_hash(world):
    auditor = world.client("auditor")
    response = auditor.get(reverse("payments:audit-evidence", args=[world.period.pk]))
    # Read after the download: the first one at this ledger checkpoint made the week's reports.
    page = auditor.get(reverse("payments:audit-period-detail", args=[world.period.pk])).content.decode()
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    manifest_bytes = archive.read("manifest.json")
    manifest = json.loads(manifest_bytes)
    assert hashlib.sha256(manifest_bytes).hexdigest() in page
    assert set(manifest["files"]) == set(archive.namelist()) - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest
    assert {"wage_checks.csv", "findings.csv", "findings.json", "decisions_and_appeals.json"} <= set(manifest["files"])
    # Auditors see a pseudonym, never the contractor's email.
    assert world.worker.email not in archive.read("wage_checks.csv").decode()
    assert world.worker.email not in page
    # The period's fair-wage report CSV rides along, stating what it covers and its ledger checkpoint.
    report = archive.read("fair_wage_report.csv").decode()
    assert report.startswith("report,fair_wage\n")
    assert f'"periods":[{world.period.pk}]' in report.replace('""', '"')
    assert "ledger_checkpoint_id," in report
    assert world.worker.email not in report
    assert auditor.get(reverse("payments:audit-evidence", args=[world.period.pk])).content == response.content


def test_the_periods_page_draws_its_charts_inline(world):
    page = world.client("auditor").get(reverse("payments:audit-period-list")).content.decode()
    assert page.count("<svg") >= 5 and "cdn" not in page.lower()
