"""The payout check against the provider: the local Stripe fake, and the stored bank files."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from payments.audits.checks import Scope
from payments.audits.checks.payouts import payout_provider_check
from payments.payouts.bank import bank_file_create
from payments.payouts.models import BankFile, Payout, PayoutRun
from payments.payouts.providers import stripe_connect
from payments.payouts.runs import payout_run_execute, payout_run_start
from tests.fakes.stripe_server import FakeStripe
from tests.payments.payouts import (
    bank_contractor,
    configure_stripe,
    earn,
    periods,
    stripe_account_id,
    stripe_contractor,
)
from workforce.models import User

pytestmark = pytest.mark.django_db


def now() -> Scope:
    return Scope(periods=[], now=timezone.now())


@pytest.fixture
def fake(settings: Any, stripe_fake: FakeStripe) -> FakeStripe:
    configure_stripe(settings, stripe_fake)
    settings.FAIRTASK_PAYOUT_PROVIDER = "stripe_connect"
    return stripe_fake


def stripe_run(fake: FakeStripe, ops: User) -> tuple[User, Payout]:
    closed, _current = periods()
    ana = stripe_contractor(fake)
    earn(ana, closed, 2500)
    payout_run_execute(run_id=payout_run_start(actor=ops, currency="USD").pk)
    return ana, Payout.objects.get(contractor=ana)


def test_payouts_that_match_their_stripe_transfers_give_no_finding(fake, ops):
    _ana, payout = stripe_run(fake, ops)
    assert payout.state in ("submitted", "paid")
    assert payout_provider_check(now()) == []


def test_a_payout_whose_stripe_amount_differs_is_critical(fake, ops):
    _ana, payout = stripe_run(fake, ops)
    Payout.objects.filter(pk=payout.pk).update(amount_minor=2600)
    [finding] = payout_provider_check(now())
    assert finding.severity == "critical" and finding.fingerprint == f"payout_provider:differs:{payout.pk}"
    assert "amount 2500 minor units, ours 2600" in finding.message


def test_a_stripe_transfer_in_our_namespace_without_a_payout_row_is_critical(fake, ops):
    ana, _payout = stripe_run(fake, ops)
    stray = (
        stripe_connect()
        ._client()
        .v1.transfers.create(
            params={
                "amount": 700,
                "currency": "usd",
                "destination": stripe_account_id(ana),
                "transfer_group": "fairtask-payout-0000deadbeef",
            }
        )
    )
    [finding] = payout_provider_check(now())
    assert finding.fingerprint == f"payout_provider:orphan:{stray.id}"
    assert "7.00 USD" in finding.message and "has no payout with that key" in finding.message


@pytest.fixture
def bank_run(settings: Any, ops: User) -> PayoutRun:
    settings.FAIRTASK_PAYOUT_PROVIDER = "bank_file"
    closed, _ = periods()
    earn(bank_contractor(holder="Ana Example", reference="DE89370400440532013000"), closed, 123450)
    run = payout_run_execute(run_id=payout_run_start(actor=ops, currency="USD").pk)
    bank_file_create(run=run, actor=ops)
    return run


def test_bank_payouts_that_match_their_stored_file_give_no_finding(bank_run):
    assert payout_provider_check(now()) == []


def test_a_bank_payout_that_differs_from_its_file_is_critical(bank_run):
    payout = Payout.objects.get()
    Payout.objects.filter(pk=payout.pk).update(destination="DE00000000000000000000")
    [finding] = payout_provider_check(now())
    assert finding.fingerprint == f"payout_provider:bank_differs:{payout.pk}"
    assert "a different account in the file" in finding.message


def test_an_altered_bank_file_is_critical(bank_run):
    bank_file = BankFile.objects.get()
    BankFile.objects.filter(pk=bank_file.pk).update(content=bank_file.content.replace("1234.50", "1243.50"))
    fingerprints = {f.fingerprint for f in payout_provider_check(now())}
    payout = Payout.objects.get()
    assert fingerprints == {
        f"payout_provider:bank_file_altered:{bank_file.pk}",
        f"payout_provider:bank_differs:{payout.pk}",
    }
