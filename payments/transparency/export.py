"""Everything Fairtask holds about one contractor, as one JSON document they can download.

Streamed section by section (a long history is never held in memory whole). It holds the
person's own records: account, profile, agreements, tax-form status (never more than the
last four digits, the only part stored), decisions about them and their appeals, every
assignment, answer and review, every span of paid time, qualification attempts,
instruction reads, quality estimates, fraud findings on their work, ledger entries and
payouts. It leaves out what is not theirs to read or would weaken their account: password
hashes, MFA secrets and recovery codes, gold answers, other people's data (a reviewer or
decider appears by name only, as on the decision pages).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import F, QuerySet
from django.utils import timezone

from payments.models import LedgerEntry
from payments.payouts.models import Payout
from tasks.models import (
    ActivitySpan,
    Answer,
    Assignment,
    FraudMark,
    InstructionRead,
    QualificationAttempt,
    QualityEstimate,
)
from workforce.models import (
    Appeal,
    ContractorProfile,
    Decision,
    DecisionProposal,
    DocumentAcceptance,
    TaxForm,
    User,
)

FORMAT = "fairtask-contractor-export"
VERSION = 1
_ENCODER = DjangoJSONEncoder(ensure_ascii=False)


def _rows(queryset: QuerySet[Any, Any]) -> Iterator[dict[str, Any]]:
    return queryset.iterator(chunk_size=2000)


def _account(user: User) -> Iterable[dict[str, Any]]:
    yield {
        "id": user.pk,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role,
        "date_joined": user.date_joined,
        "last_login": user.last_login,
        "is_active": user.is_active,
    }


def _profile(user: User) -> Iterable[dict[str, Any]]:
    profile = ContractorProfile.objects.filter(user=user).prefetch_related("skills").first()
    if profile is None:
        return
    yield {
        "state": profile.state,
        "state_changed_at": profile.state_changed_at,
        "legal_name": profile.legal_name,
        "display_name": profile.display_name,
        "country": profile.country,
        "region": profile.region,
        "timezone": profile.timezone,
        "languages": profile.languages,
        "skills": [skill.name for skill in profile.skills.all()],
        "created_at": profile.created_at,
    }


def _agreements(user: User) -> Iterable[dict[str, Any]]:
    return _rows(
        DocumentAcceptance.objects.filter(user=user)
        .order_by("accepted_at", "pk")
        .values(
            "accepted_at",
            "ip_address",
            document_kind=F("document__kind"),
            document_version=F("document__version"),
            document_title=F("document__title"),
        )
    )


def _tax_form(user: User) -> Iterable[dict[str, Any]]:
    return _rows(TaxForm.objects.filter(user=user).values("form_type", "status", "tax_id_last4", "submitted_at"))


def _person(user: User | None) -> str | None:
    if user is None:
        return None
    return user.get_full_name() or user.email


def _decisions(user: User) -> Iterable[dict[str, Any]]:
    decisions = Decision.objects.filter(subject=user).select_related("decided_by").order_by("decided_at", "pk")
    for decision in decisions.iterator(chunk_size=500):
        yield {
            "id": decision.pk,
            "kind": decision.kind,
            "outcome": decision.outcome,
            "reason": decision.reason,
            "data": decision.data,
            "is_automated": decision.is_automated,
            "decided_by": _person(decision.decided_by),
            "decided_at": decision.decided_at,
        }


def _appeals(user: User) -> Iterable[dict[str, Any]]:
    appeals = Appeal.objects.filter(appellant=user).select_related("answered_by").order_by("filed_at", "pk")
    for appeal in appeals.iterator(chunk_size=500):
        yield {
            "id": appeal.pk,
            "decision": appeal.decision_id,
            "message": appeal.message,
            "filed_at": appeal.filed_at,
            "due_at": appeal.due_at,
            "status": appeal.status,
            "answered_by": _person(appeal.answered_by),
            "answered_at": appeal.answered_at,
            "outcome_decision": appeal.outcome_decision_id,
        }


def _proposals(user: User) -> Iterable[dict[str, Any]]:
    return _rows(
        DecisionProposal.objects.filter(subject=user)
        .order_by("created_at", "pk")
        .values("id", "kind", "rule", "reason", "data", "created_at", "status", "resolved_at", "resolution_note")
    )


def _assignments(user: User) -> Iterable[dict[str, Any]]:
    return _rows(
        Assignment.objects.filter(worker=user)
        .order_by("pk")
        .values(
            "id", "task_id", "status", "leased_at", "expires_at", "submitted_at", project_name=F("task__project__name")
        )
    )


def _answers(user: User) -> Iterable[dict[str, Any]]:
    return _rows(
        Answer.objects.filter(worker=user)
        .order_by("pk")
        .values(
            "id",
            "assignment_id",
            "task_id",
            "value",
            "submitted_at",
            "review_status",
            "reviewed_at",
            "rejection_code",
            "review_message",
            "decision_id",
        )
    )


def _activity(user: User) -> Iterable[dict[str, Any]]:
    return _rows(
        ActivitySpan.objects.filter(worker=user)
        .order_by("started_at", "pk")
        .values(
            "id",
            "kind",
            "project_id",
            "assignment_id",
            "attempt_id",
            "instruction_read_id",
            "started_at",
            "last_beat_at",
            "active_seconds",
        )
    )


def _attempts(user: User) -> Iterable[dict[str, Any]]:
    return _rows(
        QualificationAttempt.objects.filter(worker=user)
        .order_by("started_at", "pk")
        .values(
            "id",
            "started_at",
            "finished_at",
            "correct",
            "total",
            "score",
            "is_passed",
            "decision_id",
            test_title=F("test__title"),
            pass_mark=F("test__pass_mark"),
        )
    )


def _instruction_reads(user: User) -> Iterable[dict[str, Any]]:
    return _rows(
        InstructionRead.objects.filter(worker=user)
        .order_by("started_at", "pk")
        .values(
            "started_at",
            "confirmed_at",
            project_name=F("instruction__project__name"),
            version=F("instruction__version"),
        )
    )


def _quality(user: User) -> Iterable[dict[str, Any]]:
    return _rows(
        QualityEstimate.objects.filter(worker=user)
        .order_by("project_id")
        .values(
            "gold_correct",
            "gold_total",
            "accuracy",
            "lower",
            "upper",
            "consensus_accuracy",
            "computed_at",
            "block_decision_id",
            "is_block_waived",
            project_name=F("project__name"),
        )
    )


def _fraud_marks(user: User) -> Iterable[dict[str, Any]]:
    return _rows(
        FraudMark.objects.filter(assignment__worker=user)
        .order_by("pk")
        .values("assignment_id", "decision_id", "is_active")
    )


def _ledger(user: User) -> Iterable[dict[str, Any]]:
    return _rows(
        LedgerEntry.objects.filter(contractor=user)
        .order_by("pk")
        .values(
            "id",
            "kind",
            "amount_minor",
            "currency",
            "memo",
            "details",
            "source_type",
            "source_id",
            "created_at",
            "reverses_id",
            period_start=F("period__start"),
            period_end=F("period__end"),
        )
    )


def _payouts(user: User) -> Iterable[dict[str, Any]]:
    return _rows(
        Payout.objects.filter(contractor=user)
        .order_by("pk")
        .values(
            "id",
            "provider",
            "amount_minor",
            "currency",
            "state",
            "destination_name",
            "provider_reference",
            "failure_code",
            "failure_reason",
            "created_at",
            "submitted_at",
            "paid_at",
            "failed_at",
        )
    )


SECTIONS: list[tuple[str, Callable[[User], Iterable[dict[str, Any]]]]] = [
    ("account", _account),
    ("profile", _profile),
    ("agreements", _agreements),
    ("tax_form", _tax_form),
    ("decisions", _decisions),
    ("appeals", _appeals),
    ("proposals", _proposals),
    ("assignments", _assignments),
    ("answers", _answers),
    ("activity", _activity),
    ("qualification_attempts", _attempts),
    ("instruction_reads", _instruction_reads),
    ("quality", _quality),
    ("fraud_findings", _fraud_marks),
    ("ledger", _ledger),
    ("payouts", _payouts),
]


def contractor_export(*, user: User) -> Iterator[str]:
    """The JSON document, in pieces: ``{"format": …, "sections": {"account": [...], ...}}``."""
    head = {"format": FORMAT, "version": VERSION, "generated_at": timezone.now(), "contractor": user.pk}
    yield _ENCODER.encode(head)[:-1] + ', "sections": {'
    for number, (name, rows) in enumerate(SECTIONS):
        yield ("" if number == 0 else ",") + f"\n{json.dumps(name)}: ["
        for index, row in enumerate(rows(user)):
            yield ("" if index == 0 else ",") + "\n  " + _ENCODER.encode(row)
        yield "]"
    yield "\n}}\n"
