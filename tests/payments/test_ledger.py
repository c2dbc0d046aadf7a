"""The ledger: signed entries, append-only in the database, reversals once, idempotency keys."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from payments.models import EntryKind, LedgerEntry
from payments.money import Money
from payments.selectors import balance, ledger_entry_list, period_total
from payments.services.ledger import entry_post, entry_reverse
from tests.payments.factories import PayPeriodFactory, contractor_user, entry
from tests.tasks.factories import project
from tests.workforce.factories import staff_user
from workforce.models import AuditEvent

pytestmark = pytest.mark.django_db

APPEND_ONLY = "payments_ledgerentry is append-only: post a reversal entry instead"


def _fields(e: LedgerEntry) -> tuple[Any, ...]:
    e.refresh_from_db()
    return (e.kind, e.amount_minor, e.currency, e.memo, e.period_id, e.reverses_id)


# Posting ------------------------------------------------------------------------------------


def test_an_entry_stores_the_signed_amount_its_source_author_and_arithmetic(ops):
    worker, period = contractor_user(), PayPeriodFactory.create()
    source = project()
    posted = entry_post(
        contractor=worker,
        kind=EntryKind.TOPUP,
        amount=Money(437, "USD"),
        period=period,
        memo="  Top-up to the US-CA floor for 2.5 hours.  ",
        details={"hours": Decimal("2.5"), "floor": Decimal("16.90")},
        source=source,
        actor=ops,
    )
    stored = LedgerEntry.objects.get(pk=posted.pk)
    assert (stored.kind, stored.amount, stored.period) == (EntryKind.TOPUP, Money(437, "USD"), period)
    assert (stored.source_type, stored.source_id) == ("tasks.project", source.pk)
    assert stored.memo == "Top-up to the US-CA floor for 2.5 hours."
    assert stored.details == {"hours": "2.5", "floor": "16.90"}  # Decimals kept exact, as text
    assert (stored.created_by, stored.created_by_job) == (ops, "")
    event = AuditEvent.objects.get(action="ledger.post")
    assert event.actor == ops and event.object_id == str(stored.pk) and event.summary["amount"] == "4.37 USD"


def test_an_entry_posted_by_a_job_names_the_job_and_writes_no_audit_event():
    posted = entry(contractor_user(), PayPeriodFactory.create(), job="period_close")
    assert (posted.created_by, posted.created_by_job) == (None, "period_close")
    assert not AuditEvent.objects.filter(action="ledger.post").exists()


@pytest.mark.parametrize(
    ("kind", "minor", "message"),
    [
        (EntryKind.PIECE, 0, "An entry of zero changes nothing"),
        (EntryKind.PIECE, -5, "must be positive"),
        (EntryKind.TOPUP, -5, "must be positive"),
        (EntryKind.PAYOUT_RETURN, -5, "must be positive"),
        (EntryKind.PENALTY, 5, "must be negative"),
        (EntryKind.PAYOUT, 5, "must be negative"),
    ],
)
def test_an_amount_with_the_wrong_sign_for_its_kind_is_refused_naming_the_amount(kind, minor, message):
    worker, period = contractor_user(), PayPeriodFactory.create()
    with pytest.raises(ValidationError) as exc:
        entry(worker, period, minor=minor, kind=kind)
    assert list(exc.value.message_dict) == ["amount"] and message in exc.value.message_dict["amount"][0]
    assert not LedgerEntry.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"memo": "   "}, "memo"),
        ({"job": ""}, "actor"),  # nobody named
        ({"kind": EntryKind.REVERSAL}, "kind"),  # reversals go through entry_reverse
        ({"kind": "tip"}, "kind"),
        ({"key": "x" * 201}, "key"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(kwargs, field):
    worker, period = contractor_user(), PayPeriodFactory.create()
    with pytest.raises(ValidationError) as exc:
        entry(worker, period, **kwargs)
    assert field in exc.value.message_dict
    assert not LedgerEntry.objects.exists()


def test_an_entry_by_both_a_person_and_a_job_is_refused(ops):
    with pytest.raises(ValidationError, match="exactly one of the two"):
        entry(contractor_user(), PayPeriodFactory.create(), actor=ops, job="period_close")


def test_the_database_refuses_an_entry_whose_sign_contradicts_its_kind():
    worker, period = contractor_user(), PayPeriodFactory.create()
    with pytest.raises(IntegrityError, match="ledgerentry_sign_matches_kind"), transaction.atomic():
        LedgerEntry.objects.create(
            contractor=worker,
            kind=EntryKind.PIECE,
            amount_minor=-5,
            currency="USD",
            period=period,
            memo="x",
            created_by_job="t",
        )


# Append-only in the database -------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE payments_ledgerentry SET amount_minor = 999999 WHERE id = %s",
        "UPDATE payments_ledgerentry SET memo = 'changed' WHERE id = %s",
        "DELETE FROM payments_ledgerentry WHERE id = %s",
    ],
)
def test_the_database_refuses_update_and_delete_of_a_ledger_row(sql):
    posted = entry(contractor_user(), PayPeriodFactory.create(), minor=1250)
    before = _fields(posted)
    with pytest.raises(IntegrityError, match=APPEND_ONLY), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [posted.pk])
    assert LedgerEntry.objects.filter(pk=posted.pk).exists()
    assert _fields(posted) == before


def test_the_orm_cannot_change_or_delete_an_entry_either():
    posted = entry(contractor_user(), PayPeriodFactory.create(), minor=1250)
    posted.memo = "rewritten"
    with pytest.raises(IntegrityError, match=APPEND_ONLY), transaction.atomic():
        posted.save()
    with pytest.raises(IntegrityError, match=APPEND_ONLY), transaction.atomic():
        LedgerEntry.objects.filter(pk=posted.pk).update(amount_minor=1)
    with pytest.raises(IntegrityError, match=APPEND_ONLY), transaction.atomic():
        LedgerEntry.objects.filter(pk=posted.pk)._raw_delete(LedgerEntry.objects.db)
    posted.refresh_from_db()
    assert (posted.memo, posted.amount_minor) == ("Pay for the test.", 1250)


# Reversals --------------------------------------------------------------------------------------


def test_a_reversal_posts_the_opposite_amount_and_the_balance_returns_to_zero(ops):
    worker, period = contractor_user(), PayPeriodFactory.create()
    source = project()
    original = entry(worker, period, minor=1250, source=source)
    reversal = entry_reverse(entry=original, memo="Paid twice for the same answer.", actor=ops)
    assert (reversal.kind, reversal.amount, reversal.reverses) == (EntryKind.REVERSAL, Money(-1250, "USD"), original)
    assert (reversal.source_type, reversal.source_id, reversal.period) == ("tasks.project", source.pk, period)
    assert balance(contractor=worker) == {"USD": Money(0, "USD")}
    event = AuditEvent.objects.get(action="ledger.reverse")
    assert event.actor == ops and event.summary["reverses"] == original.pk and event.object_id == str(reversal.pk)


def test_a_reversal_can_land_in_a_later_period():
    worker, closed, current = contractor_user(), PayPeriodFactory.create(), PayPeriodFactory.create()
    original = entry(worker, closed, minor=900)
    reversal = entry_reverse(entry=original, memo="Corrected after the close.", job="corrections", period=current)
    assert reversal.period == current
    assert period_total(contractor=worker, period=current) == {"USD": Money(-900, "USD")}


def test_an_entry_is_reversed_only_once(ops):
    original = entry(contractor_user(), PayPeriodFactory.create(), minor=1250)
    first = entry_reverse(entry=original, memo="Duplicate.", actor=ops)
    with pytest.raises(ValidationError) as exc:
        entry_reverse(entry=original, memo="Duplicate again.", actor=ops)
    message = exc.value.message_dict["entry"][0]
    assert f"already reversed by entry #{first.pk}" in message
    assert exc.value.error_dict["entry"][0].code == "wrong_state"
    assert LedgerEntry.objects.filter(kind=EntryKind.REVERSAL).count() == 1


def test_the_database_also_refuses_a_second_reversal_of_one_entry():
    original = entry(contractor_user(), PayPeriodFactory.create(), minor=1250)
    entry_reverse(entry=original, memo="Duplicate.", job="corrections")
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            contractor_id=original.contractor_id,
            kind=EntryKind.REVERSAL,
            amount_minor=-1250,
            currency="USD",
            period=original.period,
            memo="Sneaking past the service.",
            created_by_job="t",
            reverses=original,
        )


def test_a_reversal_cannot_itself_be_reversed(ops):
    original = entry(contractor_user(), PayPeriodFactory.create(), minor=1250)
    reversal = entry_reverse(entry=original, memo="Duplicate.", actor=ops)
    with pytest.raises(ValidationError, match="is a reversal and cannot be reversed"):
        entry_reverse(entry=reversal, memo="Undo the undo.", actor=ops)
    assert LedgerEntry.objects.count() == 2


# Idempotency keys ----------------------------------------------------------------------------


def test_posting_again_with_the_same_key_returns_the_first_entry():
    worker, period = contractor_user(), PayPeriodFactory.create()
    key = f"close:{period.pk}:{worker.pk}:topup"
    first = entry(worker, period, kind=EntryKind.TOPUP, minor=437, key=key)
    again = entry(worker, period, kind=EntryKind.TOPUP, minor=437, key=key, memo="A retried close.")
    assert again.pk == first.pk and again.memo == first.memo
    assert LedgerEntry.objects.filter(key=key).count() == 1
    assert balance(contractor=worker) == {"USD": Money(437, "USD")}


def test_a_key_reused_for_a_different_entry_is_refused_as_a_conflict():
    worker, period = contractor_user(), PayPeriodFactory.create()
    first = entry(worker, period, kind=EntryKind.TOPUP, minor=437, key="close:1:1:topup")
    with pytest.raises(ValidationError) as exc:
        entry(worker, period, kind=EntryKind.TOPUP, minor=500, key="close:1:1:topup")
    assert f"already used for entry #{first.pk}" in exc.value.message_dict["key"][0]
    assert exc.value.error_dict["key"][0].code == "wrong_state"
    assert LedgerEntry.objects.count() == 1


def _in_threads(count: int, work: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run ``work(i)`` in ``count`` threads, each on its own database connection."""
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_many_concurrent_posts_with_one_key_leave_exactly_one_entry():
    worker, period = contractor_user(), PayPeriodFactory.create()
    start = threading.Barrier(8)

    def post(i: int) -> int:
        start.wait()
        return entry(worker, period, kind=EntryKind.TOPUP, minor=437, key="close:race:topup", job=f"worker-{i}").pk

    pks, errors = _in_threads(8, post)
    assert errors == []
    assert LedgerEntry.objects.filter(key="close:race:topup").count() == 1
    assert set(pks) == {LedgerEntry.objects.get(key="close:race:topup").pk}


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def _race_two_posts(key: str | None) -> tuple[list[Any], list[BaseException]]:
    """The first post stays uncommitted until the second has checked for the key and is inserting.

    The second post's check finds nothing (the first is not committed), so only the database's
    unique index stands between it and a double payment.
    """
    worker, period = contractor_user(), PayPeriodFactory.create()
    first_posted, release = threading.Event(), threading.Event()

    def post(i: int) -> int:
        if i == 0:
            with transaction.atomic():
                pk = entry(worker, period, kind=EntryKind.TOPUP, minor=437, key=key, job="close-1").pk
                first_posted.set()
                assert release.wait(timeout=30)
            return pk
        assert first_posted.wait(timeout=30)
        return entry(worker, period, kind=EntryKind.TOPUP, minor=437, key=key, job="close-2").pk

    def referee() -> None:
        # Let the first commit once the second waits on its row in the unique index, or has
        # finished without waiting (no key: nothing to wait for).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _waiting_on_a_lock() == 0 and not done.is_set():
            time.sleep(0.02)
        release.set()
        connection.close()

    done = threading.Event()
    watcher = threading.Thread(target=referee)
    watcher.start()

    def tracked(i: int) -> int:
        try:
            return post(i)
        finally:
            if i == 1:
                done.set()

    results = _in_threads(2, tracked)
    watcher.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_a_post_that_loses_the_race_on_its_key_returns_the_winners_entry():
    pks, errors = _race_two_posts("close:7:42:topup")
    assert errors == []
    assert pks[0] == pks[1]
    assert LedgerEntry.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_control_without_a_key_the_same_race_pays_twice():
    pks, errors = _race_two_posts(None)
    assert errors == []
    assert pks[0] != pks[1]
    assert LedgerEntry.objects.count() == 2


# Balances --------------------------------------------------------------------------------------


def test_balance_and_period_totals_are_derived_from_the_entries_per_currency(ops):
    worker, other = contractor_user(), contractor_user()
    week1, week2 = PayPeriodFactory.create(), PayPeriodFactory.create()
    entry(worker, week1, minor=1250)
    duplicate = entry(worker, week1, minor=800)
    entry(worker, week1, minor=300, kind=EntryKind.BONUS)
    entry(worker, week1, minor=-200, kind=EntryKind.PENALTY)
    entry(worker, week2, minor=1000, currency="EUR", kind=EntryKind.HOURLY)
    entry(worker, week2, minor=-1000, kind=EntryKind.PAYOUT)
    entry(other, week1, minor=9999)
    entry_reverse(entry=duplicate, memo="Answer was a duplicate.", actor=ops)

    assert balance(contractor=worker) == {"EUR": Money(1000, "EUR"), "USD": Money(350, "USD")}
    assert period_total(contractor=worker, period=week1) == {"USD": Money(1350, "USD")}
    assert period_total(contractor=worker, period=week2) == {"EUR": Money(1000, "EUR"), "USD": Money(-1000, "USD")}
    # Earnings of a kind are counted net of their reversals.
    assert period_total(contractor=worker, period=week1, kinds=[EntryKind.PIECE, EntryKind.BONUS]) == {
        "USD": Money(1550, "USD")
    }
    assert balance(contractor=contractor_user()) == {}
    assert [e.kind for e in ledger_entry_list(contractor=worker, period=week1)] == [
        EntryKind.PIECE,
        EntryKind.PIECE,
        EntryKind.BONUS,
        EntryKind.PENALTY,
        EntryKind.REVERSAL,
    ]


# The admin --------------------------------------------------------------------------------------


def test_ledger_entries_and_pay_periods_can_be_read_but_not_changed_in_the_admin(login):
    posted = entry(contractor_user(), PayPeriodFactory.create(), minor=1250)
    for user in (staff_user(is_superuser=True, is_staff=True), staff_user(is_staff=True)):
        client = login(user)
        assert client.get(reverse("admin:payments_ledgerentry_changelist")).status_code == 200
        assert client.get(reverse("admin:payments_ledgerentry_change", args=[posted.pk])).status_code == 200
        assert client.get(reverse("admin:payments_payperiod_change", args=[posted.period_id])).status_code == 200
        response = client.post(reverse("admin:payments_ledgerentry_change", args=[posted.pk]), {"memo": "Rewritten"})
        assert response.status_code == 403
        assert client.get(reverse("admin:payments_ledgerentry_delete", args=[posted.pk])).status_code == 403
        assert client.get(reverse("admin:payments_ledgerentry_add")).status_code == 403
        assert client.get(reverse("admin:payments_payperiod_add")).status_code == 403
    posted.refresh_from_db()
    assert posted.memo == "Pay for the test."
