"""Audit runs and their findings: what a check found wrong, since when, and who resolved it with which note.

A finding is identified by its ``fingerprint`` (the check and the objects it is about). The
database allows one OPEN finding per fingerprint, so running the audit again updates the open
finding's ``last_seen_at`` rather than adding a copy; a resolved finding stays in the history,
and the same problem coming back later opens a new one.

These models are loaded by the last lines of ``payments/models.py``; their app is ``payments``.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _


class AuditTrigger(models.TextChoices):
    DAILY = "daily", _("Daily job")
    AFTER_CLOSE = "after_close", _("After a period close")
    MANUAL = "manual", _("Started by hand")


class AuditRunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Stopped by an error")


class AuditRun(models.Model):
    """One run of every registered check; ``checks`` holds, per check code, its counts (and any error)."""

    trigger = models.CharField(max_length=20, choices=AuditTrigger.choices)
    period = models.ForeignKey(
        "payments.PayPeriod", on_delete=models.PROTECT, null=True, blank=True, related_name="audit_runs"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(default=dj_timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=AuditRunStatus.choices, default=AuditRunStatus.RUNNING)
    checks = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    new_findings = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-started_at", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(trigger__in=AuditTrigger.values), name="auditrun_trigger_valid"),
            models.CheckConstraint(condition=Q(status__in=AuditRunStatus.values), name="auditrun_status_valid"),
            models.CheckConstraint(
                condition=Q(status=AuditRunStatus.RUNNING) | Q(finished_at__isnull=False),
                name="auditrun_finished_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Audit run #{self.pk} ({self.get_trigger_display()}, {self.get_status_display()})"


class Severity(models.TextChoices):
    INFO = "info", _("Info")
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")


class FindingStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")


class Finding(models.Model):
    """Something an audit check found wrong, in plain words with its numbers, and the objects it concerns."""

    check_code = models.CharField(max_length=50)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    title = models.CharField(max_length=200)
    message = models.TextField()
    # The objects it is about, ``[{type, id, label}, …]`` (not named ``objects``: that is the manager).
    object_refs = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder)
    fingerprint = models.CharField(max_length=200)
    period = models.ForeignKey(
        "payments.PayPeriod", on_delete=models.PROTECT, null=True, blank=True, related_name="findings"
    )
    first_seen_at = models.DateTimeField(default=dj_timezone.now)
    last_seen_at = models.DateTimeField(default=dj_timezone.now)
    seen_count = models.PositiveIntegerField(default=1)
    first_run = models.ForeignKey(AuditRun, on_delete=models.PROTECT, related_name="findings_opened")
    last_run = models.ForeignKey(AuditRun, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=FindingStatus.choices, default=FindingStatus.OPEN)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-last_seen_at", "-id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["status", "severity"], name="finding_status_severity"),
            models.Index(fields=["check_code", "status"], name="finding_check_status"),
        ]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            # Re-running the audit finds the open row and updates it; it never opens a second.
            models.UniqueConstraint(
                fields=["fingerprint"], condition=Q(status="open"), name="finding_one_open_per_fingerprint"
            ),
            models.CheckConstraint(condition=Q(severity__in=Severity.values), name="finding_severity_valid"),
            models.CheckConstraint(condition=Q(status__in=FindingStatus.values), name="finding_status_valid"),
            models.CheckConstraint(condition=Q(message__regex=r"\S"), name="finding_has_message"),
            models.CheckConstraint(
                condition=Q(status="open")
                | (Q(resolved_by__isnull=False, resolved_at__isnull=False) & Q(resolution_note__regex=r"\S")),
                name="finding_resolved_has_note_and_resolver",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_severity_display()} {self.check_code}: {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status == FindingStatus.OPEN


# What ``payments/models.py`` re-exports: the models only, so Django finds them.
__all__ = ["AuditRun", "Finding"]
