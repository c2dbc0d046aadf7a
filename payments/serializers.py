"""Serializers of the compliance API (``payments/api.py``): pay periods, fair-wage reports, findings, audit runs."""

from __future__ import annotations

import datetime
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from payments.audits.checks import CHECKS
from payments.audits.models import AuditRun, Finding, FindingStatus, Severity
from payments.audits.selectors import period_summary
from payments.models import PayPeriod, PeriodStatus, Report, ReportFormat, ReportStatus
from payments.selectors import close_exceptions_open, close_run_status, period_entry_totals
from payments.services.rates import pay_currency

# Pay periods ----------------------------------------------------------------------------------


class CloseRunOutput(serializers.Serializer[dict[str, Any]]):
    """A close run as ``payments.selectors.close_run_status`` gives it, the same figures as the close page."""

    id = serializers.IntegerField()
    status = serializers.CharField()
    status_display = serializers.CharField()
    is_finished = serializers.BooleanField()
    is_retry = serializers.BooleanField()
    total = serializers.IntegerField(help_text="Contractors to close.")
    done = serializers.IntegerField(help_text="Contractors closed so far.")
    percent = serializers.IntegerField()
    entries_posted = serializers.IntegerField()
    exceptions = serializers.IntegerField(help_text="Contractors this run could not close.")
    attempts = serializers.IntegerField()
    updated_at = serializers.DateTimeField()
    error = serializers.CharField()


class PeriodSummaryOutput(serializers.Serializer[dict[str, Any]]):
    """A closed period's figures as the auditor portal shows them (``payments.audits.selectors.period_summary``)."""

    contractors = serializers.IntegerField()
    paid_seconds = serializers.IntegerField()
    hours = serializers.DecimalField(max_digits=20, decimal_places=2)
    earnings_minor = serializers.IntegerField(help_text="Earnings before top-up, in minor units of `currency`.")
    topups_minor = serializers.IntegerField(help_text="Wage-floor top-ups, in minor units of `currency`.")
    currency = serializers.CharField()
    compliant = serializers.IntegerField(allow_null=True, help_text="Contractors at or above the floor.")
    open_findings = serializers.IntegerField()


class PeriodTotalOutput(serializers.Serializer[dict[str, Any]]):
    kind = serializers.CharField()
    currency = serializers.CharField()
    entries = serializers.IntegerField()
    total_minor = serializers.IntegerField()


class PayPeriodOutput(serializers.ModelSerializer[PayPeriod]):
    """A pay period with its latest close run; ``context["runs"]`` maps period ids to that run."""

    last_day = serializers.SerializerMethodField()
    close = serializers.SerializerMethodField()

    class Meta:
        model = PayPeriod
        fields: tuple[str, ...] = (
            "id",
            "start",
            "end",
            "last_day",
            "timezone",
            "status",
            "closing_started_at",
            "closed_at",
            "close",
        )
        extra_kwargs = {"end": {"help_text": "Exclusive: the first day after the period."}}

    def get_last_day(self, obj: PayPeriod) -> datetime.date:
        return obj.end - datetime.timedelta(days=1)

    @extend_schema_field(CloseRunOutput(allow_null=True))
    def get_close(self, obj: PayPeriod) -> dict[str, Any] | None:
        run = self.context["runs"].get(obj.pk)
        return close_run_status(run=run) if run is not None else None


class PayPeriodDetailOutput(PayPeriodOutput):
    """One period, plus what its close produced: ledger totals, open exceptions and (once closed) the summary."""

    summary = serializers.SerializerMethodField()
    totals = serializers.SerializerMethodField()
    open_exceptions = serializers.SerializerMethodField()

    class Meta(PayPeriodOutput.Meta):
        fields = (*PayPeriodOutput.Meta.fields, "summary", "totals", "open_exceptions")

    @extend_schema_field(PeriodSummaryOutput(allow_null=True, help_text="Only for a closed period."))
    def get_summary(self, obj: PayPeriod) -> dict[str, Any] | None:
        if obj.status != PeriodStatus.CLOSED:
            return None
        summary = period_summary(period=obj)
        return dict(
            PeriodSummaryOutput(
                {
                    "contractors": summary.contractors,
                    "paid_seconds": summary.paid_seconds,
                    "hours": summary.hours,
                    "earnings_minor": summary.earnings_minor,
                    "topups_minor": summary.topups_minor,
                    "currency": pay_currency(),
                    "compliant": summary.compliant,
                    "open_findings": summary.open_findings,
                }
            ).data
        )

    @extend_schema_field(PeriodTotalOutput(many=True))
    def get_totals(self, obj: PayPeriod) -> list[dict[str, Any]]:
        return period_entry_totals(period=obj)

    def get_open_exceptions(self, obj: PayPeriod) -> int:
        """Contractors the close could not close yet (the latest finished run's exceptions)."""
        return len(close_exceptions_open(period=obj))


# Fair-wage reports ----------------------------------------------------------------------------


class CheckpointOutput(serializers.Serializer[Report]):
    """The last ledger entry a report reflects (null until the report is made)."""

    id = serializers.IntegerField(source="checkpoint_id", allow_null=True)
    at = serializers.DateTimeField(source="checkpoint_at", allow_null=True)


class ReportOutput(serializers.ModelSerializer[Report]):
    """What a report states about itself, in the names of its manifest, and where to get its file."""

    ledger_checkpoint = CheckpointOutput(source="*")
    made_at = serializers.DateTimeField(source="finished_at", allow_null=True, read_only=True)
    made_by = serializers.EmailField(source="created_by.email", read_only=True)
    fairtask_version = serializers.CharField(source="version", read_only=True)
    url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = (
            "id",
            "kind",
            "format",
            "parameters",
            "status",
            "progress",
            "rows",
            "size",
            "sha256",
            "ledger_checkpoint",
            "created_at",
            "made_at",
            "made_by",
            "fairtask_version",
            "summary",
            "error",
            "url",
            "download_url",
        )

    def get_url(self, obj: Report) -> str:
        return reverse("payments:api:report-detail", args=[obj.pk])

    def get_download_url(self, obj: Report) -> str | None:
        """The portal's download, which hands the file out only while it matches its SHA-256."""
        return reverse("payments:report-download", args=[obj.pk]) if obj.status == ReportStatus.DONE else None


# The last day a date range may end on: the service looks one day past it.
_LAST_DATE = datetime.date.max - datetime.timedelta(days=1)


class ReportRequestInput(serializers.Serializer[dict[str, Any]]):
    """A fair-wage report request: a closed period, or a date range; the service checks what they mean together."""

    period = serializers.PrimaryKeyRelatedField(
        queryset=PayPeriod.objects.all(),
        allow_null=True,
        default=None,
        help_text="A closed pay period's id; or leave it out and give date_from and date_to.",
        error_messages={
            "does_not_exist": _("There is no pay period {pk_value}; GET /api/v1/pay-periods/ lists them."),
        },
    )
    date_from = serializers.DateField(allow_null=True, default=None)
    date_to = serializers.DateField(allow_null=True, default=None)
    jurisdiction = serializers.CharField(
        allow_blank=True, default="", max_length=10, help_text="Optional: a country (US) or a region (US-CA)."
    )
    format = serializers.ChoiceField(choices=ReportFormat.choices, default=ReportFormat.CSV)
    real_names = serializers.BooleanField(default=False)

    def validate_date_to(self, value: datetime.date | None) -> datetime.date | None:
        if value is not None and value > _LAST_DATE:
            raise serializers.ValidationError(_("This date is out of range; give the last day the report covers."))
        return value


# Findings and audit runs ----------------------------------------------------------------------


class FindingOutput(serializers.ModelSerializer[Finding]):
    resolved_by = serializers.SerializerMethodField()

    class Meta:
        model = Finding
        fields = (
            "id",
            "check_code",
            "severity",
            "title",
            "message",
            "object_refs",
            "period",
            "status",
            "first_seen_at",
            "last_seen_at",
            "seen_count",
            "first_run",
            "last_run",
            "resolved_at",
            "resolved_by",
            "resolution_note",
        )

    def get_resolved_by(self, obj: Finding) -> str | None:
        return obj.resolved_by.email if obj.resolved_by else None


class FindingFilterInput(serializers.Serializer[dict[str, str]]):
    """The findings list's query parameters; an unknown value is a 400 naming the parameter."""

    status = serializers.ChoiceField(choices=FindingStatus.choices, allow_blank=True, default="")
    severity = serializers.ChoiceField(choices=Severity.choices, allow_blank=True, default="")
    check = serializers.ChoiceField(choices=[(c.code, c.title) for c in CHECKS], allow_blank=True, default="")


class FindingResolveInput(serializers.Serializer[dict[str, str]]):
    note = serializers.CharField(allow_blank=True, help_text="What was done about the finding; kept in the history.")


class AuditRunOutput(serializers.ModelSerializer[AuditRun]):
    started_by = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = AuditRun
        fields = (
            "id",
            "trigger",
            "period",
            "status",
            "started_at",
            "finished_at",
            "started_by",
            "checks",
            "new_findings",
            "error",
            "url",
        )

    def get_started_by(self, obj: AuditRun) -> str | None:
        return obj.started_by.email if obj.started_by else None

    def get_url(self, obj: AuditRun) -> str:
        return reverse("payments:api:audit-run-detail", args=[obj.pk])
