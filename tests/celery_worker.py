"""A real Celery worker process for tests, through Redis, against pytest's test database.

Registered as a plugin by ``tests/conftest.py``, so any test can ask for the fixtures:

- ``celery_broker`` points this process's Celery app (and so the ``live_server`` thread, which
  shares it) at a Redis database of its own, emptied before and after;
- ``celery_worker`` starts ``celery worker`` as a subprocess on that broker and on the test
  database, and stops it before the database is flushed. Its ``wait_for`` polls for a result
  and fails fast, with the worker's log, if the worker dies or the wait runs out.

Tests that use them carry the ``worker`` marker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import pytest
import redis
from django.db import connection
from django.test import override_settings

from workforce.celery import app as celery_app

REPO = Path(__file__).resolve().parent.parent
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

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Freeze the worker (SIGSTOP) so jobs queue up and wait, as behind a busy worker; then thaw it."""
        os.killpg(self.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(self.process.pid, signal.SIGCONT)

    def wait_for(self, probe: Callable[[], T | None], *, what: str, seconds: float = WAIT_SECONDS) -> T:
        """Poll ``probe`` until it returns something, failing fast if the worker dies."""
        deadline = time.monotonic() + seconds
        while True:
            found = probe()
            if found is not None:
                return found
            if self.process.poll() is not None:
                raise AssertionError(
                    f"The worker exited with {self.process.returncode} while waiting for {what}:\n{self.log()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"Gave up after {seconds:.0f} s waiting for {what}:\n{self.log()}")
            time.sleep(0.25)


def worker_database_url() -> str:
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
def celery_broker_url() -> str:
    """The Redis database the broker fixtures use; a test module may override it to use its own."""
    return BROKER_URL


@pytest.fixture
def celery_broker(monkeypatch: pytest.MonkeyPatch, celery_broker_url: str) -> Iterator[str]:
    """Point this process's Celery app at the dedicated Redis database, emptied first."""
    client = redis.Redis.from_url(celery_broker_url)
    client.flushdb()
    # Celery prefers a CELERY_BROKER_URL in the environment, then reads Django's settings live
    # (CELERY_ names win over its own conf keys), so overriding both is enough once its cached
    # connections are forgotten.
    monkeypatch.setenv("CELERY_BROKER_URL", celery_broker_url)
    with override_settings(CELERY_BROKER_URL=celery_broker_url, CELERY_TASK_ALWAYS_EAGER=False):
        _drop_broker_connections()
        assert celery_app.conf.broker_url == celery_broker_url
        try:
            yield celery_broker_url
        finally:
            _drop_broker_connections()
            client.flushdb()
            client.close()


@contextmanager
def worker_process(
    *,
    broker_url: str,
    tmp_path: Path,
    extra_env: dict[str, str] | None = None,
    pool: str = "solo",
    name: str = "worker",
) -> Iterator[Worker]:
    """Start ``celery worker`` on the test database and wait until it is ready; stop it on the way out.

    ``extra_env`` adds variables (e.g. where Stripe is); ``pool="prefork"`` runs the job in a
    child process, whose death the parent notices (``reject_on_worker_lost``). Its log is
    ``<tmp_path>/<name>.log``.
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "workforce.settings.test",
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "FAIRTASK_VAR_DIR": str(tmp_path),
        **(extra_env or {}),
    }
    log_path = tmp_path / f"{name}.log"
    command = [
        str(Path(sys.executable).parent / "celery"),
        "-A",
        "workforce",
        "worker",
        f"--pool={pool}",
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
        running.wait_for(lambda: " ready." in running.log() or None, what="the worker to start")
        yield running
    finally:
        _stop(process)


@pytest.fixture
def celery_worker(transactional_db: None, celery_broker: str, tmp_path: Path) -> Iterator[Worker]:
    """A real ``celery worker`` on the test database; stopped (and killed if need be) afterwards.

    It depends on ``transactional_db``, so it stops before the database is flushed: the rows it
    works on are committed ones, and it must not be halfway through a job when they go.
    """
    with worker_process(broker_url=celery_broker, tmp_path=tmp_path) as running:
        yield running


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # a warm shutdown: finish the current job, then exit
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
