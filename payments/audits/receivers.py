"""After every period close, audit that period: the close only sends ``period_closed``, so it never imports us."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from payments.audits.jobs import audit_run_job
from payments.audits.models import AuditTrigger
from payments.signals import period_closed


@receiver(period_closed, dispatch_uid="payments.audits.after_close")
def audit_after_close(sender: Any, *, period_id: int, **kwargs: Any) -> None:
    """Queue the audit of the period just closed (the signal comes after the close's commit)."""
    audit_run_job.delay(trigger=AuditTrigger.AFTER_CLOSE, period_id=period_id)
