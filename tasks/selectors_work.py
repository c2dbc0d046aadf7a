"""Reads for the contractor's work pages (shared by the portal and the API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Sum

from tasks.models import Project, ProjectStatus, QualificationTest
from tasks.services.timing import paid_spans, worker_periods
from tasks.services.work import current_instruction_unread, is_qualified
from workforce.models import User


@dataclass
class ProjectRow:
    project: Project
    is_qualified: bool
    test: QualificationTest | None
    unread_instruction: Any
    seconds_today: int = 0
    seconds_week: int = 0


@dataclass
class WorkOverview:
    rows: list[ProjectRow] = field(default_factory=list)
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
            ProjectRow(
                project=project,
                is_qualified=is_qualified(worker=worker, project=project),
                test=test,
                unread_instruction=current_instruction_unread(worker=worker, project=project),
                seconds_today=today.get(project.pk, 0),
                seconds_week=week.get(project.pk, 0),
            )
        )
    return overview
