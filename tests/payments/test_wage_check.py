"""The close records every priced contractor's floor comparison (``WageCheck``), equal to the ledger."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from payments.models import EntryKind, LedgerEntry, PayPeriod, WageCheck, WageCheckStatus
from payments.services.close import period_close
from tests.payments.work import at, floors_loaded, person, piece_project, task_time, week
from tests.tasks.factories import project

pytestmark = pytest.mark.django_db

TUESDAY = datetime.date(2026, 11, 10)
FLOOR_KINDS = (EntryKind.PIECE, EntryKind.HOURLY, EntryKind.QUALIFICATION, EntryKind.INSTRUCTION, EntryKind.BONUS)


@pytest.fixture(autouse=True)
def reviewed_floors(db: None) -> None:
    floors_loaded()


def _sum(worker_id: int, period: PayPeriod, *kinds: str) -> int:
    return sum(
        LedgerEntry.objects.filter(contractor_id=worker_id, period=period, kind__in=kinds).values_list(
            "amount_minor", flat=True
        )
    )


def test_a_below_floor_and_an_above_floor_contractor_both_get_a_check_equal_to_the_ledger():
    low, high = person(), person()
    cheap, good = piece_project(piece_rate_minor=5), project(piece_rate_minor=40, hourly_rate_minor=3000)
    task_time(low, cheap, started=at(TUESDAY, 9), seconds=7200)
    task_time(high, good, started=at(TUESDAY, 9), seconds=3600)
    period = week()
    period_close(period=period, job="test")

    below = WageCheck.objects.get(period=period, contractor=low)
    assert below.status == WageCheckStatus.COMPLETE and below.jurisdiction == "US-CA"
    assert below.paid_seconds == below.task_seconds == 7200 and below.tasks_paid == 1
    assert below.earnings_minor == _sum(low.pk, period, *FLOOR_KINDS) == 5
    assert below.topup_minor == _sum(low.pk, period, EntryKind.TOPUP) > 0
    assert below.earnings_minor + below.topup_minor == below.required_minor
    assert below.is_compliant and below.effective_hourly_before_minor == Decimal("2.5000")
    assert below.statutory is not None and below.statutory["currency"] == "USD" and below.statutory["rows"]
    assert below.fx == {"rate": "1", "date": "", "rates": []}

    above = WageCheck.objects.get(period=period, contractor=high)
    assert above.topup_minor == 0 and not LedgerEntry.objects.filter(contractor=high, kind=EntryKind.TOPUP).exists()
    assert above.earnings_minor == _sum(high.pk, period, *FLOOR_KINDS) == 40 + 3000
    assert above.required_minor is not None and above.required_minor < above.earnings_minor
    assert above.is_compliant and above.effective_hourly_after_minor == Decimal("3040.0000")
    assert above.floor_hourly_minor == below.floor_hourly_minor


def test_a_contractor_without_a_jurisdiction_gets_a_pending_check_that_says_why():
    nowhere = person(country="", region="", zone="UTC")
    task_time(nowhere, piece_project(), started=at(TUESDAY, 9), seconds=3600)
    period = week()
    period_close(period=period, job="test")
    check = WageCheck.objects.get(period=period, contractor=nowhere)
    assert check.status == WageCheckStatus.PENDING and "jurisdiction" in check.problem
    assert check.topup_minor == 0 and check.required_minor is None and not check.is_compliant


def test_closing_twice_leaves_the_same_checks():
    worker = person()
    task_time(worker, piece_project(), started=at(TUESDAY, 9), seconds=5400)
    period = week()
    period_close(period=period, job="test")
    first = list(WageCheck.objects.filter(period=period).values())
    period_close(period=period, job="test")
    again = list(WageCheck.objects.filter(period=period).values())
    assert len(first) == 1 and first == again
