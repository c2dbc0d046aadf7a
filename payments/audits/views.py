"""The auditor portal: findings, the audit-log check, periods with charts, a contractor's week, the evidence pack.

Auditors read everything here and change nothing; operations managers may also resolve findings
and start an audit. An auditor's write (any method but GET/HEAD) is refused with a 403 page that
says so, before any code that could change something runs. The one thing a download may add is the
week's fair-wage reports that its evidence pack needs, which auditors may ask for on the reports
page anyway (``payments.reports.services``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from payments.audits import selectors
from payments.audits.charts import decisions_chart
from payments.audits.checks import check_titles
from payments.audits.evidence import PACK_FORMATS, PackProblem, evidence_manifest_sha256, evidence_pack
from payments.audits.forms import FindingFilterForm, ResolveForm
from payments.audits.jobs import audit_run_job
from payments.audits.models import AuditRun, AuditTrigger, Finding, FindingStatus, Severity
from payments.audits.services import audit_run_request, finding_resolve
from payments.models import PayPeriod, PeriodStatus, ReportFormat
from tasks.charts import bar_chart
from tasks.services.exports import worker_pseudonym
from workforce.audit import audit_chain_verify
from workforce.models import AuditChainCheck, AuditEvent, User

View = Callable[..., HttpResponseBase]
READ_ONLY_MESSAGE = _("Auditors have read-only access, so nothing was changed. Ask an operations manager to do this.")


def audit_portal(view: View) -> View:
    """Operations managers and auditors only; for an auditor, reading only (a write gets a clear 403)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not isinstance(user, User):
            return redirect_to_login(request.get_full_path())
        if user.is_operations:
            return view(request, *args, **kwargs)
        if user.is_auditor:
            if request.method in ("GET", "HEAD"):
                return view(request, *args, **kwargs)
            return render(request, "payments/audits/read_only.html", {"message": READ_ONLY_MESSAGE}, status=403)
        raise PermissionDenied(_("The audit pages are for operations managers and compliance auditors."))

    return wrapper


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _names_visible(user: User) -> bool:
    """Operations managers pay people and see who they are; auditors see stable pseudonyms."""
    return user.is_operations


@audit_portal
def audit_home(request: HttpRequest) -> HttpResponse:
    open_findings = Finding.objects.filter(status=FindingStatus.OPEN)
    counts = {s: open_findings.filter(severity=s).count() for s in (Severity.CRITICAL, Severity.WARNING, Severity.INFO)}
    context = {
        "counts": counts,
        "latest_run": AuditRun.objects.select_related("period", "started_by").first(),
        "latest_chain": AuditChainCheck.objects.first(),
        "checks": check_titles(),
    }
    return render(request, "payments/audits/home.html", context)


@audit_portal
def finding_list_view(request: HttpRequest) -> HttpResponse:
    form = FindingFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    findings = selectors.finding_list(
        status=filters.get("status", ""), severity=filters.get("severity", ""), check=filters.get("check", "")
    )
    page = Paginator(findings, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "payments/audits/finding_list.html", {"form": form, "page": page, "query": query.urlencode()}
    )


@audit_portal
def finding_detail(request: HttpRequest, pk: int) -> HttpResponse:
    finding = get_object_or_404(Finding.objects.select_related("resolved_by", "first_run", "last_run", "period"), pk=pk)
    form = ResolveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            finding_resolve(finding=finding, actor=_user(request), note=form.cleaned_data["note"])
        except ValidationError as error:
            for message in error.messages:
                form.add_error("note", message)
        else:
            messages.success(request, _("The finding is resolved; it stays in the history with your note."))
            return redirect("payments:audit-finding-detail", pk=finding.pk)
    latest = AuditRun.objects.filter(status="done").first()
    context = {
        "finding": finding,
        "form": form,
        "can_resolve": _user(request).is_operations and finding.is_open,
        "still_seen": latest is None or finding.last_run_id == latest.pk,
        "check_title": check_titles().get(finding.check_code, finding.check_code),
    }
    return render(request, "payments/audits/finding_detail.html", context, status=400 if form.errors else 200)


@audit_portal
@require_POST
def audit_run_start(request: HttpRequest) -> HttpResponse:
    """Queue a full audit now (operations only: the wrapper refused auditors already)."""
    run = audit_run_request(trigger=AuditTrigger.MANUAL, started_by=_user(request))
    transaction.on_commit(lambda: audit_run_job.delay(run_id=run.pk))
    messages.success(
        request,
        _("Audit run #%(id)s is queued; new findings appear here and are emailed when it finishes.") % {"id": run.pk},
    )
    return redirect("payments:audit-home")


@audit_portal
def chain_verify(request: HttpRequest) -> HttpResponse:
    """Walk the whole audit-log chain now (the same function as ``manage.py verify_audit_log``)."""
    result = audit_chain_verify(store=False)
    broken = None
    if result.first_broken_seq is not None:
        broken = AuditEvent.objects.filter(seq__gte=result.first_broken_seq).order_by("seq").first()
    return render(request, "payments/audits/chain.html", {"result": result, "broken": broken})


@audit_portal
def period_list(request: HttpRequest) -> HttpResponse:
    periods = selectors.closed_periods(limit=12)
    summaries = [selectors.period_summary(period=p) for p in periods]
    oldest_first = sorted(summaries, key=lambda s: s.period.start)
    medians = selectors.effective_hourly_medians(periods=periods)
    late = selectors.late_payouts(periods=periods)
    rejected = selectors.rejections(periods=periods)
    stats = selectors.decision_statistics()
    decisions = decisions_chart(selectors.decision_outcomes(periods=periods))
    week = "{:%m-%d}"
    charts = {
        "hourly": [
            (
                jurisdiction,
                bar_chart(
                    bars=series,
                    title=_("Median effective hourly in %(j)s") % {"j": jurisdiction},
                    desc=_("Median of (earnings + top-up) per active hour, minor units, per week."),
                    unit=_("minor units/h"),
                    label_every=2,
                    height=160,
                ),
            )
            for jurisdiction, series in sorted(medians.items())
        ],
        "topups": bar_chart(
            bars=[(week.format(s.period.start), s.topups_minor) for s in oldest_first],
            title=_("Wage-floor top-ups per week"),
            desc=_("The sum of top-up entries each week, in minor units."),
            unit=_("minor units"),
            label_every=2,
        ),
        "late": bar_chart(
            bars=[(week.format(p.start), n) for p, n in late],
            title=_("Late payouts per week"),
            desc=_("Payouts paid more than the allowed days after the week's close."),
            unit=_("payouts"),
            label_every=2,
        ),
        "rejections": bar_chart(
            bars=[(week.format(p.start), n) for p, n in rejected],
            title=_("Rejected answers per week"),
            desc=_("Answers submitted in the week and rejected by review."),
            unit=_("answers"),
            label_every=2,
        ),
        "appeals": bar_chart(
            bars=list(stats["appeals"].items()),
            title=_("Appeals by outcome"),
            desc=_("Every appeal, by its status."),
            unit=_("appeals"),
            label_every=1,
        ),
    }
    context = {
        "summaries": summaries,
        "charts": charts,
        "decisions": decisions,
        "stats": stats,
        "late": late,
        "rejected": rejected,
    }
    return render(request, "payments/audits/period_list.html", context)


def _period_page(request: HttpRequest, period: PayPeriod, *, problem: str = "", status: int = 200) -> HttpResponse:
    show_names = _names_visible(_user(request))
    sums = selectors.ledger_sums(period)
    emails = dict(User.objects.filter(pk__in=list(sums)).values_list("pk", "email")) if show_names else {}
    contractors = [
        (c, emails.get(c) or worker_pseudonym(c), earnings, topup) for c, (earnings, topup, _o) in sorted(sums.items())
    ]
    pack_reports, manifest_sha256 = evidence_manifest_sha256(period=period)
    context = {
        "period": period,
        "summary": selectors.period_summary(period=period),
        "contractors": contractors,
        "manifest_sha256": manifest_sha256,
        "checkpoint": pack_reports.checkpoint,
        "pack_reports": [(ReportFormat(fmt).label, pack_reports.reports.get(fmt)) for fmt in PACK_FORMATS],
        "findings": selectors.finding_list(period=period)[:20],
        "problem": problem,
    }
    return render(request, "payments/audits/period_detail.html", context, status=status)


@audit_portal
def period_detail(request: HttpRequest, pk: int) -> HttpResponse:
    period = get_object_or_404(PayPeriod, pk=pk, status=PeriodStatus.CLOSED)
    return _period_page(request, period)


@audit_portal
def evidence_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The pack; the first download at a new ledger checkpoint makes the week's missing reports, in this request."""
    period = get_object_or_404(PayPeriod, pk=pk, status=PeriodStatus.CLOSED)
    try:
        pack = evidence_pack(period=period, actor=_user(request))
    except PackProblem as problem:
        return _period_page(request, period, problem=problem.message, status=409)
    response = HttpResponse(pack.content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{pack.name}"'
    response["X-Manifest-SHA256"] = pack.manifest_sha256
    return response


@audit_portal
def contractor_period(request: HttpRequest, pk: int, contractor_id: int) -> HttpResponse:
    period = get_object_or_404(PayPeriod, pk=pk, status=PeriodStatus.CLOSED)
    contractor = get_object_or_404(User, pk=contractor_id)
    drill = selectors.contractor_period(contractor=contractor, period=period)
    label = contractor.email if _names_visible(_user(request)) else worker_pseudonym(contractor.pk)
    hours = {kind: f"{seconds / 3600:.2f}" for kind, seconds in drill.seconds_by_kind.items()}
    return render(request, "payments/audits/contractor_period.html", {"drill": drill, "label": label, "hours": hours})
