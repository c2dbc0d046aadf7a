"""Decisions about people's work: qualification results, reviews, fraud findings, instruction reads."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.dispatch import receiver
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from tasks.models import (
    Answer,
    Assignment,
    FraudMark,
    InstructionRead,
    InstructionVersion,
    QualificationAttempt,
    QualificationTest,
    RejectionCode,
    ReviewStatus,
)
from tasks.schemas import SchemaError, check_answer
from tasks.services.timing import worker_zone
from workforce.audit import audit_record
from workforce.models import ContractorProfile, ContractorState, Decision, DecisionKind, User
from workforce.services import decision_record, wrong_state
from workforce.signals import decision_overturned


@transaction.atomic
def instruction_read_start(*, worker: User, instruction: InstructionVersion) -> InstructionRead:
    read, _created = InstructionRead.objects.get_or_create(worker=worker, instruction=instruction)
    return read


@transaction.atomic
def instruction_read_confirm(*, worker: User, read_id: int) -> InstructionRead:
    read = InstructionRead.objects.select_for_update().filter(pk=read_id).first()
    if read is None or read.worker_id != worker.pk:
        raise Http404
    if read.confirmed_at is None:
        read.confirmed_at = timezone.now()
        read.save(update_fields=["confirmed_at"])
        audit_record(actor=worker, action="instructions.read", obj=read, summary={"version": read.instruction.version})
    return read


@transaction.atomic
def attempt_start(*, worker: User, test: QualificationTest) -> QualificationAttempt:
    """Start (or resume) a paid qualification attempt; a retake waits for the cool-down."""
    profile = ContractorProfile.objects.filter(user=worker).first()
    if profile is None or profile.state != ContractorState.ACTIVE:
        raise wrong_state("test", _("Qualification tests open once you are approved."))
    open_attempt = QualificationAttempt.objects.filter(worker=worker, test=test, finished_at__isnull=True).first()
    if open_attempt is not None:
        return open_attempt
    if QualificationAttempt.objects.filter(worker=worker, test=test, is_passed=True).exists():
        raise wrong_state("test", _("You have already passed this test."))
    last = QualificationAttempt.objects.filter(worker=worker, test=test).order_by("-finished_at").first()
    cooldown = timedelta(hours=settings.FAIRTASK_QUALIFICATION_COOLDOWN_HOURS)
    if last is not None and last.finished_at is not None and last.finished_at + cooldown > timezone.now():
        retake_at = (last.finished_at + cooldown).astimezone(worker_zone(worker))  # their own clock
        raise wrong_state(
            "test", _("You can retake this test from %(at)s.") % {"at": retake_at.strftime("%Y-%m-%d %H:%M %Z")}
        )
    attempt = QualificationAttempt.objects.create(worker=worker, test=test)
    audit_record(actor=worker, action="qualification.start", obj=attempt, summary={"test": test.pk})
    return attempt


@transaction.atomic
def attempt_submit(*, attempt_id: int, worker: User, answers: dict[str, Any]) -> QualificationAttempt:
    """Score the attempt. Pass or fail, the result is a Decision with the score and the pass mark."""
    attempt = QualificationAttempt.objects.select_for_update().select_related("test").filter(pk=attempt_id).first()
    if attempt is None or attempt.worker_id != worker.pk:
        raise Http404
    if attempt.finished_at is not None:
        raise wrong_state("attempt", _("This attempt is already finished."))
    test = attempt.test
    questions = list(test.questions.all())
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for q in questions:
        key = str(q.pk)
        if key not in answers:
            errors[f"q{key}"] = _("Answer question %(n)d.") % {"n": q.position + 1}
            continue
        try:
            clean[key] = check_answer(
                template=test.template, answer_schema=test.answer_schema, value=answers[key], field=f"q{key}"
            )
        except SchemaError as exc:
            errors[exc.field] = exc.message
    if errors:
        raise ValidationError(errors)
    correct = sum(1 for q in questions if clean[str(q.pk)] == q.answer)
    total = len(questions)
    score = (Decimal(correct) / Decimal(total)).quantize(Decimal("0.001"), ROUND_HALF_UP) if total else Decimal(0)
    passed = score >= test.pass_mark
    attempt.answers = clean
    attempt.correct, attempt.total, attempt.score, attempt.is_passed = correct, total, score, passed
    attempt.finished_at = timezone.now()
    numbers = {
        "test": test.title,
        "correct": correct,
        "total": total,
        "score": str(score),
        "pass_mark": str(test.pass_mark),
    }
    if passed:
        reason = _("You passed “%(t)s” with %(c)d of %(n)d correct (%(s)s; the pass mark is %(p)s).")
    else:
        reason = _(
            "You did not pass “%(t)s”: %(c)d of %(n)d correct (%(s)s), below the pass mark of %(p)s. "
            "Your time on the test is paid. You can retake it after the cool-down."
        )
    reason = reason % {"t": test.title, "c": correct, "n": total, "s": score, "p": test.pass_mark}
    attempt.decision = decision_record(
        subject=worker,
        kind=DecisionKind.QUALIFICATION,
        outcome="passed" if passed else "failed",
        reason=reason,
        data=numbers,
        decided_by=None,
        is_automated=True,
    )
    attempt.save()
    return attempt


@transaction.atomic
def answer_review(*, answer_id: int, reviewer: User, approve: bool, code: str = "", message: str = "") -> Answer:
    """Approve, or reject with a reason code and a message the contractor reads.

    A rejection is a Decision the contractor can appeal. It never touches pay for time (rule 1).
    """
    if not reviewer.is_operations:
        raise PermissionDenied(_("Only an operations manager can review work."))
    answer = Answer.objects.select_for_update().select_related("task").filter(pk=answer_id).first()
    if answer is None:
        raise Http404
    if answer.review_status != ReviewStatus.PENDING:
        raise wrong_state("answer", _("This answer has already been reviewed."))
    now = timezone.now()
    if approve:
        answer.review_status = ReviewStatus.APPROVED
    else:
        if code not in RejectionCode.values:
            raise ValidationError({"code": _("Choose a reason code for the rejection.")})
        if not message.strip():
            raise ValidationError({"message": _("Write a message the contractor can read.")})
        answer.review_status = ReviewStatus.REJECTED
        answer.rejection_code = code
        answer.review_message = message.strip()
        answer.decision = decision_record(
            subject=answer.worker,
            kind=DecisionKind.REVIEW,
            outcome="rejected",
            reason=f"{RejectionCode(code).label}: {message.strip()}",
            data={"answer": answer.pk, "task": answer.task_id, "code": code, "time_still_paid": True},
            decided_by=reviewer,
        )
    answer.reviewed_by = reviewer
    answer.reviewed_at = now
    answer.save()
    audit_record(actor=reviewer, action="answer.review", obj=answer, summary={"status": answer.review_status})
    return answer


@transaction.atomic
def answers_auto_approve(*, now: Any = None) -> int:
    """Beat job: work not reviewed within FAIRTASK_AUTO_APPROVE_DAYS is approved automatically."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.FAIRTASK_AUTO_APPROVE_DAYS)
    count = Answer.objects.filter(review_status=ReviewStatus.PENDING, submitted_at__lt=cutoff).update(
        review_status=ReviewStatus.AUTO_APPROVED, reviewed_at=timezone.now()
    )
    if count:
        audit_record(actor=None, action="answers.auto_approve", summary={"count": count, "cutoff": cutoff})
    return count


@transaction.atomic
def fraud_mark(*, assignment_id: int, actor: User, reason: str) -> FraudMark:
    """A human finds an assignment fraudulent: its time is excluded from pay until an appeal overturns it."""
    if not actor.is_operations:
        raise PermissionDenied(_("Only an operations manager can make a fraud finding."))
    assignment = Assignment.objects.select_for_update().filter(pk=assignment_id).first()
    if assignment is None:
        raise Http404
    if FraudMark.objects.filter(assignment=assignment, is_active=True).exists():
        raise wrong_state("assignment", _("This assignment is already marked as fraud."))
    decision = decision_record(
        subject=assignment.worker,
        kind=DecisionKind.FRAUD,
        outcome="time_excluded",
        reason=reason,
        data={"assignment": assignment.pk, "task": assignment.task_id},
        decided_by=actor,
    )
    mark = FraudMark.objects.create(assignment=assignment, decision=decision)
    audit_record(actor=actor, action="assignment.fraud_mark", obj=mark, summary={"assignment": assignment.pk})
    return mark


@receiver(decision_overturned)
def _undo_overturned_work_decisions(sender: Any, decision: Decision, actor: User, **kwargs: Any) -> None:
    """An overturned rejection counts as approved work; an overturned failed test counts as passed."""
    for answer in Answer.objects.select_for_update().filter(decision=decision, review_status=ReviewStatus.REJECTED):
        answer.review_status = ReviewStatus.APPROVED
        answer.reviewed_by = actor
        answer.reviewed_at = timezone.now()
        answer.save(update_fields=["review_status", "reviewed_by", "reviewed_at"])
        audit_record(actor=actor, action="answer.rejection_overturned", obj=answer, summary={"decision": decision.pk})
    for attempt in QualificationAttempt.objects.select_for_update().filter(decision=decision, is_passed=False):
        attempt.is_passed = True
        attempt.save(update_fields=["is_passed"])
        audit_record(
            actor=actor, action="qualification.fail_overturned", obj=attempt, summary={"decision": decision.pk}
        )


@receiver(decision_overturned)
def _restore_time_on_overturned_fraud(sender: Any, decision: Decision, actor: User, **kwargs: Any) -> None:
    """An overturned fraud decision restores the time it excluded."""
    for mark in FraudMark.objects.select_for_update().filter(decision=decision, is_active=True):
        mark.is_active = False
        mark.save(update_fields=["is_active"])
        audit_record(actor=actor, action="assignment.fraud_unmark", obj=mark, summary={"decision": decision.pk})
