"""Jobs run by a real Celery worker process, through Redis, against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import pytest
import redis
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from tests.workforce.factories import contractor
from workforce import services
from workforce.audit import audit_chain_verify
from workforce.celery import app as celery_app
from workforce.jobs import appeals_overdue_notify, audit_log_verify
from workforce.models import Appeal, AuditChainCheck, AuditEvent, Decision, Role, User

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parent.parent.parent
# A Redis database of its own, so purging it cannot drop anyone else's messages.
BROKER_URL = "redis://127.0.0.1:6379/14"
WAIT_SECONDS = 30.0

T = TypeVar("T")


@dataclass(frozen=True)
class Worker:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _test_database_url() -> str:
    """The database pytest-django created for this run (its name is only known at run time)."""
    db = connection.settings_dict
    password = f":{quote(str(db['PASSWORD']), safe='')}" if db["PASSWORD"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    host = quote(str(db["HOST"] or ""), safe="")
    return f"postgres://{quote(str(db['USER']), safe='')}{password}@{host}{port}/{quote(str(db['NAME']), safe='')}"


def _drop_broker_connections() -> None:
    # The app caches its connection and producer pools on first use; forgetting them makes the
    # next ``.delay()`` look up kombu's pools for whatever ``conf.broker_url`` says now. They are
    # not closed: kombu shares them per URL, so a closed one would be handed out again later.
    celery_app._pool = None  # type: ignore[attr-defined]
    celery_app.amqp._producer_pool = None  # type: ignore[attr-defined]


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point this process's Celery app at the dedicated Redis database, emptied first."""
    client = redis.Redis.from_url(BROKER_URL)
    client.flushdb()
    # Celery prefers a CELERY_BROKER_URL in the environment, then reads Django's settings live
    # (CELERY_ names win over its own conf keys), so overriding both is enough once its cached
    # connections are forgotten.
    monkeypatch.setenv("CELERY_BROKER_URL", BROKER_URL)
    with override_settings(CELERY_BROKER_URL=BROKER_URL, CELERY_TASK_ALWAYS_EAGER=False):
        _drop_broker_connections()
        assert celery_app.conf.broker_url == BROKER_URL
        try:
            yield BROKER_URL
        finally:
            _drop_broker_connections()
            client.flushdb()
            client.close()


@pytest.fixture
def worker(transactional_db: None, broker: str, tmp_path: Path) -> Iterator[Worker]:
    """A real ``celery worker`` on the test database; stopped (and killed if need be) afterwards."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "workforce.settings.test",
        "DATABASE_URL": _test_database_url(),
        "CELERY_BROKER_URL": broker,
        "FAIRTASK_VAR_DIR": str(tmp_path),
    }
    log_path = tmp_path / "worker.log"
    command = [
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
        f"--hostname=fairtask-test-{uuid.uuid4().hex[:8]}@%h",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    running = Worker(process, log_path)
    try:
        _wait_for(lambda: " ready." in running.log() or None, running, what="the worker to start")
        yield running
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # a warm shutdown: finish the current job, then exit
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _wait_for(probe: Callable[[], T | None], worker: Worker, *, what: str) -> T:
    """Poll ``probe`` until it returns something, failing fast if the worker dies."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found = probe()
        if found is not None:
            return found
        if worker.process.poll() is not None:
            raise AssertionError(
                f"The worker exited with {worker.process.returncode} while waiting for {what}:\n{worker.log()}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"Gave up after {WAIT_SECONDS:.0f} s waiting for {what}:\n{worker.log()}")
        time.sleep(0.25)


def test_a_real_worker_verifies_the_audit_chain_and_stores_an_intact_check(worker):
    contractor("active")  # registration, onboarding and approval each write audit events
    events = AuditEvent.objects.count()
    assert events > 0
    assert not AuditChainCheck.objects.exists()

    audit_log_verify.delay()

    check = _wait_for(AuditChainCheck.objects.first, worker, what="an AuditChainCheck row")
    assert check.events_checked == events
    assert check.is_intact
    assert check.first_broken_seq is None
    assert check.message == f"All {events} events are intact."


def test_a_real_worker_names_the_first_altered_event_in_a_tampered_chain(worker):
    contractor("active")
    events = AuditEvent.objects.count()
    AuditEvent.objects.filter(seq=2).update(summary={"tampered": True})

    audit_log_verify.delay()

    check = _wait_for(AuditChainCheck.objects.first, worker, what="an AuditChainCheck row")
    assert not check.is_intact
    assert check.first_broken_seq == 2
    assert check.events_checked == 2 < events
    assert check.message == "Event #2 was altered: its content no longer matches its hash."


def test_a_real_worker_reminds_about_overdue_appeals_and_records_the_reminder_in_the_audit_log(worker, ops):
    late_profile = contractor("paused", ops=ops)
    late = services.appeal_file(
        decision=Decision.objects.get(subject=late_profile.user, kind="pause"),
        appellant=late_profile.user,
        message="I was on leave that week.",
    )
    on_time_profile = contractor("paused", ops=ops)
    services.appeal_file(
        decision=Decision.objects.get(subject=on_time_profile.user, kind="pause"),
        appellant=on_time_profile.user,
        message="Please look again.",
    )
    Appeal.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=1))
    recipients = User.objects.filter(role=Role.OPERATIONS, is_active=True).count()

    appeals_overdue_notify.delay()

    event = _wait_for(
        AuditEvent.objects.filter(action="appeals.overdue_notified").first, worker, what="the reminder's audit event"
    )
    assert event.summary == {"count": 1, "appeals": [late.pk], "recipients": recipients}
    assert event.actor is None
    assert event.actor_label == "system"
    assert event.seq == AuditEvent.objects.count()  # appended to the end of the chain
    assert audit_chain_verify(store=False).is_intact
