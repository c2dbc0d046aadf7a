"""The evidence pack of a closed week (rule 8): the week's stored fair-wage reports in all three formats,
a manifest naming every member's SHA-256, and the same bytes on every download at one ledger checkpoint."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections
from django.db.models import Count, Max
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from payments.audits import evidence
from payments.models import LedgerEntry, PayPeriod, Report, ReportStatus
from payments.reports.services import report_file, report_request, report_run
from payments.services.close import period_close
from tests.payments.factories import entry
from tests.payments.work import NEXT_WEEK, at, floors_loaded, person, piece_project, task_time, week
from tests.workforce.factories import staff_user
from workforce.models import AuditEvent, Role, User

pytestmark = pytest.mark.django_db

TUESDAY = datetime.date(2026, 11, 10)
REPORT_MEMBERS = ("fair_wage_report.csv", "fair_wage_report.xlsx", "fair_wage_report.pdf")
FORMATS = {"fair_wage_report.csv": "csv", "fair_wage_report.xlsx": "xlsx", "fair_wage_report.pdf": "pdf"}


@dataclass
class Week:
    period: PayPeriod
    worker: User
    auditor: User

    def client(self) -> Client:
        client = Client()
        client.force_login(self.auditor)
        return client

    def download(self) -> bytes:
        response = self.client().get(reverse("payments:audit-evidence", args=[self.period.pk]))
        assert response.status_code == 200, response.content[:500]
        assert response["Content-Type"] == "application/zip"
        return response.content

    def page(self) -> str:
        response = self.client().get(reverse("payments:audit-period-detail", args=[self.period.pk]))
        assert response.status_code == 200
        return response.content.decode()


@pytest.fixture
def closed_week(db: None, tmp_path: Path, settings: Settings) -> Week:
    """The week of 2026-11-09, closed: two hours of piece work that the close tops up to the floor."""
    floors_loaded()
    settings.FAIRTASK_REPORT_DIR = tmp_path / "reports"
    worker = person()
    task_time(worker, piece_project(), started=at(TUESDAY, 9), seconds=7200)
    period = period_close(period=week(), job="test").period
    period.refresh_from_db()
    return Week(period=period, worker=worker, auditor=staff_user(Role.AUDITOR))


def unpack(content: bytes) -> tuple[dict[str, bytes], dict]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.testzip() is None
        members = {name: archive.read(name) for name in archive.namelist()}
    return members, json.loads(members["manifest.json"])


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def checkpoint() -> int:
    return int(LedgerEntry.objects.aggregate(m=Max("id"))["m"])


def test_the_pack_holds_the_weeks_report_in_three_formats_with_the_hashes_of_their_report_rows(closed_week):
    members, manifest = unpack(closed_week.download())

    reports = {r.format: r for r in Report.objects.all()}
    assert sorted(reports) == ["csv", "pdf", "xlsx"]  # made by this first download, one per format
    for name in REPORT_MEMBERS:
        report = reports[FORMATS[name]]
        assert report.status == ReportStatus.DONE and report.created_by == closed_week.auditor
        assert report.checkpoint_id == checkpoint() == manifest["ledger_checkpoint"]
        assert report.parameters["periods"] == [closed_week.period.pk] and not report.parameters["jurisdiction"]
        assert sha256(members[name]) == report.sha256 == manifest["files"][name]
        assert members[name] == report_file(report).read_bytes()
        facts = manifest["reports"][name]
        assert (facts["report_id"], facts["sha256"], facts["ledger_checkpoint_id"]) == (
            report.pk,
            report.sha256,
            report.checkpoint_id,
        )
    assert members["fair_wage_report.xlsx"].startswith(b"PK") and members["fair_wage_report.pdf"].startswith(b"%PDF")
    # Every member but the manifest is named in it with its hash, and nothing else is.
    assert set(manifest["files"]) == set(members) - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert sha256(members[name]) == digest, name
    assert b"fair_wage_report.xlsx" in members["NOTE.txt"] and b"same checkpoint" in members["NOTE.txt"]
    # The reports were asked for in the auditor's name, like any other, and the audit log says so.
    assert AuditEvent.objects.filter(action="report.request", actor=closed_week.auditor).count() == 3


def test_two_downloads_at_the_same_checkpoint_are_byte_identical_and_make_no_new_report(closed_week):
    first = closed_week.download()
    made = list(Report.objects.order_by("pk").values_list("pk", "sha256"))
    second = closed_week.download()

    assert second == first
    assert list(Report.objects.order_by("pk").values_list("pk", "sha256")) == made
    # The XLSX and the PDF state when they were made: the same bytes mean the same stored files were reused.
    _members, manifest = unpack(second)
    assert {name: manifest["reports"][name]["report_id"] for name in REPORT_MEMBERS} == {
        name: pk for name, (pk, _sha) in zip(REPORT_MEMBERS, made, strict=True)
    }


def test_reports_made_on_the_reports_page_for_the_week_are_the_ones_the_pack_holds(closed_week):
    auditor = closed_week.client()
    made = {}
    for fmt in ("csv", "xlsx", "pdf"):
        response = auditor.post(reverse("payments:report-list"), {"period": closed_week.period.pk, "format": fmt})
        assert response.status_code == 302
        made[fmt] = report_run(report_id=Report.objects.get(format=fmt).pk)  # what the worker does
    # Another request of the same week for one jurisdiction only is a different report: not the pack's.
    report_run(
        report_id=report_request(
            actor=closed_week.auditor, format="csv", period=closed_week.period, jurisdiction="US"
        ).pk
    )

    members, manifest = unpack(closed_week.download())

    assert Report.objects.count() == 4  # the pack made none of its own
    for name in REPORT_MEMBERS:
        report = made[FORMATS[name]]
        assert manifest["reports"][name]["report_id"] == report.pk
        assert members[name] == report_file(report).read_bytes() and sha256(members[name]) == report.sha256


def test_the_period_page_makes_no_report_and_shows_the_manifest_hash_once_the_reports_exist(closed_week):
    before = closed_week.page()
    assert Report.objects.count() == 0  # reading the page writes nothing
    assert 'id="manifest-pending"' in before and 'id="manifest-sha256"' not in before
    assert before.count("Made with the next download.") == 3

    members, manifest = unpack(closed_week.download())
    after = closed_week.page()

    assert f'id="manifest-sha256">{sha256(members["manifest.json"])}</code>' in after
    for name in REPORT_MEMBERS:
        report_id = manifest["reports"][name]["report_id"]
        assert reverse("payments:report-detail", args=[report_id]) in after and manifest["files"][name] in after


def test_a_new_ledger_checkpoint_gets_new_reports_and_a_new_pack(closed_week):
    first_members, first = unpack(closed_week.download())
    # Anything posted to the ledger, here pay in the next week, moves the checkpoint the reports state.
    entry(closed_week.worker, week(NEXT_WEEK), minor=100)

    members, manifest = unpack(closed_week.download())

    assert manifest["ledger_checkpoint"] == checkpoint() > first["ledger_checkpoint"]
    assert Report.objects.count() == 6
    for name in REPORT_MEMBERS:
        facts = manifest["reports"][name]
        assert facts["report_id"] != first["reports"][name]["report_id"]
        assert facts["ledger_checkpoint_id"] == manifest["ledger_checkpoint"]
        assert sha256(members[name]) == Report.objects.get(pk=facts["report_id"]).sha256
    # The week's figures did not change: only the checkpoint line of the CSV did.
    assert first_members["fair_wage_report.csv"].split(b"\n")[5:] == members["fair_wage_report.csv"].split(b"\n")[5:]


def test_a_report_file_changed_after_it_was_made_is_left_out_and_made_again(closed_week):
    _members, first = unpack(closed_week.download())
    tampered = Report.objects.get(pk=first["reports"]["fair_wage_report.csv"]["report_id"])
    with report_file(tampered).open("ab") as handle:
        handle.write(b"w-0000000000000000,2026-11-09,made up\n")

    members, manifest = unpack(closed_week.download())

    fresh = Report.objects.get(pk=manifest["reports"]["fair_wage_report.csv"]["report_id"])
    assert fresh.pk != tampered.pk and sha256(members["fair_wage_report.csv"]) == fresh.sha256
    assert b"made up" not in members["fair_wage_report.csv"]
    # The other two were fine and are reused.
    for name in ("fair_wage_report.xlsx", "fair_wage_report.pdf"):
        assert manifest["reports"][name]["report_id"] == first["reports"][name]["report_id"]


def test_a_report_that_cannot_be_made_gives_a_clear_409_and_no_pack(closed_week, tmp_path, settings):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the reports folder should be")
    settings.FAIRTASK_REPORT_DIR = blocked

    response = closed_week.client().get(reverse("payments:audit-evidence", args=[closed_week.period.pk]))

    assert response.status_code == 409 and response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert (
        'id="pack-problem"' in page and "could not be made" in page and "so the evidence pack is not complete" in page
    )


# Two first downloads at once ------------------------------------------------------------------------

MakeFn = Callable[..., None]


def _waiting_on_the_pack_lock() -> int:
    """Sessions of this database blocked in ``pg_advisory_lock``, as a second download of the pack is."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
        )
        return int(cursor.fetchone()[0])


def _downloads_at_once(closed_week: Week, count: int) -> tuple[list[Any], list[BaseException]]:
    """``count`` auditors' clients download the pack together, each thread on its own database connection."""
    clients = [closed_week.client() for _ in range(count)]  # logged in before the race, not during it
    url = reverse("payments:audit-evidence", args=[closed_week.period.pk])
    start = threading.Barrier(count)
    responses: list[Any] = [None] * count
    errors: list[BaseException] = []

    def download(i: int) -> None:
        try:
            start.wait(timeout=30)
            responses[i] = clients[i].get(url)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=download, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a download never finished"
    return responses, errors


def _reports_per_format() -> dict[str, int]:
    return dict(Report.objects.values_list("format").annotate(n=Count("id")).order_by("format"))


@pytest.mark.django_db(transaction=True)
def test_two_first_downloads_at_once_queue_on_the_lock_and_make_each_report_once(closed_week, monkeypatch):
    """The first download to take the lock holds it until the other is seen waiting for it, then makes the reports;
    the other then finds them. The wrapper only watches and waits: the real ``_make`` still runs."""
    make: MakeFn = evidence._make
    seen_waiting: list[int] = []

    def make_once_the_other_waits(**kwargs: Any) -> None:
        if not seen_waiting:
            deadline = time.monotonic() + 30
            while (waiting := _waiting_on_the_pack_lock()) == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            seen_waiting.append(waiting)
        make(**kwargs)

    monkeypatch.setattr(evidence, "_make", make_once_the_other_waits)

    responses, errors = _downloads_at_once(closed_week, 2)

    assert errors == []
    assert [r.status_code for r in responses] == [200, 200], [r.content[:300] for r in responses]
    assert seen_waiting == [1]  # the second download really did arrive while the first was making the reports
    assert _reports_per_format() == {"csv": 1, "pdf": 1, "xlsx": 1}
    first, second = (r.content for r in responses)
    assert first == second
    members, manifest = unpack(first)
    for report in Report.objects.all():
        name = f"fair_wage_report.{report.format}"
        assert report.status == ReportStatus.DONE
        assert sha256(report_file(report).read_bytes()) == report.sha256 == manifest["files"][name]
        assert members[name] == report_file(report).read_bytes()


@pytest.mark.django_db(transaction=True)
def test_control_without_the_pack_lock_the_same_race_makes_every_report_twice(closed_week, monkeypatch):
    """Control run: the lock is a no-op, and both downloads are held just before making their first report, so
    each has already looked and found nothing. Each then makes all three: duplicates the lock exists to stop."""
    make: MakeFn = evidence._make
    looked = threading.Barrier(2)
    held = threading.local()

    @contextmanager
    def no_lock(period_id: int) -> Iterator[None]:
        yield

    def make_once_both_have_looked(**kwargs: Any) -> None:
        if not getattr(held, "done", False):
            held.done = True
            looked.wait(timeout=30)
        make(**kwargs)

    monkeypatch.setattr(evidence, "_pack_lock", no_lock)
    monkeypatch.setattr(evidence, "_make", make_once_both_have_looked)

    responses, errors = _downloads_at_once(closed_week, 2)

    assert errors == []
    assert [r.status_code for r in responses] == [200, 200]
    assert _reports_per_format() == {"csv": 2, "pdf": 2, "xlsx": 2}
