"""Pay periods made on demand, the beat job that closes them, and the operations pages of the close."""

from __future__ import annotations

import datetime
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse

from payments.models import CloseRun, CloseStatus, LedgerEntry, PayPeriod, PeriodStatus
from payments.services.close import (
    close_run_execute,
    period_close,
    period_for,
    periods_close_due,
    periods_ensure,
)
from tests.payments.work import WEEK, at, floors_loaded, lines, person, piece_project, task_time, this_monday, week
from tests.tasks.factories import project
from workforce.models import AuditEvent

pytestmark = pytest.mark.django_db

D = datetime.date
UTC = datetime.UTC
NOW = datetime.datetime(2026, 11, 23, 18, 0, tzinfo=UTC)  # a Monday evening


@pytest.fixture(autouse=True)
def reviewed_floors(db: None) -> None:
    floors_loaded()


# Periods --------------------------------------------------------------------------------------------


def test_a_period_is_the_week_from_monday_midnight_in_the_pay_time_zone_made_on_demand():
    period = period_for(datetime.datetime(2026, 11, 12, 15, 0, tzinfo=UTC))
    assert (period.start, period.end, period.timezone, period.status) == (
        D(2026, 11, 9),
        D(2026, 11, 16),
        "UTC",
        PeriodStatus.OPEN,
    )
    assert period_for(datetime.datetime(2026, 11, 15, 23, 59, tzinfo=UTC)) == period
    assert PayPeriod.objects.count() == 1


@override_settings(FAIRTASK_PAY_WEEK_START=6, FAIRTASK_PAY_TIMEZONE="America/New_York")
def test_the_week_start_and_time_zone_are_settings():
    # Sunday 2026-11-15 03:00 UTC is still Saturday evening in New York.
    period = period_for(datetime.datetime(2026, 11, 15, 3, 0, tzinfo=UTC))
    assert (period.start, period.end, period.timezone) == (D(2026, 11, 8), D(2026, 11, 15), "America/New_York")


def test_missing_weeks_are_made_from_the_first_paid_activity_up_to_now():
    worker, p = person(), piece_project()
    task_time(worker, p, started=at(D(2026, 10, 28)), seconds=600)
    week(D(2026, 11, 9))  # one week exists already, with a gap before it
    made = periods_ensure(now=NOW)
    assert [p.start for p in made] == [D(2026, 10, 26), D(2026, 11, 2), D(2026, 11, 16), D(2026, 11, 23)]
    assert periods_ensure(now=NOW) == []


def test_the_beat_job_closes_every_period_that_is_over_and_leaves_the_current_one_open():
    worker, p = person(), piece_project()
    task_time(worker, p, started=at(D(2026, 11, 3)), seconds=3600)
    task_time(worker, p, started=at(D(2026, 11, 23), 9), seconds=3600)  # this week: not closed yet
    runs = periods_close_due(now=NOW)
    assert [(r.period.start, r.status, r.job) for r in runs] == [
        (D(2026, 11, 2), CloseStatus.DONE, "payments.jobs.periods_close_due_job"),
        (D(2026, 11, 9), CloseStatus.DONE, "payments.jobs.periods_close_due_job"),
        (D(2026, 11, 16), CloseStatus.DONE, "payments.jobs.periods_close_due_job"),
    ]
    assert PayPeriod.objects.get(start=D(2026, 11, 23)).status == PeriodStatus.OPEN
    assert lines(worker) == {"piece": 5, "topup": 1685}  # one hour, and only last week's
    assert periods_close_due(now=NOW) == []


def test_a_period_is_over_only_a_few_minutes_after_its_end():
    period = week(D(2026, 11, 16))
    assert not periods_close_due(now=datetime.datetime(2026, 11, 23, 0, 2, tzinfo=UTC))
    period.refresh_from_db()
    assert period.status == PeriodStatus.OPEN


def test_a_stopped_run_resumes_in_the_same_row_after_its_cursor():
    first, second = person(), person()
    p = project(piece_rate_minor=40, hourly_rate_minor=2000)
    for worker in (first, second):
        task_time(worker, p, started=at(D(2026, 11, 10)), seconds=3600)
    period = week()
    # As a run that died after its first chunk leaves it: running, one contractor done.
    with override_settings(FAIRTASK_CLOSE_CHUNK_SIZE=1):
        run = period_close(period=period, job="test")
    assert run.status == CloseStatus.DONE and (run.done, run.total) == (2, 2)
    stopped = CloseRun.objects.create(
        period=week(D(2026, 11, 16)), job="test", status=CloseStatus.FAILED, total=1, done=1, cursor=second.pk
    )
    resumed = period_close(period=stopped.period, job="beat")
    assert resumed.pk == stopped.pk and resumed.status == CloseStatus.DONE and resumed.attempts == 1
    assert LedgerEntry.objects.filter(period=stopped.period).count() == 0  # nobody after the cursor worked


# Pages ------------------------------------------------------------------------------------------------


def test_an_operations_manager_closes_a_period_from_its_page_and_a_worker_job_is_queued(
    ops, login, django_capture_on_commit_callbacks
):
    worker, p = person(), piece_project()
    task_time(worker, p, started=at(D(2026, 11, 10)), seconds=3600)
    period = week()
    client = login(ops)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("payments:pay-period-close", kwargs={"pk": period.pk}))
    assert response.status_code == 302 and response["Location"] == reverse(
        "payments:pay-period-detail", kwargs={"pk": period.pk}
    )
    run = CloseRun.objects.get()
    assert (run.status, run.started_by, len(callbacks)) == (CloseStatus.RUNNING, ops, 1)
    period.refresh_from_db()
    assert period.status == PeriodStatus.CLOSING
    assert AuditEvent.objects.get(action="period.close_start").actor == ops
    status = client.get(reverse("payments:close-run-status", kwargs={"pk": run.pk})).json()
    assert (status["status"], status["is_finished"], status["percent"]) == ("running", False, 0)
    close_run_execute(run_id=run.pk)  # what the queued job does
    status = client.get(reverse("payments:close-run-status", kwargs={"pk": run.pk})).json()
    assert (status["status"], status["done"], status["total"], status["percent"]) == ("done", 1, 1, 100)
    page = client.get(reverse("payments:pay-period-detail", kwargs={"pk": period.pk}))
    assert page.status_code == 200 and "Closed" in page.content.decode()


def test_the_close_page_lists_open_exceptions_and_a_retry_button(ops, login):
    stranger = person(country="", region="", email="nowhere@example.com")
    task_time(stranger, piece_project(), started=at(D(2026, 11, 10)), seconds=3600)
    period_close(period=week(), job="test")
    page = login(ops).get(reverse("payments:pay-period-detail", kwargs={"pk": week().pk})).content.decode()
    assert "nowhere@example.com" in page and "no country or region on their profile" in page
    assert reverse("payments:pay-period-retry", kwargs={"pk": week().pk}) in page


def test_the_close_page_shows_each_top_up_with_its_arithmetic_and_a_link_to_the_statement(ops, login):
    below, above = person(email="below@example.com"), person(email="above@example.com")
    task_time(below, piece_project(), started=at(D(2026, 11, 10)), seconds=3600)
    task_time(above, project(piece_rate_minor=40, hourly_rate_minor=2500), started=at(D(2026, 11, 10)), seconds=3600)
    period_close(period=week(), job="test")
    page = login(ops).get(reverse("payments:pay-period-detail", kwargs={"pk": week().pk})).content.decode()
    rows = re.findall(r'<tr id="topup-(\d+)">(.*?)</tr>', page, flags=re.S)
    assert [int(pk) for pk, _row in rows] == [below.pk], "only the contractor below the floor is listed"
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", rows[0][1], re.S)]
    # 1 h x 16.90 (US-CA) = 16.90 floor pay, minus 0.05 earned by the piece = 16.85 top-up.
    assert cells[0] == "below@example.com" and cells[1] == "US-CA"
    assert [c.split()[0] for c in cells[3:]] == ["16.90", "16.90", "0.05", "16.85"]
    statement = reverse("payments:contractor-statement", args=[below.pk, week().pk])
    assert f'href="{statement}"' in page


def test_closing_too_early_from_the_page_shows_why_and_writes_nothing(ops, login):
    current = week(this_monday())
    response = login(ops).post(reverse("payments:pay-period-close", kwargs={"pk": current.pk}), follow=True)
    assert "not over yet" in response.content.decode()
    assert not CloseRun.objects.exists()


def test_auditors_read_the_close_pages_and_cannot_close(auditor, login):
    period = week(WEEK)
    client = login(auditor)
    assert client.get(reverse("payments:pay-period-list")).status_code == 200
    assert client.get(reverse("payments:pay-period-detail", kwargs={"pk": period.pk})).status_code == 200
    assert client.post(reverse("payments:pay-period-close", kwargs={"pk": period.pk})).status_code == 403
    assert not CloseRun.objects.exists()


def test_contractors_cannot_see_the_close_pages(login):
    worker = person()
    period = week(WEEK)
    client = login(worker)
    assert client.get(reverse("payments:pay-period-list")).status_code == 403
    assert client.get(reverse("payments:pay-period-detail", kwargs={"pk": period.pk})).status_code == 403


# The command ----------------------------------------------------------------------------------------


def test_the_close_period_command_closes_the_week_holding_a_day_and_prints_the_result():
    worker, p = person(), piece_project()
    task_time(worker, p, started=at(D(2026, 11, 10)), seconds=3600)
    out = StringIO()
    call_command("close_period", "2026-11-12", stdout=out)
    assert "Close of 2026-11-09 to 2026-11-15 (UTC): Done, 1 of 1 contractors, 2 ledger entries" in out.getvalue()
    assert CloseRun.objects.get().job == "manage.py close_period"


def test_the_close_period_command_refuses_a_week_that_is_not_over():
    with pytest.raises(CommandError, match="not over yet"):
        call_command("close_period", (this_monday() + datetime.timedelta(days=1)).isoformat())
    assert not CloseRun.objects.exists()
