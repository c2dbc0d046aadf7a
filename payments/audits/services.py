"""Running the audit, recording its findings, telling operations about new ones, and resolving them.

A run performs every registered check outside any transaction (the payout check calls the
provider), then records the findings in one transaction under an advisory lock, so two runs
never race to open the same finding: an open finding with the same fingerprint is updated
(``last_seen_at``, ``seen_count``), anything else opens a new finding. Only new findings are
emailed, after the commit. A finding is closed only by an operations manager with a note.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from payments.audits.checks import CHECKS, Check, Draft, Scope
from payments.audits.models import AuditRun, AuditRunStatus, AuditTrigger, Finding, FindingStatus, Severity
from payments.models import PayPeriod, PeriodStatus
from workforce.audit import audit_record
from workforce.models import Role, User
from workforce.services import wrong_state

logger = logging.getLogger(__name__)

# Names "recording audit findings" among PostgreSQL advisory locks.
_RECORD_LOCK_KEY = 0x0A0D17_F1D
_CHUNK = 1000
MAX_ERROR_CHARS = 2000
# How many new findings one email lists before it says "and N more".
EMAIL_LINES = 50


def audit_periods(*, period: PayPeriod | None = None) -> list[PayPeriod]:
    """The closed periods a run checks: the one named, or the latest ``FAIRTASK_AUDIT_PERIODS``."""
    if period is not None:
        return [period]
    closed = PayPeriod.objects.filter(status=PeriodStatus.CLOSED).order_by("-start")
    return list(closed[: settings.FAIRTASK_AUDIT_PERIODS])


def _error_draft(check: Check, exc: BaseException) -> Draft:
    return Draft(
        check=check.code,
        severity=Severity.WARNING,
        title=_("Audit check could not run"),
        message=_("The check “%(title)s” stopped with an error, so it verified nothing this time: %(error)s")
        % {"title": check.title, "error": f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]},
        fingerprint=f"check_error:{check.code}",
    )


def checks_perform(*, scope: Scope, checks: Iterable[Check] = CHECKS) -> tuple[list[Draft], dict[str, Any]]:
    """Run each check; one that fails is reported as a finding of its own and the others still run."""
    drafts: list[Draft] = []
    counts: dict[str, Any] = {}
    for check in checks:
        try:
            found = check.run(scope)
        except Exception as exc:
            logger.exception("Audit check %s failed.", check.code)
            found = [_error_draft(check, exc)]
            counts[check.code] = {"findings": 1, "error": f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]}
        else:
            counts[check.code] = {"findings": len(found)}
        drafts.extend(found)
    return drafts, counts


@transaction.atomic
def audit_run_request(*, trigger: str, period: PayPeriod | None = None, started_by: User | None = None) -> AuditRun:
    """Record a run before anything is checked, so whoever asked can follow it by its id; ``audit_run_perform``
    (the job) then does the checks. Only an operations manager starts one by hand, and only a closed period is
    audited on its own; a refused request records nothing.

    The run is ``running`` from here, as the model has no queued state; the job sets ``started_at`` again
    when the checks begin.
    """
    if trigger not in AuditTrigger.values:
        raise ValidationError({"trigger": _("Unknown audit trigger “%(t)s”.") % {"t": trigger}})
    if started_by is not None and not started_by.is_operations:
        raise PermissionDenied(_("Only an operations manager can start an audit; auditors read its findings."))
    if period is not None and period.status != PeriodStatus.CLOSED:
        raise wrong_state("period", _("Audit a period once its close has finished."))
    return AuditRun.objects.create(trigger=trigger, period=period, started_by=started_by)


def _run_claim(run_id: int, now: datetime.datetime) -> AuditRun | None:
    with transaction.atomic():
        run = AuditRun.objects.select_for_update(of=("self",)).select_related("period", "started_by").get(pk=run_id)
        if run.status == AuditRunStatus.DONE:
            return None  # a second delivery of the job does nothing
        # Running (queued, or its worker died) or failed (a retry after a lost connection): check now.
        run.status, run.started_at, run.finished_at, run.error = AuditRunStatus.RUNNING, now, None, ""
        run.save(update_fields=["status", "started_at", "finished_at", "error"])
        return run


def audit_run_perform(
    *, run_id: int, now: datetime.datetime | None = None, checks: Iterable[Check] = CHECKS
) -> AuditRun:
    """Run every check for a recorded run and record what it found; a run already done is returned as it is."""
    now = now or timezone.now()
    run = _run_claim(run_id, now)
    if run is None:
        return AuditRun.objects.get(pk=run_id)
    try:
        drafts, counts = checks_perform(scope=Scope(periods=audit_periods(period=run.period), now=now), checks=checks)
        return findings_record(run=run, drafts=drafts, counts=counts, now=now)
    except Exception as exc:
        # Only while still running: a copy of this job that lost the race must not mark the winner's run failed.
        AuditRun.objects.filter(pk=run.pk, status=AuditRunStatus.RUNNING).update(
            status=AuditRunStatus.FAILED, finished_at=timezone.now(), error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise


def audit_run(
    *,
    trigger: str,
    period: PayPeriod | None = None,
    started_by: User | None = None,
    now: datetime.datetime | None = None,
    checks: Iterable[Check] = CHECKS,
) -> AuditRun:
    """Record a run and perform it at once, in this process (the job, for beat and the close's hook)."""
    run = audit_run_request(trigger=trigger, period=period, started_by=started_by)
    return audit_run_perform(run_id=run.pk, now=now, checks=checks)


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_RECORD_LOCK_KEY])


@transaction.atomic
def findings_record(*, run: AuditRun, drafts: list[Draft], counts: dict[str, Any], now: datetime.datetime) -> AuditRun:
    """Update the open finding of each fingerprint, open a finding for every other, and finish the run."""
    _lock()
    recorded = AuditRun.objects.select_for_update().get(pk=run.pk)
    if recorded.status == AuditRunStatus.DONE:
        return recorded  # two copies of one run's job at once: the first to get here records it, once
    unique: dict[str, Draft] = {}
    for draft in drafts:
        unique.setdefault(draft.fingerprint, draft)
    prints = list(unique)
    new: list[Finding] = []
    for start in range(0, len(prints), _CHUNK):
        chunk = prints[start : start + _CHUNK]
        open_rows = {
            f.fingerprint: f
            for f in Finding.objects.select_for_update().filter(status=FindingStatus.OPEN, fingerprint__in=chunk)
        }
        seen = []
        for fingerprint in chunk:
            draft = unique[fingerprint]
            found = open_rows.get(fingerprint)
            if found is not None:
                # The numbers may have moved since: the message shows the latest; first_seen stays.
                found.last_seen_at, found.last_run, found.seen_count = now, run, found.seen_count + 1
                found.severity, found.title, found.message, found.object_refs = (
                    draft.severity,
                    draft.title,
                    draft.message,
                    draft.objects,
                )
                seen.append(found)
            else:
                new.append(_finding(draft, run, now))
        Finding.objects.bulk_update(
            seen, ["last_seen_at", "last_run", "seen_count", "severity", "title", "message", "object_refs"]
        )
    Finding.objects.bulk_create(new, batch_size=_CHUNK)
    new_by_check: dict[str, int] = {}
    for finding in new:
        new_by_check[finding.check_code] = new_by_check.get(finding.check_code, 0) + 1
    for code, count in counts.items():
        count["new"] = new_by_check.get(code, 0)
    run.checks = counts
    run.new_findings = len(new)
    run.status = AuditRunStatus.DONE
    run.finished_at = timezone.now()
    run.save(update_fields=["checks", "new_findings", "status", "finished_at"])
    audit_record(
        actor=run.started_by,
        action="audit.run",
        obj=run,
        summary={
            "trigger": run.trigger,
            "period": run.period_id,
            "findings": len(unique),
            "new": len(new),
            "checks": {code: count.get("findings", 0) for code, count in counts.items()},
        },
    )
    if new:
        ids = [f.pk for f in new]
        transaction.on_commit(lambda: findings_notify(finding_ids=ids))
    return run


def _finding(draft: Draft, run: AuditRun, now: datetime.datetime) -> Finding:
    return Finding(
        check_code=draft.check,
        severity=draft.severity,
        title=draft.title,
        message=draft.message,
        object_refs=draft.objects,
        fingerprint=draft.fingerprint,
        period_id=draft.period_id,
        first_seen_at=now,
        last_seen_at=now,
        first_run=run,
        last_run=run,
    )


def findings_notify(*, finding_ids: list[int]) -> int:
    """Email the active operations managers the findings that are new; return how many were listed."""
    rank: dict[str, int] = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}
    findings = sorted(Finding.objects.filter(pk__in=finding_ids), key=lambda f: (rank.get(f.severity, 3), f.pk))
    recipients = list(User.objects.filter(role=Role.OPERATIONS, is_active=True).values_list("email", flat=True))
    if not findings or not recipients:
        return 0
    critical = sum(1 for f in findings if f.severity == Severity.CRITICAL)
    lines = [f"- [{f.get_severity_display()}] #{f.pk} {f.title}: {f.message}" for f in findings[:EMAIL_LINES]]
    if len(findings) > EMAIL_LINES:
        lines.append(_("… and %(n)d more on the findings page.") % {"n": len(findings) - EMAIL_LINES})
    send_mail(
        subject=_("Fairtask audit: %(n)d new finding(s), %(c)d critical") % {"n": len(findings), "c": critical},
        message=_("The audit found these new problems. Open each finding to resolve it with a note:\n")
        + "\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
    return len(findings)


@transaction.atomic
def finding_resolve(*, finding: Finding, actor: User, note: str) -> Finding:
    """An operations manager closes a finding with a note saying what was done; it stays in the history."""
    if not actor.is_operations:
        raise PermissionDenied(_("Only an operations manager can resolve a finding; auditors can read it."))
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Write what was done about this finding; the note stays in the history.")})
    locked = Finding.objects.select_for_update().get(pk=finding.pk)
    if locked.status != FindingStatus.OPEN:
        raise wrong_state("finding", _("This finding is already resolved; a recurrence opens a new finding."))
    locked.status = FindingStatus.RESOLVED
    locked.resolved_at = timezone.now()
    locked.resolved_by = actor
    locked.resolution_note = note
    locked.save(update_fields=["status", "resolved_at", "resolved_by", "resolution_note"])
    audit_record(
        actor=actor,
        action="finding.resolve",
        obj=locked,
        summary={"check": locked.check_code, "fingerprint": locked.fingerprint, "note": note},
    )
    return locked
