"""Celery jobs of the audits: thin wrappers around ``audit_run``, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from payments.audits.models import AuditTrigger
from payments.audits.services import audit_run, audit_run_perform
from payments.models import PayPeriod
from workforce.models import User

# Only a lost database connection or a lock timeout is worth retrying; anything else is final.
TRANSIENT_ERRORS = (OperationalError,)


@shared_task(
    name="payments.audits.jobs.audit_run_job",
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=5,
    retry_backoff=True,
)
def audit_run_job(
    trigger: str = AuditTrigger.DAILY,
    period_id: int | None = None,
    user_id: int | None = None,
    run_id: int | None = None,
) -> dict[str, object]:
    """Run the audit (daily from beat, after each close, or when an operations manager asks).

    An operations manager's run is recorded when they ask and comes as ``run_id``; beat and the close's
    hook send only the trigger (and period), and the run is recorded here. Running it twice is harmless:
    a run already done is left as it is, and a second run finds the same problems and only updates their
    open findings; nobody is emailed twice about the same finding.
    """
    if run_id is not None:
        run = audit_run_perform(run_id=run_id)
    else:
        period = PayPeriod.objects.get(pk=period_id) if period_id is not None else None
        user = User.objects.get(pk=user_id) if user_id is not None else None
        run = audit_run(trigger=trigger, period=period, started_by=user)
    return {"run": run.pk, "new_findings": run.new_findings}
