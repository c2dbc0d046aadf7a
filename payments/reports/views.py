"""Fair-wage report pages: request one, watch its progress, download it with its hash, verify it.

Operations managers and auditors only (``reports_access_check``); auditors may POST the
request form, because making a report is part of an audit (it changes nothing else).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from payments.models import Report
from payments.reports.forms import ReportRequestForm
from payments.reports.jobs import report_run_job
from payments.reports.services import (
    ReportFileProblem,
    may_see_real_names,
    report_for_user,
    report_manifest,
    report_request,
    report_verify,
    reports_access_check,
)

REPORTS_SHOWN = 100
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def _prefilled(request: HttpRequest) -> dict[str, int]:
    """``?period=<id>`` picks that week in the form (the auditor's period page links here with it)."""
    period = request.GET.get("period", "")
    return {"period": int(period)} if period.isdecimal() else {}


@login_required
def report_list(request: HttpRequest) -> HttpResponse:
    """The request form and the reports made so far, each with its SHA-256."""
    user = reports_access_check(request.user)
    form = ReportRequestForm(request.POST or None, initial=_prefilled(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            report = report_request(actor=user, **data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            transaction.on_commit(lambda: report_run_job.delay(report.pk))
            messages.success(request, _("The report is being made; this page shows its progress."))
            return redirect("payments:report-detail", pk=report.pk)
    context = {
        "form": form,
        "reports": Report.objects.select_related("created_by")[:REPORTS_SHOWN],
        "may_see_names": may_see_real_names(user),
    }
    return render(request, "payments/report_list.html", context, status=400 if form.errors else 200)


@login_required
@require_GET
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = report_for_user(request.user, pk)
    return render(
        request, "payments/report_detail.html", {"report": report, "manifest": report_manifest(report=report)}
    )


@login_required
@require_GET
def report_status(request: HttpRequest, pk: int) -> JsonResponse:
    """What the progress bar polls."""
    report = report_for_user(request.user, pk)
    response = JsonResponse(
        {"status": report.status, "progress": report.progress, "sha256": report.sha256, "error": report.error}
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def report_download(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The file, only if it still matches its recorded SHA-256 (409 with the reason otherwise)."""
    report = report_for_user(request.user, pk)
    try:
        path = report_verify(report=report)
    except ReportFileProblem as problem:
        return render(request, "payments/report_detail.html", {"report": report, "problem": problem}, status=409)
    response = FileResponse(path.open("rb"), as_attachment=True, filename=report.filename)
    response["Content-Type"] = CONTENT_TYPES[report.format]
    response["X-Content-SHA256"] = report.sha256
    return response


@login_required
@require_GET
def report_verify_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Check the stored file against its hash and say so, in words."""
    report = report_for_user(request.user, pk)
    try:
        report_verify(report=report)
    except ReportFileProblem as problem:
        context = {"report": report, "problem": problem, "manifest": report_manifest(report=report)}
        return render(request, "payments/report_detail.html", context, status=409)
    context = {"report": report, "verified": True, "manifest": report_manifest(report=report)}
    return render(request, "payments/report_detail.html", context)


@login_required
@require_GET
def report_manifest_view(request: HttpRequest, pk: int) -> JsonResponse:
    report = report_for_user(request.user, pk)
    return JsonResponse(report_manifest(report=report), json_dumps_params={"indent": 2, "sort_keys": True})
