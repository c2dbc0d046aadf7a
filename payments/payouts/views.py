"""Payout pages: the contractor's payouts and payout account, and the operations pages for runs.

Operations managers start and resume runs, generate bank files and confirm bank payouts;
auditors read every run, payout and bank file and change nothing (403 on every POST);
contractors see only their own payouts (another's is a 404) and never the run pages (403).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from payments.money import Money
from payments.payouts import selectors
from payments.payouts.accounts import (
    payout_account_bank_set,
    payout_account_onboarding_start,
    payout_account_refresh,
)
from payments.payouts.bank import bank_file_create, payout_confirm
from payments.payouts.forms import BankDetailsForm, PayoutConfirmForm, PayoutRunForm
from payments.payouts.jobs import payout_run_job
from payments.payouts.models import ProviderName
from payments.payouts.runs import payout_run_resume, payout_run_start
from payments.payouts.services import payout_period_get
from payments.selectors import balance
from workforce.permissions import _user, contractor_required, role_required
from workforce.views import flash_errors

RUNS_PER_PAGE = 25


def _pay_currency() -> str:
    return str(getattr(settings, "FAIRTASK_PAY_CURRENCY", "USD"))


def _enqueue_run(run_id: int) -> None:
    transaction.on_commit(lambda: payout_run_job.delay(run_id))


# The contractor ----------------------------------------------------------------------------


@contractor_required
@require_GET
def payout_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    currency = _pay_currency()
    context = {
        "account": selectors.payout_account_get(contractor=user),
        "payable": selectors.payable_balance(contractor=user, currency=currency),
        "balances": sorted(balance(contractor=user).values(), key=lambda m: m.currency),
        "minimum": Money(settings.FAIRTASK_PAYOUT_MINIMUM_MINOR, currency),
        "payouts": selectors.payout_list(contractor=user)[:100],
        "skip": selectors.payout_skip_current(contractor=user),
    }
    return render(request, "payments/payout_list.html", context)


@contractor_required
def payout_setup(request: HttpRequest) -> HttpResponse:
    """GET: the account's state. POST: start (or continue) Stripe onboarding, or save bank details."""
    user = _user(request)
    provider = settings.FAIRTASK_PAYOUT_PROVIDER
    form = BankDetailsForm(request.POST or None) if provider == ProviderName.BANK_FILE else None
    if request.method == "POST":
        try:
            if form is None:
                return redirect(
                    payout_account_onboarding_start(
                        contractor=user,
                        return_url=request.build_absolute_uri(reverse("payments:payout-setup-return")),
                        refresh_url=request.build_absolute_uri(reverse("payments:payout-setup-refresh")),
                    )
                )
            if form.is_valid():
                payout_account_bank_set(contractor=user, actor=user, **form.cleaned_data)
                messages.success(request, _("Your bank details are saved; the next payout goes there."))
                return redirect("payments:payout-list")
        except ValidationError as exc:
            if form is None:
                flash_errors(request, exc)
                return redirect("payments:payout-setup")
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
    context = {"account": selectors.payout_account_get(contractor=user), "provider": provider, "form": form}
    return render(request, "payments/payout_setup.html", context, status=400 if form and form.errors else 200)


@contractor_required
@require_GET
def payout_setup_return(request: HttpRequest) -> HttpResponse:
    """Where Stripe sends the contractor after its form: read the account's state from Stripe."""
    try:
        account = payout_account_refresh(contractor=_user(request))
    except ValidationError as exc:
        flash_errors(request, exc)
    else:
        if account.is_usable:
            messages.success(request, _("Your Stripe account is ready; payouts go there from now on."))
        else:
            messages.warning(request, account.unusable_reason)
    return redirect("payments:payout-setup")


@contractor_required
@require_GET
def payout_setup_refresh(request: HttpRequest) -> HttpResponse:
    """Stripe's link expired or was used: make a new one and go straight back to Stripe."""
    try:
        url = payout_account_onboarding_start(
            contractor=_user(request),
            return_url=request.build_absolute_uri(reverse("payments:payout-setup-return")),
            refresh_url=request.build_absolute_uri(reverse("payments:payout-setup-refresh")),
        )
    except ValidationError as exc:
        flash_errors(request, exc)
        return redirect("payments:payout-setup")
    return redirect(url)


@login_required
@require_GET
def payout_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    payout = selectors.payout_for_user(user=user, pk=pk)
    form = PayoutConfirmForm() if user.is_operations else None
    return render(request, "payments/payout_detail.html", {"payout": payout, "form": form})


@role_required()
@require_POST
def payout_confirm_view(request: HttpRequest, pk: int) -> HttpResponse:
    payout = selectors.payout_for_user(user=_user(request), pk=pk)
    form = PayoutConfirmForm(request.POST)
    if form.is_valid():
        try:
            payout_confirm(
                payout=payout,
                actor=_user(request),
                is_paid=form.cleaned_data["outcome"] == "paid",
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            flash_errors(request, exc)
        else:
            messages.success(request, _("Payout #%(id)s is recorded as confirmed.") % {"id": payout.pk})
    else:
        messages.error(request, _("Choose whether the bank paid the payout or returned it."))
    return redirect("payments:payout-detail", pk=payout.pk)


# Operations: runs --------------------------------------------------------------------------


@role_required(read=True)
def payout_run_list(request: HttpRequest) -> HttpResponse:
    """The runs, newest first; for operations managers the form that starts one (a POST)."""
    user = _user(request)
    form = PayoutRunForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            payout_period_get()  # refuse now, not in the worker, when payouts have nowhere to go
            run = payout_run_start(actor=user, currency=form.cleaned_data["currency"])
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            _enqueue_run(run.pk)
            return redirect("payments:payout-run-detail", pk=run.pk)
    page = Paginator(selectors.payout_run_list(), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "minimum": Money(settings.FAIRTASK_PAYOUT_MINIMUM_MINOR, _pay_currency())}
    return render(request, "payments/payout_run_list.html", context, status=400 if form.errors else 200)


@role_required(read=True)
@require_GET
def payout_run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = selectors.payout_run_for_user(user=_user(request), pk=pk)
    context = {
        "run": run,
        "progress": selectors.payout_run_status(run=run),
        "payouts": selectors.payout_list(run=run),
        "skips": selectors.payout_skip_list(run=run),
        "bank_files": run.bank_files.select_related("created_by"),
        "bank_waiting": run.payouts.filter(provider=ProviderName.BANK_FILE, state="pending").count(),
    }
    return render(request, "payments/payout_run_detail.html", context)


@role_required(read=True)
@require_GET
def payout_run_status(request: HttpRequest, pk: int) -> JsonResponse:
    """What the progress bar polls."""
    run = selectors.payout_run_for_user(user=_user(request), pk=pk)
    response = JsonResponse(selectors.payout_run_status(run=run))
    response["Cache-Control"] = "no-store"
    return response


@role_required()
@require_POST
def payout_run_resume_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = selectors.payout_run_for_user(user=_user(request), pk=pk)
    try:
        payout_run_resume(run=run, actor=_user(request))
    except ValidationError as exc:
        flash_errors(request, exc)
    else:
        _enqueue_run(run.pk)
        messages.success(request, _("The run goes on; pending payouts are resumed with their own keys."))
    return redirect("payments:payout-run-detail", pk=run.pk)


@role_required()
@require_POST
def payout_run_bank_file(request: HttpRequest, pk: int) -> HttpResponse:
    """Generate the run's bank file: its payouts become submitted; then download it."""
    run = selectors.payout_run_for_user(user=_user(request), pk=pk)
    try:
        bank_file = bank_file_create(run=run, actor=_user(request))
    except ValidationError as exc:
        flash_errors(request, exc)
        return redirect("payments:payout-run-detail", pk=run.pk)
    return redirect("payments:payout-bank-file", pk=bank_file.pk)


@role_required(read=True)
@require_GET
def payout_bank_file_download(request: HttpRequest, pk: int) -> HttpResponse:
    """A stored bank file, byte for byte as generated (downloading never submits anything)."""
    bank_file = selectors.bank_file_for_user(user=_user(request), pk=pk)
    response = HttpResponse(bank_file.content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{bank_file.file_name}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-SHA256"] = bank_file.sha256
    return response
