"""Celery jobs for payments: thin wrappers around services, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from payments.models import CloseStatus
from payments.services.close import close_run_execute, periods_close_due
from workforce.jobs import TRANSIENT_ERRORS


@shared_task(
    name="payments.jobs.close_run_job",
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=5,
    retry_backoff=True,
)
def close_run_job(run_id: int) -> str:
    """Do (or resume) one close run; a second delivery while it runs returns at once (advisory lock)."""
    run = close_run_execute(run_id=run_id)
    return str(run.status if run.status != CloseStatus.RUNNING else "busy")


@shared_task(
    name="payments.jobs.periods_close_due_job",
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=5,
    retry_backoff=True,
)
def periods_close_due_job() -> list[int]:
    """Beat: make the missing weeks and close every period that is over; returns the runs' ids."""
    return [run.pk for run in periods_close_due()]
