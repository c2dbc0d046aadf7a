"""Rules 4 and 7 re-checked: decisions are explained and made by people where they must be, appeals are
answered in time, and the audit log's hash chain is intact."""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _

from payments.audits.checks.base import Draft, Scope, person_ref, ref
from workforce.audit import audit_chain_verify
from workforce.models import HUMAN_ONLY_KINDS, Appeal, AppealStatus, Decision

REASON_CODE = "decision_reason"
HUMAN_CODE = "decision_human"
APPEAL_CODE = "appeal_overdue"
CHAIN_CODE = "audit_chain"


def _decision_ref(decision: Decision) -> dict[str, object]:
    return ref("workforce.decision", decision.pk, f"{decision.get_kind_display()}: {decision.outcome}")


def decision_reason_check(scope: Scope) -> list[Draft]:
    """Every decision about a person has a reason in words (not empty, not only spaces)."""
    blank = Decision.objects.filter(reason__regex=r"^\s*$").select_related("subject").order_by("pk")
    return [
        Draft(
            check=REASON_CODE,
            severity="critical",
            title=_("Decision without a reason"),
            message=_(
                "Decision #%(id)s (%(kind)s, “%(outcome)s”) about %(who)s on %(on)s gives no reason; the person it is "
                "about cannot see why it was made."
            )
            % {
                "id": d.pk,
                "kind": d.get_kind_display(),
                "outcome": d.outcome,
                "who": d.subject.email,
                "on": f"{d.decided_at:%Y-%m-%d}",
            },
            fingerprint=f"{REASON_CODE}:{d.pk}",
            objects=[_decision_ref(d), person_ref(d.subject_id, {d.subject_id: d.subject.email})],
        )
        for d in blank.iterator(chunk_size=500)
    ]


def decision_human_check(scope: Scope) -> list[Draft]:
    """Every pause, offboarding and fraud finding was made by a named person, not by a machine."""
    machine = (
        Decision.objects.filter(kind__in=HUMAN_ONLY_KINDS)
        .filter(Q(is_automated=True) | Q(decided_by__isnull=True))
        .select_related("subject")
        .order_by("pk")
    )
    return [
        Draft(
            check=HUMAN_CODE,
            severity="critical",
            title=_("Decision that needs a person was automated"),
            message=_(
                "Decision #%(id)s (%(kind)s of %(who)s on %(on)s) is %(how)s; a pause, an offboarding or a fraud "
                "finding must be made by a named operations manager."
            )
            % {
                "id": d.pk,
                "kind": d.get_kind_display(),
                "who": d.subject.email,
                "on": f"{d.decided_at:%Y-%m-%d}",
                "how": _("marked automated") if d.is_automated else _("without a decider"),
            },
            fingerprint=f"{HUMAN_CODE}:{d.pk}",
            objects=[_decision_ref(d), person_ref(d.subject_id, {d.subject_id: d.subject.email})],
        )
        for d in machine.iterator(chunk_size=500)
    ]


def appeal_overdue_check(scope: Scope) -> list[Draft]:
    """Every open appeal is still within its due date."""
    overdue = (
        Appeal.objects.filter(status=AppealStatus.OPEN, due_at__lt=scope.now)
        .select_related("appellant", "decision")
        .order_by("due_at")
    )
    drafts = []
    for appeal in overdue:
        late = scope.now - appeal.due_at
        drafts.append(
            Draft(
                check=APPEAL_CODE,
                severity="warning",
                title=_("Appeal past its due date"),
                message=_(
                    "The appeal #%(id)s by %(who)s against decision #%(decision)s was due on %(due)s UTC and is "
                    "still open, %(days)d days and %(hours)d hours late."
                )
                % {
                    "id": appeal.pk,
                    "who": appeal.appellant.email,
                    "decision": appeal.decision_id,
                    "due": f"{appeal.due_at:%Y-%m-%d %H:%M}",
                    "days": late.days,
                    "hours": late.seconds // 3600,
                },
                fingerprint=f"{APPEAL_CODE}:{appeal.pk}",
                objects=[
                    ref("workforce.appeal", appeal.pk),
                    _decision_ref(appeal.decision),
                    person_ref(appeal.appellant_id, {appeal.appellant_id: appeal.appellant.email}),
                ],
            )
        )
    return drafts


def audit_chain_check(scope: Scope) -> list[Draft]:
    """The audit log's hash chain verifies from the first event to the last (the same walk as the command)."""
    result = audit_chain_verify(store=True)
    if result.is_intact:
        return []
    return [
        Draft(
            check=CHAIN_CODE,
            severity="critical",
            title=_("Audit log chain broken"),
            message=_("The audit log is broken at event #%(seq)s after checking %(n)d events: %(message)s")
            % {"seq": result.first_broken_seq, "n": result.events_checked, "message": result.message},
            fingerprint=f"{CHAIN_CODE}:{result.first_broken_seq}",
            objects=[ref("workforce.auditevent", result.first_broken_seq, f"event #{result.first_broken_seq}")],
        )
    ]
