"""Answers and heartbeat spans written straight to the tables, at chosen times.

Quality and throughput read what work left behind; these helpers lay down exactly that
(a submitted assignment with its answer, or an active span) without the engine's random
gold injection, so a test controls which worker answered which task, what and when.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import F
from django.utils import timezone

from tasks.models import ActivityKind, ActivitySpan, Answer, Assignment, AssignmentStatus, Task
from workforce.models import User


def answer(worker: User, task: Task, value: Any, *, at: datetime | None = None) -> Answer:
    at = at or timezone.now()
    assignment = Assignment.objects.create(
        task=task,
        worker=worker,
        status=AssignmentStatus.SUBMITTED,
        leased_at=at - timedelta(minutes=1),
        expires_at=at + timedelta(minutes=9),
        submitted_at=at,
    )
    Task.objects.filter(pk=task.pk).update(filled=F("filled") + 1)
    return Answer.objects.create(assignment=assignment, task=task, worker=worker, value=value, submitted_at=at)


def span(worker: User, a: Answer, *, seconds: int, last_beat_at: datetime | None = None) -> ActivitySpan:
    """Active time on the answer's assignment, ending at ``last_beat_at`` (default: now)."""
    end = last_beat_at or timezone.now()
    return ActivitySpan.objects.create(
        worker=worker,
        kind=ActivityKind.TASK,
        project_id=a.task.project_id,
        assignment=a.assignment,
        started_at=end - timedelta(seconds=seconds),
        last_beat_at=end,
        active_seconds=seconds,
    )
