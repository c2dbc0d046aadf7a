"""REST API for compliance: pay periods, fair-wage reports, audit findings and audit runs.

Operations managers and compliance auditors read all of it; contractors get 403 everywhere.
Auditors change nothing, except that they may ask for a fair-wage report, which is part of
their job (``payments.reports.services``): resolving a finding or starting an audit is refused
with a 403 that says they have read-only access, before anything is read or written. The
same services and jobs as the portal do the work, so the API cannot do what a page may not.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.audits import selectors as audit_selectors
from payments.audits.jobs import audit_run_job
from payments.audits.models import AuditRun, AuditTrigger, Finding
from payments.audits.services import audit_run_request, finding_resolve
from payments.models import CloseRun, PayPeriod, Report
from payments.reports.jobs import report_run_job
from payments.reports.services import report_for_user, report_request, reports_access_check
from payments.selectors import close_run_list, period_list
from payments.serializers import (
    AuditRunOutput,
    FindingFilterInput,
    FindingOutput,
    FindingResolveInput,
    PayPeriodDetailOutput,
    PayPeriodOutput,
    ReportOutput,
    ReportRequestInput,
)
from workforce.api import _user
from workforce.models import User
from workforce.permissions import can_read_people

# Lists answer the newest rows first, at most this many, as the other APIs' lists do.
LIST_LIMIT = 200


def _require_compliance_read(user: User) -> None:
    if not can_read_people(user):
        raise PermissionDenied(_("Pay periods, reports and audit findings are for operations managers and auditors."))


def _require_operations(user: User) -> None:
    _require_compliance_read(user)
    if not user.is_operations:
        raise PermissionDenied(
            _("Auditors have read-only access, so nothing was changed. Ask an operations manager to do this.")
        )


def period_for_user(user: User, pk: int) -> PayPeriod:
    _require_compliance_read(user)
    return get_object_or_404(PayPeriod, pk=pk)


def finding_for_user(user: User, pk: int) -> Finding:
    _require_compliance_read(user)
    return get_object_or_404(Finding.objects.select_related("resolved_by"), pk=pk)


class PayPeriodListApi(APIView):
    @extend_schema(responses=PayPeriodOutput(many=True))
    def get(self, request: Request) -> Response:
        _require_compliance_read(_user(request))
        periods = list(period_list()[:LIST_LIMIT])
        # Each period's latest close run, in one query: ordered oldest first, the last one wins.
        runs = {r.period_id: r for r in CloseRun.objects.filter(period__in=periods).order_by("started_at", "pk")}
        return Response(PayPeriodOutput(periods, many=True, context={"runs": runs}).data)


class PayPeriodDetailApi(APIView):
    @extend_schema(responses=PayPeriodDetailOutput)
    def get(self, request: Request, pk: int) -> Response:
        period = period_for_user(_user(request), pk)
        latest = close_run_list(period=period).first()
        runs = {period.pk: latest} if latest is not None else {}
        return Response(PayPeriodDetailOutput(period, context={"runs": runs}).data)


class ReportListApi(APIView):
    @extend_schema(responses=ReportOutput(many=True))
    def get(self, request: Request) -> Response:
        reports_access_check(_user(request))
        reports = Report.objects.select_related("created_by")[:LIST_LIMIT]
        return Response(ReportOutput(reports, many=True).data)

    @extend_schema(request=ReportRequestInput, responses={202: ReportOutput})
    def post(self, request: Request) -> Response:
        """Ask for a fair-wage report; a worker makes it, and ``url`` shows its progress and then its hash."""
        user = reports_access_check(_user(request))
        data = ReportRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        report = report_request(actor=user, **data.validated_data)
        transaction.on_commit(lambda: report_run_job.delay(report.pk))
        return Response(ReportOutput(report).data, status=status.HTTP_202_ACCEPTED)


class ReportDetailApi(APIView):
    @extend_schema(responses=ReportOutput)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ReportOutput(report_for_user(_user(request), pk)).data)


class FindingListApi(APIView):
    @extend_schema(parameters=[FindingFilterInput], responses=FindingOutput(many=True))
    def get(self, request: Request) -> Response:
        _require_compliance_read(_user(request))
        filters = FindingFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        findings = audit_selectors.finding_list(**filters.validated_data)
        return Response(FindingOutput(findings[:LIST_LIMIT], many=True).data)


class FindingDetailApi(APIView):
    @extend_schema(responses=FindingOutput)
    def get(self, request: Request, pk: int) -> Response:
        return Response(FindingOutput(finding_for_user(_user(request), pk)).data)


class FindingResolveApi(APIView):
    @extend_schema(request=FindingResolveInput, responses=FindingOutput)
    def post(self, request: Request, pk: int) -> Response:
        """Resolve an open finding with a note; it stays listed, as resolved. Operations managers only."""
        user = _user(request)
        _require_operations(user)
        finding = finding_for_user(user, pk)
        data = FindingResolveInput(data=request.data)
        data.is_valid(raise_exception=True)
        finding = finding_resolve(finding=finding, actor=user, note=data.validated_data["note"])
        return Response(FindingOutput(finding).data)


class AuditRunListApi(APIView):
    @extend_schema(responses=AuditRunOutput(many=True))
    def get(self, request: Request) -> Response:
        _require_compliance_read(_user(request))
        runs = AuditRun.objects.select_related("started_by")[:LIST_LIMIT]
        return Response(AuditRunOutput(runs, many=True).data)

    @extend_schema(request=None, responses={202: AuditRunOutput})
    def post(self, request: Request) -> Response:
        """Start a full audit now, as the portal's button does: the run is recorded at once and a worker performs
        it; ``url`` shows it until it is done, with its counts (new findings are also emailed)."""
        user = _user(request)
        _require_operations(user)
        run = audit_run_request(trigger=AuditTrigger.MANUAL, started_by=user)
        transaction.on_commit(lambda: audit_run_job.delay(run_id=run.pk))
        return Response(AuditRunOutput(run).data, status=status.HTTP_202_ACCEPTED)


class AuditRunDetailApi(APIView):
    @extend_schema(responses=AuditRunOutput)
    def get(self, request: Request, pk: int) -> Response:
        _require_compliance_read(_user(request))
        return Response(AuditRunOutput(get_object_or_404(AuditRun.objects.select_related("started_by"), pk=pk)).data)
