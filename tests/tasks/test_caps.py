"""Rule 9: hour caps and exposure limits are enforced at assignment time, each refusal explained.

Past work is laid down as ActivitySpan rows (what heartbeats leave behind) at times relative
to now. The engine reads the clock itself, so each test first gives the contractor a time
zone (fixed offset, no daylight saving) in which it is now a chosen hour: around noon, the
last hours are safely "today" whatever the hour the suite runs at.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db.models import F
from django.test import override_settings
from django.utils import timezone

from tasks.models import ActivityKind, ActivitySpan, Assignment, AssignmentStatus, Project, Task
from tasks.services.timing import worker_periods
from tasks.services.work import WorkRefused, next_task
from tests.tasks.factories import project, tasks, worker
from workforce.models import ContractorProfile, User

pytestmark = pytest.mark.django_db

HOUR = 3600


def _zone_where_it_is(hour: int) -> ZoneInfo:
    """A fixed-offset zone in which the local time now is ``hour`` o'clock (and some minutes)."""
    offset = (hour - timezone.now().astimezone(UTC).hour + 12) % 24 - 12  # -12 … +11 hours
    return ZoneInfo("Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}")  # Etc/GMT-3 is UTC+3


def _contractor_at(hour: int, ops: User) -> tuple[User, ZoneInfo]:
    w = worker(ops=ops)
    zone = _zone_where_it_is(hour)
    ContractorProfile.objects.filter(user=w).update(timezone=zone.key)
    return w, zone


def _worked(w: User, p: Project, *, ended_at: datetime, seconds: int) -> ActivitySpan:
    """``seconds`` of active time on a task of ``p``, the last heartbeat at ``ended_at``."""
    (task,) = tasks(p, 1)
    started_at = ended_at - timedelta(seconds=seconds)
    assignment = Assignment.objects.create(
        task=task,
        worker=w,
        status=AssignmentStatus.SUBMITTED,
        leased_at=started_at,
        expires_at=ended_at + timedelta(minutes=5),
        submitted_at=ended_at,
    )
    Task.objects.filter(pk=task.pk).update(filled=F("filled") + 1)
    return ActivitySpan.objects.create(
        worker=w,
        kind=ActivityKind.TASK,
        project=p,
        assignment=assignment,
        started_at=started_at,
        last_beat_at=ended_at,
        active_seconds=seconds,
    )


def _refusal(w: User, p: Project | None = None) -> WorkRefused:
    leases = Assignment.objects.filter(status=AssignmentStatus.LEASED).count()
    with pytest.raises(WorkRefused) as exc:
        next_task(worker=w, project=p)
    assert Assignment.objects.filter(status=AssignmentStatus.LEASED).count() == leases  # nothing leased
    return exc.value


def _sensitive(**limits: int) -> Project:
    p = project(is_sensitive=True, **limits)
    tasks(p, 3)
    return p


# Hour caps


@override_settings(FAIRTASK_DAILY_HOUR_CAP=1)
def test_the_daily_hour_cap_refuses_with_the_reason_until_the_next_local_midnight(ops):
    w, zone = _contractor_at(12, ops)
    p = project()
    tasks(p, 1)
    now = timezone.now()
    _worked(w, p, ended_at=now - timedelta(minutes=30), seconds=HOUR)

    refusal = _refusal(w)

    assert refusal.code == "daily_cap"
    midnight = worker_periods(w, now).next_day
    assert refusal.retry_at == midnight
    local = refusal.retry_at.astimezone(zone)
    assert (local.hour, local.minute, local.date()) == (0, 0, now.astimezone(zone).date() + timedelta(days=1))
    assert "1 hours today, the daily limit" in refusal.message
    assert f"{local:%Y-%m-%d %H:%M}" in refusal.message


@override_settings(FAIRTASK_DAILY_HOUR_CAP=1)
def test_a_second_under_the_daily_cap_still_gets_work(ops):
    w, _zone = _contractor_at(12, ops)
    p = project()
    tasks(p, 1)
    _worked(w, p, ended_at=timezone.now() - timedelta(minutes=30), seconds=HOUR - 1)
    assert next_task(worker=w).task.project == p


@override_settings(FAIRTASK_DAILY_HOUR_CAP=1)
def test_time_before_the_contractors_midnight_does_not_count_toward_todays_cap(ops):
    w, _zone = _contractor_at(12, ops)
    p = project()
    tasks(p, 1)
    _worked(w, p, ended_at=worker_periods(w).day_start - timedelta(minutes=1), seconds=2 * HOUR)
    assert next_task(worker=w).task.project == p


@override_settings(FAIRTASK_DAILY_HOUR_CAP=10, FAIRTASK_WEEKLY_HOUR_CAP=1)
def test_the_weekly_hour_cap_refuses_with_the_reason_until_monday_midnight(ops):
    w, zone = _contractor_at(12, ops)
    p = project()
    tasks(p, 1)
    _worked(w, p, ended_at=timezone.now() - timedelta(minutes=30), seconds=HOUR)

    refusal = _refusal(w)

    assert refusal.code == "weekly_cap"
    assert refusal.retry_at == worker_periods(w).next_week
    local = refusal.retry_at.astimezone(zone)
    assert (local.weekday(), local.hour, local.minute) == (0, 0, 0)
    assert timedelta(0) < refusal.retry_at - timezone.now() <= timedelta(days=7)
    assert "1 hours this week, the weekly limit" in refusal.message
    assert f"{local:%Y-%m-%d %H:%M}" in refusal.message


@override_settings(FAIRTASK_DAILY_HOUR_CAP=10, FAIRTASK_WEEKLY_HOUR_CAP=1)
def test_time_before_monday_does_not_count_toward_the_weekly_cap(ops):
    w, _zone = _contractor_at(12, ops)
    p = project()
    tasks(p, 1)
    _worked(w, p, ended_at=worker_periods(w).week_start - timedelta(minutes=1), seconds=2 * HOUR)
    assert next_task(worker=w).task.project == p


# Sensitive content: a daily budget and breaks


def test_the_daily_exposure_budget_refuses_sensitive_work_while_other_work_is_still_offered(ops):
    w, _zone = _contractor_at(12, ops)
    sensitive = _sensitive(exposure_daily_seconds=1800, exposure_break_after_seconds=4 * HOUR)
    ordinary = project()
    tasks(ordinary, 1)
    _worked(w, sensitive, ended_at=timezone.now() - timedelta(hours=2), seconds=1800)

    refusal = _refusal(w, sensitive)

    assert refusal.code == "exposure_daily"
    assert refusal.retry_at == worker_periods(w).next_day
    assert "limit of 30 minutes on sensitive content" in refusal.message
    assert "other projects" in refusal.message
    assert next_task(worker=w).task.project == ordinary


def test_continuous_exposure_without_a_break_is_refused_until_the_break_is_over(ops):
    w, zone = _contractor_at(12, ops)
    p = _sensitive(exposure_break_after_seconds=1800, exposure_break_seconds=900)
    now = timezone.now()
    _worked(w, p, ended_at=now - timedelta(minutes=25), seconds=900)
    last = _worked(w, p, ended_at=now - timedelta(minutes=1), seconds=23 * 60)  # a 1-minute pause is no break

    refusal = _refusal(w, p)

    assert refusal.code == "exposure_break"
    assert refusal.retry_at == last.last_beat_at + timedelta(seconds=900)
    assert "38 minutes without a break" in refusal.message
    assert "15-minute break" in refusal.message
    assert f"{refusal.retry_at.astimezone(zone):%Y-%m-%d %H:%M}" in refusal.message  # in their own time


def test_after_the_break_sensitive_work_is_offered_again(ops):
    w, _zone = _contractor_at(12, ops)
    p = _sensitive(exposure_break_after_seconds=1800, exposure_break_seconds=900)
    now = timezone.now()
    _worked(w, p, ended_at=now - timedelta(minutes=40), seconds=900)
    _worked(w, p, ended_at=now - timedelta(minutes=16), seconds=23 * 60)  # then a 16-minute break
    assert next_task(worker=w, project=p).task.project == p


def test_a_pause_as_long_as_the_break_starts_the_continuous_count_again(ops):
    w, _zone = _contractor_at(12, ops)
    p = _sensitive(exposure_break_after_seconds=1800, exposure_break_seconds=900)
    now = timezone.now()
    _worked(w, p, ended_at=now - timedelta(minutes=45), seconds=25 * 60)
    _worked(w, p, ended_at=now - timedelta(minutes=1), seconds=29 * 60)  # after a 15-minute pause
    assert next_task(worker=w, project=p).task.project == p


def test_exposure_before_the_contractors_midnight_still_needs_its_break_after_midnight(ops):
    """It is now some minutes past midnight for this contractor; the exposure ran until 23:59."""
    w, zone = _contractor_at(0, ops)
    p = _sensitive(exposure_break_after_seconds=1200, exposure_break_seconds=90 * 60)
    midnight = worker_periods(w).day_start
    assert timezone.now() - midnight < timedelta(hours=1)
    last = _worked(w, p, ended_at=midnight - timedelta(minutes=1), seconds=29 * 60)

    refusal = _refusal(w, p)

    assert refusal.code == "exposure_break"
    assert refusal.retry_at == last.last_beat_at + timedelta(minutes=90)
    assert refusal.retry_at.astimezone(zone).date() == midnight.date()
