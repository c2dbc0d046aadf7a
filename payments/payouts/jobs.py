"""Celery jobs for payouts: thin wrappers around the services, safe to run twice (or to die half-way).

``acks_late`` with ``reject_on_worker_lost``: a run whose worker is killed goes back on the
queue and starts again; the services make that harmless (pending payouts are resumed under
their own key). Only an unknown provider outcome or a lost database connection is retried,
with exponential backoff; anything else stops the run with its reason on the run's page.
"""

from __future__ import annotations

import datetime
from typing import Any

from celery import Task, shared_task
from django.core.exceptions import ValidationError
from django.db import OperationalError

from payments.payouts.providers import ProviderUnavailable
from payments.payouts.runs import payout_run_execute, payout_run_fail
from payments.payouts.services import payouts_resume

TRANSIENT_ERRORS = (ProviderUnavailable, OperationalError)
MAX_RETRIES = 8  # with backoff capped at 10 minutes: about half an hour of provider trouble
RESUME_AFTER = datetime.timedelta(minutes=5)


class PayoutRunTask(Task):
    """Marks the run stopped, with the reason, once the job gives up (no retries left, or a final error)."""

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        run_id = kwargs.get("run_id", args[0] if args else None)
        if run_id is None:
            return
        error = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        payout_run_fail(run_id=run_id, error=error or exc.__class__.__name__)


@shared_task(
    base=PayoutRunTask,
    name="payments.payouts.jobs.payout_run_job",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=MAX_RETRIES,
    retry_backoff=True,
    retry_backoff_max=600,
)
def payout_run_job(run_id: int) -> str:
    """Pay one run; a retry or redelivery resumes its pending payouts with the same keys."""
    return payout_run_execute(run_id=run_id).status


@shared_task(
    name="payments.payouts.jobs.payouts_resume_job",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=MAX_RETRIES,
    retry_backoff=True,
    retry_backoff_max=600,
)
def payouts_resume_job() -> int:
    """Every 15 minutes: finish payouts that a dead worker left pending for more than 5 minutes."""
    return len(payouts_resume(older_than=RESUME_AFTER))
