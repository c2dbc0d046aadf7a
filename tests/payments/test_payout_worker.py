"""Crash tests: a real Celery worker is killed (SIGKILL) after Stripe made the transfer and before the
database heard of it. However the work is picked up again, Stripe holds exactly one transfer and
the ledger exactly one payout entry.

The worker stops at that point because ``FAIRTASK_PAYOUT_TEST_HOLD_FILE`` is set in its
environment: the first provider call to return writes the worker's pid into the file and sleeps,
and the test kills that process. A worker started later finds the file and goes on.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from payments.payouts.jobs import payout_run_job
from payments.payouts.models import Payout, PayoutRun, PayoutState, RunStatus
from payments.payouts.runs import payout_run_resume, payout_run_start
from tests.celery_worker import Worker, worker_process
from tests.fakes.stripe_server import API_KEY, WEBHOOK_SECRET, FakeStripe
from tests.payments.payouts import configure_stripe, earn, ledger_payouts, periods, stripe_contractor
from workforce.models import User

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# A Redis database of these tests' own (tests/celery_worker.py uses 14, the test settings 15),
# so a close or import worker test running at the same time cannot purge these messages.
BROKER_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def celery_broker_url() -> str:
    return BROKER_URL


@pytest.fixture
def fake(settings: Any, stripe_fake: FakeStripe) -> FakeStripe:
    configure_stripe(settings, stripe_fake)
    return stripe_fake


def _env(fake: FakeStripe, hold: Path) -> dict[str, str]:
    return {
        "STRIPE_SECRET_KEY": API_KEY,
        "STRIPE_API_BASE": fake.url,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_TIMEOUT_SECONDS": "5",
        "FAIRTASK_PAYOUT_TEST_HOLD_FILE": str(hold),
    }


def _held(hold: Path) -> tuple[int, int] | None:
    """(pid, payout id) once a worker stopped after the provider's answer."""
    try:
        words = hold.read_text().split()
    except FileNotFoundError:
        return None
    return (int(words[0]), int(words[1])) if len(words) == 2 else None


def _contractor_owed(fake: FakeStripe, minor: int = 5000) -> User:
    closed, _ = periods()
    user = stripe_contractor(fake)
    earn(user, closed, minor)
    return user


def _stop_after_the_transfer(worker: Worker, fake: FakeStripe, hold: Path) -> tuple[int, Payout]:
    pid, payout_id = worker.wait_for(lambda: _held(hold), what="the job to stop after Stripe's answer")
    payout = Payout.objects.get(pk=payout_id)
    # The transfer exists; our row is written (before the call) but does not know the outcome.
    assert fake.transfer_count() == 1
    assert (payout.state, payout.provider_reference, payout.attempts) == (PayoutState.PENDING, "", 1)
    return pid, payout


def test_a_job_killed_after_the_transfer_is_redelivered_and_pays_once(fake, ops, celery_broker, tmp_path):
    ana = _contractor_owed(fake)
    hold = tmp_path / "hold"
    # prefork: the job runs in a child process; its parent sees it die and, because the job is
    # acks_late with reject_on_worker_lost, puts the message back on the queue at once.
    with worker_process(broker_url=celery_broker, tmp_path=tmp_path, extra_env=_env(fake, hold), pool="prefork") as w:
        run = payout_run_start(actor=ops, currency="USD")
        payout_run_job.delay(run.pk)
        pid, payout = _stop_after_the_transfer(w, fake, hold)

        os.kill(pid, signal.SIGKILL)

        done = w.wait_for(lambda: PayoutRun.objects.filter(pk=run.pk, status=RunStatus.DONE).first(), what="the run")
        assert "WorkerLostError" in w.log()  # the parent saw the child die and requeued the job
    payout.refresh_from_db()
    assert (payout.state, payout.provider_reference) == (PayoutState.PAID, fake.transfers[0]["id"])
    assert payout.attempts == 2
    assert done.attempts == 2  # the same run, started twice
    assert fake.transfer_count() == 1
    assert [e.amount_minor for e in ledger_payouts(ana)] == [-5000]
    posts = [r for r in fake.requests if r.method == "POST" and r.path == "/v1/transfers"]
    assert len(posts) == 1  # the second delivery found the transfer by its key instead of sending it again


def test_a_worker_killed_after_the_transfer_is_resumed_by_the_next_run_on_a_new_worker(
    fake, ops, celery_broker, tmp_path
):
    ana = _contractor_owed(fake)
    hold = tmp_path / "hold"
    with worker_process(broker_url=celery_broker, tmp_path=tmp_path, extra_env=_env(fake, hold), name="first") as w:
        first = payout_run_start(actor=ops, currency="USD")
        payout_run_job.delay(first.pk)
        pid, payout = _stop_after_the_transfer(w, fake, hold)

        os.killpg(w.process.pid, signal.SIGKILL)  # the whole worker: nothing is left to notice
        w.process.wait(timeout=10)
    assert pid == w.process.pid

    with worker_process(broker_url=celery_broker, tmp_path=tmp_path, extra_env=_env(fake, hold), name="second") as w2:
        second = payout_run_start(actor=ops, currency="USD")
        payout_run_job.delay(second.pk)
        second = w2.wait_for(lambda: PayoutRun.objects.filter(pk=second.pk, status=RunStatus.DONE).first(), what="run")
        # The first run lost its worker; resuming it finishes it and pays nothing more.
        payout_run_job.delay(payout_run_resume(run=first, actor=ops).pk)
        w2.wait_for(lambda: PayoutRun.objects.filter(pk=first.pk, status=RunStatus.DONE).first(), what="first run")

    payout.refresh_from_db()
    assert (payout.state, payout.run_id, payout.provider_reference) == (
        PayoutState.PAID,
        first.pk,
        fake.transfers[0]["id"],
    )
    assert second.resumed_count == 1
    assert not Payout.objects.filter(run=second).exists()
    assert fake.transfer_count() == 1
    assert [e.amount_minor for e in ledger_payouts(ana)] == [-5000]
