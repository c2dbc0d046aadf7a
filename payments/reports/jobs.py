"""Celery jobs of fair-wage reports: thin wrappers around the services, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from payments.reports.services import report_run, reports_purge
from workforce.jobs import TRANSIENT_ERRORS


@shared_task(
    name="payments.reports.jobs.report_run_job",
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=3,
    retry_backoff=True,
)
def report_run_job(report_id: int) -> str:
    """Make one requested report; a report already made (or failed) is left as it is."""
    return str(report_run(report_id=report_id).status)


@shared_task(name="payments.reports.jobs.reports_purge_job", acks_late=True)
def reports_purge_job() -> int:
    """Daily: remove report files past their retention; the rows and hashes stay."""
    return reports_purge()
