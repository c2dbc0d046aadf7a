"""Pay rates and quality tiers: one pay currency, rates set through a service, tiers that never punish noise."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.urls import reverse

from payments.models import QualityTier, TierKind
from payments.services.rates import (
    project_pay_set,
    qualification_rate,
    qualification_rates,
    tier_amount_minor,
    tier_for,
    time_minor,
)
from tasks.models import Project
from tests.payments.work import person, skill, tier
from tests.tasks.factories import project
from tests.workforce.factories import staff_user
from workforce.models import AuditEvent

pytestmark = pytest.mark.django_db


# Setting pay -------------------------------------------------------------------------------------


def _pay(p: Project) -> tuple[str, int, int]:
    p.refresh_from_db()
    return p.currency, p.piece_rate_minor, p.hourly_rate_minor


def test_an_operations_manager_sets_a_projects_pay_in_the_pay_currency_and_it_is_audited(ops):
    p = project(piece_rate_minor=5, hourly_rate_minor=1500)
    project_pay_set(project=p, actor=ops, currency="usd", piece_rate_minor=7, hourly_rate_minor=1650)
    assert _pay(p) == ("USD", 7, 1650)
    event = AuditEvent.objects.get(action="project.pay_set")
    assert event.summary["before"]["hourly_rate_minor"] == 1500 and event.summary["after"]["hourly_rate_minor"] == 1650


def test_a_rate_in_another_currency_is_refused_naming_the_field_and_nothing_changes(ops):
    p = project(piece_rate_minor=5, hourly_rate_minor=1500)
    with pytest.raises(ValidationError) as exc:
        project_pay_set(project=p, actor=ops, currency="EUR", piece_rate_minor=7, hourly_rate_minor=1650)
    assert exc.value.message_dict == {
        "currency": ["Pay is in USD for the whole organisation, so a project cannot pay in EUR; give its rates in USD."]
    }
    assert _pay(p) == ("USD", 5, 1500)
    assert not AuditEvent.objects.filter(action="project.pay_set").exists()


@override_settings(FAIRTASK_PAY_CURRENCY="EUR")
def test_the_pay_currency_is_a_setting(ops):
    p = project()
    project_pay_set(project=p, actor=ops, currency="EUR", piece_rate_minor=4, hourly_rate_minor=1400)
    assert _pay(p) == ("EUR", 4, 1400)


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"currency": "DOLLARS"}, {"currency"}),
        ({"piece_rate_minor": -1}, {"piece_rate_minor"}),
        ({"hourly_rate_minor": Decimal("15.5")}, {"hourly_rate_minor"}),
        ({"currency": "XAU", "hourly_rate_minor": -3}, {"currency", "hourly_rate_minor"}),
    ],
)
def test_bad_pay_input_names_every_field_that_is_wrong_and_changes_nothing(ops, fields, errors):
    p = project(piece_rate_minor=5, hourly_rate_minor=1500)
    values = {"currency": "USD", "piece_rate_minor": 5, "hourly_rate_minor": 1500, **fields}
    with pytest.raises(ValidationError) as exc:
        project_pay_set(project=p, actor=ops, **values)
    assert set(exc.value.message_dict) == errors
    assert _pay(p) == ("USD", 5, 1500)


def test_only_an_operations_manager_sets_pay(auditor):
    with pytest.raises(PermissionDenied):
        project_pay_set(project=project(), actor=auditor, currency="USD", piece_rate_minor=1, hourly_rate_minor=1)


def test_the_pay_page_saves_rates_given_in_major_units(ops, login):
    p = project(piece_rate_minor=5, hourly_rate_minor=1500)
    url = reverse("payments:project-pay", kwargs={"pk": p.pk})
    response = login(ops).post(url, {"currency": "USD", "piece_rate": "0.06", "hourly_rate": "16.25"})
    assert response.status_code == 302
    assert _pay(p) == ("USD", 6, 1625)


def test_the_pay_page_shows_the_currency_error_next_to_the_currency_field(ops, login):
    p = project(piece_rate_minor=5, hourly_rate_minor=1500)
    url = reverse("payments:project-pay", kwargs={"pk": p.pk})
    response = login(ops).post(url, {"currency": "GBP", "piece_rate": "0.06", "hourly_rate": "16.25"})
    assert response.status_code == 400
    assert response.context["form"].errors["currency"][0].startswith("Pay is in USD for the whole organisation")
    assert _pay(p) == ("USD", 5, 1500)


def test_the_pay_page_refuses_fractions_of_a_cent(ops, login):
    p = project()
    url = reverse("payments:project-pay", kwargs={"pk": p.pk})
    response = login(ops).post(url, {"currency": "USD", "piece_rate": "0.055", "hourly_rate": "16"})
    assert response.status_code == 400
    assert "at most that many" in response.context["form"].errors["piece_rate"][0]


def test_auditors_read_the_pay_page_and_cannot_change_it(auditor, login):
    p = project(piece_rate_minor=5, hourly_rate_minor=1500)
    client = login(auditor)
    url = reverse("payments:project-pay", kwargs={"pk": p.pk})
    assert client.get(url).status_code == 200
    assert client.post(url, {"currency": "USD", "piece_rate": "1", "hourly_rate": "1"}).status_code == 403
    assert _pay(p) == ("USD", 5, 1500)


def test_contractors_cannot_see_the_pay_page(login):
    assert login(person()).get(reverse("payments:project-pay", kwargs={"pk": project().pk})).status_code == 403


# Amounts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "seconds", "currency", "expected"),
    [
        (1500, 3600, "USD", 1500),
        (1500, 1, "USD", 1),  # 0.4166… cent rounds up to a whole cent
        (1999, 25201, "USD", 13994),
        (Decimal("1607.815"), 5400, "USD", 2412),  # a converted floor: 16.07815 USD an hour for 1.5 h
        (Decimal("1200"), 1800, "JPY", 600),  # a zero-decimal currency: minor units are yen
        (0, 3600, "USD", 0),
    ],
)
def test_time_is_paid_to_the_next_whole_minor_unit(rate, seconds, currency, expected):
    assert time_minor(rate, seconds, currency) == expected


# Qualification time ---------------------------------------------------------------------------------


def test_qualification_rates_take_the_best_open_hourly_project_of_each_skill():
    labels, boxes = skill(), skill("bounding-boxes")
    project(required_skill=labels, hourly_rate_minor=1700)
    best = project(required_skill=labels, hourly_rate_minor=2100)
    project(required_skill=labels, hourly_rate_minor=5000, status="draft")
    project(required_skill=labels, hourly_rate_minor=6000, currency="EUR")
    project(required_skill=boxes, hourly_rate_minor=0)
    rates = qualification_rates(Project.objects.all())
    assert (rates[labels.pk].rate_minor, rates[labels.pk].project_id) == (2100, best.pk)
    assert qualification_rate(boxes.pk, rates).is_floor


# Quality tiers ----------------------------------------------------------------------------------------


@pytest.fixture
def tiers(db: None) -> list[QualityTier]:
    p = project()
    return [
        tier(p, TierKind.BONUS, "0.8", "1.10"),
        tier(p, TierKind.BONUS, "0.9", "1.20"),
        tier(p, TierKind.PENALTY, "0.5", "0.90"),
        tier(p, TierKind.PENALTY, "0.3", "0.70"),
    ]


@pytest.mark.parametrize(
    ("lower", "upper", "multiplier"),
    [
        ("0.95", "0.99", "1.2000"),  # both bonuses apply: the higher threshold wins
        ("0.85", "0.99", "1.1000"),
        ("0.80", "0.99", None),  # "above", not "at"
        ("0.40", "0.95", None),  # a wide interval: no evidence either way
        ("0.00", "1.00", None),  # no gold answers at all
        ("0.30", "0.45", "0.9000"),
        ("0.10", "0.25", "0.7000"),  # both penalties apply: the harsher, lower threshold wins
        ("0.10", "0.50", None),  # "below", not "at"
    ],
)
def test_a_bonus_uses_the_lower_bound_and_a_penalty_the_upper_bound(tiers, lower, upper, multiplier):
    chosen = tier_for(tiers, lower=Decimal(lower), upper=Decimal(upper))
    assert (chosen.multiplier if chosen else None) == (Decimal(multiplier) if multiplier else None)


@pytest.mark.parametrize(
    ("kind", "multiplier", "piece", "expected"),
    [
        (TierKind.BONUS, "1.10", 1000, 100),
        (TierKind.BONUS, "1.10", 5, 1),  # 0.5 cent rounds up
        (TierKind.PENALTY, "0.95", 1000, -50),
        (TierKind.PENALTY, "0.95", 5, 0),  # 0.25 cent taken rounds towards zero: nothing
        (TierKind.PENALTY, "0.95", 30, -1),  # 1.5 cents rounds to 1
    ],
)
def test_tier_amounts_round_in_the_contractors_favour(kind, multiplier, piece, expected):
    chosen = QualityTier(kind=kind, threshold=Decimal("0.5"), multiplier=Decimal(multiplier))
    assert tier_amount_minor(chosen, piece) == expected


@pytest.mark.parametrize(
    ("kind", "threshold", "multiplier", "field"),
    [
        (TierKind.BONUS, "0.8", "0.9", "multiplier"),
        (TierKind.PENALTY, "0.4", "1.1", "multiplier"),
        (TierKind.PENALTY, "0.95", "0.9", "threshold"),  # above the bonus threshold 0.8
        (TierKind.BONUS, "1.5", "1.1", "threshold"),
    ],
)
def test_a_tier_that_cannot_work_is_refused_naming_the_field(kind, threshold, multiplier, field):
    p = project()
    tier(p, TierKind.BONUS, "0.8", "1.10")
    candidate = QualityTier(
        project=p, kind=kind, threshold=Decimal(threshold), multiplier=Decimal(multiplier), note="Why."
    )
    with pytest.raises(ValidationError) as exc:
        candidate.full_clean()
    assert field in exc.value.message_dict


def test_the_admin_shows_a_projects_pay_read_only_so_it_is_only_set_through_the_pay_page(login):
    admin = staff_user(is_staff=True, is_superuser=True)
    p = project(piece_rate_minor=5, hourly_rate_minor=1500)
    page = login(admin).get(reverse("admin:tasks_project_change", args=[p.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    for field in ("currency", "piece_rate_minor", "hourly_rate_minor"):
        assert f'name="{field}"' not in html
    assert 'name="overlap"' in html  # the rest of the project stays editable here
