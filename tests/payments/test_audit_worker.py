"""The audit after a close, on a real Celery worker: the close's ``period_closed`` signal queues it."""

from __future__ import annotations

import pytest

from payments.audits.models import AuditRun, Finding
from payments.models import PayPeriod, PeriodStatus
from payments.signals import period_closed
from tests.celery_worker import Worker
from tests.payments.work import at, person, piece_project, task_time, week

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_a_closed_period_is_audited_by_the_worker_and_its_unpaid_time_found(celery_worker: Worker):
    worker = person()
    period = week()
    task_time(worker, piece_project(), started=at(period.start, 9), seconds=3600)
    PayPeriod.objects.filter(pk=period.pk).update(status=PeriodStatus.CLOSED, closed_at=at(period.end, 2))
    period_closed.send(sender=PayPeriod, period_id=period.pk, run_id=0, is_retry=False)
    run = celery_worker.wait_for(
        lambda: AuditRun.objects.filter(trigger="after_close", period=period, status="done").first(),
        what="the audit after the close",
    )
    assert run.new_findings >= 1
    assert Finding.objects.filter(check_code="unpaid_time", period=period, severity="critical").count() == 1
