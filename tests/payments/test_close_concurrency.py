"""Two closes of one period at once post every entry once: the lock keeps them apart, the keys back it up."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from django.db import connection, transaction
from django.test import override_settings

from payments.models import CloseRun, CloseStatus, LedgerEntry
from payments.services.close import period_close
from payments.services.close.posting import lines_post
from payments.services.close.pricing import Line, Pricer
from payments.services.close.work import window_for, work_collect
from tests.payments.work import WEEK, at, floors_loaded, person, piece_project, task_time, week
from tests.tasks.factories import project

pytestmark = pytest.mark.django_db(transaction=True)

CONTRACTORS = 12


@pytest.fixture
def busy_week(transactional_db: None) -> None:
    """A week of work for a dozen contractors: piece and hourly lines, and top-ups."""
    floors_loaded()
    hourly, piece = project(piece_rate_minor=40, hourly_rate_minor=1200), piece_project()
    for n in range(CONTRACTORS):
        worker = person()
        task_time(worker, hourly if n % 2 else piece, started=at(WEEK, 9 + n % 8), seconds=1800 + 60 * n)


def _in_threads(target, count: int = 2) -> list[object]:
    barrier = threading.Barrier(count)
    results: list[object] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:  # collected, so the test shows it
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _keys() -> tuple[int, int]:
    return LedgerEntry.objects.count(), LedgerEntry.objects.values("key").distinct().count()


@override_settings(FAIRTASK_CLOSE_CHUNK_SIZE=2, FAIRTASK_CLOSE_CHUNK_PAUSE_MS=50)
def test_two_closes_of_one_period_at_once_post_each_entry_once(busy_week):
    period = week()
    results = _in_threads(lambda: period_close(period=period, job="race"))
    assert not [r for r in results if isinstance(r, Exception)], results
    run = CloseRun.objects.get()  # both threads got the same run; one did the work
    assert (run.status, run.done, run.total, run.attempts) == (CloseStatus.DONE, CONTRACTORS, CONTRACTORS, 1)
    entries, keys = _keys()
    assert entries == keys == run.entries_posted > CONTRACTORS


def _priced_lines() -> list[tuple[int, Line]]:
    window = window_for(week())
    work = work_collect(window, after=0).work
    pricer = Pricer(window, attempt_skills={})
    rows: list[tuple[int, Line]] = []
    for c in sorted(work):
        outcome = pricer.contractor(c, jurisdiction="US-CA", work=work[c], estimates={})
        rows.extend((c, line) for line in outcome.lines)
    return rows


def _post_twice_at_once(rows: list[tuple[int, Line]]) -> list[object]:
    period_id = week().pk

    def post() -> int:
        with transaction.atomic():
            return lines_post(period_id, rows, "USD")

    return _in_threads(post)


def test_without_the_lock_the_ledger_keys_still_let_only_one_post_of_each_line_in(busy_week):
    rows = _priced_lines()
    posted = _post_twice_at_once(rows)
    counts = [p for p in posted if isinstance(p, int)]
    assert sorted(counts) == [0, len(rows)]  # one insert won every key; the other waited, then skipped them all
    assert _keys() == (len(rows), len(rows))


def test_control_without_keys_the_same_two_posts_both_land(busy_week):
    """The race is real: the same two concurrent posts, with the keys taken away, double every line."""
    rows = [(c, replace(line, key=None)) for c, line in _priced_lines()]  # type: ignore[arg-type]
    posted = _post_twice_at_once(rows)
    assert posted == [len(rows), len(rows)]
    assert LedgerEntry.objects.count() == 2 * len(rows)
