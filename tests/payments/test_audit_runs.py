"""Audit runs: findings are opened once, updated on a re-run, emailed only when new, resolved only by ops."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from payments.audits.checks import Check, Draft, Scope
from payments.audits.jobs import audit_run_job
from payments.audits.models import AuditRun, Finding, FindingStatus
from payments.audits.services import audit_run, audit_run_perform, audit_run_request, finding_resolve
from workforce.models import AuditEvent

pytestmark = pytest.mark.django_db


def fixed(*drafts: Draft) -> list[Check]:
    return [Check("test_check", "A check for the test.", lambda scope: list(drafts))]


def draft(fingerprint: str = "test_check:1", message: str = "3 hours unpaid.") -> Draft:
    return Draft("test_check", "critical", "Unpaid time", message, fingerprint, [{"type": "x", "id": 1, "label": "x"}])


def test_a_run_opens_a_finding_and_emails_the_operations_managers(ops, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = audit_run(trigger="daily", checks=fixed(draft()))
    finding = Finding.objects.get()
    assert (result.new_findings, result.status, result.checks) == (1, "done", {"test_check": {"findings": 1, "new": 1}})
    assert (finding.status, finding.seen_count, finding.first_run, finding.object_refs[0]["id"]) == (
        "open",
        1,
        result,
        1,
    )
    [email] = mail.outbox
    assert email.to == [ops.email] and "1 new finding(s), 1 critical" in email.subject
    assert "3 hours unpaid." in email.body
    assert AuditEvent.objects.filter(action="audit.run", object_id=str(result.pk)).exists()


def test_running_again_updates_the_open_finding_and_emails_nobody(ops, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = audit_run(trigger="daily", checks=fixed(draft()))
    with django_capture_on_commit_callbacks(execute=True):
        second = audit_run(trigger="daily", checks=fixed(draft(message="4 hours unpaid.")))
    finding = Finding.objects.get()
    assert (finding.seen_count, finding.first_run, finding.last_run, finding.message) == (
        2,
        first,
        second,
        "4 hours unpaid.",
    )
    assert second.new_findings == 0 and len(mail.outbox) == 1


def test_a_resolved_finding_stays_and_a_recurrence_opens_a_new_one(ops, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        audit_run(trigger="daily", checks=fixed(draft()))
    old = finding_resolve(finding=Finding.objects.get(), actor=ops, note="Paid by a correction entry #12.")
    with django_capture_on_commit_callbacks(execute=True):
        again = audit_run(trigger="daily", checks=fixed(draft()))
    assert again.new_findings == 1 and len(mail.outbox) == 2
    assert list(Finding.objects.order_by("pk").values_list("status", flat=True)) == ["resolved", "open"]
    old.refresh_from_db()
    assert (old.resolved_by, old.resolution_note) == (ops, "Paid by a correction entry #12.")
    assert AuditEvent.objects.filter(action="finding.resolve", object_id=str(old.pk)).exists()


def test_a_check_that_crashes_becomes_a_finding_and_the_others_still_run(ops):
    def broken(scope: Scope) -> list[Draft]:
        raise RuntimeError("provider timed out")

    checks = [Check("broken", "Breaks.", broken), *fixed(draft())]
    result = audit_run(trigger="daily", checks=checks)
    assert result.checks["broken"]["error"] == "RuntimeError: provider timed out"
    assert set(Finding.objects.values_list("fingerprint", flat=True)) == {"check_error:broken", "test_check:1"}


def test_an_auditor_cannot_resolve_a_finding_or_start_a_run(auditor):
    audit_run(trigger="daily", checks=fixed(draft()))
    finding = Finding.objects.get()
    with pytest.raises(PermissionDenied):
        finding_resolve(finding=finding, actor=auditor, note="Looks fine to me.")
    with pytest.raises(PermissionDenied):
        audit_run(trigger="manual", started_by=auditor, checks=fixed())
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN and AuditRun.objects.count() == 1


def test_resolving_needs_a_note(ops):
    audit_run(trigger="daily", checks=fixed(draft()))
    with pytest.raises(ValidationError) as error:
        finding_resolve(finding=Finding.objects.get(), actor=ops, note="   ")
    assert "note" in error.value.message_dict
    assert Finding.objects.get().status == "open"


def test_the_database_refuses_a_second_open_finding_and_a_resolution_without_a_note(ops):
    audit_run(trigger="daily", checks=fixed(draft()))
    finding = Finding.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Finding.objects.create(
            check_code="test_check",
            severity="critical",
            title="Copy",
            message="Copy.",
            fingerprint=finding.fingerprint,
            first_run=finding.first_run,
            last_run=finding.last_run,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Finding.objects.filter(pk=finding.pk).update(
            status="resolved", resolved_at=timezone.now(), resolved_by=ops, resolution_note=" "
        )


def test_the_audit_of_a_period_that_is_not_closed_is_refused(ops):
    from tests.payments.work import week

    with pytest.raises(ValidationError):
        audit_run(trigger="manual", period=week(datetime.date(2030, 1, 7)), started_by=ops, checks=fixed())
    assert not AuditRun.objects.exists()


def test_a_run_recorded_before_its_job_is_performed_once_and_a_second_delivery_changes_nothing(
    ops, django_capture_on_commit_callbacks
):
    run = audit_run_request(trigger="manual", started_by=ops)
    assert (run.status, run.finished_at, run.checks) == ("running", None, {})

    with django_capture_on_commit_callbacks(execute=True):
        done = audit_run_perform(run_id=run.pk, checks=fixed(draft()))
    with django_capture_on_commit_callbacks(execute=True):
        again = audit_run_perform(run_id=run.pk, checks=fixed(draft(message="4 hours unpaid.")))

    assert done.pk == again.pk == run.pk and AuditRun.objects.count() == 1
    assert (again.status, again.new_findings, again.started_by) == ("done", 1, ops)
    finding = Finding.objects.get()
    assert (finding.first_run_id, finding.seen_count, finding.message) == (run.pk, 1, "3 hours unpaid.")
    assert AuditEvent.objects.filter(action="audit.run", object_id=str(run.pk)).count() == 1
    assert len(mail.outbox) == 1


def test_the_job_performs_the_run_it_is_given_and_records_its_own_without_one(ops):
    """The button and the API record the run first and send its id; beat and the close's hook send none."""
    requested = audit_run_request(trigger="manual", started_by=ops)

    given = audit_run_job(run_id=requested.pk)
    daily = audit_run_job()

    manual_run, daily_run = AuditRun.objects.get(trigger="manual"), AuditRun.objects.get(trigger="daily")
    assert (given["run"], daily["run"]) == (requested.pk, daily_run.pk) and manual_run.pk == requested.pk
    assert (manual_run.status, manual_run.started_by) == ("done", ops)
    assert (daily_run.status, daily_run.started_by) == ("done", None)


def test_a_refused_request_records_no_run(auditor):
    with pytest.raises(PermissionDenied):
        audit_run_request(trigger="manual", started_by=auditor)
    with pytest.raises(ValidationError) as error:
        audit_run_request(trigger="weekly")
    assert "trigger" in error.value.message_dict
    assert not AuditRun.objects.exists()
