"""Paid qualification tests, review of submitted work, and gold tasks nobody can spot."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.utils import timezone

from tasks.models import (
    Answer,
    Project,
    QualificationAttempt,
    QualificationQuestion,
    QualificationTest,
    ReviewStatus,
)
from tasks.presenters import task_for_worker
from tasks.services.people import answer_review, answers_auto_approve, attempt_start, attempt_submit
from tasks.services.work import WorkRefused, assignment_submit, next_task
from tests.tasks.factories import project, tasks, worker
from tests.workforce.factories import SkillFactory
from workforce.models import Appeal, AppealStatus, Decision, DecisionKind, User
from workforce.services import appeal_answer, appeal_file

pytestmark = pytest.mark.django_db


def _test() -> QualificationTest:
    """A test for the skill every factory project requires: two questions, pass mark 0.8."""
    test = QualificationTest.objects.create(
        skill=SkillFactory.create(slug="text-classification"),
        title="Animals 101",
        answer_schema={"choices": ["cat", "dog", "bird"]},
        pass_mark=Decimal("0.800"),
    )
    QualificationQuestion.objects.create(test=test, data={"text": "meow"}, answer="cat", position=0)
    QualificationQuestion.objects.create(test=test, data={"text": "woof"}, answer="dog", position=1)
    return test


def _take(w: User, test: QualificationTest, *, correct: int) -> QualificationAttempt:
    attempt = attempt_start(worker=w, test=test)
    questions = list(test.questions.all())
    answers = {str(q.pk): (q.answer if i < correct else "bird") for i, q in enumerate(questions)}
    return attempt_submit(attempt_id=attempt.pk, worker=w, answers=answers)


def _open_project() -> Project:
    p = project()
    tasks(p, 2)
    return p


# Qualification


def test_a_skill_with_a_test_needs_a_pass_before_its_tasks_are_offered(ops):
    _open_project()
    _test()
    w = worker(ops=ops)  # has the skill on their profile, but not the pass
    with pytest.raises(WorkRefused) as exc:
        next_task(worker=w)
    assert exc.value.code == "not_qualified"
    assert "qualification test for Text Classification" in exc.value.message


def test_a_failed_attempt_is_an_automated_decision_with_the_score_and_the_pass_mark(ops):
    w = worker(ops=ops)
    attempt = _take(w, _test(), correct=1)
    assert attempt.is_passed is False
    decision = attempt.decision
    assert decision is not None
    assert (decision.subject, decision.kind, decision.outcome) == (w, DecisionKind.QUALIFICATION, "failed")
    assert decision.is_automated is True and decision.decided_by is None
    assert "1 of 2 correct (0.500)" in decision.reason
    assert "pass mark of 0.800" in decision.reason
    assert decision.data == {"test": "Animals 101", "correct": 1, "total": 2, "score": "0.500", "pass_mark": "0.800"}


def test_a_failed_attempt_can_be_appealed_and_a_human_answers(ops):
    w = worker(ops=ops)
    attempt = _take(w, _test(), correct=1)
    assert attempt.decision is not None
    appeal = appeal_file(decision=attempt.decision, appellant=w, message="Question 2 shows a wolf, not a dog.")
    answered = appeal_answer(appeal=appeal, actor=ops, outcome=AppealStatus.UPHELD, reason="It is a husky.")
    assert answered.status == AppealStatus.UPHELD
    assert answered.outcome_decision is not None
    assert answered.outcome_decision.is_automated is False and answered.outcome_decision.decided_by == ops


def test_a_retake_during_the_cool_down_is_refused_saying_when_in_the_contractors_time(ops):
    w = worker(ops=ops)
    test = _test()
    failed = _take(w, test, correct=0)
    assert failed.finished_at is not None
    with pytest.raises(ValidationError) as exc:
        attempt_start(worker=w, test=test)
    error = exc.value.error_dict["test"][0]
    assert error.code == "wrong_state"
    retake_at = (failed.finished_at + timedelta(hours=24)).astimezone(ZoneInfo("Europe/Berlin"))
    assert f"You can retake this test from {retake_at:%Y-%m-%d %H:%M %Z}." in error.messages
    assert QualificationAttempt.objects.filter(worker=w).count() == 1


def test_a_retake_after_the_cool_down_is_allowed(ops):
    w = worker(ops=ops)
    test = _test()
    failed = _take(w, test, correct=0)
    QualificationAttempt.objects.filter(pk=failed.pk).update(
        finished_at=timezone.now() - timedelta(hours=24, minutes=1)
    )
    retake = attempt_start(worker=w, test=test)
    assert retake.pk != failed.pk and retake.finished_at is None


@override_settings(FAIRTASK_QUALIFICATION_COOLDOWN_HOURS=0)
def test_with_no_cool_down_set_a_retake_is_allowed_at_once(ops):
    w = worker(ops=ops)
    test = _test()
    _take(w, test, correct=0)
    assert _take(w, test, correct=2).is_passed is True


def test_passing_the_test_unlocks_the_projects_tasks(ops):
    p = _open_project()
    test = _test()
    w = worker(ops=ops)
    passed = _take(w, test, correct=2)
    assert passed.is_passed is True and passed.score == Decimal("1.000")
    assert next_task(worker=w).task.project == p


# Review


def _submitted(w: User, value: str = "cat") -> Answer:
    p = _open_project()
    assignment = next_task(worker=w, project=p)
    return assignment_submit(assignment_id=assignment.pk, worker=w, value=value).answer


def test_an_operations_manager_approves_an_answer(ops):
    answer = _submitted(worker(ops=ops))
    reviewed = answer_review(answer_id=answer.pk, reviewer=ops, approve=True)
    stored = Answer.objects.get(pk=answer.pk)
    assert reviewed.review_status == stored.review_status == ReviewStatus.APPROVED
    assert stored.reviewed_by == ops and stored.reviewed_at is not None


def test_a_contractor_cannot_review_work(ops):
    w = worker(ops=ops)
    answer = _submitted(w)
    with pytest.raises(PermissionDenied):
        answer_review(answer_id=answer.pk, reviewer=w, approve=True)
    assert Answer.objects.get(pk=answer.pk).review_status == ReviewStatus.PENDING


@pytest.mark.parametrize(
    ("code", "message", "field"),
    [("", "The label is wrong.", "code"), ("made-up", "The label is wrong.", "code"), ("wrong", "   ", "message")],
    ids=["no code", "unknown code", "blank message"],
)
def test_a_rejection_without_a_code_or_a_message_is_refused_naming_the_field(ops, code, message, field):
    answer = _submitted(worker(ops=ops))
    decisions = Decision.objects.count()
    with pytest.raises(ValidationError) as exc:
        answer_review(answer_id=answer.pk, reviewer=ops, approve=False, code=code, message=message)
    assert list(exc.value.message_dict) == [field]
    stored = Answer.objects.get(pk=answer.pk)
    assert (stored.review_status, stored.rejection_code, stored.review_message) == (ReviewStatus.PENDING, "", "")
    assert stored.reviewed_by is None and stored.decision is None
    assert Decision.objects.count() == decisions


def test_a_rejection_is_a_decision_about_the_worker_that_they_can_appeal(ops, ops2):
    w = worker(ops=ops)
    answer = _submitted(w, value="dog")
    rejected = answer_review(
        answer_id=answer.pk, reviewer=ops, approve=False, code="wrong", message="The picture shows a cat."
    )
    decision = rejected.decision
    assert decision is not None
    assert (decision.subject, decision.kind, decision.outcome) == (w, DecisionKind.REVIEW, "rejected")
    assert decision.decided_by == ops and decision.is_automated is False
    assert decision.reason == "The answer is wrong: The picture shows a cat."
    appeal = appeal_file(decision=decision, appellant=w, message="It is a small dog.")
    appeal_answer(appeal=appeal, actor=ops2, outcome=AppealStatus.OVERTURNED, reason="Yes, a chihuahua.")
    assert Appeal.objects.get(pk=appeal.pk).status == AppealStatus.OVERTURNED


def test_reviewing_an_answer_twice_is_refused_as_wrong_state(ops, ops2):
    answer = _submitted(worker(ops=ops))
    answer_review(answer_id=answer.pk, reviewer=ops, approve=True)
    with pytest.raises(ValidationError) as exc:
        answer_review(answer_id=answer.pk, reviewer=ops2, approve=False, code="wrong", message="No.")
    assert exc.value.error_dict["answer"][0].code == "wrong_state"
    stored = Answer.objects.get(pk=answer.pk)
    assert (stored.review_status, stored.reviewed_by) == (ReviewStatus.APPROVED, ops)


def test_work_not_reviewed_within_the_set_days_is_approved_automatically_once(ops):
    w = worker(ops=ops)
    old, recent = _submitted(w), _submitted(w)
    now = timezone.now()
    Answer.objects.filter(pk=old.pk).update(submitted_at=now - timedelta(days=3, minutes=1))
    Answer.objects.filter(pk=recent.pk).update(submitted_at=now - timedelta(days=2, hours=23))

    assert answers_auto_approve() == 1
    first = Answer.objects.get(pk=old.pk)
    assert first.review_status == ReviewStatus.AUTO_APPROVED and first.reviewed_at is not None
    assert Answer.objects.get(pk=recent.pk).review_status == ReviewStatus.PENDING

    assert answers_auto_approve() == 0  # a second run changes nothing
    assert Answer.objects.get(pk=old.pk).reviewed_at == first.reviewed_at


@override_settings(FAIRTASK_AUTO_APPROVE_DAYS=1)
def test_the_auto_approve_delay_is_a_setting(ops):
    answer = _submitted(worker(ops=ops))
    Answer.objects.filter(pk=answer.pk).update(submitted_at=timezone.now() - timedelta(days=1, minutes=1))
    assert answers_auto_approve() == 1


# Gold tasks


def test_with_a_gold_rate_of_one_a_worker_gets_the_gold_tasks_first(ops):
    p = project(gold_rate=1, overlap=1)
    tasks(p, 2, priority=9)
    gold = tasks(p, 2, priority=0, gold=True)
    w = worker(ops=ops)
    served = []
    for _ in range(3):
        assignment = next_task(worker=w, project=p)
        served.append(assignment.task)
        assignment_submit(assignment_id=assignment.pk, worker=w, value="cat")
    assert [t.pk for t in served[:2]] == [t.pk for t in gold]
    assert served[2].is_gold is False  # once the gold is answered, real work follows


def test_a_gold_task_looks_like_any_other_task_to_the_worker(ops):
    p = project(gold_rate=1)
    tasks(p, 1)
    tasks(p, 1, gold=True)
    w = worker(ops=ops)
    gold_assignment = next_task(worker=w, project=p)
    assert gold_assignment.task.is_gold
    assignment_submit(assignment_id=gold_assignment.pk, worker=w, value="cat")
    real_assignment = next_task(worker=w, project=p)
    assert not real_assignment.task.is_gold

    seen_gold, seen_real = task_for_worker(gold_assignment), task_for_worker(real_assignment)
    assert seen_gold.keys() == seen_real.keys()
    assert seen_gold["data"].keys() == seen_real["data"].keys() == {"text"}
    assert "gold" not in json.dumps(seen_gold).lower()


def test_an_overturned_rejection_counts_as_approved_work(ops, ops2):
    w = worker(ops=ops)
    answer = _submitted(w, value="dog")
    rejected = answer_review(answer_id=answer.pk, reviewer=ops, approve=False, code="wrong", message="Not a dog.")
    assert rejected.decision is not None
    appeal = appeal_file(decision=rejected.decision, appellant=w, message="It is a dog.")
    appeal_answer(appeal=appeal, actor=ops2, outcome=AppealStatus.OVERTURNED, reason="Agreed, a dog.")
    answer.refresh_from_db()
    assert answer.review_status == "approved"
    assert answer.reviewed_by == ops2


def test_an_overturned_failed_test_counts_as_passed_and_unlocks_work(ops, ops2):
    test = _test()
    p = _open_project()
    w = worker(ops=ops)
    failed = _take(w, test, correct=0)
    assert failed.decision is not None
    with pytest.raises(WorkRefused):
        next_task(worker=w, project=p)
    appeal = appeal_file(decision=failed.decision, appellant=w, message="Question 2 had two right answers.")
    appeal_answer(appeal=appeal, actor=ops2, outcome=AppealStatus.OVERTURNED, reason="Question 2 was ambiguous.")
    assert next_task(worker=w, project=p).task.project_id == p.pk
