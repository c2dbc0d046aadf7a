"""Reading a period's work for the close: a few aggregate queries, never one per answer or contractor.

``work_collect`` sums the period's paid time per contractor, kind, project and qualification
attempt (and local day when a wage floor changes inside the period), approved answers per
contractor and project, and the task time under active fraud marks, which the pricing takes out
again (rule 1); and it reads the contractors' jurisdictions and quality estimates. Fraud marks
are few, so that query starts from them and the big aggregate needs no anti-join. The answers
aggregate, the longest, runs on a second database session beside the others.

Time counts in the period in which its span started. Approved work is paid in the period whose
window holds its approval (the first period ever also pays approvals from before it), so each
answer is paid exactly once without a marker per answer.
"""

from __future__ import annotations

import datetime
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, connections, transaction

from payments.models import PayPeriod, PolicyFloor, WageFloor
from payments.services.close.periods import period_bounds
from payments.services.rates import pay_currency


@dataclass(frozen=True)
class Window:
    """What one period's close reads: time started in [start_at, end_at), approvals before end_at."""

    period_id: int
    label: str
    start_at: datetime.datetime
    end_at: datetime.datetime
    approved_from: datetime.datetime | None  # the previous period's end; None: the first period pays all older ones
    last_day: datetime.date
    zone: str
    currency: str
    split_days: bool  # a floor changes within the period: sum time per local day


def window_for(period: PayPeriod) -> Window:
    start_at, end_at = period_bounds(period)
    # Approvals count from the end of the period before (so a gap between periods loses none);
    # the first period also pays the approvals from before it.
    previous = PayPeriod.objects.filter(end__lte=period.start).order_by("-end").first()
    first_day, last_day = period.start, period.end - datetime.timedelta(days=1)
    # A contractor's local dates run from a day before the period's first to a day after its
    # last; a floor that starts anywhere in between makes the week straddle two floors.
    changes = {
        "effective_from__gt": first_day - datetime.timedelta(days=1),
        "effective_from__lte": last_day + datetime.timedelta(days=1),
    }
    split = WageFloor.objects.filter(**changes).exists() or PolicyFloor.objects.filter(**changes).exists()
    return Window(
        period_id=period.pk,
        label=str(period),
        start_at=start_at,
        end_at=end_at,
        approved_from=None if previous is None else period_bounds(previous)[1],
        last_day=last_day,
        zone=period.timezone,
        currency=pay_currency(),
        split_days=split,
    )


@dataclass(slots=True)
class Work:
    """One contractor's sums for the period (``day`` is None unless the window splits by day)."""

    spans: list[tuple[str, int | None, int | None, datetime.date | None, int]] = field(default_factory=list)
    answers: list[tuple[int, int]] = field(default_factory=list)  # (project, approved answers)
    fraud: list[tuple[int, int, datetime.date | None, int]] = field(default_factory=list)  # (mark, project, day, s)
    restored: list[tuple[int, int, int, int]] = field(default_factory=list)  # (exclusion, project, period, s)


SPANS_SQL = """
SELECT s.worker_id, s.kind, s.project_id, s.attempt_id, {day}, sum(s.active_seconds)
FROM tasks_activityspan s {profile}
WHERE s.started_at >= %(start)s AND s.started_at < %(end)s {workers}
GROUP BY 1, 2, 3, 4, 5
"""
ANSWERS_SQL = """
SELECT a.worker_id, t.project_id, count(*)
FROM tasks_answer a JOIN tasks_task t ON t.id = a.task_id
WHERE a.review_status IN ('approved', 'auto_approved') AND a.reviewed_at < %(end)s {since} {workers}
GROUP BY 1, 2
"""
# Driven from the (small) table of active fraud marks, so the big aggregate needs no anti-join.
FRAUD_SQL = """
SELECT s.worker_id, f.id, s.project_id, {day}, sum(s.active_seconds)
FROM tasks_fraudmark f JOIN tasks_activityspan s ON s.assignment_id = f.assignment_id {profile}
WHERE f.is_active AND s.started_at >= %(start)s AND s.started_at < %(end)s {workers}
GROUP BY 1, 2, 3, 4
"""
RESTORED_SQL = """
SELECT x.contractor_id, x.id, x.project_id, x.period_id, x.seconds
FROM payments_fraudexclusion x JOIN tasks_fraudmark f ON f.id = x.fraud_mark_id
WHERE NOT f.is_active {workers}
  AND NOT EXISTS (SELECT 1 FROM payments_ledgerentry e WHERE e.key = 'restored:' || x.id)
"""
DAY_SQL = "(s.started_at AT TIME ZONE coalesce(nullif(cp.timezone, ''), %(zone)s))::date"
PROFILE_SQL = "LEFT JOIN workforce_contractorprofile cp ON cp.user_id = s.worker_id"


def _workers(column: str, only: list[int] | None) -> str:
    clause = f"AND {column} > %(after)s"
    return clause + (f" AND {column} = ANY(%(only)s)" if only is not None else "")


PEOPLE_SQL = """
SELECT u.id, u.email, upper(coalesce(nullif(p.region, ''), p.country, ''))
FROM workforce_user u LEFT JOIN workforce_contractorprofile p ON p.user_id = u.id
WHERE TRUE {workers}
"""
ESTIMATES_SQL = """
SELECT q.worker_id, q.project_id, q.lower, q.upper, q.gold_total, q.computed_at
FROM tasks_qualityestimate q
WHERE q.project_id IN (SELECT t.project_id FROM payments_qualitytier t) {workers}
"""


@dataclass
class Collected:
    """The period's sums per contractor, and who they are (email, wage-floor jurisdiction)."""

    work: dict[int, Work]
    people: dict[int, tuple[str, str]]
    estimates: dict[int, dict[int, tuple[Any, ...]]]


Row = tuple[Any, ...]
Handler = Callable[[Row], None]
_BATCH = 10_000


def _fetch(sql: str, params: dict[str, Any], handle: Handler) -> None:
    """Run one query and hand each row to ``handle`` as it is read, never holding a list of them all."""
    with transaction.atomic(), connection.cursor() as cursor:
        # The aggregates hash ~10^5 groups; more work memory keeps each in one pass, in RAM.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, params)
        # In batches from psycopg itself: row-by-row iteration through Django's wrapper costs
        # more per row than handling it (the result is on the client already either way).
        raw: Any = cursor.cursor
        while rows := raw.fetchmany(_BATCH):
            for row in rows:
                handle(row)


def _fetch_all(longest: tuple[str, Handler], others: list[tuple[str, Handler]], params: dict[str, Any]) -> None:
    """Run the longest query on a second database session while this one runs the others.

    Each aggregate is one PostgreSQL backend's work; side by side they use two cores. Inside a
    caller's transaction (a test) a second session could not see its rows, so they run one
    after the other there. Each handler fills structures of its own, so the threads share none.
    """
    if connection.in_atomic_block or connection.vendor != "postgresql":
        for sql, handle in [longest, *others]:
            _fetch(sql, params, handle)
        return
    errors: list[BaseException] = []

    def side() -> None:
        try:
            _fetch(longest[0], params, longest[1])
        except BaseException as exc:  # re-raised below, in the caller's thread
            errors.append(exc)
        finally:
            connections.close_all()

    helper = threading.Thread(target=side, name="close-read")
    helper.start()
    try:
        for sql, handle in others:
            _fetch(sql, params, handle)
    finally:
        helper.join()
    if errors:
        raise errors[0]


# One shared object per span kind rather than a new string on every row.
_KINDS = {"task": "task", "instruction": "instruction", "qualification": "qualification"}


def work_collect(window: Window, *, after: int, only: list[int] | None = None) -> Collected:
    """Every contractor's sums for the window, for contractor ids above ``after`` (and in ``only``)."""
    params: dict[str, Any] = {
        "start": window.start_at,
        "end": window.end_at,
        "since": window.approved_from,
        "after": after,
        "only": only,
        "zone": window.zone,
    }
    day, profile = (DAY_SQL, PROFILE_SQL) if window.split_days else ("NULL::date", "")
    since = "AND a.reviewed_at >= %(since)s" if window.approved_from is not None else ""
    spans: dict[int, list[tuple[str, int | None, int | None, datetime.date | None, int]]] = defaultdict(list)
    answers: dict[int, list[tuple[int, int]]] = defaultdict(list)
    fraud: dict[int, list[tuple[int, int, datetime.date | None, int]]] = defaultdict(list)
    restored: dict[int, list[tuple[int, int, int, int]]] = defaultdict(list)
    people: dict[int, tuple[str, str]] = {}
    quality: dict[int, dict[int, tuple[Any, ...]]] = defaultdict(dict)

    def span(row: Row) -> None:
        spans[row[0]].append((_KINDS[row[1]], row[2], row[3], row[4], int(row[5])))

    def answer(row: Row) -> None:
        answers[row[0]].append((row[1], int(row[2])))

    def excluded(row: Row) -> None:
        fraud[row[0]].append((row[1], row[2], row[3], int(row[4])))

    def restore(row: Row) -> None:
        restored[row[0]].append((row[1], row[2], row[3], int(row[4])))

    def person(row: Row) -> None:
        people[row[0]] = (row[1], row[2])

    def estimate(row: Row) -> None:
        quality[row[0]][row[1]] = tuple(row[2:])

    _fetch_all(
        # Approved answers joined to their tasks: the longest of the reads, on its own session.
        (ANSWERS_SQL.format(since=since, workers=_workers("a.worker_id", only)), answer),
        [
            (SPANS_SQL.format(day=day, profile=profile, workers=_workers("s.worker_id", only)), span),
            (FRAUD_SQL.format(day=day, profile=profile, workers=_workers("s.worker_id", only)), excluded),
            (RESTORED_SQL.format(workers=_workers("x.contractor_id", only)), restore),
            (PEOPLE_SQL.format(workers=_workers("u.id", only)), person),
            (ESTIMATES_SQL.format(workers=_workers("q.worker_id", only)), estimate),
        ],
        params,
    )
    work: dict[int, Work] = {}
    for worker in spans.keys() | answers.keys() | restored.keys():
        work[worker] = Work(
            spans.pop(worker, []), answers.pop(worker, []), fraud.pop(worker, []), restored.pop(worker, [])
        )
    return Collected(
        work=work,
        people={w: who for w, who in people.items() if w in work},
        estimates={w: q for w, q in quality.items() if w in work},
    )
