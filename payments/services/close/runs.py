"""Running a period's close: start it, work through contractors in committed chunks, resume, retry.

``period_close_start`` checks the period (over, not closed) and records a ``CloseRun``;
``close_run_execute`` does the work under a PostgreSQL session advisory lock on the period,
so two workers never close the same period at once. The lock belongs to the database
session: if the worker dies, even by SIGKILL, its connection closes and the lock goes with it.
Each chunk of ``FAIRTASK_CLOSE_CHUNK_SIZE`` contractors commits its ledger entries together
with the run's progress (``cursor``, ``done``, exceptions), so running the close again resumes
after the last committed chunk; the ledger keys make even a repeated chunk post nothing twice.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import partial
from itertools import accumulate
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from payments.models import CloseRun, CloseStatus, FraudExclusion, PayPeriod, PeriodStatus
from payments.selectors import close_exceptions_open
from payments.services.close.periods import period_closes_from, period_for, period_is_over, periods_ensure
from payments.services.close.posting import checks_post, details_json, lines_post
from payments.services.close.pricing import Check, Estimate, Line, Pricer
from payments.services.close.work import Collected, Work, window_for, work_collect
from payments.signals import period_closed
from workforce.audit import audit_record
from workforce.models import User
from workforce.services import wrong_state

logger = logging.getLogger(__name__)

# Names "the close of period N" among PostgreSQL advisory locks (two-int form: namespace, period id).
_LOCK_NAMESPACE = 0x0C105E
BEAT_JOB = "payments.jobs.periods_close_due_job"
MAX_ERROR_CHARS = 2000


@contextmanager
def _period_lock(period_id: int) -> Iterator[bool]:
    """Try to take the period's close lock for this database session; yield whether we got it."""
    if connection.vendor != "postgresql":
        yield True  # SQLite (make run) has one writer at a time anyway
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, period_id])
        row = cursor.fetchone()
    got = bool(row and row[0])
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, period_id])


def close_lock_is_held(period_id: int) -> bool:
    """Whether some session holds the period's close lock (for the page and for tests)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s "
            "AND objsubid = 2 AND granted)",
            [_LOCK_NAMESPACE, period_id],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def _author(actor: User | None, job: str) -> None:
    if actor is None and not job:
        raise ValidationError({"actor": _("Name who starts the close: a person or a job.")})
    if actor is not None and not actor.is_operations:
        raise PermissionDenied(_("Only an operations manager can close a pay period."))


# Starting --------------------------------------------------------------------------------------


@transaction.atomic
def period_close_start(*, period: PayPeriod, actor: User | None = None, job: str = "") -> CloseRun:
    """Start closing a period that is over, or return the run already closing it (rule 2).

    Closing a closed period is a no-op that returns its last run: it never pays twice. A
    stopped run resumes (same row, same cursor). A period that is not over yet is bad input:
    ``ValidationError`` on ``period``, and nothing is written.
    """
    _author(actor, job)
    locked = PayPeriod.objects.select_for_update().get(pk=period.pk)
    runs = CloseRun.objects.filter(period=locked, contractor_ids=[])
    if locked.status == PeriodStatus.CLOSED:
        last = runs.order_by("-started_at", "-pk").first()
        if last is None:
            raise wrong_state("period", _("This period is closed and has no close run to show."))
        return last
    if not period_is_over(locked):
        raise ValidationError(
            {
                "period": _("This period is not over yet; it can be closed from %(at)s.")
                % {"at": timezone.localtime(period_closes_from(locked)).strftime("%Y-%m-%d %H:%M %Z")}
            }
        )
    running = CloseRun.objects.filter(period=locked, status=CloseStatus.RUNNING).first()
    if running is not None:
        return running
    stopped = runs.filter(status=CloseStatus.FAILED).order_by("-started_at", "-pk").first()
    if stopped is not None:
        stopped.status = CloseStatus.RUNNING
        stopped.error = ""
        stopped.updated_at = timezone.now()
        stopped.save(update_fields=["status", "error", "updated_at"])
        run = stopped
    else:
        run = CloseRun.objects.create(period=locked, started_by=actor, job=job if actor is None else "")
    if locked.status == PeriodStatus.OPEN:
        locked.status = PeriodStatus.CLOSING
        locked.closing_started_at = timezone.now()
        locked.save(update_fields=["status", "closing_started_at"])
    audit_record(
        actor=actor,
        action="period.close_start",
        obj=locked,
        summary={"run": run.pk, "resumed": stopped is not None, "job": job},
    )
    return run


@transaction.atomic
def close_exceptions_retry(*, period: PayPeriod, actor: User | None = None, job: str = "") -> CloseRun:
    """Close again, for the contractors whose exceptions are still open (after a profile or rate fix).

    Their earnings lines are already posted under their keys, so only what waited is posted
    now: the top-up, the overtime premium and time priced at the floor.
    """
    _author(actor, job)
    locked = PayPeriod.objects.select_for_update().get(pk=period.pk)
    if locked.status != PeriodStatus.CLOSED:
        raise wrong_state("period", _("Retry the exceptions once the close of the period has finished."))
    running = CloseRun.objects.filter(period=locked, status=CloseStatus.RUNNING).first()
    if running is not None:
        return running
    contractors = sorted({int(e["contractor"]) for e in close_exceptions_open(period=locked)})
    if not contractors:
        raise wrong_state("period", _("This period has no open exceptions to retry."))
    run = CloseRun.objects.create(
        period=locked, started_by=actor, job=job if actor is None else "", contractor_ids=contractors
    )
    audit_record(
        actor=actor, action="period.close_retry", obj=locked, summary={"run": run.pk, "contractors": len(contractors)}
    )
    return run


# Executing -------------------------------------------------------------------------------------


def close_run_execute(*, run_id: int) -> CloseRun:
    """Do (or resume) a run's work; return at once if another session is already doing it."""
    run = CloseRun.objects.select_related("period").get(pk=run_id)
    if run.status != CloseStatus.RUNNING:
        return run
    with _period_lock(run.period_id) as got:
        if not got:
            logger.info("Close run %s: another worker holds the lock of period %s.", run.pk, run.period_id)
            return run
        run.refresh_from_db()
        if run.status != CloseStatus.RUNNING:
            return run
        try:
            return _execute(run)
        except Exception as exc:
            _stop(run, exc)
            raise


def _stop(run: CloseRun, exc: BaseException) -> None:
    """Record why a run stopped, if the database still answers; running the close again resumes it."""
    try:
        with transaction.atomic():
            CloseRun.objects.filter(pk=run.pk, status=CloseStatus.RUNNING).update(
                status=CloseStatus.FAILED,
                error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS],
                updated_at=timezone.now(),
            )
    except Exception:  # the connection itself may be gone; the run then stays "running" and resumes
        logger.exception("Could not record that close run %s stopped.", run.pk)


def _attempt_skills(work: dict[int, Work]) -> dict[int, int]:
    attempts = {a for w in work.values() for (_k, _p, a, _d, _s) in w.spans if a is not None}
    if not attempts:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT qa.id, qt.skill_id FROM tasks_qualificationattempt qa "
            "JOIN tasks_qualificationtest qt ON qt.id = qa.test_id WHERE qa.id = ANY(%s)",
            [sorted(attempts)],
        )
        return dict(cursor.fetchall())


def _posted(period_id: int, chunk: list[int]) -> dict[int, dict[str, tuple[str, int]]]:
    """The period's close entries already in the ledger for these contractors (a retry), by key.

    Found by key, not by the entry's period: a retry posts what waited into the open period.
    """
    found: dict[int, dict[str, tuple[str, int]]] = defaultdict(dict)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT contractor_id, key, kind, amount_minor FROM payments_ledgerentry "
            "WHERE contractor_id = ANY(%s) AND key LIKE %s",
            [chunk, f"close:{period_id}:%"],
        )
        for contractor, key, kind, amount in cursor.fetchall():
            found[contractor][key] = (kind, amount)
    return found


@dataclass
class _Priced:
    """One chunk, priced and ready to post; ``seq`` is its place in the run's order of contractors."""

    seq: int
    contractors: list[int]
    period_id: int = 0  # the period the checks are for (a retry posts its lines into a later one)
    rows: list[tuple[int, Line]] = field(default_factory=list)
    checks: list[tuple[int, Check]] = field(default_factory=list)
    exclusions: list[FraudExclusion] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)


class _Progress:
    """Which chunks have committed, so the run's cursor only ever covers an unbroken prefix.

    Chunks may commit out of order (two sessions post side by side). The cursor a resumed run
    starts after must have every contractor before it posted, so it moves to the end of the
    longest run of committed chunks from the start; a chunk past it is simply priced again on
    resumption and its keys skip every entry it already posted.
    """

    def __init__(self, chunks: list[list[int]], done_before: int) -> None:
        self.lock = threading.Lock()
        self.ends = [chunk[-1] for chunk in chunks]
        self.done = list(accumulate((len(chunk) for chunk in chunks), initial=done_before))[1:]
        self.committed: set[int] = set()
        self.prefix = -1  # the last chunk of the committed prefix

    def after(self, seq: int) -> tuple[int, int] | None:
        """(cursor, done) once chunk ``seq`` commits too, or None if the prefix does not move."""
        with self.lock:
            ready = self.committed | {seq}
            end = self.prefix
            while end + 1 in ready:
                end += 1
        return (self.ends[end], self.done[end]) if end > self.prefix else None

    def record(self, seq: int) -> None:
        with self.lock:
            self.committed.add(seq)
            while self.prefix + 1 in self.committed:
                self.prefix += 1


def _late(line: Line, period: PayPeriod) -> Line:
    """A line a retry posts after the period closed: it says which week it pays for."""
    memo = _("For the week %(period)s: %(memo)s") % {"period": period, "memo": line.memo}
    return replace(line, memo=memo, details=details_json({**json.loads(line.details), "for_period": period.pk}))


def _estimates(rows: dict[int, tuple[Any, ...]] | None) -> dict[int, Estimate]:
    if not rows:
        return {}
    return {
        project: Estimate(Decimal(lower), Decimal(upper), gold_total, computed_at)
        for project, (lower, upper, gold_total, computed_at) in rows.items()
    }


def _price(run: CloseRun, pricer: Pricer, collected: Collected, seq: int, chunk: list[int]) -> _Priced:
    posted = _posted(run.period_id, chunk) if run.is_retry else {}
    priced = _Priced(seq, chunk, run.period_id)
    work, people, quality = collected.work, collected.people, collected.estimates
    for c in chunk:
        email, jurisdiction = people.get(c, ("", ""))
        outcome = pricer.contractor(
            c,
            jurisdiction=jurisdiction,
            work=work.pop(c),
            estimates=_estimates(quality.pop(c, None)),
            posted=posted.get(c),
        )
        if run.is_retry:
            already = posted.get(c, {})
            outcome.lines = [_late(line, run.period) for line in outcome.lines if line.key not in already]
        priced.rows.extend((c, line) for line in outcome.lines)
        if outcome.check is not None:
            priced.checks.append((c, outcome.check))
        priced.exclusions.extend(
            FraudExclusion(period_id=run.period_id, contractor_id=c, fraud_mark_id=m, project_id=p, seconds=s)
            for m, p, s in outcome.exclusions
            if s > 0
        )
        if outcome.problems:
            priced.exceptions.append(
                {
                    "contractor": c,
                    "email": email,
                    "jurisdiction": jurisdiction,
                    "codes": [code for code, _m in outcome.problems],
                    "message": " ".join(message for _c, message in outcome.problems),
                }
            )
    return priced


def _commit(run_id: int, post_to: int, currency: str, priced: _Priced, progress: _Progress) -> None:
    """Post one chunk (into period ``post_to``) and record the run's progress: both happen, or neither.

    The entries go in first and the run's row is locked last, so two sessions posting chunks
    side by side only queue for that final, short update.
    """
    with transaction.atomic():
        count = lines_post(post_to, priced.rows, currency)
        checks_post(priced.period_id, priced.checks, currency)
        FraudExclusion.objects.bulk_create(priced.exclusions, ignore_conflicts=True)
        locked = CloseRun.objects.select_for_update().get(pk=run_id)
        if locked.status != CloseStatus.RUNNING:
            raise RuntimeError(f"Close run {run_id} was stopped while it worked; run the close again.")
        moved = progress.after(priced.seq)
        if moved is not None:
            locked.cursor, locked.done = moved
        locked.entries_posted += count
        if priced.exceptions:
            # A chunk priced again after a resumption replaces its contractors' earlier exceptions.
            again = {e["contractor"] for e in priced.exceptions}
            locked.exceptions = [e for e in locked.exceptions if e["contractor"] not in again] + priced.exceptions
        locked.updated_at = timezone.now()
        locked.save(update_fields=["done", "cursor", "entries_posted", "exceptions", "updated_at"])
    progress.record(priced.seq)
    pause = settings.FAIRTASK_CLOSE_CHUNK_PAUSE_MS
    if pause:
        time.sleep(pause / 1000)  # tests only: time to kill a worker between two committed chunks


class _Posters:
    """Commit chunks on two more database sessions while the caller prices the next ones.

    Pricing is Python's work and posting mostly PostgreSQL's (index and constraint checks), so
    the three overlap across cores. At most two priced chunks wait, which bounds memory.
    """

    SESSIONS = 2

    def __init__(self, run: CloseRun, post_to: int, currency: str, progress: _Progress) -> None:
        self._args = (run.pk, post_to, currency)
        self._progress = progress
        self._queue: queue.Queue[_Priced | None] = queue.Queue(maxsize=self.SESSIONS)
        self.error: BaseException | None = None
        self._threads = [
            threading.Thread(target=self._loop, name=f"close-run-{run.pk}-{n}", daemon=True)
            for n in range(self.SESSIONS)
        ]
        for thread in self._threads:
            thread.start()

    def _loop(self) -> None:
        try:
            while (priced := self._queue.get()) is not None:
                if self.error is None:
                    try:
                        _commit(*self._args, priced, self._progress)
                    except BaseException as exc:  # re-raised in the caller's thread
                        self.error = exc
        finally:
            connections.close_all()  # this thread's own session

    def submit(self, priced: _Priced) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(priced)

    def close(self) -> None:
        for _thread in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        if self.error is not None:
            raise self.error


def _execute(run: CloseRun) -> CloseRun:
    period = run.period
    window = window_for(period)
    started = time.monotonic()
    collected = work_collect(window, after=run.cursor, only=run.contractor_ids or None)
    work = collected.work
    workers = sorted(work)
    logger.info("Close run %s: read %s contractors' work in %.1f s.", run.pk, len(workers), time.monotonic() - started)
    now = timezone.now()
    CloseRun.objects.filter(pk=run.pk).update(total=run.done + len(workers), attempts=run.attempts + 1, updated_at=now)
    pricer = Pricer(window, attempt_skills=_attempt_skills(work))
    # A full close posts into its own period. A retry comes after the period closed, and a
    # closed period's statement is final: it posts into the open period holding today.
    post_to = period_for(now).pk if run.is_retry else run.period_id
    size = settings.FAIRTASK_CLOSE_CHUNK_SIZE
    chunks = [workers[i : i + size] for i in range(0, len(workers), size)]
    # Inside a caller's transaction (a test, a shell) a second session could not see its rows:
    # post in this session then. A real run (a job, the command) is never inside one.
    progress = _Progress(chunks, run.done)
    if connection.in_atomic_block or connection.vendor != "postgresql" or len(chunks) < 2:
        for seq, chunk in enumerate(chunks):
            _commit(run.pk, post_to, pricer.currency, _price(run, pricer, collected, seq, chunk), progress)
        return _finish(run)
    posters = _Posters(run, post_to, pricer.currency, progress)
    try:
        for seq, chunk in enumerate(chunks):
            posters.submit(_price(run, pricer, collected, seq, chunk))
    finally:
        posters.close()
    return _finish(run)


@transaction.atomic
def _finish(run: CloseRun) -> CloseRun:
    locked = CloseRun.objects.select_for_update(of=("self",)).select_related("started_by").get(pk=run.pk)
    now = timezone.now()
    locked.status = CloseStatus.DONE
    locked.done = locked.total
    locked.finished_at = locked.updated_at = now
    locked.save(update_fields=["status", "done", "finished_at", "updated_at"])
    period = PayPeriod.objects.select_for_update().get(pk=locked.period_id)
    if not locked.is_retry and period.status != PeriodStatus.CLOSED:
        period.status = PeriodStatus.CLOSED
        period.closed_at = now
        period.save(update_fields=["status", "closed_at"])
    audit_record(
        actor=locked.started_by,
        action="period.close_retry_done" if locked.is_retry else "period.closed",
        obj=period,
        summary={
            "run": locked.pk,
            "contractors": locked.done,
            "entries": locked.entries_posted,
            "exceptions": len(locked.exceptions),
            "attempts": locked.attempts,
            "job": locked.job,
        },
    )
    # The audits run after every close (payments.audits.receivers), once this is committed.
    transaction.on_commit(
        partial(period_closed.send, sender=PayPeriod, period_id=period.pk, run_id=locked.pk, is_retry=locked.is_retry)
    )
    return locked


# Convenience -------------------------------------------------------------------------------------


def period_close(*, period: PayPeriod, actor: User | None = None, job: str = "") -> CloseRun:
    """Start (or resume) a period's close and do it in this process: the command and the tests."""
    run = period_close_start(period=period, actor=actor, job=job)
    return close_run_execute(run_id=run.pk)


def periods_close_due(*, now: Any = None) -> list[CloseRun]:
    """The beat job: make any missing weeks, then close every period that is over, oldest first."""
    periods_ensure(now=now)
    runs = []
    for period in PayPeriod.objects.exclude(status=PeriodStatus.CLOSED).order_by("start"):
        if period_is_over(period, now=now):
            runs.append(period_close(period=period, job=BEAT_JOB))
    return runs
