"""The assignment engine: eligibility → selection → lease; submission; lease expiry.

On PostgreSQL the claim is ``SELECT … FOR UPDATE SKIP LOCKED``: concurrent workers skip a
row another transaction is claiming instead of queueing behind it. The database enforces the
rest: ``task_filled_within_overlap`` refuses a task more live assignments than its overlap,
and ``assignment_one_per_worker`` refuses the same worker twice.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
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
from tasks.services.timing import active_seconds, worker_periods
from workforce.audit import audit_record
from workforce.models import ContractorProfile, ContractorState, User

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


def _check_caps(worker: User, project: Project, now: datetime) -> None:
    """Rule 9: daily and weekly hour caps, and exposure limits with breaks on sensitive projects."""
    periods = worker_periods(worker, now)
    today = active_seconds(worker=worker, since=periods.day_start)
    daily_cap = settings.FAIRTASK_DAILY_HOUR_CAP * 3600
    if today >= daily_cap:
        raise WorkRefused(
            "daily_cap",
            _("You have worked %(h)d hours today, the daily limit. You can continue from %(at)s.")
            % {"h": settings.FAIRTASK_DAILY_HOUR_CAP, "at": _fmt(periods.next_day)},
            periods.next_day,
        )
    week = active_seconds(worker=worker, since=periods.week_start)
    if week >= settings.FAIRTASK_WEEKLY_HOUR_CAP * 3600:
        raise WorkRefused(
            "weekly_cap",
            _("You have worked %(h)d hours this week, the weekly limit. You can continue from %(at)s.")
            % {"h": settings.FAIRTASK_WEEKLY_HOUR_CAP, "at": _fmt(periods.next_week)},
            periods.next_week,
        )
    if not project.is_sensitive:
        return
    exposure = active_seconds(worker=worker, since=periods.day_start, project__is_sensitive=True)
    if exposure >= project.exposure_daily_seconds:
        raise WorkRefused(
            "exposure_daily",
            _(
                "You have reached today's limit of %(m)d minutes on sensitive content. "
                "You can continue from %(at)s, or take tasks from other projects now."
            )
            % {"m": project.exposure_daily_seconds // 60, "at": _fmt(periods.next_day)},
            periods.next_day,
        )
    # Walk back through today's sensitive spans while the pauses between them were shorter than a break.
    spans = list(
        ActivitySpan.objects.filter(
            worker=worker, project__is_sensitive=True, started_at__gte=periods.day_start
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
        resume = spans[0].last_beat_at + timedelta(seconds=project.exposure_break_seconds)
        raise WorkRefused(
            "exposure_break",
            _(
                "You have looked at sensitive content for %(m)d minutes without a break. "
                "Take a %(b)d-minute break; you can continue from %(at)s."
            )
            % {"m": continuous // 60, "b": project.exposure_break_seconds // 60, "at": _fmt(resume)},
            resume,
        )


def _eligible_projects(worker: User, project: Project | None, now: datetime) -> list[Project]:
    profile = ContractorProfile.objects.filter(user=worker).first()
    if profile is None or profile.state != ContractorState.ACTIVE:
        raise WorkRefused("not_active", _("Only active contractors can take tasks; see your onboarding page."))
    candidates = [project] if project is not None else list(Project.objects.filter(status=ProjectStatus.OPEN))
    refusals: list[WorkRefused] = []
    eligible = []
    for p in candidates:
        try:
            if p.status != ProjectStatus.OPEN:
                raise WorkRefused("project_closed", _("“%(p)s” is not open for work right now.") % {"p": p})
            if not is_qualified(worker=worker, project=p):
                raise WorkRefused(
                    "not_qualified",
                    _("Pass the paid qualification test for %(skill)s to work on “%(p)s”.")
                    % {"skill": p.required_skill, "p": p},
                )
            if current_instruction_unread(worker=worker, project=p) is not None:
                raise WorkRefused(
                    "instructions_unread", _("Read the current instructions of “%(p)s” first (paid time).") % {"p": p}
                )
            estimate = QualityEstimate.objects.filter(worker=worker, project=p).first()
            # Penalties use the upper bound (rule 3): only clearly low quality blocks work.
            if estimate is not None and estimate.gold_total > 0 and estimate.upper < p.min_quality:
                raise WorkRefused(
                    "quality_below_minimum",
                    _(
                        "Your quality on “%(p)s” is at most %(upper)s (95%% interval), below the "
                        "project's minimum of %(min)s. You can appeal or work on other projects."
                    )
                    % {"p": p, "upper": estimate.upper, "min": p.min_quality},
                )
            _check_caps(worker, p, now)
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


def _claim(worker: User, projects: list[Project], *, gold: bool) -> Task | None:
    qs = (
        Task.objects.filter(project__in=projects, is_gold=gold, filled__lt=F("overlap"))
        .exclude(assignments__worker=worker)
        .order_by("-priority", "id")
        .select_for_update(skip_locked=True, of=("self",))
    )
    return qs.first()


def _live_lease(worker: User, now: datetime) -> Assignment | None:
    return (
        Assignment.objects.select_related("task", "task__project")
        .filter(worker=worker, status=AssignmentStatus.LEASED, expires_at__gt=now)
        .order_by("leased_at")
        .first()
    )


def next_task(*, worker: User, project: Project | None = None) -> Assignment:
    """Give the worker a task under lease, or raise WorkRefused saying why and until when.

    A worker who already holds a live lease gets that one back (one task at a time).
    """
    now = timezone.now()
    current = _live_lease(worker, now)
    if current is not None and (project is None or current.task.project_id == project.pk):
        return current
    projects = _eligible_projects(worker, project, now)
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
                    raise WorkRefused("no_tasks", _("No tasks are waiting for you right now; try again later."))
                lease = next(p.lease_seconds for p in projects if p.pk == task.project_id)
                assignment = Assignment.objects.create(
                    task=task, worker=worker, leased_at=now, expires_at=now + timedelta(seconds=lease)
                )
                Task.objects.filter(pk=task.pk).update(filled=F("filled") + 1)
                return assignment
        except IntegrityError:
            # Only possible if a constraint caught a race the lock did not; try another task.
            continue
    raise WorkRefused("busy", _("Tasks are in high demand right now; try again in a moment."))


@dataclass(frozen=True)
class SubmitResult:
    answer: Answer
    created: bool


@transaction.atomic
def assignment_submit(*, assignment_id: int, worker: User, value: Any) -> SubmitResult:
    """Store the worker's answer. A second identical submit returns the first answer (idempotent)."""
    assignment = Assignment.objects.select_for_update().select_related("task__project").filter(pk=assignment_id).first()
    if assignment is None or assignment.worker_id != worker.pk:
        raise Http404
    project = assignment.task.project
    try:
        clean = check_answer(template=project.template, answer_schema=project.answer_schema, value=value)
    except SchemaError as exc:
        raise ValidationError({exc.field: exc.message}) from exc
    existing = Answer.objects.filter(assignment=assignment).first()
    if existing is not None:
        if existing.value == clean:
            return SubmitResult(existing, created=False)
        raise ValidationError(
            {"answer": ValidationError(_("You already submitted an answer to this task."), code="wrong_state")}
        )
    now = timezone.now()
    if assignment.status != AssignmentStatus.LEASED or assignment.expires_at < now:
        minutes = active_seconds(worker=worker, since=assignment.leased_at, assignment=assignment) // 60
        raise ValidationError(
            {
                "assignment": ValidationError(
                    _(
                        "Your lease on this task ended at %(at)s, so the answer was not saved. "
                        "The %(m)d minutes you spent on it are still paid."
                    )
                    % {"at": _fmt(assignment.expires_at), "m": minutes},
                    code="wrong_state",
                )
            }
        )
    answer = Answer.objects.create(
        assignment=assignment, task=assignment.task, worker=worker, value=clean, submitted_at=now
    )
    assignment.status = AssignmentStatus.SUBMITTED
    assignment.submitted_at = now
    assignment.save(update_fields=["status", "submitted_at"])
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
