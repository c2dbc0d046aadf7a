"""A close killed mid-run on a real Celery worker resumes and pays exactly what one clean close pays.

Two identical weeks of work by two groups of contractors: one week is closed cleanly in this
process, the other on a real worker (small chunks, a pause after each) that is killed with
SIGKILL after a couple of chunks have committed. A new worker resumes it; the two weeks'
ledgers must then match contractor for contractor, with no key posted twice.
"""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from payments.jobs import close_run_job
from payments.models import CloseRun, CloseStatus, LedgerEntry, PayPeriod
from payments.services.close import close_lock_is_held, period_close, period_close_start
from tasks.models import ReviewStatus
from tests.celery_worker import REPO, Worker, _stop, worker_database_url
from tests.payments.work import answers, at, floors_loaded, fx, person, piece_project, reading, task_time, week
from tests.tasks.factories import project
from workforce.models import User

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

D = datetime.date
CLEAN_WEEK = D(2026, 11, 2)
KILLED_WEEK = D(2026, 11, 9)
PEOPLE = 12
CHUNK = 2


@contextmanager
def _worker(tmp_path: Path, broker: str, name: str, **settings: str) -> Iterator[Worker]:
    """``celery worker`` on the test database, as ``tests/celery_worker.py`` starts it, with extra settings."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "workforce.settings.test",
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": broker,
        "FAIRTASK_VAR_DIR": str(tmp_path),
        **settings,
    }
    log_path = tmp_path / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "workforce",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "--loglevel=INFO",
                f"--hostname=fairtask-close-{uuid.uuid4().hex[:8]}@%h",
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = Worker(process, log_path)
    try:
        worker.wait_for(lambda: " ready." in worker.log() or None, what=f"{name} to start")
        yield worker
    finally:
        _stop(process)


def _group(start: datetime.date, hourly, piece) -> list[User]:
    """A dozen contractors' week: task time, rejected work, answers and instructions in three jurisdictions."""
    people = []
    places = [
        ("US", "US-CA", "America/Los_Angeles"),
        ("US", "US-TX", "America/Chicago"),
        ("DE", "DE-BE", "Europe/Berlin"),
    ]
    for n in range(PEOPLE):
        country, region, zone = places[n % 3]
        worker = person(country=country, region=region, zone=zone)
        p = hourly if n % 2 else piece
        day = start + datetime.timedelta(days=n % 5)
        task_time(worker, p, started=at(day, 8), seconds=1500 + 97 * n)
        task_time(worker, p, started=at(day, 10), seconds=900, review=ReviewStatus.REJECTED)
        answers(worker, p, n % 4, on=at(day, 16))
        reading(worker, p, started=at(day, 7), seconds=300 + n)
        people.append(worker)
    return people


def _ledger(people: list[User], period: PayPeriod) -> list[list[tuple[str, int]]]:
    return [
        sorted(LedgerEntry.objects.filter(contractor=w, period=period).values_list("kind", "amount_minor"))
        for w in people
    ]


def test_a_close_killed_mid_run_resumes_and_pays_what_one_clean_close_pays(celery_broker, tmp_path):
    floors_loaded()
    hourly, piece = project(piece_rate_minor=40, hourly_rate_minor=1200), piece_project()
    for start in (CLEAN_WEEK, KILLED_WEEK):
        fx("EUR", start + datetime.timedelta(days=6), "1.0842")
    clean_people, killed_people = _group(CLEAN_WEEK, hourly, piece), _group(KILLED_WEEK, hourly, piece)
    clean_week, killed_week = week(CLEAN_WEEK), week(KILLED_WEEK)

    clean = period_close(period=clean_week, job="clean")
    assert clean.status == CloseStatus.DONE and clean.done == PEOPLE

    slow = {"FAIRTASK_CLOSE_CHUNK_SIZE": str(CHUNK), "FAIRTASK_CLOSE_CHUNK_PAUSE_MS": "800"}
    run = period_close_start(period=killed_week, job="killed")
    with _worker(tmp_path, celery_broker, "first-worker", **slow) as first:
        close_run_job.delay(run.pk)
        first.wait_for(
            lambda: CloseRun.objects.filter(pk=run.pk, done__gte=2 * CHUNK).first(), what="two committed chunks"
        )
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
    run.refresh_from_db()
    assert run.status == CloseStatus.RUNNING and 2 * CHUNK <= run.done < PEOPLE  # stopped halfway
    posted_before = LedgerEntry.objects.filter(period=killed_week).count()
    assert 0 < posted_before < clean.entries_posted

    with _worker(tmp_path, celery_broker, "second-worker", FAIRTASK_CLOSE_CHUNK_SIZE=str(CHUNK)) as second:
        # The dead worker's database session (and with it the close lock) goes once PostgreSQL notices.
        second.wait_for(lambda: (not close_lock_is_held(killed_week.pk)) or None, what="the lock to be released")
        again = period_close_start(period=killed_week, job="resume")
        assert again.pk == run.pk  # the same run, resumed after its cursor
        close_run_job.delay(run.pk)
        second.wait_for(lambda: CloseRun.objects.filter(pk=run.pk, status=CloseStatus.DONE).first(), what="the close")

    run.refresh_from_db()
    assert (run.done, run.total, run.attempts) == (PEOPLE, PEOPLE, 2)
    assert _ledger(killed_people, killed_week) == _ledger(clean_people, clean_week)
    assert run.entries_posted == clean.entries_posted == LedgerEntry.objects.filter(period=killed_week).count()
    entries = LedgerEntry.objects.all()
    assert entries.count() == entries.values("key").distinct().count()
