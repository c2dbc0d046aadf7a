"""A week's pay, driven through the portal in a real browser, with a real Celery worker and the fake Stripe.

An operations manager signs in with a TOTP code, closes a week that is over and watches the
close's progress bar fill; the period page then lists the contractor who earned less than the
wage floor, with the top-up's arithmetic, and their statement repeats it. The manager runs
payouts, which the worker sends to the local Stripe server (``tests/fakes/stripe_server.py``).
Finally the topped-up contractor signs in, opens the week's statement and downloads its PDF.

Only the starting point is made without the UI: two contractors in California (one paid by the
piece, well under the floor; one paid by the hour, above it) with their week of work and a
Stripe Express account each, the week (2026-11-09, long over, so nothing depends on today) and
the open week after it, where payouts are recorded. Every figure the test expects is worked
out here from those inputs and the floor, never read back from the page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from pathlib import Path

import pypdf
import pytest
from playwright.sync_api import Locator, Page, expect
from pytest_django.fixtures import Settings

from payments.models import LedgerEntry, PayPeriod, PeriodStatus, WageCheck
from payments.payouts.accounts import payout_account_onboarding_start, payout_account_refresh
from payments.payouts.models import Payout, PayoutState
from payments.statements.selectors import statement_build
from tests.celery_worker import Worker, worker_process
from tests.e2e.conftest import NewPage, pass_mfa, sign_in
from tests.fakes.stripe_server import API_KEY, WEBHOOK_SECRET, FakeStripe
from tests.payments.payouts import REFRESH_URL, RETURN_URL, configure_stripe, stripe_account_id
from tests.payments.work import NEXT_WEEK, WEEK, answers, at, floors_loaded, person, piece_project, task_time, week
from tests.tasks.factories import project
from tests.workforce.factories import PASSWORD
from workforce.models import User

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# A Redis database of this module's own (tests/celery_worker.py uses 14, the payout crash tests 13, the
# audit flow 12, the test settings 15): another worker test running at the same time never takes its jobs.
BROKER_URL = "redis://127.0.0.1:6379/11"
# The worker's job and the page's once-a-second poll: seconds, not minutes, when all is well.
JOB_TIMEOUT_MS = 30_000

# California's statutory minimum wage in 2026 (DESIGN.md, "Wage floor data"), in USD an hour.
FLOOR_PER_HOUR = Decimal("16.90")
CURRENCY = "USD"

# Bea labels street signs at 5 cents an approved answer, with no hourly rate: three tasks with
# their time, and ten more approved answers whose time is in those spans.
PIECE_RATE_MINOR = 5
BEA_TASK_SECONDS = [3600, 2700, 1800]
BEA_EXTRA_ANSWERS = 10
# Abe writes medical notes at 25.00 USD an hour and 10 cents an approved answer: three hours.
HOURLY_RATE_MINOR = 2500
HOURLY_PIECE_MINOR = 10
ABE_TASK_SECONDS = [3600, 3600, 3600]


def usd(minor: int) -> str:
    """An amount in cents as every page shows it: ``3803`` → ``"38.03 USD"``."""
    return f"{Decimal(minor).scaleb(-2):.2f} {CURRENCY}"


def hours(seconds: int) -> str:
    return f"{Decimal(seconds) / 3600:.2f}"


def floor_pay_minor(seconds: int) -> int:
    """The floor for ``seconds`` of paid time, rounded up to the cent (rounding favours the contractor)."""
    return int((FLOOR_PER_HOUR * seconds / 3600 * 100).to_integral_value(rounding=ROUND_CEILING))


BEA_SECONDS = sum(BEA_TASK_SECONDS)  # 2.25 hours
BEA_EARNINGS_MINOR = PIECE_RATE_MINOR * (len(BEA_TASK_SECONDS) + BEA_EXTRA_ANSWERS)  # 0.65 USD
BEA_FLOOR_PAY_MINOR = floor_pay_minor(BEA_SECONDS)  # 16.90 an hour for 2.25 hours is 38.025, so 38.03 USD
BEA_TOPUP_MINOR = BEA_FLOOR_PAY_MINOR - BEA_EARNINGS_MINOR  # 37.38 USD
BEA_PAY_MINOR = BEA_EARNINGS_MINOR + BEA_TOPUP_MINOR
# Earnings per paid hour before the top-up, as the top-up's memo shows it (to the cent, half up).
BEA_EFFECTIVE = (Decimal(BEA_EARNINGS_MINOR) / 100 * 3600 / BEA_SECONDS).quantize(Decimal("0.01"), ROUND_HALF_UP)
ABE_SECONDS = sum(ABE_TASK_SECONDS)
ABE_PAY_MINOR = HOURLY_RATE_MINOR * ABE_SECONDS // 3600 + HOURLY_PIECE_MINOR * len(ABE_TASK_SECONDS)  # 75.30 USD


@pytest.fixture
def celery_broker_url() -> str:
    return BROKER_URL


@pytest.fixture
def stripe(settings: Settings, stripe_fake: FakeStripe) -> FakeStripe:
    """The fake Stripe, with this process (the test and ``live_server``) pointed at it."""
    configure_stripe(settings, stripe_fake)
    return stripe_fake


@pytest.fixture
def pay_worker(transactional_db: None, celery_broker: str, tmp_path: Path, stripe: FakeStripe) -> Iterator[Worker]:
    """A real ``celery worker`` for the close and the payout run, pointed at the fake Stripe.

    It depends on the fake, so it stops before the fake does: a job is never left calling a
    server that has gone.
    """
    stripe_env = {
        "STRIPE_SECRET_KEY": API_KEY,
        "STRIPE_API_BASE": stripe.url,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_TIMEOUT_SECONDS": "5",
    }
    with worker_process(broker_url=celery_broker, tmp_path=tmp_path, extra_env=stripe_env, name="pay-worker") as w:
        yield w


def with_stripe_account(fake: FakeStripe, user: User) -> str:
    """Give the contractor an Express account at the fake, onboarded, through the payout services."""
    payout_account_onboarding_start(contractor=user, return_url=RETURN_URL, refresh_url=REFRESH_URL)
    account_id = stripe_account_id(user)
    fake.complete_onboarding(account_id)
    assert payout_account_refresh(contractor=user).is_usable
    return account_id


def fact(page: Page, term: str) -> Locator:
    """The value next to ``term`` in a list of facts (``<dt>term</dt><dd>value</dd>``)."""
    return page.locator(f"xpath=//dt[normalize-space()='{term}']/following-sibling::dd[1]")


def expect_floor_arithmetic(page: Page) -> None:
    """Bea's statement: the floor comparison and the top-up line, each figure as worked out above."""
    expect(fact(page, "Jurisdiction")).to_have_text("US-CA")
    expect(fact(page, "Paid hours")).to_have_text(hours(BEA_SECONDS))
    expect(fact(page, "Floor that applies (per hour)")).to_have_text(f"{FLOOR_PER_HOUR} {CURRENCY}")
    expect(fact(page, "Floor \N{MULTIPLICATION SIGN} hours (rounded up)")).to_have_text(usd(BEA_FLOOR_PAY_MINOR))
    expect(fact(page, "Earnings before top-up")).to_have_text(usd(BEA_EARNINGS_MINOR))
    expect(fact(page, "Top-up")).to_have_text(usd(BEA_TOPUP_MINOR))
    expect(page.get_by_text("Your earnings were below the floor, so a top-up brought them up to it.")).to_be_visible()
    topup_line = page.locator("table.lines tbody tr", has_text="Wage-floor top-up:")
    expect(topup_line.locator("td")).to_have_text(
        [
            "Wage-floor top-up",
            f"Wage-floor top-up: {hours(BEA_SECONDS)} paid hours earned {usd(BEA_EARNINGS_MINOR)}, an effective "
            f"{BEA_EFFECTIVE} {CURRENCY} an hour, under the statutory floor of {FLOOR_PER_HOUR} {CURRENCY} an hour "
            f"for US-CA; {usd(BEA_FLOOR_PAY_MINOR)} was due.",
            usd(BEA_TOPUP_MINOR),
        ]
    )
    expect(page.locator("table.lines tfoot tr", has_text="Pay for this period").locator("th").last).to_have_text(
        usd(BEA_PAY_MINOR)
    )


def test_a_manager_closes_a_week_tops_up_pay_to_the_floor_pays_out_and_the_contractor_downloads_the_statement(
    new_page: NewPage, ops_manager: User, stripe: FakeStripe, pay_worker: Worker
) -> None:
    floors_loaded()
    bea = person(email="bea.below@example.com")  # US-CA, America/Los_Angeles
    abe = person(email="abe.above@example.com")
    signs = piece_project(name="Street signs", piece_rate_minor=PIECE_RATE_MINOR)
    notes = project(name="Medical notes", hourly_rate_minor=HOURLY_RATE_MINOR, piece_rate_minor=HOURLY_PIECE_MINOR)
    for day, seconds in enumerate(BEA_TASK_SECONDS, start=10):
        task_time(bea, signs, started=at(WEEK.replace(day=day), 9), seconds=seconds)
    answers(bea, signs, BEA_EXTRA_ANSWERS, on=at(WEEK.replace(day=13), 16))
    for day, seconds in enumerate(ABE_TASK_SECONDS, start=10):
        task_time(abe, notes, started=at(WEEK.replace(day=day), 14), seconds=seconds)
    accounts = {bea.pk: with_stripe_account(stripe, bea), abe.pk: with_stripe_account(stripe, abe)}
    period = week(WEEK)
    week(NEXT_WEEK)  # open: the payouts are recorded in it, as a closed week's statement is final
    assert BEA_TOPUP_MINOR > 0 and floor_pay_minor(ABE_SECONDS) < ABE_PAY_MINOR  # one under the floor, one over
    period_name = str(period)

    # 1. The manager signs in with a TOTP code and opens the week: over, not closed yet.
    manager = new_page()
    sign_in(manager, email=ops_manager.email, password=PASSWORD)
    pass_mfa(manager)
    manager.get_by_role("link", name="Pay periods", exact=True).click()
    expect(manager.get_by_role("heading", name="Pay periods", level=1)).to_be_visible()
    expect(manager.locator("#pay-periods tbody tr", has_text=period_name)).to_contain_text("Open over, not closed yet")
    manager.get_by_role("link", name=period_name, exact=True).click()
    expect(manager.get_by_role("heading", name=f"Pay period {period_name}", level=1)).to_be_visible()

    # 2. The close, queued behind a busy worker: the bar shows at 0%, then fills to 100% as it runs.
    with pay_worker.paused():
        manager.get_by_role("button", name="Close this period").click()
        expect(manager.get_by_text("The close is running; this page shows its progress.")).to_be_visible()
        bar = manager.locator("progress#close-bar")
        expect(bar).to_be_visible()
        expect(bar).to_have_attribute("value", "0")
        expect(manager.locator("#close-status-text")).to_have_text("Running")
        expect(fact(manager, "Status")).to_have_text("Closing")
    progress = manager.locator("#close-progress-text")
    # Two contractors, two entries each: Bea's piece pay and top-up, Abe's hourly and piece pay.
    expect(progress).to_have_text("100% · 2 of 2 contractors · 4 ledger entries.", timeout=JOB_TIMEOUT_MS)
    expect(manager.locator("#close-status-text")).to_have_text("Done", timeout=JOB_TIMEOUT_MS)
    expect(bar).to_have_attribute("value", "100")
    expect(fact(manager, "Status")).to_have_text("Closed")
    expect(manager.locator("#close-exceptions")).to_have_count(0)
    assert PayPeriod.objects.get(pk=period.pk).status == PeriodStatus.CLOSED
    assert LedgerEntry.objects.filter(period=period).count() == 4

    # 3. Bea earned under the floor: the period lists her top-up with its arithmetic; Abe needed none.
    topups = manager.locator("#close-topups tbody tr")
    expect(topups).to_have_count(1)
    expect(manager.locator(f"#topup-{abe.pk}")).to_have_count(0)
    expect(manager.locator(f"#topup-{bea.pk} td")).to_have_text(
        [
            bea.email,
            "US-CA",
            hours(BEA_SECONDS),
            f"{FLOOR_PER_HOUR} {CURRENCY}",
            usd(BEA_FLOOR_PAY_MINOR),
            usd(BEA_EARNINGS_MINOR),
            usd(BEA_TOPUP_MINOR),
        ]
    )
    assert WageCheck.objects.get(period=period, contractor=abe).topup_minor == 0

    # Her statement, as operations read it, repeats the arithmetic on the floor comparison and the line.
    manager.get_by_role("link", name=bea.email, exact=True).click()
    expect(manager.get_by_role("heading", name="Pay statement", level=1)).to_be_visible()
    expect(manager.locator("p.meta").first).to_contain_text(f"{period_name} · final: the period is closed")
    expect(manager.locator("p.meta").first).to_contain_text(bea.email)
    expect_floor_arithmetic(manager)

    # 4. Payouts: the run pays both through Stripe, and the page says so.
    manager.get_by_role("link", name="Payouts", exact=True).click()
    expect(manager.get_by_role("heading", name="Payout runs", level=1)).to_be_visible()
    expect(manager.get_by_label("Currency")).to_have_value(CURRENCY)
    manager.get_by_role("button", name="Start payout run").click()
    expect(manager).to_have_url(re.compile(r"/ops/payout-runs/\d+/$"))
    expect(manager.locator("#run-status-text")).to_have_text("Done", timeout=JOB_TIMEOUT_MS)
    expect(manager.locator("progress#run-bar")).to_have_attribute("value", "100")
    expect(manager.locator("#run-progress-text")).to_have_text("100% · 2 of 2 contractors handled.")
    expect(manager.locator("ul.counts li")).to_contain_text(["Paid: 2", "Pending: 0", "Failed and returned: 0"])
    expect(manager.locator("ul.counts li", has_text="Skipped:")).to_have_text("Skipped: 0")
    expect(manager.get_by_role("alert")).to_have_count(0)
    for who, pay_minor in ((bea, BEA_PAY_MINOR), (abe, ABE_PAY_MINOR)):
        row = manager.locator("#run-payouts tbody tr", has_text=who.email)
        expect(row.locator("td").nth(2)).to_have_text(usd(pay_minor))
        expect(row.locator("td").nth(3)).to_have_text("Paid")
    expect(manager.locator("#run-skips tbody")).to_have_text("Nobody was skipped.")

    # Stripe holds exactly one transfer per contractor, of exactly their week's pay, to their account.
    transfers = stripe.transfers
    assert sorted((t["destination"], t["amount"], t["currency"]) for t in transfers) == sorted(
        [(accounts[bea.pk], BEA_PAY_MINOR, "usd"), (accounts[abe.pk], ABE_PAY_MINOR, "usd")]
    )
    for who, pay_minor in ((bea, BEA_PAY_MINOR), (abe, ABE_PAY_MINOR)):
        assert statement_build(contractor=who, period=period).earned.minor == pay_minor  # what the statement says
        payout = Payout.objects.get(contractor=who)
        transfer = next(t for t in transfers if t["destination"] == accounts[who.pk])
        assert (payout.state, payout.amount_minor, payout.provider_reference) == (
            PayoutState.PAID,
            pay_minor,
            transfer["id"],
        )

    # 5. Bea signs in: nothing is owed any more, and the week's pay is the floor for her hours.
    contractor = new_page()
    sign_in(contractor, email=bea.email, password=PASSWORD)
    contractor.get_by_role("link", name="Earnings", exact=True).click()
    expect(contractor.get_by_role("heading", name="Earnings", level=1)).to_be_visible()
    expect(fact(contractor, "Balance (owed to you, not yet paid out)")).to_have_text(usd(0))
    week_row = contractor.locator("tr", has=contractor.get_by_role("link", name=period_name, exact=True))
    expect(week_row.locator("td").nth(1)).to_have_text(usd(BEA_PAY_MINOR))
    expect(week_row.locator("td").nth(3)).to_have_text(f"{FLOOR_PER_HOUR} {CURRENCY}")
    statements = contractor.get_by_role("region", name="Statements")
    statements.get_by_role("link", name=period_name, exact=True).click()
    expect(contractor.get_by_role("heading", name="Pay statement", level=1)).to_be_visible()
    expect(contractor.locator("p.meta").first).to_have_text(f"{period_name} · final: the period is closed")
    expect_floor_arithmetic(contractor)

    # The PDF: a real PDF of the same statement, with her name, the top-up and the week's pay in it.
    with contractor.expect_download() as download_info:
        contractor.get_by_role("link", name="Download PDF").click()
    download = download_info.value
    assert download.suggested_filename == f"fairtask-statement-{WEEK:%Y-%m-%d}.pdf"
    content = Path(download.path()).read_bytes()
    assert content.startswith(b"%PDF-")
    text = "\n".join(sheet.extract_text() for sheet in pypdf.PdfReader(io.BytesIO(content)).pages)
    assert bea.email in text
    assert f"{period_name} · final" in text
    assert re.search(rf"Top-up\s+{re.escape(usd(BEA_TOPUP_MINOR))}", text), text
    assert re.search(rf"Pay for this period\s+{re.escape(usd(BEA_PAY_MINOR))}", text), text
