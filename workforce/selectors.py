"""Reads shared by pages, exports and the API, so that they always agree."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from workforce.models import (
    Appeal,
    AppealStatus,
    ContractorProfile,
    Decision,
    DocumentAcceptance,
    DocumentKind,
    LegalDocument,
    TaxForm,
    TaxFormStatus,
    User,
)


@dataclass(frozen=True)
class ChecklistStep:
    key: str
    title: str
    status: str  # "done", "todo", "waiting" or "later"
    detail: str
    url_name: str | None = None
    required: bool = True

    @property
    def is_done(self) -> bool:
        return self.status == "done"

    @property
    def blocks_approval(self) -> bool:
        return self.required and not self.is_done


def document_current(*, kind: str) -> LegalDocument | None:
    from django.utils import timezone

    return LegalDocument.objects.filter(kind=kind, published_at__lte=timezone.now()).order_by("-published_at").first()


def documents_to_accept(*, user: User) -> list[LegalDocument]:
    """The current versions the user has not accepted yet (a new version asks again)."""
    pending = []
    for kind in DocumentKind.values:
        current = document_current(kind=kind)
        if current and not DocumentAcceptance.objects.filter(user=user, document=current).exists():
            pending.append(current)
    return pending


def onboarding_checklist(*, profile: ContractorProfile) -> list[ChecklistStep]:
    user = profile.user
    pending_docs = documents_to_accept(user=user)
    tax_form = TaxForm.objects.filter(user=user).first()
    if tax_form is None:
        tax_status, tax_detail = "todo", _("Tell us which tax form you filed.")
    elif tax_form.status == TaxFormStatus.REJECTED:
        tax_status, tax_detail = "todo", _("Your tax form needs a correction; submit it again.")
    else:
        tax_status = "done"
        tax_detail = _("%(form)s, %(status)s (ID ending %(last4)s).") % {
            "form": tax_form.get_form_type_display(),
            "status": tax_form.get_status_display().lower(),
            "last4": tax_form.tax_id_last4,
        }
    steps = [
        ChecklistStep(
            "profile",
            _("Profile"),
            "done" if profile.is_profile_complete else "todo",
            _("Legal name, display name, country and region, time zone, languages and skills."),
            "workforce:profile-edit",
        ),
        ChecklistStep(
            "agreements",
            _("Contractor agreement and privacy notice"),
            "todo" if pending_docs else "done",
            _("Read and accept: %(titles)s.") % {"titles": ", ".join(d.title for d in pending_docs)}
            if pending_docs
            else _("You accepted the current versions."),
            "workforce:agreements",
        ),
        ChecklistStep("tax", _("Tax form"), tax_status, tax_detail, "workforce:tax-form"),
        ChecklistStep(
            "payout",
            _("Payout account"),
            "later",
            _("You connect a payout account after approval, before your first payout."),
            required=False,
        ),
        ChecklistStep(
            "qualification",
            _("Qualification"),
            "later",
            _("Paid qualification tests open once you are approved."),
            required=False,
        ),
    ]
    return _with_app_steps(steps, profile)


def _with_app_steps(steps: list[ChecklistStep], profile: ContractorProfile) -> list[ChecklistStep]:
    """Add the steps of the apps built on workforce (``FAIRTASK_ONBOARDING_STEPS``).

    Each entry is the dotted path of a callable ``(profile) -> ChecklistStep | None``. A step
    whose key is already on the list replaces it in place (e.g. payments' real "payout" step
    for the placeholder above); any other is appended. None adds nothing.
    """
    for path in settings.FAIRTASK_ONBOARDING_STEPS:
        step = import_string(path)(profile)
        if step is None:
            continue
        keys = [s.key for s in steps]
        if step.key in keys:
            steps[keys.index(step.key)] = step
        else:
            steps.append(step)
    return steps


def contractor_list(
    *, search: str = "", state: str = "", country: str = "", skill: str = ""
) -> QuerySet[ContractorProfile]:
    qs = ContractorProfile.objects.select_related("user").prefetch_related("skills").order_by("-created_at", "-id")
    if search:
        qs = qs.filter(
            Q(display_name__icontains=search) | Q(legal_name__icontains=search) | Q(user__email__icontains=search)
        )
    if state:
        qs = qs.filter(state=state)
    if country:
        qs = qs.filter(country=country.upper())
    if skill:
        qs = qs.filter(skills__slug=skill)
    return qs.distinct()


def decision_list(*, subject: User | None = None) -> QuerySet[Decision]:
    qs = Decision.objects.select_related("subject", "decided_by", "appeal")
    if subject is not None:
        qs = qs.filter(subject=subject)
    return qs.order_by("-decided_at", "-id")


def appeal_queue(*, include_answered: bool = False) -> QuerySet[Appeal]:
    """Open appeals, the ones due soonest (or already overdue) first."""
    qs = Appeal.objects.select_related("decision", "appellant", "answered_by", "decision__decided_by")
    if not include_answered:
        qs = qs.filter(status=AppealStatus.OPEN)
    return qs.order_by("due_at", "id")
