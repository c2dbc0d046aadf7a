"""Shared by the payout tests: Stripe pointed at the fake, periods, earnings and payout accounts."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from payments.models import EntryKind, LedgerEntry, PayPeriod, PeriodStatus
from payments.payouts.accounts import payout_account_bank_set, payout_account_onboarding_start, payout_account_refresh
from payments.payouts.models import PayoutAccount
from tests.fakes.stripe_server import API_KEY, WEBHOOK_SECRET, FakeStripe
from tests.payments.factories import PayPeriodFactory, entry
from tests.workforce.factories import contractor
from workforce.models import User

RETURN_URL = "http://testserver/payments/payouts/setup/return/"
REFRESH_URL = "http://testserver/payments/payouts/setup/refresh/"


def configure_stripe(settings: Any, fake: FakeStripe, *, retries: int = 2) -> None:
    """Point the payout code at the fake (pytest-django's ``settings`` restores everything after the test)."""
    settings.STRIPE_SECRET_KEY = API_KEY
    settings.STRIPE_API_BASE = fake.url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_MAX_NETWORK_RETRIES = retries
    settings.STRIPE_TIMEOUT_SECONDS = 5


def periods() -> tuple[PayPeriod, PayPeriod]:
    """Last week, closed, and this week, open (payout entries go into the open one)."""
    today = timezone.now().date()
    monday = today - datetime.timedelta(days=today.weekday())
    closed = PayPeriodFactory.create(
        start=monday - datetime.timedelta(days=7),
        end=monday,
        status=PeriodStatus.CLOSED,
        closed_at=timezone.now(),
    )
    current = PayPeriodFactory.create(start=monday, end=monday + datetime.timedelta(days=7))
    return closed, current


def earn(user: User, period: PayPeriod, minor: int, currency: str = "USD") -> LedgerEntry:
    return entry(user, period, minor, currency, kind=EntryKind.PIECE)


def stripe_contractor(fake: FakeStripe, *, onboarded: bool = True) -> User:
    """An active contractor with a Stripe Express account at the fake, made through the services."""
    user = contractor("active").user
    payout_account_onboarding_start(contractor=user, return_url=RETURN_URL, refresh_url=REFRESH_URL)
    if onboarded:
        account = PayoutAccount.objects.get(contractor=user)
        fake.complete_onboarding(account.stripe_account_id)
        payout_account_refresh(contractor=user)
    return user


def bank_contractor(reference: str = "DE89370400440532013000", holder: str = "Ana Example") -> User:
    user = contractor("active").user
    payout_account_bank_set(contractor=user, holder=holder, reference=reference, actor=user)
    return user


def stripe_account_id(user: User) -> str:
    return PayoutAccount.objects.get(contractor=user).stripe_account_id


def ledger_payouts(user: User) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(contractor=user, kind=EntryKind.PAYOUT))


def ledger_returns(user: User) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(contractor=user, kind=EntryKind.PAYOUT_RETURN))
