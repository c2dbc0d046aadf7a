"""Stored fair-wage reports (rule 8): what was asked, the ledger checkpoint, the file and its SHA-256.

These models are loaded by ``payments/models.py``; their app is ``payments``. A report's file
may be purged after ``FAIRTASK_REPORT_RETENTION_DAYS``, but the row (parameters, checkpoint
and hash) stays, so a copy kept elsewhere can still be checked against it.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _


class ReportKind(models.TextChoices):
    FAIR_WAGE = "fair_wage", _("Fair-wage report")


class ReportFormat(models.TextChoices):
    CSV = "csv", _("CSV")
    XLSX = "xlsx", _("Excel (XLSX)")
    PDF = "pdf", _("PDF")


class ReportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for a worker")
    RUNNING = "running", _("Running")
    DONE = "done", _("Ready")
    FAILED = "failed", _("Failed")
    PURGED = "purged", _("File removed after the retention period")


class Report(models.Model):
    """One requested report and, once made, its file: path, size, SHA-256 and the ledger checkpoint."""

    kind = models.CharField(max_length=20, choices=ReportKind.choices, default=ReportKind.FAIR_WAGE)
    parameters = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    format = models.CharField(max_length=5, choices=ReportFormat.choices)
    status = models.CharField(max_length=10, choices=ReportStatus.choices, default=ReportStatus.PENDING)
    progress = models.PositiveSmallIntegerField(default=0, help_text=_("Percent done, 0 to 100."))
    rows = models.PositiveIntegerField(default=0)
    file_path = models.CharField(max_length=500, blank=True, help_text=_("Relative to FAIRTASK_VAR_DIR/reports."))
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    checkpoint_id = models.BigIntegerField(null=True, blank=True, help_text=_("The last ledger entry it reflects."))
    checkpoint_at = models.DateTimeField(null=True, blank=True)
    version = models.CharField(max_length=40, blank=True, help_text=_("The Fairtask version that made it."))
    summary = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]
        permissions = (("view_real_names", "Can see contractors' real names in fair-wage reports"),)
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(kind__in=ReportKind.values), name="report_kind_valid"),
            models.CheckConstraint(condition=Q(format__in=ReportFormat.values), name="report_format_valid"),
            models.CheckConstraint(condition=Q(status__in=ReportStatus.values), name="report_status_valid"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="report_progress_percent"),
            # A finished report always names its file's hash: the hash is the report's evidence.
            models.CheckConstraint(
                condition=~Q(status__in=[ReportStatus.DONE, ReportStatus.PURGED]) | Q(sha256__regex=r"^[0-9a-f]{64}$"),
                name="report_done_has_sha256",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.format}, {self.get_status_display()})"

    @property
    def filename(self) -> str:
        return f"fair-wage-{self.pk}.{self.format}"
