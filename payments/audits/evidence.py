"""The evidence pack of a period: one ZIP with the wage comparison, the findings, the decision and appeal
statistics, and a manifest of every file's SHA-256 (rule 8).

The same period and ledger checkpoint give the same bytes: files are written in a fixed order
with a fixed timestamp, and nothing in them depends on when the pack was built, so the manifest
hash the page shows is the hash of the manifest inside the download.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from payments.audits.checks.base import wage_check_model
from payments.audits.checks.ledger import ledger_sums
from payments.audits.selectors import decision_statistics, finding_list, ledger_checkpoint
from payments.models import PayPeriod, PeriodStatus
from payments.reports.builder import ReportParams, checkpoint_now
from payments.reports.formats import HashingWriter, csv_write
from payments.services.close.periods import period_bounds
from tasks.services.exports import worker_pseudonym

# Zip entries carry a date; a fixed one keeps the pack's bytes the same on every download.
_ZIP_DATE = (2000, 1, 1, 0, 0, 0)
WAGE_FIELDS = (
    "paid_seconds",
    "earnings_minor",
    "topup_minor",
    "required_minor",
    "floor_hourly_minor",
    "effective_hourly_after_minor",
    "is_compliant",
    "status",
    "problem",
)


@dataclass(frozen=True)
class Pack:
    name: str
    content: bytes
    manifest_sha256: str


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _json(value: Any) -> bytes:
    return json.dumps(value, cls=DjangoJSONEncoder, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"


def _wage_rows(period: PayPeriod) -> bytes:
    """The close's floor comparison per contractor (pseudonymous), from ``WageCheck`` or else the ledger."""
    model = wage_check_model()
    rows: list[Any] = list(model._default_manager.filter(period=period).order_by("contractor_id")) if model else []
    if rows:
        return _csv(
            ["contractor", *WAGE_FIELDS],
            [[worker_pseudonym(r.contractor_id), *(getattr(r, f, "") for f in WAGE_FIELDS)] for r in rows],
        )
    sums = ledger_sums(period)
    return _csv(
        ["contractor", "earnings_minor", "topup_minor", "overtime_minor"],
        [[worker_pseudonym(c), e, t, o] for c, (e, t, o) in sorted(sums.items())],
    )


def _findings(period: PayPeriod) -> tuple[bytes, bytes]:
    findings = list(finding_list(period=period).order_by("pk"))
    fields = ["id", "check_code", "severity", "status", "title", "message", "first_seen_at", "last_seen_at"]
    fields += ["seen_count", "resolved_at", "resolution_note"]
    rows = [[getattr(f, name) for name in fields] for f in findings]
    as_json = [
        {**dict(zip(fields, row, strict=True)), "objects": f.object_refs} for row, f in zip(rows, findings, strict=True)
    ]
    return _csv(fields, rows), _json(as_json)


def _fair_wage_csv(period: PayPeriod) -> bytes:
    """The fair-wage report CSV of the period, byte for byte what the reports pages make at this checkpoint."""
    params = ReportParams(
        periods=(period.pk,), first_day=period.start, last_day=period.end - datetime.timedelta(days=1)
    )
    buffer = io.BytesIO()
    csv_write(params, checkpoint_now(), HashingWriter(buffer), progress=lambda rows, *, live=False: None)
    return buffer.getvalue()


def evidence_pack(*, period: PayPeriod) -> Pack:
    start, end = period_bounds(period)
    findings_csv, findings_json = _findings(period)
    files: dict[str, bytes] = {
        "wage_checks.csv": _wage_rows(period),
        "findings.csv": findings_csv,
        "findings.json": findings_json,
        "decisions_and_appeals.json": _json(decision_statistics(since=start, until=end)),
    }
    if period.status == PeriodStatus.CLOSED:
        files["fair_wage_report.csv"] = _fair_wage_csv(period)
    # The XLSX and PDF forms state when they were made, so they would change the pack's bytes on every
    # download; they are made on the reports pages, each with its own SHA-256.
    files["NOTE.txt"] = (
        b"fair_wage_report.csv is the fair-wage report of this period (pseudonymous ids, the ledger\r\n"
        b"checkpoint it reflects on its first lines). Its XLSX and PDF forms carry the time they were\r\n"
        b"made, so they are not part of this reproducible pack: make them on the reports pages, where\r\n"
        b"each file is listed with its SHA-256. wage_checks.csv holds the close's floor comparison.\r\n"
    )
    manifest = {
        "period": {"id": period.pk, "start": period.start, "end": period.end, "timezone": period.timezone},
        "ledger_checkpoint": ledger_checkpoint(),
        "files": {name: hashlib.sha256(content).hexdigest() for name, content in sorted(files.items())},
    }
    manifest_bytes = _json(manifest)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in [*sorted(files.items()), ("manifest.json", manifest_bytes)]:
            archive.writestr(zipfile.ZipInfo(name, date_time=_ZIP_DATE), content, compress_type=zipfile.ZIP_DEFLATED)
    return Pack(
        name=f"fairtask-evidence-{period.start:%Y-%m-%d}.zip",
        content=out.getvalue(),
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
    )
