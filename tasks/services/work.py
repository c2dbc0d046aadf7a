"""The assignment engine: eligibility → selection → lease; submission; lease expiry.

On PostgreSQL the claim is ``SELECT … FOR UPDATE SKIP LOCKED``: concurrent workers skip a
row another transaction is claiming instead of queueing behind it. The database enforces the
rest: ``task_filled_within_overlap`` refuses a task more live assignments than its overlap,
and ``assignment_one_per_worker`` refuses the same worker twice.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
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
    Task,
)
from tasks.schemas import SchemaError, check_answer
from tasks.services.timing import Periods, active_seconds, worker_periods
from workforce.audit import audit_record
from workforce.models import ContractorProfile, ContractorState, User
from workforce.services import wrong_state

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
    if not project.is_sensitive:
        return
    if usage.sensitive_today_seconds >= project.exposure_daily_seconds:
        raise WorkRefused(
            "exposure_daily",
            _(
                "You have reached today's limit of %(m)d minutes on sensitive content. "
                "You can continue from %(at)s, or take tasks from other projects now."
            )
            % {"m": project.exposure_daily_seconds // 60, "at": _fmt(periods.next_day)},
            periods.next_day,
        )
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


# Each open project with this worker's standing on it, one row per project, in one query:
# - skill_has_test / has_passed_test / has_skill: ``is_qualified`` (a skill with a
#   qualification test needs a passed attempt; otherwise the skill on the profile);
# - current_instruction_id / has_read_current: ``current_instruction_unread``;
# - quality_*: the worker's QualityEstimate on the project (at most one: a unique constraint).
# Plain SQL for the same reason as _USAGE_SQL; the rules themselves are applied in _refusal_on.
_CANDIDATES_SQL = """
SELECT p.*,
    EXISTS (SELECT 1 FROM tasks_qualificationtest t WHERE t.skill_id = p.required_skill_id) AS skill_has_test,
    EXISTS (
        SELECT 1 FROM tasks_qualificationattempt a
        JOIN tasks_qualificationtest t ON t.id = a.test_id
        WHERE a.worker_id = %s AND t.skill_id = p.required_skill_id AND a.is_passed = %s
    ) AS has_passed_test,
    EXISTS (
        SELECT 1 FROM workforce_contractorprofile_skills ps
        JOIN workforce_contractorprofile c ON c.id = ps.contractorprofile_id
        WHERE c.user_id = %s AND ps.skill_id = p.required_skill_id
    ) AS has_skill,
    (
        SELECT i.id FROM tasks_instructionversion i WHERE i.project_id = p.id ORDER BY i.version DESC LIMIT 1
    ) AS current_instruction_id,
    EXISTS (
        SELECT 1 FROM tasks_instructionread r
        WHERE r.worker_id = %s AND r.confirmed_at IS NOT NULL AND r.instruction_id = (
            SELECT i.id FROM tasks_instructionversion i WHERE i.project_id = p.id ORDER BY i.version DESC LIMIT 1
        )
    ) AS has_read_current,
    q.gold_total AS quality_gold_total,
    q.upper AS quality_upper,
    q.is_block_waived AS quality_block_waived
FROM tasks_project p
LEFT JOIN tasks_qualityestimate q ON q.project_id = p.id AND q.worker_id = %s
WHERE {where}
ORDER BY p.name, p.id
"""
_CANDIDATES_OPEN_SQL = _CANDIDATES_SQL.format(where="p.status = %s")
_CANDIDATES_ONE_SQL = _CANDIDATES_SQL.format(where="p.id = %s")
_UPPER = QualityEstimate._meta.get_field("upper")


def _candidates(worker: User, project: Project | None) -> list[Project]:
    """The projects to consider (the one asked for, or all open ones) with the worker's standing."""
    me = worker.pk
    if project is not None:
        rows = Project.objects.raw(_CANDIDATES_ONE_SQL, [me, True, me, me, me, project.pk])
    else:
        rows = Project.objects.raw(_CANDIDATES_OPEN_SQL, [me, True, me, me, me, ProjectStatus.OPEN.value])
    candidates = list(rows)
    for p in candidates:
        # SQLite hands back numbers where PostgreSQL gives a Decimal; the rule compares Decimals.
        p.quality_upper = _UPPER.to_python(p.quality_upper)  # type: ignore[attr-defined]
    return candidates


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


def _refusal_on(p: Project) -> WorkRefused | None:
    """Why this worker may not work on ``p`` now (the annotations of ``_candidates``), if at all."""
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


def _eligible_projects(
    worker: User, project: Project | None, now: datetime, *, state: str | None, zone: str = ""
) -> list[Project]:
    if state != ContractorState.ACTIVE:
        raise WorkRefused("not_active", _("Only active contractors can take tasks; see your onboarding page."))
    candidates = _candidates(worker, project)
    if project is not None and not candidates:
        raise WorkRefused("project_closed", _("“%(p)s” is not open for work right now.") % {"p": project})
    refusals: list[WorkRefused] = []
    eligible = []
    usage: _Usage | None = None  # the same for every project: asked once, and only if needed
    for p in candidates:
        try:
            refusal = _refusal_on(p)
            if refusal is not None:
                raise refusal
            usage = usage or _usage(worker, now, zone)
            _check_caps(worker, p, now, usage)
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


# ``_open_tasks`` written out, first row only, locked: on PostgreSQL it walks the partial index
# task_open_by_priority (open tasks only) in priority order and probes assignment_one_per_worker
# for "not had before" (an anti-join), so a claim reads a handful of rows whatever the backlog.
# Plain SQL because it runs on every claim (see _USAGE_SQL).
_CLAIM_SQL = """
SELECT t.* FROM tasks_task t
WHERE t.project_id IN ({projects})
  AND t.is_gold = %s
  AND t.filled < t.overlap
  AND NOT EXISTS (SELECT 1 FROM tasks_assignment a WHERE a.task_id = t.id AND a.worker_id = %s)
ORDER BY t.priority DESC, t.id
LIMIT 1{lock}
"""


def _claim(worker: User, projects: list[Project], *, gold: bool) -> Task | None:
    """Lock the first open task for this worker; rows other claims hold are skipped, not waited for.

    SQLite (the embedded default) has no row locks and runs one writer at a time.
    """
    lock = " FOR UPDATE OF t SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    query = _CLAIM_SQL.format(projects=", ".join(["%s"] * len(projects)), lock=lock)
    return next(iter(Task.objects.raw(query, [*(p.pk for p in projects), gold, worker.pk])), None)


def _execute(query: str, params: list[Any]) -> None:
    """One write on the claim or submit path, as plain SQL (see _USAGE_SQL)."""
    with connection.cursor() as cursor:
        cursor.execute(query, params)


_STANDING_SQL = """
SELECT c.state, c.timezone, (
    SELECT a.id FROM tasks_assignment a
    WHERE a.worker_id = c.user_id AND a.status = %s AND a.expires_at > %s
    ORDER BY a.leased_at LIMIT 1
)
FROM workforce_contractorprofile c
WHERE c.user_id = %s
"""


def _worker_standing(worker: User, now: datetime) -> tuple[str | None, str, int | None]:
    """The contractor's state, time zone and live lease, if any, in one query (asked on every claim)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _STANDING_SQL,
            [AssignmentStatus.LEASED.value, connection.ops.adapt_datetimefield_value(now), worker.pk],
        )
        row = cursor.fetchone()
    # No profile, no lease: only an active contractor is ever given one, and profiles are kept.
    return (row[0], row[1] or "", row[2]) if row else (None, "", None)


def next_task(*, worker: User, project: Project | None = None) -> Assignment:
    """Give the worker a task under lease, or raise WorkRefused saying why and until when.

    A worker who already holds a live lease gets that one back (one task at a time).
    """
    now = timezone.now()
    state, zone, live_lease = _worker_standing(worker, now)
    if live_lease is not None:
        current = Assignment.objects.select_related("task__project").get(pk=live_lease)
        if project is None or current.task.project_id == project.pk:
            return current
    projects = _eligible_projects(worker, project, now, state=state, zone=zone)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                task = None
                gold_projects = [p for p in projects if p.gold_rate > 0 and random.random() < float(p.gold_rate)]
                if gold_projects:
                    task = _claim(worker, gold_projects, gold=True)
                if task is None:
                    task = _claim(worker, projects, gold=False)
                if task is None:
                    # SKIP LOCKED also passes over rows other claims hold for a few milliseconds;
                    # only when no open task exists at all is there truly nothing for this worker.
                    if not _open_tasks(worker, projects, gold=False).exists():
                        raise WorkRefused("no_tasks", _("No tasks are waiting for you right now; try again later."))
                    continue
                task.project = next(p for p in projects if p.pk == task.project_id)
                assignment = Assignment.objects.create(
                    task=task,
                    worker=worker,
                    leased_at=now,
                    expires_at=now + timedelta(seconds=task.project.lease_seconds),
                )
                _execute("UPDATE tasks_task SET filled = filled + 1 WHERE id = %s", [task.pk])
                task.filled += 1
                return assignment
        except IntegrityError:
            # Only possible if a constraint caught a race the lock did not; try another task.
            continue
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
# lock, so the one read here is current. Plain SQL for the same reason as _CLAIM_SQL.
_SUBMIT_LOCK_SQL = """
SELECT a.*, p.template AS project_template, p.answer_schema AS project_answer_schema, ans.id AS answer_pk
FROM tasks_assignment a
JOIN tasks_task t ON t.id = a.task_id
JOIN tasks_project p ON p.id = t.project_id
LEFT JOIN tasks_answer ans ON ans.assignment_id = a.id
WHERE a.id = %s{lock}
"""


@transaction.atomic
def assignment_submit(*, assignment_id: int, worker: User, value: Any) -> SubmitResult:
    """Store the worker's answer. A second identical submit returns the first answer (idempotent)."""
    lock = " FOR UPDATE OF a" if connection.features.has_select_for_update_of else ""
    assignment = next(iter(Assignment.objects.raw(_SUBMIT_LOCK_SQL.format(lock=lock), [assignment_id])), None)
    if assignment is None or assignment.worker_id != worker.pk:
        raise Http404
    row: Any = assignment  # the joined columns ride on the instance
    schema = row.project_answer_schema
    if isinstance(schema, str):  # JSON comes back as text from a raw query (Django decodes it for fields)
        schema = json.loads(schema)
    try:
        clean = check_answer(template=row.project_template, answer_schema=schema, value=value)
    except SchemaError as exc:
        raise ValidationError({exc.field: exc.message}) from exc
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
