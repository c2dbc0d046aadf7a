"""The weekly close: what each contractor is paid, and the wage-floor top-up with its arithmetic (rules 1-3)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from payments.models import (
    CloseRun,
    CloseStatus,
    EntryKind,
    FraudExclusion,
    LedgerEntry,
    PayPeriod,
    PeriodStatus,
    PolicyFloor,
)
from payments.selectors import close_exceptions_open
from payments.services.close import close_exceptions_retry, close_run_execute, period_close, period_close_start
from tasks.models import ReviewStatus
from tasks.services.people import fraud_mark
from tests.payments.work import (
    NEXT_WEEK,
    answers,
    at,
    entry,
    estimate,
    floors_loaded,
    fx,
    lines,
    person,
    piece_project,
    qualification_time,
    reading,
    skill,
    task_time,
    this_monday,
    tier,
    week,
)
from tests.tasks.factories import project
from workforce import services as people
from workforce.models import AuditEvent

pytestmark = pytest.mark.django_db

D = datetime.date
TUESDAY = D(2026, 11, 10)
HOUR = 3600


@pytest.fixture(autouse=True)
def reviewed_floors(db: None) -> None:
    floors_loaded()


def close(period: PayPeriod | None = None) -> CloseRun:
    return period_close(period=period or week(), job="test")


# What each kind of work earns --------------------------------------------------------------------


def test_approved_answers_are_paid_at_the_piece_rate_and_task_time_at_the_hourly_rate():
    worker, p = person(), project(piece_rate_minor=40, hourly_rate_minor=1800)
    for minute in (0, 20, 40):
        task_time(worker, p, started=at(TUESDAY, 9, minute), seconds=1200)  # three tasks, 20 minutes each
    run = close()
    assert run.status == CloseStatus.DONE
    assert lines(worker) == {"piece": 3 * 40, "hourly": 1800}  # 1 hour at 18.00 is above the US-CA floor
    piece = entry(worker, EntryKind.PIECE)
    assert piece.key == f"close:{run.period_id}:{worker.pk}:piece:{p.pk}"
    assert piece.memo == f"3 approved answers on “{p.name}” at 0.40 USD each."
    assert piece.details["answers"] == 3 and piece.details["piece_rate_minor"] == 40
    hourly = entry(worker, EntryKind.HOURLY)
    assert hourly.details == {"project": p.pk, "seconds": 3600, "hourly_rate_minor": 1800}
    assert (hourly.created_by_job, hourly.source_type, hourly.source_id) == ("payments.close", "tasks.project", p.pk)


def test_hourly_pay_rounds_each_line_up_to_the_cent():
    worker, p = person(), project(piece_rate_minor=0, hourly_rate_minor=1999)
    task_time(worker, p, started=at(TUESDAY), seconds=7 * HOUR + 1)  # 19.99 x 7.000278 = 139.935... → 139.94
    close()
    assert lines(worker)["hourly"] == 13994


def test_work_approved_after_the_period_is_paid_in_the_next_one():
    worker, p = person(), project(piece_rate_minor=40, hourly_rate_minor=1800)
    task_time(worker, p, started=at(TUESDAY), seconds=HOUR, reviewed=at(NEXT_WEEK, 9))
    first = close()
    assert lines(worker, first.period) == {"hourly": 1800}
    second = close(week(NEXT_WEEK))
    assert lines(worker, second.period) == {"piece": 40}


def test_instruction_reading_is_paid_at_the_projects_hourly_rate():
    worker, p = person(), project(hourly_rate_minor=2400)
    reading(worker, p, started=at(TUESDAY), seconds=HOUR // 2)
    close()
    line = entry(worker, EntryKind.INSTRUCTION)
    assert line.amount_minor == 1200
    assert line.details["rate_source"] == "project"
    assert "reading the instructions" in line.memo


def test_instruction_reading_on_a_piece_rate_project_is_paid_at_the_floor():
    worker, p = person(), piece_project()
    reading(worker, p, started=at(TUESDAY), seconds=HOUR)
    close()
    line = entry(worker, EntryKind.INSTRUCTION)
    assert line.amount_minor == 1690  # US-CA 16.90 in 2026
    assert line.details["rate_source"] == "floor"
    assert "topup" not in lines(worker)


def test_a_qualification_test_is_paid_at_the_best_hourly_rate_of_an_open_project_needing_the_skill():
    labels = skill()
    project(required_skill=labels, hourly_rate_minor=1700)
    best = project(required_skill=labels, hourly_rate_minor=2200)
    project(required_skill=labels, hourly_rate_minor=9900, status="paused")  # not open: does not count
    worker = person()
    qualification_time(worker, labels, started=at(TUESDAY), seconds=HOUR)
    close()
    line = entry(worker, EntryKind.QUALIFICATION)
    assert line.amount_minor == 2200
    assert (line.details["rate_source"], line.details["rate_project"]) == ("open-project", best.pk)


def test_a_qualification_test_with_no_hourly_project_is_paid_at_the_higher_of_the_two_floors(ops):
    labels = skill("image-tagging")
    piece_project(required_skill=labels)
    PolicyFloor.objects.create(
        jurisdiction="US-CA",
        currency="USD",
        hourly_rate=Decimal("18.50"),
        effective_from=D(2026, 1, 1),
        note="A living wage for California.",
        created_by=ops,
    )
    worker = person()
    qualification_time(worker, labels, started=at(TUESDAY), seconds=HOUR)
    close()
    line = entry(worker, EntryKind.QUALIFICATION)
    assert (line.amount_minor, line.details["rate_source"]) == (1850, "floor")


# The floor (rule 2) ---------------------------------------------------------------------------------


def test_rejected_work_still_counts_as_paid_time_and_the_top_up_covers_it():
    worker, p = person(), piece_project()
    task_time(worker, p, started=at(TUESDAY, 9), seconds=HOUR, review=ReviewStatus.REJECTED)
    task_time(worker, p, started=at(TUESDAY, 10), seconds=HOUR, review=ReviewStatus.PENDING)
    close()
    assert lines(worker) == {"topup": 2 * 1690}  # two hours at the US-CA floor, nothing else earned
    topup = entry(worker, EntryKind.TOPUP)
    assert topup.details["paid_seconds"] == 7200 and topup.details["earnings_minor"] == 0


def test_the_top_up_in_usd_brings_effective_pay_exactly_to_the_floor_with_its_arithmetic():
    worker, p = person(), piece_project(piece_rate_minor=5)
    task_time(worker, p, started=at(TUESDAY), seconds=2 * HOUR, review=None)
    answers(worker, p, 10, on=at(TUESDAY, 15))
    run = close()
    assert lines(worker) == {"piece": 50, "topup": 3330}  # 2 h x 16.90 = 33.80 due, 0.50 earned
    topup = entry(worker, EntryKind.TOPUP)
    assert topup.key == f"close:{run.period_id}:{worker.pk}:topup"
    assert topup.memo == (
        "Wage-floor top-up: 2.00 paid hours earned 0.50 USD, an effective 0.25 USD an hour, under the statutory "
        "floor of 16.90 USD an hour for US-CA; 33.80 USD was due."
    )
    d = topup.details
    assert (d["paid_seconds"], d["hours"], d["earnings_minor"], d["required_minor"], d["topup_minor"]) == (
        7200,
        "2.0000",
        50,
        3380,
        3330,
    )
    assert d["effective_hourly_minor"] == "25.0000" and d["floor_hourly_minor"] == "1690.0000"
    [floor] = d["floors"]
    assert floor["applied"] == "statutory" and floor["seconds"] == 7200
    assert floor["statutory"]["jurisdiction"] == "US-CA" and floor["statutory"]["hourly_rate"] == "16.9000"
    assert floor["statutory"]["source_url"] == "https://www.dir.ca.gov/dlse/faq_minimumwage.htm"
    assert d["fx"] == []  # USD floor, USD pay: no conversion


def test_a_gb_contractor_paid_in_usd_is_topped_up_to_the_gbp_floor_at_the_rate_of_the_periods_last_day():
    fx("GBP", D(2026, 11, 13), "1.2500")  # older: not the one used
    fx("GBP", D(2026, 11, 15), "1.2650")  # the period's last day
    fx("GBP", D(2026, 11, 16), "1.4000")  # after the period: not used
    worker, p = person(country="GB", region="", zone="Europe/London"), piece_project()
    task_time(worker, p, started=at(TUESDAY), seconds=5400, review=None)
    answers(worker, p, 10, on=at(TUESDAY, 15))
    close()
    # 12.71 GBP x 1.2650 = 16.078150 USD an hour; x 1.5 h = 24.117225 → 24.12 USD due; 0.50 earned.
    assert lines(worker) == {"piece": 50, "topup": 2362}
    d = entry(worker, EntryKind.TOPUP).details
    assert d["required_minor"] == 2412 and d["floor_hourly_minor"] == "1607.8150"
    [rate] = d["fx"]
    assert (rate["base"], rate["quote"], rate["rate"], rate["rate_date"]) == (
        "GBP",
        "USD",
        "1.2650000000",
        "2026-11-15",
    )
    assert d["floors"][0]["statutory"]["hourly_rate"] == "12.7100" and d["floors"][0]["statutory"]["currency"] == "GBP"


def test_a_week_straddling_a_floor_change_weighs_each_day_by_its_own_floor():
    straddling = week(D(2025, 12, 29))  # Monday 29 December 2025 to Sunday 4 January 2026
    fx("EUR", D(2026, 1, 2), "1.0842")
    worker, p = person(country="DE", region="DE-BE", zone="Europe/Berlin"), piece_project()
    task_time(worker, p, started=at(D(2025, 12, 30), 10), seconds=2 * HOUR, review=None)  # 12.82 EUR in 2025
    task_time(worker, p, started=at(D(2026, 1, 2), 10), seconds=3 * HOUR, review=None)  # 13.90 EUR from 2026
    close(straddling)
    # 2 h x 12.82 x 1.0842 + 3 h x 13.90 x 1.0842 = 27.798888 + 45.21114 = 73.010028 → 73.02 USD
    assert lines(worker) == {"topup": 7302}
    d = entry(worker, EntryKind.TOPUP).details
    assert [(f["day"], f["seconds"], f["statutory"]["hourly_rate"]) for f in d["floors"]] == [
        ("2025-12-30", 7200, "12.8200"),
        ("2026-01-02", 10800, "13.9000"),
    ]
    assert d["required_exact_minor"] == "7301.0028"


def test_the_policy_floor_applies_when_it_is_above_the_statutory_one(ops):
    PolicyFloor.objects.create(
        jurisdiction="",
        currency="USD",
        hourly_rate=Decimal("20.00"),
        effective_from=D(2026, 1, 1),
        note="Our living wage everywhere.",
        created_by=ops,
    )
    worker, p = person(region="US-TX", zone="America/Chicago"), piece_project()
    task_time(worker, p, started=at(TUESDAY), seconds=HOUR, review=None)
    close()
    d = entry(worker, EntryKind.TOPUP).details
    assert lines(worker) == {"topup": 2000}
    assert d["floors"][0]["applied"] == "policy" and d["floors"][0]["statutory"]["hourly_rate"] == "7.2500"


def test_above_the_floor_there_is_no_top_up():
    worker, p = person(region="US-TX", zone="America/Chicago"), project(hourly_rate_minor=1500, piece_rate_minor=0)
    task_time(worker, p, started=at(TUESDAY), seconds=HOUR)
    close()
    assert lines(worker) == {"hourly": 1500}


@pytest.mark.parametrize(
    ("policy", "expected"), [(False, {"hourly": 90000}), (True, {"hourly": 90000, "overtime": 5000})]
)
def test_the_overtime_premium_is_half_the_regular_rate_for_hours_over_forty_when_the_policy_is_on(policy, expected):
    worker, p = person(region="US-TX", zone="America/Chicago"), project(hourly_rate_minor=2000, piece_rate_minor=0)
    for day in range(5):
        task_time(worker, p, started=at(TUESDAY + datetime.timedelta(days=day), 6), seconds=9 * HOUR)
    with override_settings(FAIRTASK_OVERTIME_PREMIUM=policy):
        close()
    assert lines(worker) == expected  # 45 h x 20.00; premium 0.5 x 20.00 x 5 h
    if policy:
        d = entry(worker, EntryKind.OVERTIME).details
        assert (d["seconds_over_40_hours"], d["regular_hourly_minor"]) == (5 * HOUR, "2000.0000")


# Quality (rule 3) -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lower", "upper", "expected"),
    [
        ("0.8500", "0.9500", {"piece": 1000, "bonus": 100}),  # even the lower bound is above 0.8
        ("0.7000", "0.9900", {"piece": 1000}),  # probably good, not surely: no bonus
        ("0.1000", "0.6000", {"piece": 1000}),  # probably poor, not surely: no penalty
        ("0.1000", "0.4000", {"piece": 1000, "penalty": -200}),  # even the upper bound is below 0.5
    ],
)
def test_a_bonus_needs_the_lower_bound_above_its_threshold_and_a_penalty_the_upper_bound_below(lower, upper, expected):
    worker, p = person(region="US-TX", zone="America/Chicago"), project(piece_rate_minor=100, hourly_rate_minor=0)
    tier(p, "bonus", "0.8", "1.10")
    tier(p, "penalty", "0.5", "0.80")
    estimate(worker, p, lower, upper)
    answers(worker, p, 10, on=at(TUESDAY))
    close()
    assert lines(worker) == expected


def test_the_tier_line_names_the_tier_and_the_bounds_it_used():
    worker, p = person(region="US-TX", zone="America/Chicago"), project(piece_rate_minor=100, hourly_rate_minor=0)
    bonus = tier(p, "bonus", "0.8", "1.10")
    estimate(worker, p, "0.8500", "0.9500", gold_total=40)
    answers(worker, p, 10, on=at(TUESDAY))
    close()
    line = entry(worker, EntryKind.BONUS)
    assert line.details["tier"] == bonus.pk and line.details["bound_used"] == "lower"
    assert (line.details["lower"], line.details["upper"], line.details["gold_total"]) == ("0.8500", "0.9500", 40)
    assert "lower bound of your quality interval [0.8500, 0.9500] is above 0.8000" in line.memo


def test_a_penalty_never_takes_pay_under_the_floor():
    worker, p = person(), project(piece_rate_minor=100, hourly_rate_minor=0)
    tier(p, "penalty", "0.5", "0.80")
    estimate(worker, p, "0.1000", "0.4000")
    task_time(worker, p, started=at(TUESDAY), seconds=HOUR, review=None)
    answers(worker, p, 10, on=at(TUESDAY, 15))
    close()
    assert lines(worker) == {"piece": 1000, "penalty": -200, "topup": 890}
    assert sum(lines(worker).values()) == 1690  # exactly one hour at the US-CA floor
    assert entry(worker, EntryKind.TOPUP).details["earnings_minor"] == 800  # computed after the penalty


# Fraud (rule 1) -------------------------------------------------------------------------------------------


def _fraud(assignment, ops):
    return fraud_mark(assignment_id=assignment.pk, actor=ops, reason="Answers copied from another account.")


def test_time_under_an_active_fraud_mark_is_not_paid_and_is_recorded_as_excluded(ops):
    worker, p = person(region="US-TX", zone="America/Chicago"), project(hourly_rate_minor=1500, piece_rate_minor=0)
    task_time(worker, p, started=at(TUESDAY, 9), seconds=HOUR)
    flagged = task_time(worker, p, started=at(TUESDAY, 10), seconds=2 * HOUR)
    mark = _fraud(flagged, ops)
    close()
    assert lines(worker) == {"hourly": 1500}
    assert entry(worker, EntryKind.HOURLY).details["fraud_excluded_seconds"] == 7200
    exclusion = FraudExclusion.objects.get()
    assert (exclusion.fraud_mark, exclusion.seconds, exclusion.contractor) == (mark, 7200, worker)


def test_time_is_paid_again_once_the_fraud_decision_is_overturned_before_the_close(ops, ops2):
    worker, p = person(region="US-TX", zone="America/Chicago"), project(hourly_rate_minor=1500, piece_rate_minor=0)
    flagged = task_time(worker, p, started=at(TUESDAY, 10), seconds=2 * HOUR)
    mark = _fraud(flagged, ops)
    appeal = people.appeal_file(decision=mark.decision, appellant=worker, message="I did this work myself.")
    people.appeal_answer(appeal=appeal, actor=ops2, outcome="overturned", reason="The answers are original.")
    close()
    assert lines(worker) == {"hourly": 3000}
    assert not FraudExclusion.objects.exists()


def test_time_excluded_by_a_close_is_paid_by_the_next_close_once_the_fraud_decision_is_overturned(ops, ops2):
    worker, p = person(region="US-TX", zone="America/Chicago"), project(hourly_rate_minor=1500, piece_rate_minor=0)
    flagged = task_time(worker, p, started=at(TUESDAY, 10), seconds=2 * HOUR)
    mark = _fraud(flagged, ops)
    first = close()
    assert lines(worker, first.period) == {}
    appeal = people.appeal_file(decision=mark.decision, appellant=worker, message="I did this work myself.")
    people.appeal_answer(appeal=appeal, actor=ops2, outcome="overturned", reason="The answers are original.")
    second = close(week(NEXT_WEEK))
    restored = LedgerEntry.objects.get(contractor=worker, period=second.period)
    exclusion = FraudExclusion.objects.get()
    assert (restored.kind, restored.amount_minor, restored.key) == ("hourly", 3000, f"restored:{exclusion.pk}")
    assert restored.details["excluded_in_period"] == first.period_id
    close(week(D(2026, 11, 2)))  # any other close: paid once only
    assert LedgerEntry.objects.filter(key=f"restored:{exclusion.pk}").count() == 1


# Closing twice, closing too early ----------------------------------------------------------------------


def test_closing_twice_posts_nothing_the_second_time():
    worker, p = person(), piece_project()
    task_time(worker, p, started=at(TUESDAY), seconds=HOUR)
    first = close()
    before = list(LedgerEntry.objects.order_by("pk").values_list("pk", "key", "amount_minor"))
    period = PayPeriod.objects.get(pk=first.period_id)
    assert period.status == PeriodStatus.CLOSED and period.closed_at is not None
    again = close(period)
    assert again.pk == first.pk
    assert list(LedgerEntry.objects.order_by("pk").values_list("pk", "key", "amount_minor")) == before
    assert AuditEvent.objects.filter(action="period.closed").count() == 1


def test_closing_a_period_that_is_not_over_is_refused_and_writes_nothing():
    monday = this_monday()
    current = week(monday)  # this week: it ends on Sunday
    worker, p = person(), piece_project()
    task_time(worker, p, started=at(monday, 8), seconds=HOUR)
    audit_before = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as exc:
        period_close_start(period=current, job="test")
    opens = (monday + datetime.timedelta(days=7)).isoformat()
    assert f"not over yet; it can be closed from {opens} 00:05" in exc.value.message_dict["period"][0]
    current.refresh_from_db()
    assert current.status == PeriodStatus.OPEN and current.closing_started_at is None
    assert not CloseRun.objects.exists() and not LedgerEntry.objects.exists()
    assert AuditEvent.objects.count() == audit_before


# Exceptions: never silently unpaid ------------------------------------------------------------------------


def test_a_contractor_without_a_jurisdiction_is_an_exception_and_still_gets_their_earnings():
    stranger = person(country="", region="", zone="UTC", email="nowhere@example.com")
    fine = person()
    p = project(piece_rate_minor=40, hourly_rate_minor=1000)
    for worker in (stranger, fine):
        task_time(worker, p, started=at(TUESDAY), seconds=HOUR)
    run = close()
    assert run.status == CloseStatus.DONE
    assert lines(stranger) == {"piece": 40, "hourly": 1000}  # no top-up yet: it waits for the jurisdiction
    assert lines(fine) == {"piece": 40, "hourly": 1000, "topup": 650}
    [problem] = run.exceptions
    assert (problem["contractor"], problem["email"], problem["codes"]) == (
        stranger.pk,
        "nowhere@example.com",
        ["no_jurisdiction"],
    )
    assert "no country or region on their profile" in problem["message"]


def test_a_missing_fx_rate_is_an_exception_for_that_contractor_and_the_rest_of_the_close_completes():
    briton = person(country="GB", region="", zone="Europe/London")
    californian = person()
    p = piece_project()
    for worker in (briton, californian):
        task_time(worker, p, started=at(TUESDAY), seconds=HOUR)
    run = close()
    assert run.status == CloseStatus.DONE and PayPeriod.objects.get().status == PeriodStatus.CLOSED
    assert lines(californian) == {"piece": 5, "topup": 1685}
    assert lines(briton) == {"piece": 5}
    [problem] = run.exceptions
    assert problem["contractor"] == briton.pk and problem["codes"] == ["fx_missing"]
    assert "No FX rate for GBP→USD" in problem["message"]


def test_retrying_an_exception_after_the_fix_posts_only_what_waited_into_the_open_period(ops):
    briton, p = person(country="GB", region="", zone="Europe/London"), piece_project()
    task_time(briton, p, started=at(TUESDAY), seconds=HOUR)
    run = close()
    assert len(close_exceptions_open(period=run.period)) == 1
    fx("GBP", D(2026, 11, 15), "1.2650")
    retry = close_run_execute(run_id=close_exceptions_retry(period=run.period, actor=ops).pk)
    assert retry.status == CloseStatus.DONE and retry.contractor_ids == [briton.pk] and retry.exceptions == []
    assert close_exceptions_open(period=run.period) == []
    topup = entry(briton, EntryKind.TOPUP)
    # 12.71 x 1.2650 = 16.07815 for 1 h → 16.08; the piece line (0.05) was already posted.
    assert topup.amount_minor == 1603 and topup.details["earnings_minor"] == 5
    assert topup.key == f"close:{run.period_id}:{briton.pk}:topup"
    # The closed period's statement stays final: what waited is posted into this week's open period.
    assert topup.period.start == this_monday() and topup.period.status == PeriodStatus.OPEN
    assert LedgerEntry.objects.filter(contractor=briton, kind=EntryKind.PIECE).count() == 1


def test_a_project_paying_in_another_currency_is_an_exception_not_a_wrong_payment():
    worker, p = person(), project(currency="EUR", piece_rate_minor=40, hourly_rate_minor=1000)
    task_time(worker, p, started=at(TUESDAY), seconds=HOUR)
    run = close()
    assert lines(worker) == {}
    assert run.exceptions[0]["codes"] == ["foreign_currency"]
    assert "has its rates in EUR, but pay is in USD" in run.exceptions[0]["message"]
