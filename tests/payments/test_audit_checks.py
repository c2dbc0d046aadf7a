"""Each audit check fires on the problem it looks for and stays quiet on clean data."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection, transaction
from django.utils import timezone

from payments.audits.checks import Draft, Scope
from payments.audits.checks.ledger import floor_after_topup_check, ledger_statement_check
from payments.audits.checks.people import (
    appeal_overdue_check,
    audit_chain_check,
    decision_human_check,
    decision_reason_check,
)
from payments.audits.checks.timeliness import pay_on_time_check
from payments.audits.checks.work import unpaid_time_check
from payments.models import EntryKind, LedgerEntry, PayPeriod, PeriodStatus
from payments.payouts.models import Payout, PayoutState
from payments.payouts.runs import payout_run_execute, payout_run_start
from payments.services.close import period_close
from tasks.models import Assignment
from tasks.services.people import fraud_mark
from tests.payments.payouts import bank_contractor, earn
from tests.payments.payouts import periods as payout_periods
from tests.payments.work import at, floors_loaded, person, piece_project, task_time, week
from workforce.audit import audit_record
from workforce.models import Appeal, AuditEvent, Decision, DecisionKind, User

pytestmark = pytest.mark.django_db

TUESDAY = datetime.date(2026, 11, 10)


@pytest.fixture(autouse=True)
def reviewed_floors(db: None) -> None:
    floors_loaded()


def scope(period: PayPeriod | None = None) -> Scope:
    period = period or week()
    period.refresh_from_db()
    return Scope(periods=[period], now=timezone.now())


def closed_week_with_work() -> tuple[PayPeriod, User]:
    worker = person()
    task_time(worker, piece_project(), started=at(TUESDAY, 9), seconds=3600)
    run = period_close(period=week(), job="test")
    return run.period, worker


def closed_by_hand(period: PayPeriod) -> PayPeriod:
    """A period marked closed without its close having run (what the unpaid-time check must catch)."""
    PayPeriod.objects.filter(pk=period.pk).update(status=PeriodStatus.CLOSED, closed_at=timezone.now())
    period.refresh_from_db()
    return period


def post(worker: User, period: PayPeriod, kind: str, amount: int, key: str, **details: object) -> LedgerEntry:
    return LedgerEntry.objects.create(
        contractor=worker,
        period=period,
        kind=kind,
        amount_minor=amount,
        currency="USD",
        memo="Posted by the test.",
        details=details,
        created_by_job="test",
        key=key,
    )


def drop_constraint(table: str, name: str) -> None:
    """Simulate data from before a constraint existed (or written around it); rolled back with the test."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks may be pending for ALTER TABLE
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')


# Ledger against the statements ---------------------------------------------------------------------


def test_the_ledger_check_is_quiet_after_a_real_close():
    period, _worker = closed_week_with_work()
    assert ledger_statement_check(scope(period)) == []


def test_an_extra_close_entry_makes_the_ledger_disagree_with_the_top_up_line():
    period, worker = closed_week_with_work()
    post(worker, period, EntryKind.BONUS, 250, f"close:{period.pk}:{worker.pk}:bonus:slipped-in")
    [finding] = ledger_statement_check(scope(period))
    assert finding.severity == "critical" and finding.period_id == period.pk
    assert finding.fingerprint == f"ledger_statement:{period.pk}:{worker.pk}:earnings"
    assert "a difference of 2.50 USD" in finding.message
    assert {"type": "workforce.user", "id": worker.pk, "label": worker.email} in finding.objects


# The floor after the top-up ------------------------------------------------------------------------


def test_the_floor_check_is_quiet_after_a_real_close():
    period, _worker = closed_week_with_work()
    assert floor_after_topup_check(scope(period)) == []


def test_a_top_up_short_of_the_amount_due_is_a_critical_finding():
    worker = person()
    period = closed_by_hand(week())
    post(
        worker,
        period,
        EntryKind.TOPUP,
        100,
        f"close:{period.pk}:{worker.pk}:topup",
        paid_seconds=3600,
        earnings_minor=500,
        required_minor=1690,
        floor_hourly_minor="1690.0000",
    )
    [finding] = floor_after_topup_check(scope(period))
    assert finding.severity == "critical"
    assert "6.00 USD for 1.00 paid hours" in finding.message
    assert "under the floor of 1690.00" in finding.message


def test_a_top_up_waiting_on_a_close_exception_is_a_pending_warning():
    nowhere = person(country="", region="")
    task_time(nowhere, piece_project(), started=at(TUESDAY, 9), seconds=3600, review=None)
    period = period_close(period=week(), job="test").period
    findings = floor_after_topup_check(scope(period))
    assert [f.severity for f in findings] == ["warning"]
    assert findings[0].message.startswith("Floor comparison pending for")
    assert "no country or region" in findings[0].message


# Unpaid time --------------------------------------------------------------------------------------


def test_the_unpaid_time_check_is_quiet_after_a_real_close():
    period, _worker = closed_week_with_work()
    assert unpaid_time_check(scope(period)) == []


def test_active_time_in_a_closed_period_without_any_pay_is_critical():
    worker = person()
    task_time(worker, piece_project(), started=at(TUESDAY, 9), seconds=5400)
    period = closed_by_hand(week())
    [finding] = unpaid_time_check(scope(period))
    assert finding.severity == "critical"
    assert "1.50 hours of active time" in finding.message and worker.email in finding.message


def test_time_whose_pay_waits_on_a_close_exception_is_a_warning():
    nowhere = person(country="", region="")
    task_time(nowhere, piece_project(), started=at(TUESDAY, 9), seconds=3600, review=None)
    period = period_close(period=week(), job="test").period
    [finding] = unpaid_time_check(scope(period))
    assert finding.severity == "warning" and "waiting on" in finding.message


def test_time_excluded_under_a_human_fraud_decision_is_not_a_finding(ops):
    worker, p = person(), piece_project()
    flagged = task_time(worker, p, started=at(TUESDAY, 9), seconds=3600)
    task_time(worker, p, started=at(TUESDAY, 11), seconds=600)
    fraud_mark(assignment_id=flagged.pk, actor=ops, reason="Answers copied from another account.")
    period = period_close(period=week(), job="test").period
    assert unpaid_time_check(scope(period)) == []


def test_time_excluded_under_an_automated_fraud_decision_is_critical(ops):
    worker, p = person(), piece_project()
    flagged: Assignment = task_time(worker, p, started=at(TUESDAY, 9), seconds=3600)
    task_time(worker, p, started=at(TUESDAY, 11), seconds=600)
    mark = fraud_mark(assignment_id=flagged.pk, actor=ops, reason="Answers copied from another account.")
    period = period_close(period=week(), job="test").period
    drop_constraint("workforce_decision", "decision_pause_offboard_by_human")
    drop_constraint("workforce_decision", "decision_human_has_decider")
    Decision.objects.filter(pk=mark.decision_id).update(is_automated=True, decided_by=None)
    [finding] = unpaid_time_check(scope(period))
    assert finding.severity == "critical"
    assert f"fraud decision #{mark.decision_id} was not made by a named person" in finding.message


# Decisions, appeals and the audit chain --------------------------------------------------------------


def decision(subject: User, *, kind: str = DecisionKind.APPROVAL, reason: str = "Profile complete.", **kw: object):
    return Decision.objects.create(subject=subject, kind=kind, outcome="done", reason=reason, **kw)


def test_decision_checks_are_quiet_when_every_decision_is_explained_and_human(ops):
    someone = person()
    decision(someone, kind=DecisionKind.PAUSE, decided_by=ops)
    decision(someone, kind=DecisionKind.QUALIFICATION, is_automated=True)
    now = Scope(periods=[], now=timezone.now())
    assert decision_reason_check(now) == [] and decision_human_check(now) == []


def test_a_decision_whose_reason_is_only_spaces_is_a_finding(ops):
    bad = decision(person(), reason="   \n", decided_by=ops)
    [finding] = decision_reason_check(Scope(periods=[], now=timezone.now()))
    assert finding.fingerprint == f"decision_reason:{bad.pk}" and finding.severity == "critical"


def test_an_automated_pause_is_a_finding():
    drop_constraint("workforce_decision", "decision_pause_offboard_by_human")
    bad = decision(person(), kind=DecisionKind.PAUSE, is_automated=True)
    [finding] = decision_human_check(Scope(periods=[], now=timezone.now()))
    assert finding.fingerprint == f"decision_human:{bad.pk}"
    assert "marked automated" in finding.message


def _appeal(ops: User, *, due_in: datetime.timedelta) -> Appeal:
    subject = person()
    paused = decision(subject, kind=DecisionKind.PAUSE, decided_by=ops)
    return Appeal.objects.create(
        decision=paused, appellant=subject, message="I was ill that week.", due_at=timezone.now() + due_in
    )


def test_an_appeal_within_its_due_date_is_not_a_finding(ops):
    _appeal(ops, due_in=datetime.timedelta(days=2))
    assert appeal_overdue_check(Scope(periods=[], now=timezone.now())) == []


def test_an_open_appeal_past_its_due_date_is_a_warning(ops):
    late = _appeal(ops, due_in=-datetime.timedelta(days=3, hours=2))
    [finding] = appeal_overdue_check(Scope(periods=[], now=timezone.now()))
    assert finding.fingerprint == f"appeal_overdue:{late.pk}" and "3 days and 2 hours late" in finding.message


def test_the_chain_check_is_quiet_on_an_intact_log(ops):
    with transaction.atomic():
        audit_record(actor=ops, action="test.one")
        audit_record(actor=ops, action="test.two")
    assert audit_chain_check(Scope(periods=[], now=timezone.now())) == []


def test_an_altered_audit_event_is_named_in_the_finding(ops):
    with transaction.atomic():
        for n in range(3):
            audit_record(actor=ops, action=f"test.{n}")
    second = AuditEvent.objects.order_by("seq")[1]
    AuditEvent.objects.filter(pk=second.pk).update(action="test.rewritten")
    [finding] = audit_chain_check(Scope(periods=[], now=timezone.now()))
    assert finding.fingerprint == f"audit_chain:{second.seq}"
    assert f"broken at event #{second.seq}" in finding.message


# Pay on time ------------------------------------------------------------------------------------------

# week() is 2026-11-09 to 11-15 (UTC): it can be closed from Monday 2026-11-16 00:05.
CLOSABLE = datetime.datetime(2026, 11, 16, 0, 5, tzinfo=datetime.UTC)


def test_a_week_over_but_not_closed_after_the_grace_is_critical(settings):
    settings.FAIRTASK_AUDIT_CLOSE_GRACE_HOURS = 24
    open_week = week()
    assert pay_on_time_check(Scope(periods=[], now=CLOSABLE + datetime.timedelta(hours=23))) == []
    [finding] = pay_on_time_check(Scope(periods=[], now=CLOSABLE + datetime.timedelta(days=2, hours=3)))
    assert finding.severity == "critical" and finding.fingerprint == f"pay_on_time:close:{open_week.pk}"
    assert "2026-11-16 00:05 UTC, 2 days and 3 hours ago, and is still open: nobody has been paid" in finding.message
    assert finding.period_id == open_week.pk


def test_a_closed_week_is_not_a_finding():
    period, _worker = closed_week_with_work()
    assert pay_on_time_check(Scope(periods=[period], now=CLOSABLE + datetime.timedelta(days=30))) == []


def test_a_payout_neither_paid_nor_failed_after_the_limit_is_critical_and_a_paid_one_is_not(settings, ops):
    settings.FAIRTASK_AUDIT_LATE_PAYOUT_DAYS = 7
    settings.FAIRTASK_PAYOUT_MINIMUM_MINOR = 1000
    closed, _current = payout_periods()
    earn(bank_contractor(holder="Ana Example", reference="DE89370400440532013000"), closed, 123450)
    earn(bank_contractor(holder="Ben Example", reference="GB29NWBK60161331926819"), closed, 2007)
    payout_run_execute(run_id=payout_run_start(actor=ops, currency="USD").pk)
    ana, ben = Payout.objects.get(destination_name="Ana Example"), Payout.objects.get(destination_name="Ben Example")
    Payout.objects.filter(pk=ben.pk).update(
        state=PayoutState.PAID, provider_reference="line 2", submitted_at=timezone.now(), paid_at=timezone.now()
    )
    started = ana.created_at

    def late_payouts(now: datetime.datetime) -> list[Draft]:
        # This week's period is open too and will be over by then: only the payouts are looked at here.
        found = pay_on_time_check(Scope(periods=[], now=now))
        return [d for d in found if d.fingerprint.startswith("pay_on_time:payout:")]

    assert late_payouts(started + datetime.timedelta(days=6)) == []
    [finding] = late_payouts(started + datetime.timedelta(days=9, hours=5))
    assert finding.fingerprint == f"pay_on_time:payout:{ana.pk}" and finding.severity == "critical"
    assert "of 1234.50 USD to" in finding.message and "is still “Pending” 9 days and 5 hours later" in finding.message
    assert {"type": "payments.payout", "id": ana.pk, "label": f"payments.payout #{ana.pk}"} in finding.objects
