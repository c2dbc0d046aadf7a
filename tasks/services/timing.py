"""Active time from heartbeats (rule 1: all platform time is paid time).

The portal sends a heartbeat while the page is visible. Consecutive heartbeats no further
apart than FAIRTASK_IDLE_GAP_SECONDS extend one ActivitySpan; a longer gap counts as idle
and the next heartbeat starts a new span. Only a human fraud decision removes time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from tasks.models import (
    ActivityKind,
    ActivitySpan,
    Assignment,
    AssignmentStatus,
    InstructionRead,
    QualificationAttempt,
)
from workforce.models import ContractorProfile, User
from workforce.services import wrong_state


def _whole_seconds(delta: timedelta) -> int:
    """Seconds rounded up, in the contractor's favour."""
    return -(-delta // timedelta(seconds=1))


def _extend_or_start(span: ActivitySpan | None, now: datetime, *, worker: User, **new: object) -> ActivitySpan:
    gap = settings.FAIRTASK_IDLE_GAP_SECONDS
    if span is not None and 0 <= (now - span.last_beat_at).total_seconds() <= gap:
        day_start = worker_periods(worker, now).day_start
        if span.last_beat_at < day_start:
            # The contractor's day (and maybe week) ended between two beats: close the span at
            # their midnight and go on in a new one, so today's time and caps count from midnight.
            span.last_beat_at = day_start
            span.active_seconds = _whole_seconds(day_start - span.started_at)
            span.save(update_fields=["active_seconds", "last_beat_at"])
            return ActivitySpan.objects.create(
                worker=worker,
                started_at=day_start,
                last_beat_at=now,
                active_seconds=_whole_seconds(now - day_start),
                **new,
            )
        # A span is one unbroken run of beats, so its active time is its length. Summing each
        # step's whole seconds instead would drop each fraction: 1.7% of paid time at 30-second beats.
        span.active_seconds = _whole_seconds(now - span.started_at)
        span.last_beat_at = now
        span.save(update_fields=["active_seconds", "last_beat_at"])
        return span
    return ActivitySpan.objects.create(worker=worker, started_at=now, last_beat_at=now, active_seconds=0, **new)


@transaction.atomic
def heartbeat_record(*, worker: User, kind: str, target_id: int, at: datetime | None = None) -> ActivitySpan:
    """Credit active time to the worker's assignment, qualification attempt or instruction read.

    The target row is locked, so two heartbeats racing for one span cannot both start a new one.
    Someone else's target gives 404: it is not theirs, and its existence is not revealed.
    """
    now = at or timezone.now()
    if kind == ActivityKind.TASK:
        assignment = Assignment.objects.select_for_update().select_related("task").filter(pk=target_id).first()
        if assignment is None or assignment.worker_id != worker.pk:
            raise Http404
        if assignment.status != AssignmentStatus.LEASED or assignment.expires_at < now:
            raise wrong_state("assignment", _("This task is no longer yours to work on."))
        span = assignment.spans.order_by("-last_beat_at", "-pk").first()
        return _extend_or_start(
            span, now, worker=worker, kind=kind, assignment=assignment, project_id=assignment.task.project_id
        )
    if kind == ActivityKind.QUALIFICATION:
        attempt = QualificationAttempt.objects.select_for_update().filter(pk=target_id).first()
        if attempt is None or attempt.worker_id != worker.pk:
            raise Http404
        if attempt.finished_at is not None:
            raise wrong_state("attempt", _("This qualification attempt is already finished."))
        return _extend_or_start(
            attempt.spans.order_by("-last_beat_at", "-pk").first(), now, worker=worker, kind=kind, attempt=attempt
        )
    if kind == ActivityKind.INSTRUCTION:
        read = InstructionRead.objects.select_for_update().select_related("instruction").filter(pk=target_id).first()
        if read is None or read.worker_id != worker.pk:
            raise Http404
        return _extend_or_start(
            read.spans.order_by("-last_beat_at", "-pk").first(),
            now,
            worker=worker,
            kind=kind,
            instruction_read=read,
            project_id=read.instruction.project_id,
        )
    raise ValidationError({"kind": _("kind must be task, qualification or instruction.")})


def paid_spans(*, worker: User | None = None) -> QuerySet[ActivitySpan]:
    """Spans that count as paid: all of them, except task time a human found fraudulent."""
    qs = ActivitySpan.objects.exclude(Q(assignment__fraud_marks__is_active=True))
    if worker is not None:
        qs = qs.filter(worker=worker)
    return qs


def active_seconds(*, worker: User, since: datetime, until: datetime | None = None, **filters: object) -> int:
    qs = paid_spans(worker=worker).filter(started_at__gte=since, **filters)
    if until is not None:
        qs = qs.filter(started_at__lt=until)
    return int(qs.aggregate(total=Sum("active_seconds"))["total"] or 0)


def worker_zone(worker: User) -> ZoneInfo:
    name = ContractorProfile.objects.filter(user=worker).values_list("timezone", flat=True).first()
    return ZoneInfo(name) if name else ZoneInfo("UTC")


@dataclass(frozen=True)
class Periods:
    day_start: datetime
    next_day: datetime
    week_start: datetime
    next_week: datetime


def worker_periods(worker: User, now: datetime | None = None, *, zone: str = "") -> Periods:
    """Today and this week (Monday first) in the worker's own time zone (``zone`` if already known)."""
    local = (now or timezone.now()).astimezone(ZoneInfo(zone) if zone else worker_zone(worker))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week = day - timedelta(days=day.weekday())
    return Periods(day, day + timedelta(days=1), week, week + timedelta(days=7))
