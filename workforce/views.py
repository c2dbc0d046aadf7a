"""Portal pages: validate a form, call one service, redirect or render."""

from __future__ import annotations

import csv
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from workforce import selectors, services
from workforce.audit import audit_chain_verify
from workforce.forms import (
    AcceptDocumentForm,
    AppealAnswerForm,
    AppealForm,
    BulkForm,
    ContractorFilterForm,
    ProfileForm,
    ReasonForm,
    TaxForm,
    TransitionForm,
)
from workforce.models import AuditEvent, ContractorProfile, ContractorState, DecisionProposal, ProposalStatus
from workforce.permissions import (
    _user,
    appeal_for_user,
    contractor_required,
    decision_for_user,
    profile_for_user,
    role_required,
)


def _apply_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put each service error next to its field, or at the top of the form."""
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def flash_errors(request: HttpRequest, exc: ValidationError) -> None:
    """Show each message of a service's ValidationError on the next page (for redirecting views)."""
    for errors in exc.message_dict.values():
        for error in errors:
            messages.error(request, error)


def _client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "127.0.0.1"


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if user.is_operations or user.is_auditor:
        return redirect("workforce:contractor-list")
    if ContractorProfile.objects.filter(user=user, state=ContractorState.ACTIVE).exists():
        return redirect("tasks:work-home")
    return redirect("workforce:onboarding")


# Contractor pages ----------------------------------------------------------------------


@contractor_required
def onboarding(request: HttpRequest) -> HttpResponse:
    profile = services.contractor_register(user=_user(request))
    steps = selectors.onboarding_checklist(profile=profile)
    is_waiting = profile.state == ContractorState.ONBOARDING and not any(s.blocks_approval for s in steps)
    return render(request, "workforce/onboarding.html", {"profile": profile, "steps": steps, "is_waiting": is_waiting})


@contractor_required
def profile_edit(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    profile = services.contractor_register(user=user)
    initial = {
        "legal_name": profile.legal_name,
        "display_name": profile.display_name,
        "country": profile.country,
        "region": profile.region,
        "timezone": profile.timezone,
        "languages": ", ".join(profile.languages),
        "skills": list(profile.skills.all()),
    }
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(
                profile=profile,
                actor=user,
                legal_name=form.cleaned_data["legal_name"],
                display_name=form.cleaned_data["display_name"],
                country=form.cleaned_data["country"],
                region=form.cleaned_data["region"],
                timezone_name=form.cleaned_data["timezone"],
                languages=form.language_list(),
                skills=list(form.cleaned_data["skills"]),
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Your profile is saved."))
            return redirect("workforce:onboarding")
    return render(request, "workforce/profile_form.html", {"form": form, "profile": profile})


@contractor_required
def agreements(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    pending = selectors.documents_to_accept(user=user)
    form = AcceptDocumentForm(request.POST or None)
    if request.method == "POST" and pending and form.is_valid():
        document = get_object_or_404(type(pending[0]), pk=request.POST.get("document"))
        try:
            services.document_accept(
                user=user, document=document, accepted=form.cleaned_data["accepted"], ip_address=_client_ip(request)
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("You accepted “%(title)s”.") % {"title": document.title})
            return redirect("workforce:agreements" if len(pending) > 1 else "workforce:onboarding")
    accepted = user.acceptances.select_related("document").order_by("-accepted_at")
    return render(
        request,
        "workforce/agreements.html",
        {"document": pending[0] if pending else None, "form": form, "accepted": accepted},
    )


@contractor_required
def tax_form(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = TaxForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.tax_form_submit(
                user=user, form_type=form.cleaned_data["form_type"], tax_id=form.cleaned_data["tax_id"]
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Your tax form status is saved."))
            return redirect("workforce:onboarding")
    current = getattr(user, "tax_form", None)
    return render(request, "workforce/tax_form.html", {"form": form, "current": current})


@contractor_required
def my_decisions(request: HttpRequest) -> HttpResponse:
    decisions = selectors.decision_list(subject=_user(request))
    return render(request, "workforce/my_decisions.html", {"decisions": decisions})


@login_required
def decision_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    decision = decision_for_user(user, pk)
    appeal = getattr(decision, "appeal", None)
    can_appeal = decision.subject_id == user.pk and appeal is None and decision.kind != "appeal"
    form = AppealForm(request.POST or None)
    if request.method == "POST":
        if decision.subject_id != user.pk:
            return HttpResponse(status=403)
        if form.is_valid():
            try:
                services.appeal_file(decision=decision, appellant=user, message=form.cleaned_data["message"])
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Your appeal is filed; a manager will answer it by the due date."))
                return redirect("workforce:decision-detail", pk=decision.pk)
    return render(
        request,
        "workforce/decision_detail.html",
        {"decision": decision, "appeal": appeal, "form": form, "can_appeal": can_appeal},
    )


# Operations and auditor pages ------------------------------------------------------------


def _filtered_contractors(request: HttpRequest) -> tuple[ContractorFilterForm, Any]:
    form = ContractorFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    qs = selectors.contractor_list(
        search=data.get("q", ""),
        state=data.get("state", ""),
        country=data.get("country", ""),
        skill=data.get("skill", ""),
    )
    return form, qs


@role_required(read=True)
def contractor_list(request: HttpRequest) -> HttpResponse:
    form, qs = _filtered_contractors(request)
    page = Paginator(qs, settings.FAIRTASK_CONTRACTORS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    bulk = BulkForm(queryset=qs)
    return render(
        request,
        "workforce/contractor_list.html",
        {"filter_form": form, "page": page, "query": query.urlencode(), "bulk_form": bulk},
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@role_required(read=True)
@require_GET
def contractor_export(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered list as CSV, streamed row by row."""
    _form, qs = _filtered_contractors(request)
    writer = csv.writer(_Echo())
    header = [
        "id",
        "email",
        "display_name",
        "legal_name",
        "state",
        "country",
        "region",
        "timezone",
        "languages",
        "skills",
        "created_at",
    ]

    def rows() -> Any:
        yield writer.writerow(header)
        for p in qs.iterator(chunk_size=500):
            yield writer.writerow(
                [
                    p.pk,
                    p.user.email,
                    p.display_name,
                    p.legal_name,
                    p.state,
                    p.country,
                    p.region,
                    p.timezone,
                    " ".join(p.languages),
                    " ".join(s.slug for s in p.skills.all()),
                    p.created_at.isoformat(),
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="contractors.csv"'
    return response


@role_required(read=True)
def contractor_detail(request: HttpRequest, pk: int) -> HttpResponse:
    profile = profile_for_user(_user(request), pk)
    context = {
        "profile": profile,
        "steps": selectors.onboarding_checklist(profile=profile),
        "decisions": selectors.decision_list(subject=profile.user),
        "proposals": DecisionProposal.objects.filter(subject=profile.user, status=ProposalStatus.OPEN),
        "form": TransitionForm(),
        "events": AuditEvent.objects.filter(
            object_type="workforce.contractorprofile", object_id=str(profile.pk)
        ).order_by("-seq")[:20],
    }
    return render(request, "workforce/contractor_detail.html", context)


@role_required()
@require_POST
def contractor_transition(request: HttpRequest, pk: int) -> HttpResponse:
    profile = get_object_or_404(ContractorProfile, pk=pk)
    form = TransitionForm(request.POST)
    if form.is_valid():
        try:
            services.contractor_transition(
                profile=profile,
                action=form.cleaned_data["action"],
                actor=_user(request),
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            flash_errors(request, exc)
        else:
            messages.success(
                request, _("Done: %(action)s recorded with your reason.") % {"action": form.cleaned_data["action"]}
            )
    else:
        messages.error(request, _("Choose an action."))
    return redirect("workforce:contractor-detail", pk=pk)


@role_required()
@require_POST
def contractor_bulk(request: HttpRequest) -> HttpResponse:
    form = BulkForm(request.POST, queryset=ContractorProfile.objects.all())
    if form.is_valid():
        try:
            done = services.contractor_bulk_transition(
                profiles=list(form.cleaned_data["selected"]),
                action=form.cleaned_data["action"],
                actor=_user(request),
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            messages.error(request, _("Nothing was changed."))
            flash_errors(request, exc)
        else:
            messages.success(request, _("%(count)d contractors updated.") % {"count": len(done)})
    else:
        messages.error(request, _("Nothing was changed: choose an action and at least one contractor."))
    # ``next`` keeps the list's filters; anything pointing off the site is ignored (open redirect).
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    return redirect(next_url or "workforce:contractor-list")


@role_required()
@require_POST
def proposal_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = get_object_or_404(DecisionProposal, pk=pk)
    form = ReasonForm(request.POST)
    form.is_valid()
    try:
        services.proposal_resolve(
            proposal=proposal,
            actor=_user(request),
            confirm=request.POST.get("confirm") == "yes",
            note=form.cleaned_data.get("reason", ""),
        )
    except ValidationError as exc:
        flash_errors(request, exc)
    profile = get_object_or_404(ContractorProfile, user_id=proposal.subject_id)
    return redirect("workforce:contractor-detail", pk=profile.pk)


@role_required(read=True)
def appeal_queue(request: HttpRequest) -> HttpResponse:
    show_all = request.GET.get("all") == "1"
    appeals = selectors.appeal_queue(include_answered=show_all)
    return render(request, "workforce/appeal_queue.html", {"appeals": appeals, "show_all": show_all})


@role_required(read=True)
def appeal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    appeal = appeal_for_user(user, pk)
    form = AppealAnswerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.appeal_answer(
                appeal=appeal, actor=user, outcome=form.cleaned_data["outcome"], reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Your answer is recorded and the contractor can read it."))
            return redirect("workforce:appeal-queue")
    return render(request, "workforce/appeal_detail.html", {"appeal": appeal, "form": form})


@role_required(read=True)
def audit_log(request: HttpRequest) -> HttpResponse:
    result = audit_chain_verify(store=False)
    page = Paginator(AuditEvent.objects.select_related("actor").order_by("-seq"), 50).get_page(request.GET.get("page"))
    return render(request, "workforce/audit_log.html", {"result": result, "page": page})
