"""Factories for pay periods, ledger entries and FX rates, built through the real services."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import factory

from payments.models import EntryKind, FxRate, LedgerEntry, PayPeriod
from payments.money import Money
from payments.services.ledger import entry_post
from tests.workforce.factories import UserFactory
from workforce.models import User

FIRST_MONDAY = datetime.date(2026, 1, 5)


class PayPeriodFactory(factory.django.DjangoModelFactory[PayPeriod]):
    """Consecutive weeks from Monday 2026-01-05, in UTC."""

    class Meta:
        model = PayPeriod

    start = factory.Sequence(lambda n: FIRST_MONDAY + datetime.timedelta(weeks=n))
    end = factory.LazyAttribute(lambda o: o.start + datetime.timedelta(days=7))
    timezone = "UTC"


class FxRateFactory(factory.django.DjangoModelFactory[FxRate]):
    class Meta:
        model = FxRate

    date = datetime.date(2026, 1, 5)
    base = "EUR"
    quote = "USD"
    rate = Decimal("1.0842")
    source = "test"


def contractor_user(**kwargs: Any) -> User:
    """A contractor account; the ledger needs nothing more of a person."""
    return UserFactory.create(**kwargs)


def entry(
    contractor: User,
    period: PayPeriod,
    minor: int = 1250,
    currency: str = "USD",
    kind: str = EntryKind.PIECE,
    **kwargs: Any,
) -> LedgerEntry:
    """An entry posted by a job through ``entry_post``; pass ``actor=`` to post as a person instead."""
    kwargs.setdefault("memo", "Pay for the test.")
    if "actor" not in kwargs:
        kwargs.setdefault("job", "test")
    return entry_post(contractor=contractor, kind=kind, amount=Money(minor, currency), period=period, **kwargs)
