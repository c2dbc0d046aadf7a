"""Operations pages of the payments app: pay periods and their close, and a project's pay.

Operations managers close periods, retry exceptions and set pay; auditors read every page and
change nothing (403 on every POST); contractors get 403. Each page works without JavaScript;
a small script polls ``close-run-status`` to move the close's progress bar.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from payments.forms import SERVICE_FIELDS, ProjectPayForm
from payments.jobs import close_run_job
from payments.models import CloseRun, PayPeriod
from payments.money import Money
from payments.selectors import (
    close_exceptions_open,
    close_run_list,
    close_run_status,
    period_entry_totals,
    period_list,
    period_topup_list,
)
from payments.services.close import close_exceptions_retry, period_close_start, period_closes_from, period_is_over
from payments.services.rates import pay_currency, project_pay_set
from tasks.models import Project
from workforce.models import User
from workforce.permissions import _user, role_required
from workforce.views import flash_errors

EXCEPTIONS_SHOWN = 500
TOPUPS_SHOWN = 500


def period_for_user(user: User, pk: int) -> PayPeriod:
    """Pay periods are for operations staff (auditors read them); contractors get 403."""
    if not (user.is_operations or user.is_auditor):
        raise PermissionDenied(_("This page is for operations staff."))
    return get_object_or_404(PayPeriod, pk=pk)


def close_run_for_user(user: User, pk: int) -> CloseRun:
    if not (user.is_operations or user.is_auditor):
        raise PermissionDenied(_("This page is for operations staff."))
    return get_object_or_404(CloseRun.objects.select_related("period", "started_by"), pk=pk)


def _enqueue(run: CloseRun) -> None:
    transaction.on_commit(lambda: close_run_job.delay(run.pk))


@role_required(read=True)
@require_GET
def pay_period_list(request: HttpRequest) -> HttpResponse:
    periods = list(period_list()[:104])  # two years of weeks
    runs = {r.period_id: r for r in CloseRun.objects.filter(period__in=periods).order_by("period", "started_at")}
    rows = [(p, runs.get(p.pk), period_is_over(p)) for p in periods]
    return render(request, "payments/close_period_list.html", {"rows": rows})


@role_required(read=True)
@require_GET
def pay_period_detail(request: HttpRequest, pk: int) -> HttpResponse:
    period = period_for_user(_user(request), pk)
    runs = list(close_run_list(period=period)[:20])
    exceptions = close_exceptions_open(period=period)
    topups = period_topup_list(period=period)
    context = {
        "period": period,
        "runs": runs,
        "run": runs[0] if runs else None,
        "exceptions": exceptions[:EXCEPTIONS_SHOWN],
        "exceptions_total": len(exceptions),
        "topups": topups[:TOPUPS_SHOWN],
        "topups_total": topups.count(),
        "is_over": period_is_over(period),
        "closes_from": period_closes_from(period),
        "totals": [
            {**t, "total": Money(int(t["total_minor"]), t["currency"]).format()}
            for t in period_entry_totals(period=period)
        ],
    }
    return render(request, "payments/close_period_detail.html", context)


@role_required()
@require_POST
def pay_period_close(request: HttpRequest, pk: int) -> HttpResponse:
    """Start (or resume) the close; a worker does the work and the page shows its progress."""
    period = period_for_user(_user(request), pk)
    try:
        run = period_close_start(period=period, actor=_user(request))
    except ValidationError as exc:
        flash_errors(request, exc)
    else:
        _enqueue(run)
        messages.success(request, _("The close is running; this page shows its progress."))
    return redirect("payments:pay-period-detail", pk=period.pk)


@role_required()
@require_POST
def pay_period_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Close again for the contractors whose exceptions are still open."""
    period = period_for_user(_user(request), pk)
    try:
        run = close_exceptions_retry(period=period, actor=_user(request))
    except ValidationError as exc:
        flash_errors(request, exc)
    else:
        _enqueue(run)
        messages.success(request, _("The retry is running; this page shows its progress."))
    return redirect("payments:pay-period-detail", pk=period.pk)


@role_required(read=True)
@require_GET
def close_run_status_view(request: HttpRequest, pk: int) -> JsonResponse:
    """What the progress bar polls: contractors done of total, percent, status, exceptions so far."""
    run = close_run_for_user(_user(request), pk)
    response = JsonResponse(close_run_status(run=run))
    response["Cache-Control"] = "no-store"
    return response


@role_required(read=True)
def project_pay(request: HttpRequest, pk: int) -> HttpResponse:
    """A project's pay settings and quality tiers; operations managers change the pay here."""
    user = _user(request)
    project = get_object_or_404(Project.objects.select_related("required_skill"), pk=pk)
    form = ProjectPayForm.for_project(project, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project_pay_set(
                project=project,
                actor=user,
                currency=form.cleaned_data["currency"],
                piece_rate_minor=form.cleaned_data["piece_rate_minor"],
                hourly_rate_minor=form.cleaned_data["hourly_rate_minor"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(SERVICE_FIELDS.get(field), errors)
        else:
            messages.success(request, _("The pay of “%(name)s” is saved.") % {"name": project.name})
            return redirect("payments:project-pay", pk=project.pk)
    context = {
        "project": project,
        "form": form,
        "tiers": project.quality_tiers.order_by("kind", "threshold"),
        "pay_currency": pay_currency(),
    }
    return render(request, "payments/project_pay.html", context, status=400 if form.errors else 200)
