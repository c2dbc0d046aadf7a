"""Pay statements (page and PDF), the earnings page and “how my pay is computed”, after a real close."""

from __future__ import annotations

import datetime
import io

import pytest
from django.test import Client
from pypdf import PdfReader

from payments.models import EntryKind, LedgerEntry, PayPeriod
from payments.money import Money
from payments.services.close import period_close
from payments.statements.selectors import earnings_overview, statement_build
from tasks.models import ReviewStatus
from tests.payments.factories import entry as post_entry
from tests.payments.work import answers, at, floors_loaded, person, piece_project, task_time, week
from workforce.models import User

pytestmark = pytest.mark.django_db

TUESDAY = datetime.date(2026, 11, 10)
HOUR = 3600


@pytest.fixture(autouse=True)
def reviewed_floors(db: None) -> None:
    floors_loaded()


def _signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _below_the_floor() -> tuple[User, PayPeriod]:
    """Two hours of US-CA work that earned 0.50 USD in pieces, one hour of it rejected: a top-up is due."""
    worker, p = person(), piece_project(piece_rate_minor=5)
    task_time(worker, p, started=at(TUESDAY, 9), seconds=HOUR, review=None)
    task_time(worker, p, started=at(TUESDAY, 10), seconds=HOUR, review=ReviewStatus.REJECTED)
    answers(worker, p, 10, on=at(TUESDAY, 15))
    run = period_close(period=week(), job="test")
    return worker, run.period


def test_the_statement_shows_hours_every_line_with_its_reason_and_the_top_up():
    worker, period = _below_the_floor()
    s = statement_build(contractor=worker, period=period)
    assert s.is_final
    assert s.paid_seconds == 2 * HOUR and s.hours_of("task") == 2
    assert s.answers["approved"] == 10 and s.answers["rejected"] == 1
    kinds = [line.kind for line in s.lines]
    assert kinds == [EntryKind.PIECE, EntryKind.TOPUP]
    topup = s.lines[1]
    assert "Wage-floor top-up: 2.00 paid hours earned 0.50 USD" in topup.memo
    assert s.earned == Money(50 + 3330, "USD")  # 2 h x 16.90 = 33.80 in all
    assert s.effective_hourly == Money(25, "USD")  # 0.50 over 2 hours, before the top-up
    page = _signed_in(worker).get(f"/me/statements/{period.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert topup.memo.replace("“", "&ldquo;")[:40] in html or topup.memo[:40] in html
    assert "33.80 USD" in html and "final: the period is closed" in html


def test_the_statement_pdf_opens_and_carries_the_same_figures():
    worker, period = _below_the_floor()
    response = _signed_in(worker).get(f"/me/statements/{period.pk}/statement.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="fairtask-statement-{period.start:%Y-%m-%d}.pdf"'
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Fairtask pay statement" in text
    assert "33.80 USD" in text and "33.30 USD" in text and "0.50 USD" in text
    assert "Wage-floor top-up" in text


def test_a_statement_of_an_open_period_is_marked_provisional():
    worker, p = person(), piece_project()
    task_time(worker, p, started=at(datetime.date.today()), seconds=HOUR, review=None)
    period = PayPeriod.objects.create(
        start=datetime.date.today() - datetime.timedelta(days=datetime.date.today().weekday()),
        end=datetime.date.today() - datetime.timedelta(days=datetime.date.today().weekday()) + datetime.timedelta(7),
        timezone="UTC",
    )
    page = _signed_in(worker).get(f"/me/statements/{period.pk}/").content.decode()
    assert "provisional: the period is still open" in page
    assert "No pay lines yet" in page


def test_the_earnings_page_shows_the_balance_from_the_ledger_and_the_weekly_chart():
    worker, period = _below_the_floor()
    post_entry(worker, period, -1000, kind=EntryKind.PAYOUT, memo="Payout to your bank.")
    overview = earnings_overview(contractor=worker)
    ledger_sum = sum(LedgerEntry.objects.filter(contractor=worker).values_list("amount_minor", flat=True))
    assert overview.balance == Money(ledger_sum, "USD") == Money(3380 - 1000, "USD")
    assert [w.earned for w in overview.weeks] == [Money(3380, "USD")]
    page = _signed_in(worker).get("/me/earnings/").content.decode()
    assert "23.80 USD" in page
    assert "<svg" in page and "Effective hourly pay per week against the wage floor" in page
    assert f"/me/statements/{period.pk}/" in page


def test_how_my_pay_is_computed_walks_through_the_same_numbers():
    worker, period = _below_the_floor()
    page = _signed_in(worker).get(f"/me/statements/{period.pk}/how/").content.decode()
    assert "2.00</strong> paid hours" in page
    assert "10 approved answers" in page
    assert "33.80 USD</strong>, the same as on your statement" in page


def test_staff_read_a_contractors_statement_and_contractors_cannot(ops, auditor):
    worker, period = _below_the_floor()
    url = f"/ops/contractors/{worker.pk}/statements/{period.pk}/"
    assert _signed_in(ops).get(url).status_code == 200
    assert _signed_in(auditor).get(url).status_code == 200
    assert _signed_in(auditor).get(url + "statement.pdf").status_code == 200
    other = person()
    assert _signed_in(other).get(url).status_code == 403
    assert Client().get(url).status_code == 302


def test_an_unknown_period_is_a_404():
    worker = person()
    assert _signed_in(worker).get("/me/statements/999999/").status_code == 404
