"""Every write about people: one transactional function per use case.

Each service checks state and input first and raises ``ValidationError({field: message})``
before anything is written; each change writes its Decision (where it concerns a person)
and its audit event inside the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from workforce import selectors
from workforce.audit import audit_record
from workforce.models import (
    HUMAN_ONLY_KINDS,
    Appeal,
    AppealStatus,
    AuditEvent,
    ContractorProfile,
    ContractorState,
    Decision,
    DecisionKind,
    DecisionProposal,
    DocumentAcceptance,
    LegalDocument,
    ProposalStatus,
    Role,
    Skill,
    TaxForm,
    TaxFormStatus,
    TaxFormType,
    User,
)
from workforce.signals import decision_overturned
from workforce.validation import check_country, check_languages, check_region, check_timezone

S = ContractorState

# (from states, to state, decision kind, outcome) for each lifecycle action.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "start_onboarding": ((S.APPLIED,), S.ONBOARDING, DecisionKind.ONBOARDING, "started"),
    "approve": ((S.ONBOARDING,), S.ACTIVE, DecisionKind.APPROVAL, "approved"),
    "pause": ((S.ACTIVE,), S.PAUSED, DecisionKind.PAUSE, "paused"),
    "reinstate": ((S.PAUSED, S.OFFBOARDED), S.ACTIVE, DecisionKind.REINSTATE, "reinstated"),
    "offboard": ((S.APPLIED, S.ONBOARDING, S.ACTIVE, S.PAUSED), S.OFFBOARDED, DecisionKind.OFFBOARD, "offboarded"),
}
HUMAN_ACTIONS = ("approve", "pause", "reinstate", "offboard")
WRONG_STATE = "wrong_state"


def wrong_state(field: str, message: str) -> ValidationError:
    """A request that is fine in itself but conflicts with the object's state (the API answers 409)."""
    return ValidationError({field: ValidationError(message, code=WRONG_STATE)})


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give a reason the contractor can read; every decision needs one.")})
    return reason


def _require_operations(actor: User) -> None:
    if not actor.is_operations:
        raise PermissionDenied(_("Only an operations manager can make this decision."))


def decision_record(
    *,
    subject: User,
    kind: str,
    outcome: str,
    reason: str,
    data: dict[str, Any] | None = None,
    decided_by: User | None,
    is_automated: bool = False,
) -> Decision:
    """Record a decision about a person. Pauses and offboardings need a human decider."""
    reason = _require_reason(reason)
    if kind in HUMAN_ONLY_KINDS and (is_automated or decided_by is None):
        raise ValidationError(
            {"kind": _("Only a human can pause, offboard or find fraud; a rule may only propose it.")}
        )
    if not is_automated and decided_by is None:
        raise ValidationError({"decided_by": _("A human decision must name who decided.")})
    with transaction.atomic():
        decision = Decision.objects.create(
            subject=subject,
            kind=kind,
            outcome=outcome,
            reason=reason,
            data=data or {},
            is_automated=is_automated,
            decided_by=decided_by,
        )
        audit_record(
            actor=decided_by,
            action="decision.record",
            obj=decision,
            summary={"subject": subject.pk, "kind": kind, "outcome": outcome, "automated": is_automated},
        )
    return decision


@transaction.atomic
def contractor_transition(
    *,
    profile: ContractorProfile,
    action: str,
    actor: User | None,
    reason: str,
    data: dict[str, Any] | None = None,
) -> ContractorProfile:
    """Move a contractor through applied → onboarding → active ⇄ paused → offboarded.

    The only way the state changes; it writes the Decision and the audit event with it.
    """
    if action not in TRANSITIONS:
        raise ValidationError({"action": _("Unknown action “%(action)s”.") % {"action": action}})
    reason = _require_reason(reason)
    if action in HUMAN_ACTIONS:
        if actor is None:
            raise ValidationError({"action": _("Only a human can take this action; a rule may only propose it.")})
        _require_operations(actor)
    profile = ContractorProfile.objects.select_for_update().select_related("user").get(pk=profile.pk)
    from_states, to_state, kind, outcome = TRANSITIONS[action]
    if profile.state not in from_states:
        raise wrong_state(
            "action",
            _("%(name)s is %(state)s, so “%(action)s” is not possible.")
            % {"name": profile, "state": profile.get_state_display().lower(), "action": action},
        )
    numbers: dict[str, Any] = {"from_state": profile.state, "to_state": to_state, **(data or {})}
    if action == "approve":
        missing = [step.title for step in selectors.onboarding_checklist(profile=profile) if step.blocks_approval]
        if missing:
            raise ValidationError(
                {
                    "action": _("%(name)s cannot be approved yet; unfinished: %(steps)s.")
                    % {"name": profile, "steps": ", ".join(missing)}
                }
            )
    profile.state = to_state
    profile.state_changed_at = timezone.now()
    profile.save(update_fields=["state", "state_changed_at"])
    decision_record(
        subject=profile.user,
        kind=kind,
        outcome=outcome,
        reason=reason,
        data=numbers,
        decided_by=actor,
        is_automated=actor is None,
    )
    audit_record(actor=actor, action=f"contractor.{action}", obj=profile, summary=numbers)
    return profile


@transaction.atomic
def contractor_bulk_transition(
    *, profiles: Sequence[ContractorProfile], action: str, actor: User, reason: str
) -> list[ContractorProfile]:
    """Apply one action to a selection: all of them, or (on any error) none of them."""
    if not profiles:
        raise ValidationError({"selection": _("Select at least one contractor.")})
    if action not in HUMAN_ACTIONS:
        raise ValidationError({"action": _("Choose approve, pause, reinstate or offboard.")})
    _require_reason(reason)
    done = []
    errors = []
    for profile in profiles:
        try:
            with transaction.atomic():
                done.append(contractor_transition(profile=profile, action=action, actor=actor, reason=reason))
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        # Nothing of a partly valid selection is applied; the caller sees every problem.
        raise ValidationError({"selection": errors})
    return done


@transaction.atomic
def contractor_register(*, user: User) -> ContractorProfile:
    """Create the profile of a newly signed-up contractor (state: applied)."""
    profile, created = ContractorProfile.objects.get_or_create(user=user)
    if created:
        audit_record(actor=user, action="contractor.register", obj=profile, summary={"email": user.email})
    return profile


def contractor_email_verified(*, user: User) -> None:
    """Once the email is verified an applicant can start onboarding (an automated step)."""
    if user.role != Role.CONTRACTOR:
        return
    profile = contractor_register(user=user)
    if profile.state == S.APPLIED:
        contractor_transition(
            profile=profile,
            action="start_onboarding",
            actor=None,
            reason=_("Your email address is verified, so you can now complete onboarding."),
            data={"rule": "email_verified"},
        )


@transaction.atomic
def profile_update(
    *,
    profile: ContractorProfile,
    actor: User,
    legal_name: str,
    display_name: str,
    country: str,
    region: str,
    timezone_name: str,
    languages: list[str],
    skills: Sequence[Skill],
) -> ContractorProfile:
    """A contractor edits their own profile; the country and region set the wage-floor jurisdiction."""
    if actor.pk != profile.user_id:
        raise PermissionDenied(_("You can only edit your own profile."))
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for field, check in (
        ("country", lambda: check_country(country)),
        ("timezone", lambda: check_timezone(timezone_name)),
        ("languages", lambda: check_languages(languages)),
    ):
        try:
            cleaned[field] = check()
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if "country" in cleaned:
        try:
            cleaned["region"] = check_region(cleaned["country"], region)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if not legal_name.strip():
        errors["legal_name"] = [_("Enter your legal name as it appears on your tax documents.")]
    if not display_name.strip():
        errors["display_name"] = [_("Enter the name other people see.")]
    if errors:
        raise ValidationError(errors)
    profile = ContractorProfile.objects.select_for_update().get(pk=profile.pk)
    if profile.state == S.OFFBOARDED:
        raise wrong_state("profile", _("An offboarded profile can no longer be edited."))
    profile.legal_name = legal_name.strip()
    profile.display_name = display_name.strip()
    profile.country = cleaned["country"]
    profile.region = cleaned["region"]
    profile.timezone = cleaned["timezone"]
    profile.languages = cleaned["languages"]
    profile.save()
    profile.skills.set(skills)
    audit_record(
        actor=actor,
        action="profile.update",
        obj=profile,
        summary={
            "country": profile.country,
            "region": profile.region,
            "timezone": profile.timezone,
            "languages": profile.languages,
            "skills": sorted(s.slug for s in skills),
        },
    )
    return profile


@transaction.atomic
def document_accept(*, user: User, document: LegalDocument, accepted: bool, ip_address: str) -> DocumentAcceptance:
    """Record acceptance of the current version of a document, with time and IP address."""
    if not accepted:
        raise ValidationError(
            {
                "accepted": _("Tick the box to accept “%(title)s”; you cannot work without it.")
                % {"title": document.title}
            }
        )
    current = selectors.document_current(kind=document.kind)
    if current is None or current.pk != document.pk:
        raise ValidationError({"document": _("This is not the current version; reload the page and read the new one.")})
    acceptance, created = DocumentAcceptance.objects.get_or_create(
        user=user, document=document, defaults={"ip_address": ip_address}
    )
    if created:
        audit_record(
            actor=user,
            action="document.accept",
            obj=acceptance,
            summary={"kind": document.kind, "version": document.version, "ip": ip_address},
        )
    return acceptance


@transaction.atomic
def tax_form_submit(*, user: User, form_type: str, tax_id: str) -> TaxForm:
    """Store the tax form status and only the last four characters of the tax ID."""
    if form_type not in TaxFormType.values:
        raise ValidationError({"form_type": _("Choose the tax form you filed.")})
    compact = "".join(ch for ch in tax_id if ch.isalnum())
    if len(compact) < 4:
        raise ValidationError({"tax_id": _("Enter your tax ID; it needs at least four letters or digits.")})
    form, _created = TaxForm.objects.update_or_create(
        user=user,
        defaults={
            "form_type": form_type,
            "tax_id_last4": compact[-4:],
            "status": TaxFormStatus.SUBMITTED,
            "submitted_at": timezone.now(),
        },
    )
    audit_record(actor=user, action="taxform.submit", obj=form, summary={"form_type": form_type})
    return form


@transaction.atomic
def appeal_file(*, decision: Decision, appellant: User, message: str) -> Appeal:
    """A contractor appeals a decision about them; a human must answer it by the due date."""
    if decision.subject_id != appellant.pk:
        raise PermissionDenied(_("You can only appeal decisions about yourself."))
    message = (message or "").strip()
    if not message:
        raise ValidationError({"message": _("Explain why you think the decision is wrong.")})
    if decision.kind == DecisionKind.APPEAL:
        raise ValidationError({"decision": _("An appeal outcome is final and cannot be appealed again.")})
    if Appeal.objects.filter(decision=decision).exists():
        raise wrong_state("decision", _("You have already appealed this decision."))
    now = timezone.now()
    appeal = Appeal.objects.create(
        decision=decision,
        appellant=appellant,
        message=message,
        filed_at=now,
        due_at=now + timedelta(days=settings.FAIRTASK_APPEAL_DUE_DAYS),
    )
    audit_record(
        actor=appellant, action="appeal.file", obj=appeal, summary={"decision": decision.pk, "due_at": appeal.due_at}
    )
    return appeal


# If an appeal overturns one of these, the contractor goes back to where they were.
_REVERSIBLE: dict[str, str] = {DecisionKind.PAUSE: "reinstate", DecisionKind.OFFBOARD: "reinstate"}


@transaction.atomic
def appeal_answer(*, appeal: Appeal, actor: User, outcome: str, reason: str) -> Appeal:
    """Answer an appeal. The answer is itself a Decision, made by someone other than the original decider."""
    _require_operations(actor)
    reason = _require_reason(reason)
    if outcome not in (AppealStatus.UPHELD, AppealStatus.OVERTURNED):
        raise ValidationError({"outcome": _("Choose whether to uphold or overturn the decision.")})
    appeal = Appeal.objects.select_for_update().select_related("decision", "appellant").get(pk=appeal.pk)
    if appeal.status != AppealStatus.OPEN:
        raise wrong_state("appeal", _("This appeal has already been answered."))
    original = appeal.decision
    if original.decided_by_id == actor.pk:
        raise ValidationError({"appeal": _("You made the original decision; another manager must answer this appeal.")})
    outcome_decision = decision_record(
        subject=appeal.appellant,
        kind=DecisionKind.APPEAL,
        outcome=str(outcome),
        reason=reason,
        data={"appeal": appeal.pk, "original_decision": original.pk, "original_kind": original.kind},
        decided_by=actor,
    )
    appeal.status = outcome
    appeal.answered_by = actor
    appeal.answered_at = timezone.now()
    appeal.outcome_decision = outcome_decision
    appeal.save()
    audit_record(actor=actor, action="appeal.answer", obj=appeal, summary={"outcome": outcome})
    if outcome == AppealStatus.OVERTURNED:
        decision_overturned.send(sender=Decision, decision=original, actor=actor)
    if outcome == AppealStatus.OVERTURNED and original.kind in _REVERSIBLE:
        profile = ContractorProfile.objects.get(user=appeal.appellant)
        if profile.state == original.data.get("to_state"):
            contractor_transition(
                profile=profile,
                action=_REVERSIBLE[original.kind],
                actor=actor,
                reason=_("Your appeal succeeded and the decision was overturned: %(reason)s") % {"reason": reason},
                data={"appeal": appeal.pk},
            )
    return appeal


@transaction.atomic
def appeal_overdue_notice_record(*, appeals: Sequence[Appeal], recipient_count: int) -> AuditEvent:
    """Record that operations managers were told about overdue appeals, so the reminder is on the record."""
    return audit_record(
        actor=None,
        action="appeals.overdue_notified",
        summary={"count": len(appeals), "appeals": [appeal.pk for appeal in appeals], "recipients": recipient_count},
    )


@transaction.atomic
def proposal_create(*, subject: User, kind: str, rule: str, reason: str, data: dict[str, Any]) -> DecisionProposal:
    """An automated rule proposes a pause or offboarding; nothing happens until a human confirms."""
    proposal = DecisionProposal.objects.create(
        subject=subject, kind=kind, rule=rule, reason=_require_reason(reason), data=data
    )
    audit_record(actor=None, action="proposal.create", obj=proposal, summary={"kind": kind, "rule": rule})
    return proposal


@transaction.atomic
def proposal_resolve(*, proposal: DecisionProposal, actor: User, confirm: bool, note: str) -> DecisionProposal:
    """A human confirms (the decision is then theirs) or dismisses a rule's proposal."""
    _require_operations(actor)
    note = _require_reason(note)
    proposal = DecisionProposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.status != ProposalStatus.OPEN:
        raise wrong_state("proposal", _("This proposal has already been resolved."))
    if confirm:
        profile = ContractorProfile.objects.get(user_id=proposal.subject_id)
        contractor_transition(
            profile=profile,
            action=str(proposal.kind),
            actor=actor,
            reason=note,
            data={"proposal": proposal.pk, "rule": proposal.rule, **proposal.data},
        )
        # The transition's decision is the newest of this kind about the subject: we hold the
        # subject's profile lock, so no other decision of this kind can interleave.
        proposal.decision = (
            Decision.objects.filter(subject_id=proposal.subject_id, kind=proposal.kind).order_by("-id").first()
        )
    proposal.status = ProposalStatus.CONFIRMED if confirm else ProposalStatus.DISMISSED
    proposal.resolved_by = actor
    proposal.resolved_at = timezone.now()
    proposal.resolution_note = note
    proposal.save()
    audit_record(actor=actor, action="proposal.resolve", obj=proposal, summary={"status": proposal.status})
    return proposal
