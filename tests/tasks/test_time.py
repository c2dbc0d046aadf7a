"""Rule 1: all platform time is paid time, measured on the server from heartbeats."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.test import override_settings

from tasks.models import (
    ActivityKind,
    ActivitySpan,
    Assignment,
    FraudMark,
    InstructionRead,
    InstructionVersion,
    Project,
    QualificationAttempt,
    QualificationQuestion,
    QualificationTest,
)
from tasks.services.people import (
    answer_review,
    attempt_start,
    attempt_submit,
    fraud_mark,
    instruction_read_confirm,
    instruction_read_start,
)
from tasks.services.timing import active_seconds, heartbeat_record, worker_periods
from tasks.services.work import assignment_submit, next_task
from tests.tasks.factories import project, tasks, worker
from tests.workforce.factories import SkillFactory
from workforce.models import AppealStatus, DecisionKind, User
from workforce.services import appeal_answer, appeal_file

pytestmark = pytest.mark.django_db

LONG_AGO = datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC"))


def _beats(w: User, kind: str, target: int, start: datetime, offsets: Iterable[float]) -> ActivitySpan:
    span = None
    for s in offsets:
        span = heartbeat_record(worker=w, kind=kind, target_id=target, at=start + timedelta(seconds=s))
    assert span is not None
    return span


def _paid(w: User) -> int:
    return active_seconds(worker=w, since=LONG_AGO)


def _leased(w: User, p: Project | None = None) -> Assignment:
    p = p or project()
    tasks(p, 1)
    return next_task(worker=w, project=p)


def _attempt(w: User) -> QualificationAttempt:
    test = QualificationTest.objects.create(
        skill=SkillFactory.create(slug="sentiment"), title="Sentiment basics", answer_schema={"choices": ["+", "-"]}
    )
    QualificationQuestion.objects.create(test=test, data={"text": "I love it"}, answer="+")
    return attempt_start(worker=w, test=test)


def _instruction_read(w: User) -> InstructionRead:
    v = InstructionVersion.objects.create(project=project(), version=1, body="Label the animal.")
    return instruction_read_start(worker=w, instruction=v)


# Measuring active time


def test_the_first_heartbeat_counts_zero_and_each_next_one_adds_the_time_since_the_last(ops):
    w = worker(ops=ops)
    a = _leased(w)
    assert _beats(w, "task", a.pk, a.leased_at, [0]).active_seconds == 0
    assert _beats(w, "task", a.pk, a.leased_at, [30]).active_seconds == 30


def test_heartbeats_every_30_seconds_for_5_minutes_are_300_active_seconds(ops):
    """Beats at 0, 30, …, 300 s: eleven beats, ten 30-second steps; the first beat counts 0."""
    w = worker(ops=ops)
    a = _leased(w)
    span = _beats(w, "task", a.pk, a.leased_at, range(0, 301, 30))
    assert span.active_seconds == 300
    assert ActivitySpan.objects.count() == 1
    assert _paid(w) == 300


def test_heartbeats_that_arrive_a_fraction_of_a_second_late_lose_no_time(ops):
    """Real beats are never exactly 30 s apart; dropping each step's fraction would underpay."""
    w = worker(ops=ops)
    a = _leased(w)
    span = _beats(w, "task", a.pk, a.leased_at, [i * 30.6 for i in range(10)])
    assert span.active_seconds == 276  # 275.4 s of beats, rounded in the contractor's favour


def test_a_gap_longer_than_the_idle_limit_counts_as_idle_not_active(ops):
    w = worker(ops=ops)
    a = _leased(w)
    _beats(w, "task", a.pk, a.leased_at, [0, 30, 60, 60 + 121, 60 + 151])
    assert sorted(ActivitySpan.objects.values_list("active_seconds", flat=True)) == [30, 60]
    assert _paid(w) == 90


def test_a_gap_of_exactly_the_idle_limit_still_counts_as_active(ops):
    w = worker(ops=ops)
    a = _leased(w)
    _beats(w, "task", a.pk, a.leased_at, [0, 120])
    assert _paid(w) == 120
    assert ActivitySpan.objects.count() == 1


@override_settings(FAIRTASK_IDLE_GAP_SECONDS=300)
def test_the_idle_limit_is_a_setting(ops):
    w = worker(ops=ops)
    a = _leased(w)
    _beats(w, "task", a.pk, a.leased_at, [0, 250])
    assert _paid(w) == 250


# What can and cannot take paid time away


def test_time_on_work_that_is_later_rejected_stays_paid(ops):
    w = worker(ops=ops)
    a = _leased(w)
    _beats(w, "task", a.pk, a.leased_at, range(0, 181, 30))
    result = assignment_submit(assignment_id=a.pk, worker=w, value="dog")
    answer = answer_review(
        answer_id=result.answer.pk, reviewer=ops, approve=False, code="wrong", message="It is a cat."
    )
    assert answer.review_status == "rejected"
    assert _paid(w) == 180
    assert answer.decision is not None and answer.decision.data["time_still_paid"] is True


def test_a_human_fraud_decision_excludes_only_that_assignments_time(ops):
    w = worker(ops=ops)
    p = project(overlap=1)
    tasks(p, 2)
    fraudulent = next_task(worker=w, project=p)
    _beats(w, "task", fraudulent.pk, fraudulent.leased_at, range(0, 121, 30))
    assignment_submit(assignment_id=fraudulent.pk, worker=w, value="cat")
    honest = next_task(worker=w, project=p)
    _beats(w, "task", honest.pk, honest.leased_at, range(0, 61, 30))
    assert _paid(w) == 180

    mark = fraud_mark(assignment_id=fraudulent.pk, actor=ops, reason="Answered 400 tasks in one minute.")

    assert _paid(w) == 60
    assert mark.decision.kind == DecisionKind.FRAUD
    assert mark.decision.is_automated is False and mark.decision.decided_by == ops
    assert ActivitySpan.objects.count() == 2  # excluded from pay, never deleted


def test_only_an_operations_manager_can_mark_work_as_fraud(ops):
    w = worker(ops=ops)
    a = _leased(w)
    _beats(w, "task", a.pk, a.leased_at, [0, 30])
    with pytest.raises(PermissionDenied):
        fraud_mark(assignment_id=a.pk, actor=w, reason="I say so.")
    assert not FraudMark.objects.exists()
    assert _paid(w) == 30


def test_overturning_the_fraud_decision_on_appeal_restores_the_time(ops, ops2):
    w = worker(ops=ops)
    a = _leased(w)
    _beats(w, "task", a.pk, a.leased_at, range(0, 91, 30))
    mark = fraud_mark(assignment_id=a.pk, actor=ops, reason="Copied answers from a script.")
    assert _paid(w) == 0

    appeal = appeal_file(decision=mark.decision, appellant=w, message="I typed every answer myself.")
    appeal_answer(appeal=appeal, actor=ops2, outcome=AppealStatus.OVERTURNED, reason="The timing log shows typing.")

    assert _paid(w) == 90
    mark.refresh_from_db()
    assert mark.is_active is False


def test_an_upheld_fraud_decision_keeps_the_time_excluded(ops, ops2):
    w = worker(ops=ops)
    a = _leased(w)
    _beats(w, "task", a.pk, a.leased_at, range(0, 91, 30))
    mark = fraud_mark(assignment_id=a.pk, actor=ops, reason="Copied answers from a script.")
    appeal = appeal_file(decision=mark.decision, appellant=w, message="I typed every answer myself.")
    appeal_answer(appeal=appeal, actor=ops2, outcome=AppealStatus.UPHELD, reason="The same script ran twice.")
    assert _paid(w) == 0


# Whose heartbeat it is, and when it is too late


@pytest.mark.parametrize("kind", [ActivityKind.TASK, ActivityKind.QUALIFICATION, ActivityKind.INSTRUCTION])
def test_a_heartbeat_for_someone_elses_work_is_not_found_and_writes_nothing(ops, kind):
    owner, other = worker(ops=ops), worker(ops=ops)
    target = {
        ActivityKind.TASK: lambda: _leased(owner).pk,
        ActivityKind.QUALIFICATION: lambda: _attempt(owner).pk,
        ActivityKind.INSTRUCTION: lambda: _instruction_read(owner).pk,
    }[kind]()
    with pytest.raises(Http404):
        heartbeat_record(worker=other, kind=kind, target_id=target)
    assert not ActivitySpan.objects.exists()


def test_a_heartbeat_on_an_expired_lease_is_refused_but_earlier_time_stays(ops):
    w = worker(ops=ops)
    a = _leased(w)
    _beats(w, "task", a.pk, a.leased_at, range(0, 121, 30))
    with pytest.raises(ValidationError) as exc:
        heartbeat_record(worker=w, kind="task", target_id=a.pk, at=a.expires_at + timedelta(seconds=1))
    assert exc.value.error_dict["assignment"][0].code == "wrong_state"
    assert ActivitySpan.objects.get().active_seconds == 120
    assert _paid(w) == 120


def test_qualification_attempt_time_is_paid_even_when_the_attempt_fails(ops):
    w = worker(ops=ops)
    attempt = _attempt(w)
    _beats(w, "qualification", attempt.pk, attempt.started_at, range(0, 151, 30))
    (question,) = attempt.test.questions.all()
    finished = attempt_submit(attempt_id=attempt.pk, worker=w, answers={str(question.pk): "-"})
    assert finished.is_passed is False
    assert active_seconds(worker=w, since=LONG_AGO, kind=ActivityKind.QUALIFICATION) == 150
    assert _paid(w) == 150


def test_instruction_reading_time_is_paid(ops):
    w = worker(ops=ops)
    read = _instruction_read(w)
    _beats(w, "instruction", read.pk, read.started_at, range(0, 211, 30))
    instruction_read_confirm(worker=w, read_id=read.pk)
    assert active_seconds(worker=w, since=LONG_AGO, kind=ActivityKind.INSTRUCTION) == 210
    assert active_seconds(worker=w, since=LONG_AGO, project=read.instruction.project) == 210


# Today and this week, in the contractor's own time zone


def test_time_today_and_this_week_per_project_splits_at_the_contractors_midnight(ops):
    """Sunday 23:50 to Monday 00:10 in Berlin, heartbeats every 30 s on one task.

    The worker's day and week (Monday first) end at Berlin midnight, which is 22:00 UTC: ten
    minutes belong to Sunday and last week, ten to Monday and this week. A second project's
    five minutes on Monday show up under that project only.
    """
    berlin = ZoneInfo("Europe/Berlin")
    w = worker(ops=ops)
    assert worker_periods(w).day_start.tzinfo == berlin  # the factory's profile zone
    sunday_late = datetime(2025, 6, 1, 23, 50, tzinfo=berlin)
    monday = datetime(2025, 6, 2, 0, 30, tzinfo=berlin)
    p, q = project(lease_seconds=3600), project(lease_seconds=3600)
    for a, start, minutes in ((_leased(w, p), sunday_late, 20), (_leased(w, q), monday, 5)):
        Assignment.objects.filter(pk=a.pk).update(leased_at=start, expires_at=start + timedelta(hours=1))
        _beats(w, "task", a.pk, start, range(0, minutes * 60 + 1, 30))

    now = monday + timedelta(minutes=10)
    periods = worker_periods(w, now)
    assert periods.day_start == datetime(2025, 6, 2, tzinfo=berlin) == periods.week_start

    def seconds(since: datetime, until: datetime, on: Project) -> int:
        return active_seconds(worker=w, since=since, until=until, project=on)

    assert seconds(periods.day_start, periods.next_day, p) == 600
    assert seconds(periods.week_start, periods.next_week, p) == 600
    assert seconds(periods.day_start, periods.next_day, q) == 300
    yesterday = worker_periods(w, sunday_late)
    assert seconds(yesterday.day_start, yesterday.next_day, p) == 600
    assert seconds(yesterday.week_start, yesterday.next_week, p) == 600
    assert seconds(yesterday.week_start, yesterday.next_week, q) == 0
