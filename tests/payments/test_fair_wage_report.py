"""Fair-wage reports (rule 8): every row recomputed from the raw ledger and time records, formats, access."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse

from payments.models import PayPeriod, Report, ReportStatus
from payments.reports.builder import COLUMNS
from payments.reports.jobs import report_run_job
from payments.reports.services import report_file, report_request, report_run, reports_purge
from payments.services.close import period_close
from tasks.models import ReviewStatus
from tasks.services.exports import worker_pseudonym
from tests.payments.work import at, floors_loaded, fx, person, piece_project, reading, task_time, this_monday, week
from tests.tasks.factories import project
from tests.workforce.factories import staff_user
from workforce.models import Role, User

pytestmark = pytest.mark.django_db

TUESDAY = datetime.date(2026, 11, 10)
LEAD_ROWS = 6  # five name,value rows and a blank row before the table


@pytest.fixture(autouse=True)
def reviewed_floors(db: None, tmp_path: Path, settings) -> None:
    floors_loaded()
    settings.FAIRTASK_REPORT_DIR = tmp_path / "reports"


@pytest.fixture
def closed_week() -> PayPeriod:
    """Three contractors: under the floor (top-up), over it, and one with rejected work and a reading."""
    cheap, good = piece_project(piece_rate_minor=5), project(piece_rate_minor=40, hourly_rate_minor=3000)
    under, over, mixed = person(), person(country="GB", region="", zone="Europe/London"), person()
    task_time(under, cheap, started=at(TUESDAY, 9), seconds=7200)
    task_time(over, good, started=at(TUESDAY, 9), seconds=3600)
    task_time(mixed, good, started=at(TUESDAY, 10), seconds=1800, review=ReviewStatus.REJECTED)
    reading(mixed, good, started=at(TUESDAY, 11), seconds=600)
    fx("GBP", datetime.date(2026, 11, 15), "1.2650000000")
    period = week()
    period_close(period=period, job="test")
    period.refresh_from_db()
    return period


def _ops() -> User:
    return staff_user(Role.OPERATIONS)


def _make(period: PayPeriod, fmt: str = "csv", **kwargs: object) -> Report:
    report = report_request(actor=_ops(), format=fmt, period=period, **kwargs)  # type: ignore[arg-type]
    return report_run(report_id=report.pk)


def _table(report: Report) -> list[dict[str, str]]:
    text = report_file(report).read_text()
    lines = text.splitlines()
    assert lines[0] == "report,fair_wage" and lines[2].startswith("ledger_checkpoint_id,")
    return list(csv.DictReader(io.StringIO("\n".join(lines[LEAD_ROWS:]) + "\n")))


RAW_SQL = """
SELECT u.id,
  (SELECT coalesce(sum(s.active_seconds), 0) FROM tasks_activityspan s
    WHERE s.worker_id = u.id AND s.kind = 'task' AND s.started_at >= %(start)s AND s.started_at < %(end)s),
  (SELECT coalesce(sum(s.active_seconds), 0) FROM tasks_activityspan s
    WHERE s.worker_id = u.id AND s.kind = 'instruction' AND s.started_at >= %(start)s AND s.started_at < %(end)s),
  (SELECT coalesce(sum(s.active_seconds), 0) FROM tasks_activityspan s
    WHERE s.worker_id = u.id AND s.kind = 'qualification' AND s.started_at >= %(start)s AND s.started_at < %(end)s),
  (SELECT coalesce(sum(e.amount_minor), 0) FROM payments_ledgerentry e WHERE e.contractor_id = u.id
    AND e.period_id = %(period)s AND e.kind IN ('piece', 'hourly', 'qualification', 'instruction', 'bonus', 'penalty')),
  (SELECT coalesce(sum(e.amount_minor), 0) FROM payments_ledgerentry e WHERE e.contractor_id = u.id
    AND e.period_id = %(period)s AND e.kind = 'topup'),
  (SELECT coalesce(sum(e.amount_minor), 0) FROM payments_ledgerentry e WHERE e.contractor_id = u.id
    AND e.period_id = %(period)s AND e.kind = 'overtime'),
  (SELECT sum((e.details->>'answers')::int) FROM payments_ledgerentry e WHERE e.contractor_id = u.id
    AND e.period_id = %(period)s AND e.kind = 'piece'),
  upper(coalesce(nullif(p.region, ''), p.country))
FROM workforce_user u JOIN workforce_contractorprofile p ON p.user_id = u.id
WHERE EXISTS (SELECT 1 FROM payments_ledgerentry e WHERE e.contractor_id = u.id AND e.period_id = %(period)s)
"""


def _hours(seconds: int) -> str:
    return str((Decimal(seconds) / 3600).quantize(Decimal("0.0001")))


def _major(minor: int) -> str:
    return str((Decimal(minor) / 100).quantize(Decimal("0.01")))


def test_every_row_of_the_report_equals_a_plain_sql_recomputation_from_ledger_and_time(closed_week):
    report = _make(closed_week)
    rows = {row["contractor"]: row for row in _table(report)}
    with connection.cursor() as cursor:
        start = datetime.datetime.combine(closed_week.start, datetime.time(), tzinfo=datetime.UTC)
        cursor.execute(RAW_SQL, {"start": start, "end": start + datetime.timedelta(days=7), "period": closed_week.pk})
        raw = cursor.fetchall()
    assert len(raw) == len(rows) == 3 and report.rows == 3
    for cid, task, instruction, qualification, earnings, topup, overtime, tasks, where in raw:
        row = rows[worker_pseudonym(cid)]
        paid = task + instruction + qualification
        assert row["jurisdiction"] == where and row["currency"] == "USD"
        assert row["task_hours"] == _hours(task) and row["instruction_hours"] == _hours(instruction)
        assert row["qualification_hours"] == _hours(qualification) and row["paid_hours"] == _hours(paid)
        assert row["tasks_paid"] == str(tasks or 0)
        assert row["gross_earnings"] == _major(earnings) and row["topup"] == _major(topup)
        assert row["overtime_premium"] == _major(overtime)
        assert row["total_pay"] == _major(earnings + topup + overtime)
        before = (Decimal(earnings) * 3600 / paid / 100).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
        after = (Decimal(earnings + topup) * 3600 / paid / 100).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
        assert row["effective_hourly_before"] == str(before) and row["effective_hourly_after"] == str(after)
        floor = Decimal(row["floor_hourly"])
        assert row["is_compliant"] == "yes" and Decimal(earnings + topup) * 3600 / paid / 100 >= floor - Decimal("0.01")
        assert row["below_floor_before_topup"] == ("yes" if topup else "no")
    gb = next(r for r in rows.values() if r["jurisdiction"] == "GB")
    assert gb["statutory_currency"] == "GBP" and gb["fx_rate"] == "1.2650000000" and gb["fx_date"] == "2026-11-15"
    ca = next(r for r in rows.values() if r["jurisdiction"] == "US-CA" and r["topup"] != "0.00")
    assert ca["statutory_currency"] == "USD" and ca["fx_rate"] == "1"
    expected_floor = (Decimal(ca["statutory_floor_local"])).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    assert Decimal(ca["floor_hourly"]) == expected_floor


def test_the_same_request_at_the_same_checkpoint_gives_a_byte_identical_csv(closed_week):
    first, second = _make(closed_week), _make(closed_week)
    one, two = report_file(first).read_bytes(), report_file(second).read_bytes()
    assert one == two and first.sha256 == second.sha256 == hashlib.sha256(one).hexdigest()
    assert first.checkpoint_id == second.checkpoint_id and first.size == len(one)
    assert list(csv.reader(io.StringIO(one.decode())))[LEAD_ROWS] == list(COLUMNS)


def test_the_summary_counts_who_was_below_the_floor_before_the_top_up(closed_week):
    report = _make(closed_week)
    overall = [line for line in report.summary["lines"] if line["is_overall"]]
    assert overall[0]["contractors"] == 3 and overall[0]["below_floor_before"] >= 1
    assert overall[0]["topup_minor"] > 0 and overall[0]["not_compliant"] == 0


def test_the_xlsx_opens_with_both_sheets(closed_week):
    from openpyxl import load_workbook

    report = _make(closed_week, "xlsx")
    book = load_workbook(report_file(report), read_only=True)
    assert book.sheetnames == ["Summary", "Rows"]
    rows = list(book["Rows"].iter_rows(values_only=True))
    assert rows[0] == COLUMNS and len(rows) == 4
    assert hashlib.sha256(report_file(report).read_bytes()).hexdigest() == report.sha256


def test_the_pdf_opens_and_shows_the_summary_figures(closed_week):
    from pypdf import PdfReader

    report = _make(closed_week, "pdf")
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(report_file(report)).pages).split())
    assert "Fair-wage report" in text and "All jurisdictions" in text
    overall = next(line for line in report.summary["lines"] if line["is_overall"])
    assert f"{Decimal(overall['topup_minor']) / 100:.2f} USD" in text


def test_one_jurisdiction_keeps_only_its_rows_and_a_country_includes_its_regions(closed_week):
    assert {r["jurisdiction"] for r in _table(_make(closed_week, jurisdiction="US"))} == {"US-CA"}
    assert {r["jurisdiction"] for r in _table(_make(closed_week, jurisdiction="gb"))} == {"GB"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"date_from": datetime.date(2026, 11, 20), "date_to": datetime.date(2026, 11, 1)}, "date_to"),
        ({"date_from": datetime.date(2026, 11, 1), "date_to": datetime.date(2026, 11, 12)}, "date_from"),
        ({"jurisdiction": "XX"}, "jurisdiction"),
        ({"jurisdiction": "US-ZZ"}, "jurisdiction"),
        ({"real_names": True}, "real_names"),
    ],
)
def test_bad_input_names_the_field_and_records_nothing(closed_week, kwargs, field):
    if "date_from" not in kwargs:
        kwargs = {"period": closed_week, **kwargs}
    with pytest.raises(ValidationError) as caught:
        report_request(actor=_ops(), format="csv", **kwargs)
    assert field in caught.value.message_dict
    assert not Report.objects.exists()


def test_a_period_not_closed_yet_cannot_be_reported(db):
    open_week = week(this_monday())
    with pytest.raises(ValidationError) as caught:
        report_request(actor=_ops(), format="csv", period=open_week)
    assert "not closed" in caught.value.message_dict["period"][0]


def test_a_date_range_covers_the_whole_closed_periods_inside_it(closed_week):
    report = report_request(
        actor=_ops(), format="csv", date_from=datetime.date(2026, 11, 1), date_to=datetime.date(2026, 11, 30)
    )
    assert report.parameters["periods"] == [closed_week.pk]
    assert report.parameters["first_day"] == "2026-11-09" and report.parameters["last_day"] == "2026-11-15"


def test_a_range_to_the_last_possible_date_covers_the_closed_periods_instead_of_failing(closed_week):
    report = report_request(
        actor=_ops(), format="csv", date_from=datetime.date(2026, 11, 1), date_to=datetime.date(9999, 12, 31)
    )
    assert report.parameters["periods"] == [closed_week.pk]


def test_real_names_need_the_setting_and_the_permission(closed_week):
    from django.contrib.auth.models import Permission

    boss = _ops()
    boss.user_permissions.add(Permission.objects.get(codename="view_real_names"))
    boss = User.objects.get(pk=boss.pk)
    with pytest.raises(ValidationError):
        report_request(actor=boss, format="csv", period=closed_week, real_names=True)
    with override_settings(FAIRTASK_REPORT_REAL_NAMES=True):
        report = report_request(actor=boss, format="csv", period=closed_week, real_names=True)
        made = report_run(report_id=report.pk)
    assert {row["contractor"] for row in _table(made)} == {"Test Person"}


def test_a_contractor_cannot_ask_for_a_report(closed_week):
    with pytest.raises(PermissionDenied):
        report_request(actor=person(), format="csv", period=closed_week)
    client = Client()
    client.force_login(person())
    assert client.get(reverse("payments:report-list")).status_code == 403
    assert client.post(reverse("payments:report-list"), {"period": closed_week.pk, "format": "csv"}).status_code == 403
    assert not Report.objects.exists()


def test_an_auditor_can_request_and_download_a_report(closed_week, django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(staff_user(Role.AUDITOR))
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("payments:report-list"), {"period": closed_week.pk, "format": "csv"})
    report = Report.objects.get()
    assert response.status_code == 302
    report_run_job(report.pk)  # what the worker does
    report.refresh_from_db()
    assert (report.status, report.progress) == (ReportStatus.DONE, 100)
    status = client.get(reverse("payments:report-status", args=[report.pk])).json()
    assert status == {"status": "done", "progress": 100, "sha256": report.sha256, "error": ""}
    download = client.get(reverse("payments:report-download", args=[report.pk]))
    body = b"".join(download.streaming_content)  # type: ignore[attr-defined]
    assert download.status_code == 200 and hashlib.sha256(body).hexdigest() == report.sha256
    assert report.sha256 in client.get(reverse("payments:report-list")).content.decode()


def test_a_tampered_file_is_refused_and_the_verify_page_says_it_does_not_match(closed_week):
    report = _make(closed_week)
    path = report_file(report)
    path.write_bytes(path.read_bytes().replace(b"US-CA", b"US-TX", 1))
    client = Client()
    client.force_login(_ops())
    download = client.get(reverse("payments:report-download", args=[report.pk]))
    assert download.status_code == 409 and "does not match its recorded SHA-256" in download.content.decode()
    verify = client.get(reverse("payments:report-verify", args=[report.pk]))
    assert verify.status_code == 409 and "does not match" in verify.content.decode()
    report.refresh_from_db()
    assert report.status == ReportStatus.DONE  # nothing changed


def test_the_purge_removes_old_files_and_keeps_the_row_and_hash(closed_week):
    report = _make(closed_week)
    sha = report.sha256
    assert reports_purge(now=report.created_at + datetime.timedelta(days=366)) == 1
    report.refresh_from_db()
    assert report.status == ReportStatus.PURGED and report.sha256 == sha and not report_file(report).exists()
    client = Client()
    client.force_login(_ops())
    assert client.get(reverse("payments:report-download", args=[report.pk])).status_code == 409


def test_running_the_job_twice_makes_the_file_once(closed_week):
    report = _make(closed_week)
    again = report_run(report_id=report.pk)
    assert again.sha256 == report.sha256 and again.finished_at == report.finished_at
