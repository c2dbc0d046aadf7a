"""An audit of a closed week in a real browser, with the reports made by a real Celery worker.

A compliance auditor signs in with a TOTP code, checks that the periods page with its charts
fits a phone, opens the closed week in the auditor portal, follows its link to the reports form
(the week already chosen), asks for the week's fair-wage report as CSV, XLSX and PDF and
downloads each, then downloads the week's evidence pack, which must hold those very three
files. Every file's SHA-256 is computed here and compared with the one the page shows; the
XLSX and the PDF must open, and the ZIP's manifest must match its members. Then a contractor
of that week opens "How my pay is computed" and must see the figures of their row in the CSV.

Only the starting point is made without the UI: two contractors' work in the week of
2026-11-09 (one paid so little by the piece that the close tops them up to the floor), the
close itself (``period_close``, as the beat job runs it), and the auditor. The close queues
its own audit before the worker and its broker exist, so that audit never runs here and the
evidence pack cannot change between the page and the download.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from pytest_django.fixtures import Settings

from payments.models import LedgerEntry, PayPeriod, PeriodStatus, Report, ReportStatus
from payments.services.close import period_close
from tasks.services.exports import worker_pseudonym
from tests.celery_worker import Worker
from tests.e2e.conftest import DESKTOP_VIEWPORT, PHONE_VIEWPORT, NewPage, pass_mfa, sign_in
from tests.payments.work import at, floors_loaded, fx, person, piece_project, task_time, week
from tests.tasks.factories import project
from tests.workforce.factories import PASSWORD, staff_user
from workforce.models import Role, User

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# A Redis database of this module's own: the other browser tests' workers never see its jobs.
BROKER_URL = "redis://127.0.0.1:6379/12"
# A report is made by the worker and the page reloads itself when it is ready: seconds when all is well.
REPORT_TIMEOUT_MS = 30_000
TUESDAY = datetime.date(2026, 11, 10)
WEEK_LABEL = "2026-11-09 to 2026-11-15 (UTC)"
WEEK_DAYS = "2026-11-09 to 2026-11-15"
LEAD_ROWS = 6  # the CSV's five name,value rows and a blank row before the table
CENT = Decimal("0.01")


@dataclass(frozen=True)
class ClosedWeek:
    period: PayPeriod
    topped_up: User  # US-CA, paid by the piece: the close tops them up to the floor
    well_paid: User  # GB, above the floor with an hourly rate


@dataclass(frozen=True)
class Downloaded:
    path: Path
    sha256_shown: str
    checkpoint_shown: str


@pytest.fixture
def celery_broker_url() -> str:
    return BROKER_URL


@pytest.fixture
def closed_week(transactional_db: None, tmp_path: Path, settings: Settings) -> ClosedWeek:
    """The week of 2026-11-09, closed: two hours of piece work under the floor, and an hour well above it."""
    floors_loaded()
    # The worker writes under its FAIRTASK_VAR_DIR (tmp_path); the live server hands the files out from here.
    settings.FAIRTASK_REPORT_DIR = tmp_path / "reports"
    topped_up = person(email="tom.topup@example.com")
    well_paid = person(country="GB", region="", zone="Europe/London", email="wendy.wellpaid@example.com")
    task_time(topped_up, piece_project(piece_rate_minor=5), started=at(TUESDAY, 9), seconds=7200)
    task_time(well_paid, project(piece_rate_minor=40, hourly_rate_minor=3000), started=at(TUESDAY, 9), seconds=3600)
    fx("GBP", datetime.date(2026, 11, 15), "1.2650000000")
    period = period_close(period=week(), job="test").period
    period.refresh_from_db()
    assert period.status == PeriodStatus.CLOSED
    return ClosedWeek(period=period, topped_up=topped_up, well_paid=well_paid)


@pytest.fixture
def report_worker(closed_week: ClosedWeek, celery_worker: Worker) -> Worker:
    """The worker that makes the reports, started only once the week is closed (see the module's docstring)."""
    return celery_worker


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fact(page: Page, term: str) -> str:
    """The text of the ``<dd>`` after the ``<dt>`` that reads ``term``."""
    return page.locator(f"dl.facts dt:text-is('{term}') + dd").inner_text().strip()


def assert_fits_the_phone(page: Page) -> None:
    """Nothing makes the page wider than the phone: a wide chart scrolls inside its own box."""
    page.wait_for_load_state("load")  # measured with the page's stylesheets applied
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"], page.url


def money_shown(text: str, currency: str) -> Decimal:
    """``"33.80 USD"`` as ``Decimal("33.80")``, after checking the currency."""
    amount, code = text.split()
    assert code == currency, text
    return Decimal(amount)


def assert_pay_explained_as_reported(page: Page, row: dict[str, str]) -> None:
    """The contractor's "How my pay is computed" shows the figures of their row in the fair-wage CSV."""
    expect(page.get_by_role("heading", name="How my pay is computed", level=1)).to_be_visible()
    assert_fits_the_phone(page)
    expect(page.locator("main")).not_to_contain_text("{'")  # every figure in words, never a raw record

    def figure(name: str) -> str:
        return page.locator(f"[data-figure='{name}']").inner_text().strip()

    currency = row["currency"]
    assert Decimal(figure("paid-hours")) == Decimal(row["paid_hours"])
    assert money_shown(figure("earnings"), currency) == Decimal(row["gross_earnings"])
    assert money_shown(figure("topup"), currency) == Decimal(row["topup"])
    assert money_shown(figure("total"), currency) == Decimal(row["total_pay"])
    assert figure("statutory") == f"{row['statutory_floor_local']} {row['statutory_currency']}"
    # The page shows rates to a hundredth of a cent; the report rounds the contractor's rate down and the
    # floor up to the cent, so that rounding never makes anyone look better paid.
    before = money_shown(figure("effective-before"), currency)
    assert before.quantize(CENT, rounding=ROUND_FLOOR) == Decimal(row["effective_hourly_before"])
    floor = money_shown(figure("floor"), currency)
    assert floor.quantize(CENT, rounding=ROUND_CEILING) == Decimal(row["floor_hourly"])


def csv_table(path: Path) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The CSV's lead rows as a dict, and its table by contractor pseudonym."""
    lines = path.read_text(encoding="utf-8").splitlines()
    lead = dict(row for row in csv.reader(lines[: LEAD_ROWS - 1]))
    assert lines[LEAD_ROWS - 1] == ""
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[LEAD_ROWS:]) + "\n")))
    return lead, {row["contractor"]: row for row in rows}


def make_and_download(page: Page, worker: Worker, tmp_path: Path, *, format_label: str) -> Downloaded:
    """From the reports page: ask for the week's report, wait until the worker has made it, download it."""
    expect(page.get_by_role("heading", name="Fair-wage reports", level=1)).to_be_visible()
    page.get_by_label("Pay period").select_option(label=WEEK_LABEL)
    page.get_by_label("Format").select_option(label=format_label)
    page.get_by_role("button", name="Make the report").click()
    expect(page).to_have_url(re.compile(r"/ops/reports/\d+/$"))
    report_id = int(re.findall(r"\d+", page.url)[-1])

    finished = worker.wait_for(
        Report.objects.filter(pk=report_id, status__in=[ReportStatus.DONE, ReportStatus.FAILED]).first,
        what=f"the {format_label} report to be made",
    )
    assert finished.status == ReportStatus.DONE, finished.error
    # The page polls the job and reloads itself once the report is ready.
    expect(page.locator("#report-status-text")).to_have_text("Ready", timeout=REPORT_TIMEOUT_MS)
    expect(page.locator("#report-bar")).to_have_attribute("value", "100")
    shown = fact(page, "SHA-256")
    checkpoint = fact(page, "Ledger checkpoint")
    assert re.fullmatch(r"[0-9a-f]{64}", shown)

    with page.expect_download() as info:
        page.get_by_role("link", name="Download", exact=True).click()
    download = info.value
    assert download.failure() is None
    path = tmp_path / "downloads" / download.suggested_filename
    download.save_as(path)

    # The server's own check of its stored copy agrees, in words.
    page.get_by_role("link", name="Check the file against its hash").click()
    expect(page.get_by_text("The stored file matches its recorded SHA-256.")).to_be_visible()
    page.get_by_role("link", name="All reports").click()
    expect(page.locator(f"a[href$='/ops/reports/{report_id}/']").locator("xpath=../..")).to_contain_text(shown)
    return Downloaded(path=path, sha256_shown=shown, checkpoint_shown=checkpoint)


def test_an_auditor_downloads_the_weeks_evidence_with_matching_hashes_and_a_contractor_sees_the_same_figures(
    new_page: NewPage,
    tmp_path: Path,
    closed_week: ClosedWeek,
    report_worker: Worker,
) -> None:
    period = closed_week.period
    auditor = staff_user(Role.AUDITOR, email="aude.auditor@example.com")
    pseudonym = worker_pseudonym(closed_week.topped_up.pk)
    ledger_before = LedgerEntry.objects.count()

    # 1. The auditor signs in with a TOTP code and opens the closed week in the auditor portal.
    page = new_page()
    sign_in(page, email=auditor.email, password=PASSWORD)
    pass_mfa(page)
    expect(page.get_by_role("note")).to_have_text("Auditor view: you can read everything here and change nothing.")
    page.get_by_role("link", name="Audits", exact=True).click()
    expect(page.get_by_role("heading", name="Compliance audit", level=1)).to_be_visible()
    page.get_by_role("link", name="Periods", exact=True).click()
    # The periods page's charts scroll inside their own boxes, so the page itself fits a phone.
    page.set_viewport_size(PHONE_VIEWPORT)
    # Median hourly in US-CA and in GB, top-ups, late payouts, rejections, appeals (no decision was made this week).
    expect(page.locator("figure.chart-box svg.chart")).to_have_count(6)
    assert_fits_the_phone(page)
    page.set_viewport_size(DESKTOP_VIEWPORT)
    page.get_by_role("link", name=WEEK_LABEL).click()
    expect(page.get_by_role("heading", name=f"Week {WEEK_LABEL}", level=1)).to_be_visible()
    contractors = page.locator("table#contractors tbody tr")
    expect(contractors).to_have_count(2)
    expect(page.locator("table#contractors")).to_contain_text(pseudonym)
    expect(page.locator("main")).not_to_contain_text(closed_week.topped_up.email)  # auditors see pseudonyms
    expect(page.locator("#manifest-pending")).to_be_visible()  # no report of the week made yet

    # 2. The fair-wage report of the week in each format, asked for from the week's page (the form has the week
    # chosen already), made by the worker, each downloaded with its hash.
    page.get_by_role("link", name="Make a fair-wage report of this week").click()
    expect(page.get_by_label("Pay period")).to_have_value(str(period.pk))
    made = {
        label: make_and_download(page, report_worker, tmp_path, format_label=label)
        for label in ("CSV", "Excel (XLSX)", "PDF")
    }
    for label, file in made.items():
        assert sha256_of(file.path) == file.sha256_shown, label
    csv_file, xlsx_file, pdf_file = made["CSV"], made["Excel (XLSX)"], made["PDF"]

    # 3. The evidence pack: the manifest inside it has the hash the page shows and names each member's hash, and
    # its three reports are the very files just downloaded (the same checkpoint: reused, not made again).
    page.get_by_role("link", name="Audits", exact=True).click()
    page.get_by_role("link", name="Periods", exact=True).click()
    page.get_by_role("link", name=WEEK_LABEL).click()
    for file in made.values():
        expect(page.locator("table#pack-reports")).to_contain_text(file.sha256_shown)
    page.set_viewport_size(PHONE_VIEWPORT)
    assert_fits_the_phone(page)  # the hashes wrap rather than widen the page
    page.set_viewport_size(DESKTOP_VIEWPORT)
    manifest_shown = page.locator("#manifest-sha256").inner_text().strip()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the evidence pack (ZIP)").click()
    pack_path = tmp_path / "downloads" / info.value.suggested_filename
    info.value.save_as(pack_path)
    assert pack_path.name == "fairtask-evidence-2026-11-09.zip"
    with zipfile.ZipFile(pack_path) as archive:
        assert archive.testzip() is None
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest_bytes = members.pop("manifest.json")
    assert hashlib.sha256(manifest_bytes).hexdigest() == manifest_shown
    manifest = json.loads(manifest_bytes)
    assert manifest["period"]["id"] == period.pk and manifest["period"]["start"] == "2026-11-09"
    assert set(manifest["files"]) == set(members)
    assert {"wage_checks.csv", "findings.csv", "decisions_and_appeals.json"} <= set(members)
    for name, content in members.items():
        assert hashlib.sha256(content).hexdigest() == manifest["files"][name], name
    for name, file in (
        ("fair_wage_report.csv", csv_file),
        ("fair_wage_report.xlsx", xlsx_file),
        ("fair_wage_report.pdf", pdf_file),
    ):
        assert members[name] == file.path.read_bytes(), name
    reports = Report.objects.order_by("pk")
    assert [(r.format, r.status, r.created_by_id, r.sha256) for r in reports] == [
        ("csv", "done", auditor.pk, csv_file.sha256_shown),
        ("xlsx", "done", auditor.pk, xlsx_file.sha256_shown),
        ("pdf", "done", auditor.pk, pdf_file.sha256_shown),
    ]

    # The CSV states what it covers and the checkpoint the page shows, and names nobody.
    lead, rows = csv_table(csv_file.path)
    assert lead["report"] == "fair_wage"
    assert json.loads(lead["parameters"])["periods"] == [period.pk]
    assert csv_file.checkpoint_shown.startswith(f"#{lead['ledger_checkpoint_id']} · ")
    assert set(rows) == {pseudonym, worker_pseudonym(closed_week.well_paid.pk)}
    text = csv_file.path.read_text(encoding="utf-8")
    assert closed_week.topped_up.email not in text and "Test Person" not in text
    row = rows[pseudonym]
    assert (row["jurisdiction"], row["currency"], row["period_start"]) == ("US-CA", "USD", "2026-11-09")
    assert Decimal(row["topup"]) > 0 and row["below_floor_before_topup"] == "yes" and row["is_compliant"] == "yes"
    assert (
        Decimal(row["effective_hourly_before"]) < Decimal(row["floor_hourly"]) <= Decimal(row["effective_hourly_after"])
    )
    # The XLSX opens: a summary sheet that names the week, and the same row as the CSV.
    book = load_workbook(xlsx_file.path, read_only=True)
    assert book.sheetnames == ["Summary", "Rows"]
    about = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert about["Pay periods"] == WEEK_DAYS
    sheet = list(book["Rows"].iter_rows(values_only=True))
    header = [str(cell) for cell in sheet[0]]
    by_contractor = {r[0]: dict(zip(header, r, strict=True)) for r in sheet[1:]}
    assert set(by_contractor) == set(rows)
    xlsx_row = by_contractor[pseudonym]
    for column in ("paid_hours", "gross_earnings", "topup", "total_pay", "effective_hourly_after", "floor_hourly"):
        assert Decimal(str(xlsx_row[column])) == Decimal(row[column]), column
    book.close()

    # The PDF opens, names the week and lists the contractor who needed a top-up.
    pdf = PdfReader(pdf_file.path)
    assert len(pdf.pages) >= 1
    pdf_text = " ".join(" ".join(p.extract_text() for p in pdf.pages).split())
    assert "Fair-wage report" in pdf_text and WEEK_DAYS in pdf_text
    assert pseudonym in "".join(pdf_text.split())
    assert f"{row['topup']} USD" in pdf_text  # the week's top-up total: this contractor's alone

    # 4. The topped-up contractor reads their statement, then how their pay is computed: the CSV's figures.
    contractor = new_page(phone=True)
    sign_in(contractor, email=closed_week.topped_up.email, password=PASSWORD)
    contractor.get_by_role("link", name="Earnings", exact=True).click()
    expect(contractor.get_by_role("heading", name="Earnings", level=1)).to_be_visible()
    assert_fits_the_phone(contractor)
    contractor.get_by_role("region", name="Statements").get_by_role("link", name=WEEK_LABEL).click()
    expect(contractor.get_by_role("heading", name="Pay statement", level=1)).to_be_visible()
    expect(contractor.locator("main")).to_contain_text("final: the period is closed")
    assert_fits_the_phone(contractor)
    after_shown = money_shown(fact(contractor, "Effective hourly after top-up"), row["currency"])
    assert after_shown.quantize(CENT, rounding=ROUND_FLOOR) == Decimal(row["effective_hourly_after"])

    contractor.get_by_role("link", name="How my pay is computed").click()
    assert_pay_explained_as_reported(contractor, row)

    # The contractor in Great Britain is paid above the floor; their page cites the dated FX rate the CSV names.
    well_paid_row = rows[worker_pseudonym(closed_week.well_paid.pk)]
    assert (well_paid_row["jurisdiction"], well_paid_row["topup"]) == ("GB", "0.00")
    other = new_page(phone=True)
    sign_in(other, email=closed_week.well_paid.email, password=PASSWORD)
    expect(other.get_by_role("link", name="Earnings", exact=True)).to_be_visible()  # signed in
    other.goto(f"/me/statements/{period.pk}/how/")
    assert_pay_explained_as_reported(other, well_paid_row)
    expect(other.locator("#step-floor")).to_contain_text(
        f"Exchange rates used: 1 GBP = {well_paid_row['fx_rate']} USD ({well_paid_row['fx_date']})"
    )

    # Reading, reporting and downloading changed no money and no period.
    period.refresh_from_db()
    assert period.status == PeriodStatus.CLOSED and LedgerEntry.objects.count() == ledger_before
