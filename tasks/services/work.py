"""The assignment engine: eligibility → selection → lease; submission; lease expiry.

On PostgreSQL the claim is ``SELECT … FOR UPDATE SKIP LOCKED``: concurrent workers skip a
row another transaction is claiming instead of queueing behind it. The database enforces the
rest: ``task_filled_within_overlap`` refuses a task more live assignments than its overlap,
and ``assignment_one_per_worker`` refuses the same worker twice.
"""

from __future__ import annotations

import contextlib
import json
import random
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import psycopg
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import (
    DEFAULT_DB_ALIAS,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.db.models import Exists, F, Field, Model, OuterRef, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from tasks.models import (
    ActivitySpan,
    Answer,
    Assignment,
    AssignmentStatus,
    InstructionRead,
    Project,
    ProjectStatus,
    QualificationAttempt,
    QualityEstimate,
    ReviewStatus,
    Task,
)
from tasks.schemas import SchemaError, check_answer
from tasks.services.timing import Periods, active_seconds, worker_periods
from workforce.audit import audit_record
from workforce.models import ContractorProfile, ContractorState, User
from workforce.services import wrong_state

M = TypeVar("M", bound=Model)

# Gold tasks are shown to every worker once; their overlap is effectively unlimited.
GOLD_OVERLAP = 2_000_000_000


class WorkRefused(Exception):
    """No task for this worker now: ``message`` says why, ``retry_at`` when they can continue."""

    def __init__(self, code: str, message: str, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_at = retry_at


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z")


def is_qualified(*, worker: User, project: Project) -> bool:
    skill = project.required_skill
    if hasattr(skill, "qualification_test"):
        return QualificationAttempt.objects.filter(worker=worker, test__skill=skill, is_passed=True).exists()
    return ContractorProfile.objects.filter(user=worker, skills=skill).exists()


def current_instruction_unread(*, worker: User, project: Project) -> Any:
    current = project.instructions.order_by("-version").first()
    if current is None:
        return None
    if InstructionRead.objects.filter(worker=worker, instruction=current, confirmed_at__isnull=False).exists():
        return None
    return current


@dataclass(frozen=True)
class _Usage:
    """The worker's paid time so far today and this week, and today's time on sensitive content."""

    periods: Periods
    today_seconds: int
    week_seconds: int
    sensitive_today_seconds: int


# Paid time as ``timing.paid_spans`` defines it (every span except task time under an active
# fraud mark), summed for this week, today, and today on sensitive projects in one pass: a
# week always starts at or before today. Plain SQL: this runs on every claim, and the ORM
# spends ten times longer building the query than the database spends answering it.
_USAGE_SQL = """
SELECT
    SUM(s.active_seconds),
    SUM(CASE WHEN s.started_at >= %s THEN s.active_seconds ELSE 0 END),
    SUM(CASE WHEN s.started_at >= %s AND p.is_sensitive = %s THEN s.active_seconds ELSE 0 END)
FROM tasks_activityspan s
LEFT JOIN tasks_project p ON p.id = s.project_id
WHERE s.worker_id = %s
  AND s.started_at >= %s
  AND NOT EXISTS (
      SELECT 1 FROM tasks_fraudmark f WHERE f.assignment_id = s.assignment_id AND f.is_active = %s
  )
"""


def _usage(worker: User, now: datetime, zone: str) -> _Usage:
    periods = worker_periods(worker, now, zone=zone)
    day = connection.ops.adapt_datetimefield_value(periods.day_start)
    week = connection.ops.adapt_datetimefield_value(periods.week_start)
    with connection.cursor() as cursor:
        cursor.execute(_USAGE_SQL, [day, day, True, worker.pk, week, True])
        week_seconds, today_seconds, sensitive_seconds = cursor.fetchone()
    return _Usage(
        periods=periods,
        today_seconds=int(today_seconds or 0),
        week_seconds=int(week_seconds or 0),
        sensitive_today_seconds=int(sensitive_seconds or 0),
    )


def _check_caps(worker: User, project: Project, now: datetime, usage: _Usage) -> None:
    """Rule 9: daily and weekly hour caps, and exposure limits with breaks on sensitive projects."""
    periods = usage.periods
    daily_cap = settings.FAIRTASK_DAILY_HOUR_CAP * 3600
    if usage.today_seconds >= daily_cap:
        raise WorkRefused(
            "daily_cap",
            _("You have worked %(h)d hours today, the daily limit. You can continue from %(at)s.")
            % {"h": settings.FAIRTASK_DAILY_HOUR_CAP, "at": _fmt(periods.next_day)},
            periods.next_day,
        )
    if usage.week_seconds >= settings.FAIRTASK_WEEKLY_HOUR_CAP * 3600:
        raise WorkRefused(
            "weekly_cap",
            _("You have worked %(h)d hours this week, the weekly limit. You can continue from %(at)s.")
            % {"h": settings.FAIRTASK_WEEKLY_HOUR_CAP, "at": _fmt(periods.next_week)},
            periods.next_week,
        )
    if project.is_sensitive and usage.sensitive_today_seconds >= project.exposure_daily_seconds:
        raise WorkRefused(
            "exposure_daily",
            _(
                "You have reached today's limit of %(m)d minutes on sensitive content. "
                "You can continue from %(at)s, or take tasks from other projects now."
            )
            % {"m": project.exposure_daily_seconds // 60, "at": _fmt(periods.next_day)},
            periods.next_day,
        )
    _check_breaks(worker, project, now, periods)


def _check_breaks(worker: User, project: Project, now: datetime, periods: Periods) -> None:
    """Rule 9's mandatory break: refuse sensitive work after too long without one."""
    if not project.is_sensitive:
        return
    # Walk back through recent sensitive spans while the pauses between them were shorter than a
    # break. Not only today's: exposure that ran up to midnight still needs its break after it.
    spans = list(
        ActivitySpan.objects.filter(
            worker=worker, project__is_sensitive=True, last_beat_at__gte=now - timedelta(days=1)
        ).order_by("-last_beat_at")[:500]
    )
    if not spans or (now - spans[0].last_beat_at).total_seconds() >= project.exposure_break_seconds:
        return
    continuous = 0
    previous_start = None
    for span in spans:
        if (
            previous_start is not None
            and (previous_start - span.last_beat_at).total_seconds() >= project.exposure_break_seconds
        ):
            break
        continuous += span.active_seconds
        previous_start = span.started_at
    if continuous >= project.exposure_break_after_seconds:
        # In the contractor's own zone, like the other refusals: the message shows this time.
        resume = (spans[0].last_beat_at + timedelta(seconds=project.exposure_break_seconds)).astimezone(
            periods.day_start.tzinfo
        )
        raise WorkRefused(
            "exposure_break",
            _(
                "You have looked at sensitive content for %(m)d minutes without a break. "
                "Take a %(b)d-minute break; you can continue from %(at)s."
            )
            % {"m": continuous // 60, "b": project.exposure_break_seconds // 60, "at": _fmt(resume)},
            resume,
        )


# Everything a claim needs to know about the worker, in one round trip: who they are (by id,
# or by API token for the API's fast path), their state, time zone and live lease, upper
# bounds of their recent paid time (see _Bounds), and one row per candidate project (all open
# ones, or the one asked for) with their standing on it; a single row with empty project
# columns when there is none. The standing columns:
# - skill_has_test / has_passed_test / has_skill: ``is_qualified`` (a skill with a
#   qualification test needs a passed attempt; otherwise the skill on the profile);
# - current_instruction_id / has_read_current: ``current_instruction_unread``;
# - quality_*: the worker's QualityEstimate on the project (at most one: a unique constraint).
# ``{me}`` is the worker's id, or a subquery on the token (run once, as an init plan). Plain
# SQL: this runs on every claim, and the ORM spends ten times longer building a query than
# the database spends answering it. The rules themselves are applied in Python below.
_PROJECT_FIELDS: list[Field[Any, Any]] = list(Project._meta.concrete_fields)
_WORKER_SQL = """
SELECT u.id, u.is_active, u.role, u.is_superuser, c.state, c.timezone,
    (
        SELECT a.id FROM tasks_assignment a
        WHERE a.worker_id = u.id AND a.status = %s AND a.expires_at > %s
        ORDER BY a.leased_at LIMIT 1
    ) AS live_lease,
    paid.week_seconds, paid.day_seconds, paid.sensitive_day_seconds,
    {project_columns},
    EXISTS (SELECT 1 FROM tasks_qualificationtest t WHERE t.skill_id = p.required_skill_id) AS skill_has_test,
    EXISTS (
        SELECT 1 FROM tasks_qualificationattempt a
        JOIN tasks_qualificationtest t ON t.id = a.test_id
        WHERE a.worker_id = u.id AND t.skill_id = p.required_skill_id AND a.is_passed = %s
    ) AS has_passed_test,
    EXISTS (
        SELECT 1 FROM workforce_contractorprofile_skills ps
        WHERE ps.contractorprofile_id = c.id AND ps.skill_id = p.required_skill_id
    ) AS has_skill,
    (
        SELECT i.id FROM tasks_instructionversion i WHERE i.project_id = p.id ORDER BY i.version DESC LIMIT 1
    ) AS current_instruction_id,
    EXISTS (
        SELECT 1 FROM tasks_instructionread r
        WHERE r.worker_id = u.id AND r.confirmed_at IS NOT NULL AND r.instruction_id = (
            SELECT i.id FROM tasks_instructionversion i WHERE i.project_id = p.id ORDER BY i.version DESC LIMIT 1
        )
    ) AS has_read_current,
    q.gold_total AS quality_gold_total,
    q.upper AS quality_upper,
    q.is_block_waived AS quality_block_waived
FROM workforce_user u
LEFT JOIN workforce_contractorprofile c ON c.user_id = u.id
CROSS JOIN (
    SELECT
        SUM(s.active_seconds) AS week_seconds,
        SUM(CASE WHEN s.started_at >= %s THEN s.active_seconds ELSE 0 END) AS day_seconds,
        SUM(CASE WHEN s.started_at >= %s AND sp.is_sensitive = %s THEN s.active_seconds ELSE 0 END)
            AS sensitive_day_seconds
    FROM tasks_activityspan s
    LEFT JOIN tasks_project sp ON sp.id = s.project_id
    WHERE s.worker_id = {me}
      AND s.started_at >= %s
      AND NOT EXISTS (
          SELECT 1 FROM tasks_fraudmark f WHERE f.assignment_id = s.assignment_id AND f.is_active = %s
      )
) paid
LEFT JOIN tasks_project p ON {projects}
LEFT JOIN tasks_qualityestimate q ON q.project_id = p.id AND q.worker_id = u.id
WHERE u.id = {me}
ORDER BY p.name, p.id
"""
_ME_BY_ID = "%s"
_ME_BY_KEY = "(SELECT k.user_id FROM authtoken_token k WHERE k.key = %s)"
_WORKER_QUERIES = {
    (by_token, one_project): _WORKER_SQL.format(
        project_columns=", ".join(f"p.{f.column}" for f in _PROJECT_FIELDS),
        me=_ME_BY_KEY if by_token else _ME_BY_ID,
        projects="p.id = %s" if one_project else "p.status = %s",
    )
    for by_token in (False, True)
    for one_project in (False, True)
}
_PROJECT_STANDING = (
    "skill_has_test",
    "has_passed_test",
    "has_skill",
    "current_instruction_id",
    "has_read_current",
    "quality_gold_total",
    "quality_upper",
    "quality_block_waived",
)
_UPPER = QualityEstimate._meta.get_field("upper")
# Windows that surely contain today and this week in any time zone: a day lasts at most 25
# hours and a week at most 169 (clock changes), so sums over these bound the exact ones.
_DAY_BOUND = timedelta(hours=26)
_WEEK_BOUND = timedelta(hours=170)


@dataclass(frozen=True)
class _Bounds:
    """Upper bounds of the worker's paid time today, this week, and today on sensitive content.

    A claim compares them with the caps first; only a worker near a cap costs the exact,
    time-zone-aware sums of ``_usage``. Below every cap, the exact sums would be too.
    """

    week_seconds: int
    day_seconds: int
    sensitive_day_seconds: int

    def under_caps(self, project: Project) -> bool:
        return (
            self.day_seconds < settings.FAIRTASK_DAILY_HOUR_CAP * 3600
            and self.week_seconds < settings.FAIRTASK_WEEKLY_HOUR_CAP * 3600
            and (not project.is_sensitive or self.sensitive_day_seconds < project.exposure_daily_seconds)
        )


@dataclass
class _Worker:
    """The worker's row of ``_WORKER_SQL``: who they are, their standing, and the candidate projects."""

    user: User
    state: str | None
    zone: str
    live_lease: int | None
    bounds: _Bounds
    projects: list[Project]

    @property
    def is_contractor_by_token(self) -> bool:
        """An active contractor account: the only kind the API's fast path serves (see tasks.api)."""
        return bool(self.user.is_active) and self.user.is_contractor


# One server-binding cursor per database connection, kept with it (a worker thread has one).
_cursors: weakref.WeakKeyDictionary[psycopg.Connection[Any], psycopg.Cursor[Any]] = weakref.WeakKeyDictionary()


def _hot(query: str, params: Sequence[Any], *, read: bool = False) -> list[tuple[Any, ...]]:
    """Run one statement of the claim or submit path and return its rows.

    On PostgreSQL as a prepared statement (psycopg binds the parameters on the server), so
    the server plans each of these queries once per connection rather than on every call:
    planning cost more than running them. Errors are Django's, as through the ORM. This path
    skips Django's per-request health check (a ``SELECT 1`` round trip) and instead retries
    a read once on a fresh connection when the kept one turns out to be closed; a write is
    never retried here: it fails the request, which the client repeats.
    """
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the ``connection`` proxy looks it up again
    if db.vendor != "postgresql":
        with db.cursor() as plain:
            plain.execute(query, params)
            return plain.fetchall() if plain.description else []
    for attempt in (1, 2):
        db.ensure_connection()
        raw = db.connection
        cursor = _cursors.get(raw)
        if cursor is None or cursor.closed:
            # Django turns preparing off for the connection; its own cursors bind on the client
            # and never prepare whatever this says, so only statements run here are prepared.
            raw.prepare_threshold = 5
            cursor = _cursors[raw] = psycopg.Cursor(raw)
        try:
            with db.wrap_database_errors:
                cursor.execute(query, params, prepare=True)
                return cursor.fetchall()
        except (OperationalError, InterfaceError):
            if attempt == 2 or not read or db.in_atomic_block:
                raise
            db.close()
    raise AssertionError("unreachable")


_CONVERTERS: dict[tuple[str, type[Model]], list[tuple[Any, list[Any]]]] = {}


def _instance(model: type[M], fields: list[Field[Any, Any]], values: Sequence[Any]) -> M:
    """A model instance from the columns of a plain query, decoded as the ORM would (JSON, dates)."""
    db = connections[DEFAULT_DB_ALIAS]
    key = (db.vendor, model)
    if key not in _CONVERTERS:
        columns = [f.get_col(model._meta.db_table) for f in fields]
        _CONVERTERS[key] = [(col, db.ops.get_db_converters(col) + col.get_db_converters(db)) for col in columns]
    decoded = []
    for value, (col, converters) in zip(values, _CONVERTERS[key], strict=True):
        for convert in converters:
            value = convert(value, col, db)
        decoded.append(value)
    return model.from_db(db.alias, [f.attname for f in fields], decoded)


def _worker_load(*, me: int | str, now: datetime, project: Project | None) -> _Worker | None:
    """Run ``_WORKER_SQL`` for a worker id (or an API token key, a ``str``); None if nobody matches."""
    db = connections[DEFAULT_DB_ALIAS]
    by_token = isinstance(me, str)
    query = _WORKER_QUERIES[(by_token, project is not None)]
    adapt = db.ops.adapt_datetimefield_value
    day_bound = adapt(now - _DAY_BOUND)
    params = [
        AssignmentStatus.LEASED.value,
        adapt(now),
        True,
        day_bound,
        day_bound,
        True,
        me,
        adapt(now - _WEEK_BOUND),
        True,
        project.pk if project is not None else ProjectStatus.OPEN.value,
        me,
    ]
    rows = _hot(query, params, read=True)
    if not rows:
        return None
    first = rows[0]
    user = User(id=first[0], is_active=first[1], role=first[2], is_superuser=first[3])
    user._state.adding = False
    user._state.db = db.alias
    n = len(_PROJECT_FIELDS)
    projects = []
    for row in rows:
        if row[10] is None:  # the project id: no candidate project (a LEFT JOIN)
            continue
        p = _instance(Project, _PROJECT_FIELDS, row[10 : 10 + n])
        for name, value in zip(_PROJECT_STANDING, row[10 + n :], strict=True):
            setattr(p, name, value)
        # SQLite hands back numbers where PostgreSQL gives a Decimal; the rule compares Decimals.
        p.quality_upper = _UPPER.to_python(p.quality_upper)  # type: ignore[attr-defined]
        projects.append(p)
    return _Worker(
        user=user,
        state=first[4],
        zone=first[5] or "",
        live_lease=first[6],
        bounds=_Bounds(
            week_seconds=int(first[7] or 0), day_seconds=int(first[8] or 0), sensitive_day_seconds=int(first[9] or 0)
        ),
        projects=projects,
    )


def _refusal_on(p: Project) -> WorkRefused | None:
    """Why this worker may not work on ``p`` now (its columns from ``_WORKER_SQL``), if at all."""
    if p.status != ProjectStatus.OPEN:
        return WorkRefused("project_closed", _("“%(p)s” is not open for work right now.") % {"p": p})
    a = {name: getattr(p, name) for name in _PROJECT_STANDING}
    qualified = a["has_passed_test"] if a["skill_has_test"] else a["has_skill"]
    if not qualified:
        return WorkRefused(
            "not_qualified",
            _("Pass the paid qualification test for %(skill)s to work on “%(p)s”.")
            % {"skill": p.required_skill, "p": p},
        )
    if a["current_instruction_id"] is not None and not a["has_read_current"]:
        return WorkRefused(
            "instructions_unread", _("Read the current instructions of “%(p)s” first (paid time).") % {"p": p}
        )
    # Penalties use the upper bound (rule 3): only clearly low quality blocks work.
    upper = a["quality_upper"]
    # A human who overturned the block on appeal waived the minimum for this worker here.
    if a["quality_gold_total"] and upper is not None and upper < p.min_quality and not a["quality_block_waived"]:
        return WorkRefused(
            "quality_below_minimum",
            _(
                "Your quality on “%(p)s” is at most %(upper)s (95%% interval), below the "
                "project's minimum of %(min)s. You can appeal or work on other projects."
            )
            % {"p": p, "upper": upper, "min": p.min_quality},
        )
    return None


def _eligible_projects(worker: _Worker, project: Project | None, now: datetime) -> list[Project]:
    if worker.state != ContractorState.ACTIVE:
        raise WorkRefused("not_active", _("Only active contractors can take tasks; see your onboarding page."))
    if project is not None and not worker.projects:
        raise WorkRefused("project_closed", _("“%(p)s” is not open for work right now.") % {"p": project})
    refusals: list[WorkRefused] = []
    eligible = []
    exact: _Usage | None = None  # the same for every project: asked once, and only if needed
    for p in worker.projects:
        try:
            refusal = _refusal_on(p)
            if refusal is not None:
                raise refusal
            if worker.bounds.under_caps(p):
                if p.is_sensitive:
                    _check_breaks(worker.user, p, now, worker_periods(worker.user, now, zone=worker.zone or "UTC"))
            else:
                exact = exact or _usage(worker.user, now, worker.zone)
                _check_caps(worker.user, p, now, exact)
        except WorkRefused as refusal:
            refusals.append(refusal)
            continue
        eligible.append(p)
    if not eligible:
        if len(refusals) == 1 or project is not None:
            raise refusals[0]
        if refusals:
            # Prefer the reason that is about the person's limits, then the first one.
            refusals.sort(key=lambda r: r.retry_at is None)
            raise refusals[0]
        raise WorkRefused("no_projects", _("There are no open projects right now."))
    return eligible


def _open_tasks(worker: User, projects: list[Project], *, gold: bool) -> QuerySet[Task]:
    """Open tasks of these projects that this worker has not had, highest priority first."""
    done_before = Assignment.objects.filter(task=OuterRef("pk"), worker=worker)
    return (
        Task.objects.filter(project__in=projects, is_gold=gold, filled__lt=F("overlap"))
        .filter(~Exists(done_before))
        .order_by("-priority", "id")
    )


# ``_open_tasks`` written out, first row only: on PostgreSQL it walks the partial index
# task_open_by_priority (open tasks only) in priority order and probes assignment_one_per_worker
# for "not had before" (an anti-join), so a claim reads a handful of rows whatever the backlog.
_PICK_SQL = """
SELECT {columns} FROM tasks_task t
WHERE t.project_id IN ({projects})
  AND t.is_gold = %s
  AND t.filled < t.overlap
  AND NOT EXISTS (SELECT 1 FROM tasks_assignment a WHERE a.task_id = t.id AND a.worker_id = %s)
ORDER BY t.priority DESC, t.id
LIMIT 1{lock}
"""
# Rows other claims hold are skipped, not waited for. (The concurrency tests' control runs
# take this away to show the race it prevents.)
_CLAIM_LOCK = " FOR UPDATE OF t SKIP LOCKED"
_TASK_FIELDS: list[Field[Any, Any]] = list(Task._meta.concrete_fields)
_TASK_COLUMNS = ", ".join(f"t.{f.column}" for f in _TASK_FIELDS)
# On PostgreSQL the whole claim is one statement, so one round trip and atomic on its own:
# lock the first open task (see _CLAIM_LOCK), count the
# lease on it, and insert the lease, which expires after the task's project's lease length.
_CLAIM_PG_SQL = """
WITH picked AS ({pick}),
bumped AS (
    UPDATE tasks_task t SET filled = t.filled + 1 FROM picked WHERE t.id = picked.id RETURNING {columns}
),
leased AS (
    INSERT INTO tasks_assignment (task_id, worker_id, status, leased_at, expires_at, submitted_at)
    SELECT t.id, %s, %s, %s, %s + p.lease_seconds * INTERVAL '1 second', NULL
    FROM bumped t JOIN tasks_project p ON p.id = t.project_id
    RETURNING id, task_id, expires_at
)
SELECT l.id, l.expires_at, {columns} FROM leased l JOIN bumped t ON t.id = l.task_id
"""


def _claim(worker: User, projects: list[Project], now: datetime, *, gold: bool) -> Assignment | None:
    """Lease the first open task of these projects for this worker, or None when none is free."""
    db = connections[DEFAULT_DB_ALIAS]
    placeholders = ", ".join(["%s"] * len(projects))
    pick_params: list[Any] = [*(p.pk for p in projects), gold, worker.pk]
    if db.vendor == "postgresql":
        pick = _PICK_SQL.format(columns="t.id", projects=placeholders, lock=_CLAIM_LOCK)
        at = db.ops.adapt_datetimefield_value(now)
        rows = _hot(
            _CLAIM_PG_SQL.format(pick=pick, columns=_TASK_COLUMNS),
            [*pick_params, worker.pk, AssignmentStatus.LEASED.value, at, at],
        )
        if not rows:
            return None
        assignment_id, expires_at, *task_values = rows[0]
        task = _instance(Task, _TASK_FIELDS, task_values)
    else:
        # SQLite (the embedded default) has no row locks and runs one writer at a time.
        with db.cursor() as cursor:
            cursor.execute(_PICK_SQL.format(columns=_TASK_COLUMNS, projects=placeholders, lock=""), pick_params)
            row = cursor.fetchone()
        if row is None:
            return None
        task = _instance(Task, _TASK_FIELDS, row)
        lease = next(p.lease_seconds for p in projects if p.pk == task.project_id)
        expires_at = now + timedelta(seconds=lease)
        assignment_id = Assignment.objects.create(task=task, worker=worker, leased_at=now, expires_at=expires_at).pk
        _execute("UPDATE tasks_task SET filled = filled + 1 WHERE id = %s", [task.pk])
        task.filled += 1
    task.project = next(p for p in projects if p.pk == task.project_id)
    assignment = Assignment(
        id=assignment_id,
        task=task,
        worker=worker,
        status=AssignmentStatus.LEASED,
        leased_at=now,
        expires_at=expires_at,
    )
    assignment._state.adding = False
    assignment._state.db = db.alias
    return assignment


def _execute(query: str, params: list[Any]) -> None:
    """One write on the claim or submit path, as plain SQL (see _WORKER_SQL)."""
    with connection.cursor() as cursor:
        cursor.execute(query, params)


def _atomic_statement() -> Any:
    """A savepoint around a one-statement write only inside a transaction: on its own (autocommit)
    a statement is atomic already, and BEGIN and COMMIT would cost two more round trips."""
    return transaction.atomic() if connections[DEFAULT_DB_ALIAS].in_atomic_block else contextlib.nullcontext()


def next_task(*, worker: User, project: Project | None = None) -> Assignment:
    """Give the worker a task under lease, or raise WorkRefused saying why and until when.

    A worker who already holds a live lease gets that one back (one task at a time).
    """
    now = timezone.now()
    loaded = _worker_load(me=worker.pk, now=now, project=project)
    if loaded is None:
        raise WorkRefused("not_active", _("Only active contractors can take tasks; see your onboarding page."))
    loaded.user = worker
    return _next_task(loaded, project, now)


def next_task_by_token(*, key: str, project: Project | None = None) -> Assignment | None:
    """``next_task`` for the API's fast path: the worker named by an API token, found in the same
    round trip as their standing. None unless the token is an active contractor's: the caller
    then answers through the full API stack, which says what is wrong."""
    now = timezone.now()
    loaded = _worker_load(me=key, now=now, project=project)
    if loaded is None or not loaded.is_contractor_by_token:
        return None
    return _next_task(loaded, project, now)


def _next_task(worker: _Worker, project: Project | None, now: datetime) -> Assignment:
    if worker.live_lease is not None:
        current = Assignment.objects.select_related("task__project").get(pk=worker.live_lease)
        if project is None or current.task.project_id == project.pk:
            return current
    projects = _eligible_projects(worker, project, now)
    user = worker.user
    for _attempt in range(3):
        try:
            with _atomic_statement():
                assignment = None
                gold_projects = [p for p in projects if p.gold_rate > 0 and random.random() < float(p.gold_rate)]
                if gold_projects:
                    assignment = _claim(user, gold_projects, now, gold=True)
                if assignment is None:
                    assignment = _claim(user, projects, now, gold=False)
        except IntegrityError:
            # Only possible if a constraint caught a race the lock did not; try another task.
            continue
        if assignment is not None:
            return assignment
        # SKIP LOCKED also passes over rows other claims hold for a few milliseconds;
        # only when no open task exists at all is there truly nothing for this worker.
        if not _open_tasks(user, projects, gold=False).exists():
            raise WorkRefused("no_tasks", _("No tasks are waiting for you right now; try again later."))
    # Each try found the open tasks held by other claims in flight.
    raise WorkRefused("busy", _("Tasks are in high demand right now; try again in a moment."))


@dataclass(frozen=True)
class SubmitResult:
    answer: Answer
    created: bool


# The assignment with what checking an answer needs: its project's template and answer
# schema, and the id of an answer already stored. Only the assignment row is locked ("of a"):
# two submits of one assignment queue here, while submits to other tasks of the same project
# never queue behind each other on the project row. An answer is only ever written under this
# lock, so the one read here is current. Plain SQL for the same reason as _WORKER_SQL.
_SUBMIT_LOCK_SQL = """
SELECT a.*, p.template AS project_template, p.answer_schema AS project_answer_schema, ans.id AS answer_pk
FROM tasks_assignment a
JOIN tasks_task t ON t.id = a.task_id
JOIN tasks_project p ON p.id = t.project_id
LEFT JOIN tasks_answer ans ON ans.assignment_id = a.id
WHERE a.id = %s{lock}
"""


def _answer_clean(template: str, schema: Any, value: Any) -> Any:
    if isinstance(schema, str):  # JSON comes back as text from a raw query (Django decodes it for fields)
        schema = json.loads(schema)
    try:
        return check_answer(template=template, answer_schema=schema, value=value)
    except SchemaError as exc:
        raise ValidationError({exc.field: exc.message}) from exc


@transaction.atomic
def assignment_submit(*, assignment_id: int, worker: User, value: Any) -> SubmitResult:
    """Store the worker's answer. A second identical submit returns the first answer (idempotent)."""
    lock = " FOR UPDATE OF a" if connection.features.has_select_for_update_of else ""
    assignment = next(iter(Assignment.objects.raw(_SUBMIT_LOCK_SQL.format(lock=lock), [assignment_id])), None)
    if assignment is None or assignment.worker_id != worker.pk:
        raise Http404
    row: Any = assignment  # the joined columns ride on the instance
    clean = _answer_clean(row.project_template, row.project_answer_schema, value)
    if row.answer_pk is not None:
        existing = Answer.objects.get(pk=row.answer_pk)
        if existing.value == clean:
            return SubmitResult(existing, created=False)
        raise wrong_state("answer", _("You already submitted an answer to this task."))
    now = timezone.now()
    if assignment.status != AssignmentStatus.LEASED or assignment.expires_at < now:
        minutes = active_seconds(worker=worker, since=assignment.leased_at, assignment=assignment) // 60
        raise wrong_state(
            "assignment",
            _(
                "Your lease on this task ended at %(at)s, so the answer was not saved. "
                "The %(m)d minutes you spent on it are still paid."
            )
            % {"at": _fmt(assignment.expires_at), "m": minutes},
        )
    answer = Answer.objects.create(
        assignment=assignment, task_id=assignment.task_id, worker=worker, value=clean, submitted_at=now
    )
    assignment.status = AssignmentStatus.SUBMITTED
    assignment.submitted_at = now
    _execute(
        "UPDATE tasks_assignment SET status = %s, submitted_at = %s WHERE id = %s",
        [AssignmentStatus.SUBMITTED.value, connection.ops.adapt_datetimefield_value(now), assignment.pk],
    )
    return SubmitResult(answer, created=True)


# The API's fast path for a submit, PostgreSQL only. First read, unlocked, in one round trip:
# the worker named by the token, and their assignment with its project's answer schema and
# any stored answer. Then one statement that closes the lease only if it is still this
# worker's and live, and stores the answer only if it did: two racing submits queue on the
# assignment row and the second finds it closed, so it stores nothing.
_SUBMIT_READ_SQL = """
SELECT u.id, u.is_active, u.role, u.is_superuser, a.status, a.expires_at, p.template, p.answer_schema, ans.id
FROM workforce_user u
LEFT JOIN tasks_assignment a ON a.id = %s AND a.worker_id = u.id
LEFT JOIN tasks_task t ON t.id = a.task_id
LEFT JOIN tasks_project p ON p.id = t.project_id
LEFT JOIN tasks_answer ans ON ans.assignment_id = a.id
WHERE u.id = (SELECT k.user_id FROM authtoken_token k WHERE k.key = %s)
"""
_SUBMIT_WRITE_SQL = """
WITH closed AS (
    UPDATE tasks_assignment SET status = %s, submitted_at = %s
    WHERE id = %s AND worker_id = %s AND status = %s AND expires_at >= %s
    RETURNING id, task_id, worker_id
)
INSERT INTO tasks_answer (
    assignment_id, task_id, worker_id, value, submitted_at, review_status, reviewed_by_id, reviewed_at,
    rejection_code, review_message, decision_id
)
SELECT id, task_id, worker_id, %s, %s, %s, NULL, NULL, '', '', NULL FROM closed
RETURNING id, task_id
"""
_ANSWER_VALUE = Answer._meta.get_field("value")


def assignment_submit_by_token(*, key: str, assignment_id: int, value: Any) -> SubmitResult | None:
    """``assignment_submit`` for the API's fast path, when it is the plain case: the token is an
    active contractor's, the assignment theirs and live, no answer stored yet, and the answer
    fits the schema. In every other case it returns None having changed nothing, and the
    caller answers through the full API stack and ``assignment_submit``, which explain."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        return None
    rows = _hot(_SUBMIT_READ_SQL, [assignment_id, key], read=True)
    if not rows:
        return None
    row = rows[0]
    user = User(id=row[0], is_active=row[1], role=row[2], is_superuser=row[3])
    status, expires_at, template, schema, answer_pk = row[4:]
    now = timezone.now()
    if not (user.is_active and user.is_contractor) or status != AssignmentStatus.LEASED or answer_pk is not None:
        return None
    if expires_at < now:
        return None
    try:
        clean = _answer_clean(template, schema, value)
    except ValidationError:
        return None
    at = db.ops.adapt_datetimefield_value(now)
    stored = _ANSWER_VALUE.get_db_prep_save(clean, db)
    with _atomic_statement():
        written = _hot(
            _SUBMIT_WRITE_SQL,
            [
                AssignmentStatus.SUBMITTED.value,
                at,
                assignment_id,
                user.pk,
                AssignmentStatus.LEASED.value,
                at,
                stored,
                at,
                ReviewStatus.PENDING.value,
            ],
        )
    if not written:
        return None  # another submit or the lease's end came first; the full path explains which
    answer = Answer(
        id=written[0][0], assignment_id=assignment_id, task_id=written[0][1], worker=user, value=clean, submitted_at=now
    )
    answer._state.adding = False
    answer._state.db = db.alias
    return SubmitResult(answer, created=True)


@transaction.atomic
def leases_release_expired(*, now: datetime | None = None, limit: int = 5000) -> int:
    """Beat job: expired leases free their task slot for someone else. Safe to run twice."""
    now = now or timezone.now()
    expired = list(
        Assignment.objects.select_for_update(skip_locked=True)
        .filter(status=AssignmentStatus.LEASED, expires_at__lt=now)
        .values_list("pk", "task_id")[:limit]
    )
    if not expired:
        return 0
    Assignment.objects.filter(pk__in=[pk for pk, _task in expired]).update(status=AssignmentStatus.EXPIRED)
    for _pk, task_id in expired:
        Task.objects.filter(pk=task_id).update(filled=F("filled") - 1)
    audit_record(actor=None, action="assignments.expire", summary={"count": len(expired)})
    return len(expired)
