"""Payout runs against the fake Stripe: each eligible contractor paid exactly once, whatever Stripe does.

The run is driven through ``payout_run_execute`` (what the job calls); calling it again is what
a Celery retry or a redelivered message does. The fake keeps idempotency keys like Stripe, so
"one transfer" below is counted where the money moves.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from payments.models import EntryKind, LedgerEntry, PayPeriod
from payments.money import Money
from payments.payouts.jobs import payout_run_job, payouts_resume_job
from payments.payouts.models import Payout, PayoutRun, PayoutSkip, PayoutState, RunStatus
from payments.payouts.providers import ProviderUnavailable, stripe_connect
from payments.payouts.runs import payout_run_execute, payout_run_start
from payments.payouts.selectors import payable_balance
from payments.payouts.services import payout_create, payouts_resume
from payments.selectors import balance
from tests.fakes.stripe_server import FakeStripe
from tests.payments.payouts import (
    configure_stripe,
    earn,
    ledger_payouts,
    ledger_returns,
    periods,
    stripe_account_id,
    stripe_contractor,
)
from tests.workforce.factories import contractor
from workforce.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings: Any, stripe_fake: FakeStripe) -> FakeStripe:
    configure_stripe(settings, stripe_fake)
    settings.FAIRTASK_PAYOUT_MINIMUM_MINOR = 1000
    return stripe_fake


@pytest.fixture
def closed(fake: FakeStripe) -> Any:
    return periods()[0]


def _run(ops: User, currency: str = "USD") -> PayoutRun:
    return payout_run_start(actor=ops, currency=currency)


def _transfer_posts(fake: FakeStripe) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and r.path == "/v1/transfers"]


def test_a_run_pays_each_eligible_contractor_once_and_writes_the_payout_before_the_transfer(fake, closed, ops):
    ana, ben = stripe_contractor(fake), stripe_contractor(fake)
    earn(ana, closed, 5000)
    earn(ben, closed, 2500)

    run = payout_run_execute(run_id=_run(ops).pk)

    assert run.status == RunStatus.DONE
    transfers = {t["destination"]: t for t in fake.transfers}
    assert {d: t["amount"] for d, t in transfers.items()} == {
        stripe_account_id(ana): 5000,
        stripe_account_id(ben): 2500,
    }
    for user, minor in ((ana, 5000), (ben, 2500)):
        payout = Payout.objects.get(contractor=user)
        assert (payout.state, payout.amount, payout.run_id) == (PayoutState.PAID, Money(minor, "USD"), run.pk)
        transfer = transfers[stripe_account_id(user)]
        assert payout.provider_reference == transfer["id"]
        assert transfer["transfer_group"] == payout.key
        [entry] = ledger_payouts(user)
        assert (entry.amount_minor, entry.key, entry.created_by_job) == (-minor, f"payout:{payout.pk}", "payouts")
        assert payout.entry_id == entry.pk
        # The row (and its ledger entry) existed before Stripe was called: its id is in the transfer.
        assert transfer["metadata"]["fairtask_payout"] == str(payout.pk)
        assert balance(contractor=user) == {"USD": Money(0, "USD")}
    assert [r.idempotency_key for r in _transfer_posts(fake)] == list(
        Payout.objects.order_by("id").values_list("key", flat=True)
    )

    second = payout_run_execute(run_id=_run(ops).pk)
    assert second.status == RunStatus.DONE
    assert fake.transfer_count() == 2
    assert Payout.objects.count() == 2


def test_running_the_same_run_again_pays_nobody_twice(fake, closed, ops):
    ana = stripe_contractor(fake)
    earn(ana, closed, 5000)
    run = _run(ops)
    payout_run_execute(run_id=run.pk)
    PayoutRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, finished_at=None)  # as if redelivered
    payout_run_execute(run_id=run.pk)
    assert fake.transfer_count() == 1
    assert len(ledger_payouts(ana)) == 1


def test_a_balance_below_the_minimum_waits_for_a_later_run(fake, closed, ops):
    ana = stripe_contractor(fake)
    earn(ana, closed, 999)

    run = payout_run_execute(run_id=_run(ops).pk)

    assert (run.status, run.below_minimum_count, run.planned_count) == (RunStatus.DONE, 1, 0)
    assert fake.transfer_count() == 0
    assert not Payout.objects.exists()
    assert not PayoutSkip.objects.exists()


def test_earnings_of_a_period_that_is_not_closed_wait_for_its_close(fake, ops):
    closed, current = periods()
    ana = stripe_contractor(fake)
    earn(ana, closed, 3000)
    earn(ana, current, 4000)

    payout_run_execute(run_id=_run(ops).pk)

    assert [t["amount"] for t in fake.transfers] == [3000]
    assert balance(contractor=ana) == {"USD": Money(4000, "USD")}
    assert payable_balance(contractor=ana, currency="USD").waiting == Money(4000, "USD")


def test_a_reversal_in_the_open_period_is_taken_off_before_paying(fake, ops):
    closed, current = periods()
    ana = stripe_contractor(fake)
    earned = earn(ana, closed, 3000)
    LedgerEntry.objects.create(
        contractor=ana,
        kind=EntryKind.PENALTY,
        amount_minor=-1000,
        currency="USD",
        period=current,
        memo="Penalty for the test.",
        created_by_job="test",
    )
    payout_run_execute(run_id=_run(ops).pk)
    assert [t["amount"] for t in fake.transfers] == [2000]
    assert earned.pk  # the earlier pay itself is untouched


def test_a_contractor_without_a_payout_account_is_skipped_with_a_reason_they_and_operations_see(
    fake, closed, ops, login
):
    ana = contractor("active").user
    earn(ana, closed, 5000)
    half = stripe_contractor(fake, onboarded=False)
    earn(half, closed, 5000)

    run = payout_run_execute(run_id=_run(ops).pk)

    assert fake.transfer_count() == 0
    skips = {s.contractor_id: s for s in PayoutSkip.objects.filter(run=run)}
    assert skips[ana.pk].reason_code == "no_account"
    assert skips[ana.pk].amount == Money(5000, "USD")
    assert skips[half.pk].reason_code == "account_unusable"
    assert "onboarding is not finished" in skips[half.pk].reason
    assert balance(contractor=ana) == {"USD": Money(5000, "USD")}
    page = login(ops).get(reverse("payments:payout-run-detail", args=[run.pk])).content.decode()
    assert ana.email in page and "No payout account is set up yet." in page
    mine = login(ana).get(reverse("payments:payout-list")).content.decode()
    assert 'id="skip-notice"' in mine and "No payout account is set up yet." in mine


def test_an_http_500_retried_by_the_sdk_makes_one_transfer_and_one_ledger_payout(fake, closed, ops):
    ana = stripe_contractor(fake)
    earn(ana, closed, 5000)
    fake.fault_next("POST", "/v1/transfers", "http_500")

    payout_run_execute(run_id=_run(ops).pk)

    posts = _transfer_posts(fake)
    assert len(posts) == 2 and posts[0].idempotency_key == posts[1].idempotency_key
    assert fake.transfer_count() == 1
    assert len(ledger_payouts(ana)) == 1
    assert Payout.objects.get().state == PayoutState.PAID


def test_an_http_500_without_sdk_retries_leaves_the_payout_pending_and_the_job_retry_pays_it_once(
    fake, closed, ops, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    ana = stripe_contractor(fake)
    earn(ana, closed, 5000)
    fake.fault_next("POST", "/v1/transfers", "http_500")
    run = _run(ops)

    with pytest.raises(ProviderUnavailable):
        payout_run_execute(run_id=run.pk)
    payout = Payout.objects.get()
    assert (payout.state, payout.attempts) == (PayoutState.PENDING, 1)
    assert "Stripe failed to answer" in payout.last_error
    assert len(ledger_payouts(ana)) == 1  # written before the call, and only once
    assert balance(contractor=ana) == {"USD": Money(0, "USD")}

    payout_run_execute(run_id=run.pk)  # what the job's retry does

    payout.refresh_from_db()
    assert (payout.state, payout.attempts, payout.last_error) == (PayoutState.PAID, 2, "")
    assert fake.transfer_count() == 1
    assert len(ledger_payouts(ana)) == 1
    assert {r.idempotency_key for r in _transfer_posts(fake)} == {payout.key}


def test_a_response_lost_after_the_transfer_is_found_by_the_retry_and_not_made_again(fake, closed, ops, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    ana = stripe_contractor(fake)
    earn(ana, closed, 5000)
    fake.fault_next("POST", "/v1/transfers", "drop_after_commit")
    run = _run(ops)

    with pytest.raises(ProviderUnavailable):
        payout_run_execute(run_id=run.pk)
    payout = Payout.objects.get()
    assert payout.state == PayoutState.PENDING
    [transfer] = fake.transfers  # Stripe made it; we never heard

    payout_run_execute(run_id=run.pk)

    payout.refresh_from_db()
    assert (payout.state, payout.provider_reference) == (PayoutState.PAID, transfer["id"])
    assert fake.transfer_count() == 1
    assert len(_transfer_posts(fake)) == 1  # found by its transfer group, not sent again
    lookups = [r for r in fake.requests if r.method == "GET" and r.path == "/v1/transfers"]
    assert [r.params["transfer_group"] for r in lookups] == [payout.key]
    assert len(ledger_payouts(ana)) == 1


def test_a_lost_response_is_also_answered_by_the_idempotency_key_when_the_sdk_retries(fake, closed, ops):
    ana = stripe_contractor(fake)
    earn(ana, closed, 5000)
    fake.fault_next("POST", "/v1/transfers", "drop_after_commit")

    payout_run_execute(run_id=_run(ops).pk)

    assert fake.transfer_count() == 1
    assert Payout.objects.get().provider_reference == fake.transfers[0]["id"]
    assert len(ledger_payouts(ana)) == 1


def test_a_timeout_leaves_the_payout_pending_until_a_resume_pays_it_once(fake, closed, ops, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_TIMEOUT_SECONDS = 1
    ana = stripe_contractor(fake)
    earn(ana, closed, 5000)
    fake.fault_next("POST", "/v1/transfers", "timeout", delay_seconds=3)

    with pytest.raises(ProviderUnavailable, match="could not be reached"):
        payout_run_execute(run_id=_run(ops).pk)
    payout = Payout.objects.get()
    assert payout.state == PayoutState.PENDING
    assert fake.transfer_count() == 0

    assert payouts_resume() == [payout]

    payout.refresh_from_db()
    assert payout.state == PayoutState.PAID
    assert fake.transfer_count() == 1
    assert [r.idempotency_key for r in _transfer_posts(fake)] == [payout.key, payout.key]
    assert len(ledger_payouts(ana)) == 1


def test_a_new_run_resumes_a_payout_an_earlier_run_left_pending(fake, closed, ops, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    ana = stripe_contractor(fake)
    earn(ana, closed, 5000)
    fake.fault_next("POST", "/v1/transfers", "drop_after_commit")
    first = _run(ops)
    with pytest.raises(ProviderUnavailable):
        payout_run_execute(run_id=first.pk)

    second = payout_run_execute(run_id=_run(ops).pk)

    assert second.resumed_count == 1
    payout = Payout.objects.get()
    assert (payout.run_id, payout.state) == (first.pk, PayoutState.PAID)
    assert fake.transfer_count() == 1
    assert len(ledger_payouts(ana)) == 1
    assert not Payout.objects.filter(run=second).exists()


def test_a_refusal_for_lack_of_funds_fails_the_payout_returns_it_and_tells_the_contractor(
    fake, closed, ops, login, django_capture_on_commit_callbacks
):
    ana = stripe_contractor(fake)
    earn(ana, closed, 5000)
    fake.set_balance("usd", 100)

    with django_capture_on_commit_callbacks(execute=True):
        payout_run_execute(run_id=_run(ops).pk)

    payout = Payout.objects.get()
    assert (payout.state, payout.failure_code) == (PayoutState.FAILED, "balance_insufficient")
    assert "insufficient available funds" in payout.failure_reason
    assert fake.transfer_count() == 0
    [returned] = ledger_returns(ana)
    assert (returned.amount_minor, returned.key) == (5000, f"payout-return:{payout.pk}")
    assert payout.return_entry_id == returned.pk
    assert balance(contractor=ana) == {"USD": Money(5000, "USD")}
    [message] = mail.outbox
    assert message.to == [ana.email]
    assert "could not be made" in message.subject and "insufficient available funds" in message.body
    page = login(ana).get(reverse("payments:payout-list")).content.decode()
    assert "Failed; returned to the balance" in page and "insufficient available funds" in page


def test_a_failed_payout_is_paid_by_the_next_run_once_stripe_has_funds(fake, closed, ops):
    ana = stripe_contractor(fake)
    earn(ana, closed, 5000)
    fake.set_balance("usd", 0)
    payout_run_execute(run_id=_run(ops).pk)
    fake.set_balance("usd", 10_000)

    payout_run_execute(run_id=_run(ops).pk)

    assert [p.state for p in Payout.objects.order_by("id")] == [PayoutState.FAILED, PayoutState.PAID]
    assert fake.transfer_count() == 1
    assert balance(contractor=ana) == {"USD": Money(0, "USD")}


def test_a_payout_above_the_balance_is_refused_and_nothing_is_written(fake, closed):
    ana = stripe_contractor(fake)
    earn(ana, closed, 5000)

    with pytest.raises(ValidationError) as refused:
        payout_create(contractor=ana, currency="USD", amount=Money(5001, "USD"), job="test")

    assert "more than" in refused.value.message_dict["amount"][0]
    assert "50.00 USD" in refused.value.message_dict["amount"][0]
    assert not Payout.objects.exists()
    assert ledger_payouts(ana) == []
    assert fake.transfer_count() == 0


def test_a_second_payout_while_one_is_pending_is_refused(fake, closed):
    ana = stripe_contractor(fake)
    earn(ana, closed, 5000)
    first = payout_create(contractor=ana, currency="USD", amount=Money(1000, "USD"), job="test")

    with pytest.raises(ValidationError) as refused:
        payout_create(contractor=ana, currency="USD", amount=Money(1000, "USD"), job="test")

    assert f"#{first.pk}" in refused.value.message_dict["currency"][0]
    assert Payout.objects.count() == 1


def test_a_key_stripe_refuses_stops_the_run_with_its_reason_and_leaves_the_payout_pending(fake, closed, ops, settings):
    ana = stripe_contractor(fake)
    earn(ana, closed, 5000)
    settings.STRIPE_SECRET_KEY = "sk_live_not_allowed"
    run = _run(ops)

    result = payout_run_job.apply(args=(run.pk,))

    assert result.failed()
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "STRIPE_SECRET_KEY" in run.error
    payout = Payout.objects.get()
    assert payout.state == PayoutState.PENDING and "API key" in payout.last_error
    assert fake.transfer_count() == 0


def test_a_run_with_no_open_pay_period_is_refused_on_the_form_and_stops_with_the_reason_in_the_job(fake, ops, login):
    ana = stripe_contractor(fake)
    closed, current = periods()
    earn(ana, closed, 5000)
    PayPeriod.objects.filter(pk=current.pk).update(status="closed", closed_at=timezone.now())

    response = login(ops).post(reverse("payments:payout-run-list"), {"currency": "USD"})

    assert response.status_code == 400
    assert "no open pay period" in response.content.decode()
    assert not PayoutRun.objects.exists()
    run = _run(ops)  # started some other way, e.g. before the period was closed
    assert payout_run_job.apply(args=(run.pk,)).failed()
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.error.startswith("There is no open pay period")
    assert not Payout.objects.exists() and fake.transfer_count() == 0


def test_the_resume_job_pays_payouts_left_pending_for_more_than_five_minutes_and_leaves_newer_ones(
    fake, closed, ops, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    ana, ben = stripe_contractor(fake), stripe_contractor(fake)
    earn(ana, closed, 5000)
    earn(ben, closed, 3000)
    fake.fault_next("POST", "/v1/transfers", "http_500", times=2)
    run = _run(ops)
    with pytest.raises(ProviderUnavailable):
        payout_run_execute(run_id=run.pk)  # Ana's payout is written, and Stripe fails
    old = Payout.objects.get(contractor=ana)
    Payout.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=6))
    with pytest.raises(ProviderUnavailable):
        payout_run_execute(run_id=run.pk)  # the retry resumes Ana's (500 again) before Ben is reached

    assert payouts_resume_job.apply().get() == 1

    assert Payout.objects.get(pk=old.pk).state == PayoutState.PAID
    assert not Payout.objects.filter(contractor=ben).exists()
    assert fake.transfer_count() == 1


def test_the_providers_records_agree_with_the_payouts(fake, closed, ops):
    ana, ben = stripe_contractor(fake), stripe_contractor(fake)
    earn(ana, closed, 5000)
    earn(ben, closed, 2500)
    started = timezone.now() - datetime.timedelta(seconds=1)
    payout_run_execute(run_id=_run(ops).pk)

    records = list(stripe_connect().records(since=started))

    assert {(r.key, r.reference, r.amount_minor, r.currency, r.destination) for r in records} == {
        (p.key, p.provider_reference, p.amount_minor, p.currency, p.destination) for p in Payout.objects.all()
    }
    for payout in Payout.objects.all():
        found = stripe_connect().lookup(payout)
        assert found is not None and found.reference == payout.provider_reference
    assert list(stripe_connect().records(since=timezone.now() + datetime.timedelta(minutes=1))) == []
