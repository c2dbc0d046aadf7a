"""Wage floors: the reviewed rows, the row in effect on a date, national versus regional, policy floors."""

from __future__ import annotations

import datetime
import importlib
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from payments.models import PolicyFloor, WageFloor
from payments.money import Money
from payments.selectors import FloorCurrencyMismatch, floor_on, policy_floor_on
from tests.payments.factories import FxRateFactory
from tests.workforce.factories import staff_user
from workforce.models import AuditEvent

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parents[2] / "payments" / "fixtures" / "wage_floors.json"
D = datetime.date


@pytest.fixture(autouse=True)
def reviewed_floors(db: None) -> None:
    """Migration 0003 puts the floors in every database, but a transactional test elsewhere in
    the run empties all tables when it ends; loading the fixture again (by natural key) restores them."""
    call_command("loaddata", "wage_floors", verbosity=0)


def _floor(jurisdiction: str, rate: str, since: datetime.date, currency: str = "USD") -> WageFloor:
    return WageFloor.objects.create(
        jurisdiction=jurisdiction,
        currency=currency,
        hourly_rate=Decimal(rate),
        effective_from=since,
        source_url="https://example.org/law",
        checked_on=D(2026, 11, 23),
    )


# The reviewed data ------------------------------------------------------------------------------


def test_the_data_migration_and_the_fixture_hold_the_same_floors():
    migration = importlib.import_module("payments.migrations.0003_wage_floors")
    from_migration = {(j, c, Decimal(rate), since, url, note) for j, c, rate, since, url, note in migration.ROWS}
    from_fixture = {
        (
            f["jurisdiction"],
            f["currency"],
            Decimal(f["hourly_rate"]),
            f["effective_from"],
            f["source_url"],
            f["note"],
        )
        for f in (row["fields"] for row in json.loads(FIXTURE.read_text()))
    }
    assert from_migration == from_fixture
    assert {(r[0], r[3]) for r in from_migration} >= {
        ("US", "2009-07-24"),
        ("US-CA", "2025-01-01"),
        ("US-CA", "2026-01-01"),
        ("GB", "2025-04-01"),
        ("GB", "2026-04-01"),
        ("DE", "2025-01-01"),
        ("DE", "2026-01-01"),
    }


def test_every_reviewed_floor_passes_validation_and_loading_it_again_duplicates_nothing():
    count = WageFloor.objects.count()
    call_command("loaddata", "wage_floors", verbosity=0)
    assert WageFloor.objects.count() == count == len(json.loads(FIXTURE.read_text()))
    for floor in WageFloor.objects.all():
        floor.full_clean()  # jurisdiction, currency and source URL are all valid
        assert floor.source_url.startswith("https://") and floor.checked_on == D(2026, 11, 23)


def test_a_floor_with_an_unknown_jurisdiction_or_currency_is_refused_naming_the_field():
    floor = WageFloor(
        jurisdiction="US-ZZ",
        currency="DOLLARS",
        hourly_rate=Decimal("8"),
        effective_from=D(2026, 1, 1),
        source_url="https://example.org/law",
        checked_on=D(2026, 11, 23),
    )
    with pytest.raises(ValidationError) as exc:
        floor.full_clean()
    assert "not an ISO 3166-2 subdivision of US" in exc.value.message_dict["jurisdiction"][0]
    assert "not a currency code" in exc.value.message_dict["currency"][0]


# The floor in effect -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("jurisdiction", "day", "rate", "currency", "row_jurisdiction", "since"),
    [
        ("US-CA", D(2025, 12, 31), "16.5000", "USD", "US-CA", D(2025, 1, 1)),
        ("US-CA", D(2026, 1, 1), "16.9000", "USD", "US-CA", D(2026, 1, 1)),
        ("GB", D(2026, 3, 31), "12.2100", "GBP", "GB", D(2025, 4, 1)),
        ("GB", D(2026, 4, 1), "12.7100", "GBP", "GB", D(2026, 4, 1)),
        ("GB-ENG", D(2026, 4, 1), "12.7100", "GBP", "GB", D(2026, 4, 1)),  # no regional row: the country's
        ("DE", D(2025, 12, 31), "12.8200", "EUR", "DE", D(2025, 1, 1)),
        ("DE-BE", D(2026, 1, 1), "13.9000", "EUR", "DE", D(2026, 1, 1)),
        ("US-TX", D(2026, 6, 1), "7.2500", "USD", "US", D(2009, 7, 24)),
        ("us-ca", D(2026, 6, 1), "16.9000", "USD", "US-CA", D(2026, 1, 1)),
    ],
)
def test_the_floor_on_a_date_comes_from_the_row_in_effect_that_day(
    jurisdiction, day, rate, currency, row_jurisdiction, since
):
    quote = floor_on(jurisdiction=jurisdiction, day=day)
    assert quote is not None
    assert (quote.hourly_rate, quote.currency) == (Decimal(rate), currency)
    assert (quote.row_jurisdiction, quote.effective_from, quote.kind) == (row_jurisdiction, since, "statutory")
    row = WageFloor.objects.get(pk=quote.row_id)
    assert (row.jurisdiction, row.effective_from, row.source_url) == (row_jurisdiction, since, quote.source_url)


def test_a_regional_floor_counts_only_when_it_is_above_the_national_one():
    assert floor_on(jurisdiction="US-CA", day=D(2026, 6, 30)).row_jurisdiction == "US-CA"  # type: ignore[union-attr]
    national = _floor("US", "17.5000", D(2026, 7, 1))  # a hypothetical federal raise above California's
    quote = floor_on(jurisdiction="US-CA", day=D(2026, 7, 1))
    assert quote is not None
    assert (quote.row_id, quote.row_jurisdiction, quote.hourly_rate) == (national.pk, "US", Decimal("17.5"))
    assert quote.jurisdiction == "US-CA" and quote.hourly() == Money(1750, "USD")


def test_on_a_tie_the_regional_row_is_cited():
    _floor("US", "16.9000", D(2026, 7, 1))
    quote = floor_on(jurisdiction="US-CA", day=D(2026, 7, 1))
    assert quote is not None and quote.row_jurisdiction == "US-CA"


def test_there_is_no_floor_before_the_first_row_or_for_an_unlisted_country():
    assert floor_on(jurisdiction="US", day=D(2009, 7, 23)) is None
    assert floor_on(jurisdiction="JP", day=D(2026, 1, 1)) is None
    assert floor_on(jurisdiction="", day=D(2026, 1, 1)) is None


def test_floors_in_different_currencies_are_compared_at_the_days_fx_rate():
    _floor("ES", "10.0000", D(2026, 1, 1), currency="EUR")
    regional = _floor("ES-CN", "11.0000", D(2026, 1, 1), currency="USD")
    with pytest.raises(FloorCurrencyMismatch, match=r"ES \(EUR\) and ES-CN \(USD\) differ in currency"):
        floor_on(jurisdiction="ES-CN", day=D(2026, 3, 2))
    FxRateFactory.create(date=D(2026, 3, 2), base="EUR", quote="USD", rate=Decimal("1.0500"))
    quote = floor_on(jurisdiction="ES-CN", day=D(2026, 3, 2))  # 10 EUR = 10.50 USD < 11 USD
    assert quote is not None and quote.row_id == regional.pk and quote.fx is not None
    assert quote.fx.rate == Decimal("1.05")
    FxRateFactory.create(date=D(2026, 3, 3), base="EUR", quote="USD", rate=Decimal("1.1500"))
    quote = floor_on(jurisdiction="ES-CN", day=D(2026, 3, 3))  # 10 EUR = 11.50 USD > 11 USD
    assert quote is not None and (quote.row_jurisdiction, quote.currency) == ("ES", "EUR")


# Policy floors ------------------------------------------------------------------------------


def _policy(jurisdiction: str, rate: str, since: datetime.date, ops) -> PolicyFloor:
    return PolicyFloor.objects.create(
        jurisdiction=jurisdiction,
        currency="USD",
        hourly_rate=Decimal(rate),
        effective_from=since,
        note="Living wage study 2026.",
        created_by=ops,
    )


def test_a_jurisdictions_own_policy_floor_beats_the_everywhere_floor(ops):
    everywhere = _policy("", "15.0000", D(2026, 6, 1), ops)
    california = _policy("US-CA", "22.0000", D(2026, 1, 1), ops)
    assert policy_floor_on(jurisdiction="US-CA", day=D(2026, 6, 1)).row_id == california.pk  # type: ignore[union-attr]
    assert policy_floor_on(jurisdiction="DE", day=D(2026, 6, 1)).row_id == everywhere.pk  # type: ignore[union-attr]
    assert policy_floor_on(jurisdiction="DE", day=D(2026, 5, 31)) is None
    quote = policy_floor_on(jurisdiction="US-CA", day=D(2025, 12, 31))
    assert quote is None  # neither row is in effect yet


def test_a_country_policy_floor_applies_to_its_regions_before_the_everywhere_floor(ops):
    _policy("", "15.0000", D(2026, 1, 1), ops)
    us = _policy("US", "18.0000", D(2026, 1, 1), ops)
    quote = policy_floor_on(jurisdiction="US-TX", day=D(2026, 2, 1))
    assert quote is not None
    assert (quote.row_id, quote.kind, quote.hourly_rate, quote.note) == (
        us.pk,
        "policy",
        Decimal("18"),
        "Living wage study 2026.",
    )


def test_a_policy_floor_added_in_the_admin_records_who_added_it_and_is_audited(login):
    manager = staff_user(is_staff=True)
    form = {
        "jurisdiction": "us-ca",
        "currency": "usd",
        "hourly_rate": "22.50",
        "effective_from": "2026-07-01",
        "note": "Living wage for a single adult in California, 2026 study.",
    }
    assert login(manager).post(reverse("admin:payments_policyfloor_add"), form).status_code == 302
    floor = PolicyFloor.objects.get()
    assert (floor.jurisdiction, floor.currency, floor.created_by) == ("US-CA", "USD", manager)
    assert AuditEvent.objects.get(action="admin.add").object_id == str(floor.pk)
    assert policy_floor_on(jurisdiction="US-CA", day=D(2026, 7, 1)).hourly_rate == Decimal("22.5")  # type: ignore[union-attr]
