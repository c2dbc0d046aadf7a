"""Fair-wage reports: request, make (the Celery job), verify against the stored hash, purge (rules 8, 10).

Who may: operations managers and compliance auditors. Auditors are read-only everywhere
else, but asking for a report is part of their job, so the request form takes their POST;
it writes only the ``Report`` row and the file, never anything about people or money.
Contractors never see reports (403).
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections, transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from payments.models import PayPeriod, Report, ReportFormat, ReportKind, ReportStatus
from payments.reports.builder import (
    ReportParams,
    checkpoint_now,
    fairtask_version,
    report_params_check,
    report_summary,
    row_count,
)
from payments.reports.formats import HashingWriter, Made, csv_write, pdf_write, xlsx_write
from workforce.audit import audit_record
from workforce.models import User

logger = logging.getLogger(__name__)
MAX_ERROR_CHARS = 2000
HASH_BLOCK = 1 << 20


def reports_access_check(user: Any) -> User:
    """Operations managers and auditors may make and download reports; anyone else gets 403."""
    if not isinstance(user, User) or not (user.is_operations or user.is_auditor):
        raise PermissionDenied(_("Fair-wage reports are for operations managers and compliance auditors."))
    return user


def may_see_real_names(user: User) -> bool:
    return bool(settings.FAIRTASK_REPORT_REAL_NAMES) and user.has_perm("payments.view_real_names")


def report_for_user(user: Any, pk: int) -> Report:
    reports_access_check(user)
    return get_object_or_404(Report.objects.select_related("created_by"), pk=pk)


def reports_dir() -> Path:
    return Path(settings.FAIRTASK_REPORT_DIR)


def report_file(report: Report) -> Path:
    return reports_dir() / report.file_path


@transaction.atomic
def report_request(
    *,
    actor: User,
    format: str,
    period: PayPeriod | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    jurisdiction: str = "",
    real_names: bool = False,
) -> Report:
    """Check a request and record a pending ``Report``; a worker makes it (``report_run``) after commit.

    Bad input raises ``ValidationError`` on its field and records nothing.
    """
    reports_access_check(actor)
    if format not in ReportFormat.values:
        raise ValidationError({"format": _("Choose CSV, XLSX or PDF.")})
    params = report_params_check(
        period=period,
        date_from=date_from,
        date_to=date_to,
        jurisdiction=jurisdiction,
        real_names=real_names,
        may_see_names=may_see_real_names(actor),
    )
    report = Report.objects.create(
        kind=ReportKind.FAIR_WAGE, parameters=params.as_json(), format=format, created_by=actor
    )
    audit_record(actor=actor, action="report.request", obj=report, summary={"format": format, **params.as_json()})
    return report


class _ProgressWriter:
    """Records a report's progress on its own database session, so others see it while the report reads.

    The report itself reads inside one REPEATABLE READ transaction (a consistent snapshot at its
    checkpoint); an update made in that transaction would stay invisible until the end.
    """

    def __init__(self, report_id: int, total: int, *, separate: bool) -> None:
        self.report_id = report_id
        self.total = max(total, 1)
        self.last = -1
        self.db = connections.create_connection("default") if separate else None

    def __call__(self, rows: int, *, live: bool = False) -> None:
        percent = min(99, 5 + int(90 * rows / self.total))
        if percent == self.last or (live and self.db is None):
            return
        self.last = percent
        if self.db is None:  # inside a caller's transaction (a test): the same session sees it
            Report.objects.filter(pk=self.report_id).update(progress=percent)
            return
        with self.db.cursor() as cursor:
            cursor.execute("UPDATE payments_report SET progress = %s WHERE id = %s", [percent, self.report_id])

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def _claim(report_id: int) -> Report | None:
    with transaction.atomic():
        report = Report.objects.select_for_update().get(pk=report_id)
        if report.status not in (ReportStatus.PENDING, ReportStatus.RUNNING):
            return None  # made, failed or purged: a second delivery of the job does nothing
        report.status = ReportStatus.RUNNING
        report.progress = 1
        report.error = ""
        report.save(update_fields=["status", "progress", "error"])
        return report


def _make(report: Report, params: ReportParams, target: Path) -> tuple[Made, HashingWriter, Any, Any]:
    """Write the file from one consistent snapshot; return what was written and the checkpoint it reflects."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            # Rows and checkpoint from one snapshot, so a close posting meanwhile changes neither.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        checkpoint = checkpoint_now()
        progress = _ProgressWriter(report.pk, row_count(params), separate=outermost)
        try:
            with target.open("wb") as handle:
                out = HashingWriter(handle)
                summary = report_summary(params)
                if report.format == ReportFormat.CSV:
                    made = csv_write(params, checkpoint, out, progress=progress)
                elif report.format == ReportFormat.XLSX:
                    made = xlsx_write(params, checkpoint, out, summary=summary, progress=progress)
                else:
                    made = pdf_write(params, checkpoint, out, summary=summary, progress=progress)
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            progress.close()
    return made, out, checkpoint, summary


def report_run(*, report_id: int) -> Report:
    """Make a requested report's file, hash it and record where it is (the job; safe to run twice).

    The file is written under a temporary name and renamed when complete, so a crash never
    leaves a half file behind a "done" row. An error is recorded on the report (final, no retry).
    """
    report = _claim(report_id)
    if report is None:
        return Report.objects.get(pk=report_id)
    params = ReportParams.from_json(report.parameters)
    folder = reports_dir() / f"{report.created_at:%Y/%m}"
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / report.filename
    partial = folder / f".{report.filename}.partial"
    try:
        made, out, checkpoint, summary = _make(report, params, partial)
        partial.replace(final)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        Report.objects.filter(pk=report.pk).update(
            status=ReportStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        )
        logger.exception("Report %s failed.", report.pk)
        raise
    report.status = ReportStatus.DONE
    report.progress = 100
    report.rows = made.rows
    report.file_path = str(final.relative_to(reports_dir()))
    report.sha256 = out.sha256
    report.size = out.size
    report.checkpoint_id = checkpoint.entry_id
    report.checkpoint_at = checkpoint.at
    report.version = fairtask_version()
    report.summary = {"lines": [line.as_json() for line in summary]}
    report.finished_at = timezone.now()
    report.save()
    return report


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class ReportFileProblem(Exception):
    """The stored file cannot be handed out: gone, or not the file whose hash was recorded."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def report_verify(*, report: Report) -> Path:
    """The report's file, if its SHA-256 is still the recorded one; ``ReportFileProblem`` says why not."""
    if report.status == ReportStatus.PURGED:
        raise ReportFileProblem(
            "purged",
            _(
                "This report's file was removed after the retention period; its SHA-256 is still shown, so a "
                "copy kept elsewhere can be checked against it. Make the report again for a new copy."
            ),
        )
    if report.status != ReportStatus.DONE:
        raise ReportFileProblem("not_ready", _("This report is not ready yet; its page shows its progress."))
    path = report_file(report)
    if not path.is_file():
        raise ReportFileProblem("missing", _("This report's file is missing from the server; make it again."))
    found = file_sha256(path)
    if found != report.sha256:
        raise ReportFileProblem(
            "tampered",
            _(
                "The stored file does not match its recorded SHA-256 (recorded %(recorded)s, found %(found)s): it "
                "was changed after it was made. It is not handed out; make the report again and tell the "
                "security contact."
            )
            % {"recorded": report.sha256, "found": found},
        )
    return path


def report_manifest(*, report: Report) -> dict[str, Any]:
    """What the report states about itself, including what cannot be inside the CSV (its time and hash)."""
    return {
        "report": report.kind,
        "id": report.pk,
        "format": report.format,
        "parameters": report.parameters,
        "ledger_checkpoint": {
            "id": report.checkpoint_id,
            "at": report.checkpoint_at.isoformat() if report.checkpoint_at else None,
        },
        "made_at": report.finished_at.isoformat() if report.finished_at else None,
        "made_by": report.created_by.email,
        "fairtask_version": report.version,
        "file": report.filename,
        "rows": report.rows,
        "size": report.size,
        "sha256": report.sha256,
        "status": report.status,
        "summary": report.summary,
    }


def reports_purge(*, now: datetime.datetime | None = None) -> int:
    """Remove files older than ``FAIRTASK_REPORT_RETENTION_DAYS``; keep each row with its hash. Returns the count."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=settings.FAIRTASK_REPORT_RETENTION_DAYS)
    purged = 0
    for report in Report.objects.filter(status=ReportStatus.DONE, created_at__lt=cutoff).iterator():
        report_file(report).unlink(missing_ok=True)
        Report.objects.filter(pk=report.pk, status=ReportStatus.DONE).update(
            status=ReportStatus.PURGED, purged_at=timezone.now()
        )
        purged += 1
    return purged
