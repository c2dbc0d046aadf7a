"""Reads that pages, reports and the API share: throughput, progress and quality.

Every function is keyword-only and returns plain data built from a fixed number of grouped
queries, whatever the number of tasks, answers or contractors, so no caller can cause N+1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from tasks.models import ActivitySpan, Answer, Project, ProjectStatus, QualificationTest, QualityEstimate, Task
from tasks.services.timing import paid_spans, worker_periods
from tasks.services.work import current_instruction_unread, is_qualified
from workforce.models import User

ACTIVE_WINDOW = timedelta(minutes=15)
SERIES_HOURS = 24


@dataclass(frozen=True)
class HourCount:
    start: datetime
    count: int


@dataclass(frozen=True)
class Progress:
    """How far a project is: answers wanted (overlap of its ordinary tasks) against answers given."""

    tasks: int
    wanted: int
    submitted: int

    @property
    def remaining(self) -> int:
        return max(0, self.wanted - self.submitted)

    @property
    def percent(self) -> Decimal:
        if not self.wanted:
            return Decimal(0)
        share = Decimal(min(self.submitted, self.wanted) * 100) / Decimal(self.wanted)
        # Rounded down, so "100%" is only shown when nothing is left.
        return share.quantize(Decimal("0.1"), rounding=ROUND_FLOOR)


@dataclass(frozen=True)
class ProjectThroughput:
    project: Project
    progress: Progress
    answers_last_hour: int
    regular_answers_last_hour: int
    active_contractors: int
    series: list[HourCount] = field(default_factory=list)

    @property
    def eta(self) -> timedelta | None:
        """Remaining answers ÷ the last hour's rate on ordinary tasks; None when nobody worked."""
        if not self.regular_answers_last_hour:
            return None
        return timedelta(hours=self.progress.remaining / self.regular_answers_last_hour)


def _progress_by_project(project_ids: list[int] | None) -> dict[int, Progress]:
    tasks = Task.objects.filter(is_gold=False)
    answers = Answer.objects.filter(task__is_gold=False)
    if project_ids is not None:
        tasks = tasks.filter(project_id__in=project_ids)
        answers = answers.filter(task__project_id__in=project_ids)
    wanted = {
        row["project_id"]: (row["n"], row["wanted"] or 0)
        for row in tasks.values("project_id").annotate(n=Count("pk"), wanted=Sum("overlap")).order_by()
    }
    given = dict(
        answers.values_list("task__project_id").annotate(n=Count("pk")).order_by().values_list("task__project_id", "n")
    )
    ids = set(wanted) | set(given)
    return {pk: Progress(wanted.get(pk, (0, 0))[0], wanted.get(pk, (0, 0))[1], given.get(pk, 0)) for pk in ids}


def _hourly_series(project: Project, now: datetime) -> list[HourCount]:
    current_hour = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    first = current_hour - timedelta(hours=SERIES_HOURS - 1)
    rows = (
        Answer.objects.filter(task__project=project, submitted_at__gte=first)
        .annotate(hour=TruncHour("submitted_at"))
        .values("hour")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = {timezone.localtime(row["hour"]): row["n"] for row in rows}
    return [
        HourCount(start, counts.get(start, 0)) for start in (first + timedelta(hours=i) for i in range(SERIES_HOURS))
    ]


def project_throughput(*, project: Project, now: datetime | None = None) -> ProjectThroughput:
    """Tasks per hour (answers in the last 60 minutes), a 24-hour series, completion, ETA and
    the contractors with a heartbeat on the project in the last 15 minutes."""
    now = now or timezone.now()
    hour_ago = now - timedelta(hours=1)
    recent = Answer.objects.filter(task__project=project, submitted_at__gte=hour_ago).aggregate(
        total=Count("pk"), regular=Count("pk", filter=Q(task__is_gold=False))
    )
    active = (
        ActivitySpan.objects.filter(project=project, last_beat_at__gte=now - ACTIVE_WINDOW)
        .values("worker_id")
        .distinct()
        .count()
    )
    return ProjectThroughput(
        project=project,
        progress=_progress_by_project([project.pk]).get(project.pk, Progress(0, 0, 0)),
        answers_last_hour=recent["total"],
        regular_answers_last_hour=recent["regular"],
        active_contractors=active,
        series=_hourly_series(project, now),
    )


@dataclass(frozen=True)
class ProjectRow:
    project: Project
    progress: Progress
    answers_last_hour: int


def project_overview_list(*, now: datetime | None = None) -> list[ProjectRow]:
    """Every project with its completion and last hour's answers, in three queries."""
    now = now or timezone.now()
    projects = list(Project.objects.select_related("required_skill").order_by("name"))
    progress = _progress_by_project(None)
    recent = dict(
        Answer.objects.filter(submitted_at__gte=now - timedelta(hours=1))
        .values_list("task__project_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("task__project_id", "n")
    )
    return [ProjectRow(p, progress.get(p.pk, Progress(0, 0, 0)), recent.get(p.pk, 0)) for p in projects]


@dataclass(frozen=True)
class ContractorRow:
    worker_id: int
    email: str
    name: str
    profile_id: int | None
    answers: int
    active_seconds: int
    last_answer_at: datetime | None
    estimate: QualityEstimate | None


@dataclass(frozen=True)
class ContractorTable:
    rows: list[ContractorRow]
    total: int
    quality_computed_at: datetime | None = None


def project_contractor_list(*, project: Project, limit: int = 100) -> ContractorTable:
    """Per contractor on the project: answers, paid active time and quality, most answers first.

    Four queries (answers, paid spans, estimates, people), whatever the number of contractors.
    """
    answers = {
        row["worker_id"]: row
        for row in Answer.objects.filter(task__project=project)
        .values("worker_id")
        .annotate(n=Count("pk"), last=Max("submitted_at"))
        .order_by()
    }
    seconds = dict(
        paid_spans()
        .filter(project=project)
        .values_list("worker_id")
        .annotate(total=Sum("active_seconds"))
        .order_by()
        .values_list("worker_id", "total")
    )
    ids = set(answers) | set(seconds)
    ranked = sorted(ids, key=lambda w: (-answers.get(w, {}).get("n", 0), -(seconds.get(w) or 0), w))[:limit]
    estimates = {e.worker_id: e for e in QualityEstimate.objects.filter(project=project, worker_id__in=ranked)}
    people = {u.pk: u for u in User.objects.filter(pk__in=ranked).select_related("profile")}
    rows = []
    for worker_id in ranked:
        user = people[worker_id]
        profile = getattr(user, "profile", None)
        rows.append(
            ContractorRow(
                worker_id=worker_id,
                email=user.email,
                name=(profile.display_name if profile is not None else "") or user.email,
                profile_id=profile.pk if profile is not None else None,
                answers=answers.get(worker_id, {}).get("n", 0),
                active_seconds=int(seconds.get(worker_id) or 0),
                last_answer_at=answers.get(worker_id, {}).get("last"),
                estimate=estimates.get(worker_id),
            )
        )
    computed = max((e.computed_at for e in estimates.values()), default=None)
    return ContractorTable(rows=rows, total=len(ids), quality_computed_at=computed)


@dataclass(frozen=True)
class QualityRow:
    """A contractor's estimate on one project, with what the engine and pay make of it."""

    estimate: QualityEstimate
    project: Project

    @property
    def has_gold(self) -> bool:
        return self.estimate.gold_total > 0

    @property
    def is_blocked(self) -> bool:
        # The engine's rule (tasks.services.work): only an upper bound below the minimum blocks.
        return self.has_gold and self.estimate.upper < self.project.min_quality and not self.estimate.is_block_waived


def quality_list(*, worker: User) -> list[QualityRow]:
    """The worker's own quality estimates, one per project they have answered in."""
    estimates = QualityEstimate.objects.filter(worker=worker).select_related("project").order_by("project__name")
    return [QualityRow(e, e.project) for e in estimates]


# Work pages ------------------------------------------------------------------------------


@dataclass
class WorkProjectRow:
    project: Project
    is_qualified: bool
    test: QualificationTest | None
    unread_instruction: Any
    seconds_today: int = 0
    seconds_week: int = 0


@dataclass
class WorkOverview:
    rows: list[WorkProjectRow] = field(default_factory=list)
    seconds_today: int = 0
    seconds_week: int = 0
    by_kind_today: dict[str, int] = field(default_factory=dict)


def work_overview(*, worker: User) -> WorkOverview:
    """Open projects with what stands between the worker and them, and active time today and this week."""
    periods = worker_periods(worker)
    spans = paid_spans(worker=worker)
    today = dict(
        spans.filter(started_at__gte=periods.day_start)
        .values_list("project_id")
        .annotate(total=Sum("active_seconds"))
        .values_list("project_id", "total")
    )
    week = dict(
        spans.filter(started_at__gte=periods.week_start)
        .values_list("project_id")
        .annotate(total=Sum("active_seconds"))
        .values_list("project_id", "total")
    )
    by_kind = dict(
        spans.filter(started_at__gte=periods.day_start)
        .values_list("kind")
        .annotate(total=Sum("active_seconds"))
        .values_list("kind", "total")
    )
    overview = WorkOverview(seconds_today=sum(today.values()), seconds_week=sum(week.values()), by_kind_today=by_kind)
    for project in Project.objects.filter(status=ProjectStatus.OPEN).select_related("required_skill"):
        test = QualificationTest.objects.filter(skill=project.required_skill).first()
        overview.rows.append(
            WorkProjectRow(
                project=project,
                is_qualified=is_qualified(worker=worker, project=project),
                test=test,
                unread_instruction=current_instruction_unread(worker=worker, project=project),
                seconds_today=today.get(project.pk, 0),
                seconds_week=week.get(project.pk, 0),
            )
        )
    return overview
