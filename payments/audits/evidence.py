"""The evidence pack of a period: one ZIP with the period's fair-wage report as CSV, XLSX and PDF, the wage
comparison, the findings, the decision and appeal statistics, and a manifest of every file's SHA-256 (rule 8).

The three reports are stored ``Report`` files, the ones the reports pages list with their hashes:
for each format, the first report made for this period's parameters at the current ledger
checkpoint whose file still matches its hash. A missing one is made when the pack is built,
in this process, by the report service the worker runs (``report_request`` then
``report_run``). The XLSX and the PDF state when they were made, so each is made once per
checkpoint and then reused: every pack built at that checkpoint holds the same files.

The other members are written in a fixed order with a fixed timestamp and hold nothing that depends
on when the pack was built, so two downloads at the same checkpoint are the same bytes (unless a
finding or an appeal changed in between), and the manifest hash the page shows is the hash of the
manifest inside the download.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils.translation import gettext as _

from payments.audits.checks.ledger import ledger_sums
from payments.audits.selectors import decision_statistics, finding_list
from payments.models import PayPeriod, PeriodStatus, Report, ReportFormat, ReportKind, ReportStatus, WageCheck
from payments.reports.builder import Checkpoint, ReportParams, checkpoint_now, report_params_check
from payments.reports.services import (
    HASH_BLOCK,
    ReportFileProblem,
    report_file,
    report_request,
    report_run,
    report_verify,
)
from payments.services.close.periods import period_bounds
from tasks.services.exports import worker_pseudonym
from workforce.models import User

# Zip entries carry a date; a fixed one keeps the pack's bytes the same on every download.
_ZIP_DATE = (2000, 1, 1, 0, 0, 0)
_MEMBER_MODE = 0o644 << 16  # a plain readable file once unpacked
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
PACK_FORMATS: tuple[str, ...] = (ReportFormat.CSV, ReportFormat.XLSX, ReportFormat.PDF)
# XLSX and PDF are compressed inside already; deflating them again only costs time.
_STORED_AS_IS = frozenset({ReportFormat.XLSX, ReportFormat.PDF})
# Names "the evidence pack of period N" among PostgreSQL advisory locks (two-int form: namespace, period id).
_LOCK_NAMESPACE = 0x0E71DE
# Rounds of "make the missing reports" before giving up on a ledger that keeps growing meanwhile.
_ROUNDS = 2
NOTE = (
    b"fair_wage_report.csv, fair_wage_report.xlsx and fair_wage_report.pdf are this period's fair-wage\r\n"
    b"report (pseudonymous ids) in its three formats. Each is the stored file of a report listed under\r\n"
    b'"reports" in manifest.json, with its report id, parameters, ledger checkpoint, the time it was made\r\n'
    b"and its SHA-256, the hash the reports pages show for it. A pack uses the reports made for this\r\n"
    b"period at the ledger checkpoint it names; the first download at a new checkpoint makes any that\r\n"
    b"are missing, and later downloads reuse them, so packs built at the same checkpoint are identical\r\n"
    b"byte for byte while the findings and appeals listed here stay as they are. wage_checks.csv holds\r\n"
    b"the close's floor comparison.\r\n"
)


class PackProblem(Exception):
    """The pack cannot be put together now; ``message`` says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class PackReports:
    """The period's fair-wage report per format at one ledger checkpoint (``None``: not made yet)."""

    checkpoint: Checkpoint
    reports: dict[str, Report | None]

    @property
    def is_complete(self) -> bool:
        return all(report is not None for report in self.reports.values())


@dataclass(frozen=True)
class Pack:
    name: str
    content: bytes
    manifest_sha256: str


def report_member(fmt: str) -> str:
    return f"fair_wage_report.{fmt}"


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
    rows = list(WageCheck.objects.filter(period=period).order_by("contractor_id"))
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


# The period's stored reports ---------------------------------------------------------------------


def _stored(params: ReportParams, fmt: str, checkpoint: Checkpoint) -> Report | None:
    """The first report of this request made at the checkpoint whose file still matches its SHA-256."""
    made = Report.objects.filter(
        kind=ReportKind.FAIR_WAGE,
        format=fmt,
        status=ReportStatus.DONE,
        checkpoint_id=checkpoint.entry_id,
        parameters=params.as_json(),
    )
    # The first finished, not the newest: a later copy of the same report must not change the pack.
    for report in made.order_by("finished_at", "pk"):
        try:
            report_verify(report=report)
        except ReportFileProblem:
            continue  # gone or changed since it was made: no evidence; a later copy or a new one stands in
        return report
    return None


@contextmanager
def _pack_lock(period_id: int) -> Iterator[None]:
    """Build one period's pack at a time (on PostgreSQL): two first downloads at once, a double click say,
    then make each missing report once, and the second finds the first's reports."""
    if connection.vendor != "postgresql":
        yield  # SQLite (make run) has one writer at a time anyway
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, period_id])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, period_id])


def _make(*, actor: User, period: PayPeriod, fmt: str) -> None:
    report = report_request(actor=actor, format=fmt, period=period)
    try:
        report_run(report_id=report.pk)
    except Exception as exc:  # recorded on the report and logged by report_run; the auditor gets a reason
        raise PackProblem(
            _(
                "The %(format)s form of this week's fair-wage report could not be made (report #%(id)s: "
                "%(error)s), so the evidence pack is not complete. Try again; if it fails again, tell an "
                "operations manager."
            )
            % {"format": fmt.upper(), "id": report.pk, "error": type(exc).__name__}
        ) from exc


def pack_reports(*, period: PayPeriod, actor: User | None = None) -> PackReports:
    """The period's fair-wage report in each format at the current ledger checkpoint.

    With an ``actor`` (who may make reports), any that is missing is requested in their name and
    made now, synchronously; without one nothing is written and a missing report stays ``None``.
    A period that is not closed has no report. ``PackProblem`` if a report cannot be made, or if
    the ledger keeps growing while they are made (a close or a payout run is posting).
    """
    if period.status != PeriodStatus.CLOSED:
        return PackReports(checkpoint_now(), {})
    params = report_params_check(period=period)  # what the reports page's request for this week resolves to
    if actor is None:
        checkpoint = checkpoint_now()
        return PackReports(checkpoint, {fmt: _stored(params, fmt, checkpoint) for fmt in PACK_FORMATS})
    with _pack_lock(period.pk):
        for _round in range(_ROUNDS):
            checkpoint = checkpoint_now()
            found = {fmt: _stored(params, fmt, checkpoint) for fmt in PACK_FORMATS}
            if all(found.values()):
                return PackReports(checkpoint, found)
            for fmt, report in found.items():
                if report is None:
                    _make(actor=actor, period=period, fmt=fmt)
            # Looked up again rather than taken as made: a worker may have finished a copy of the same request
            # first, and if the ledger grew meanwhile the new reports are at a later checkpoint (next round).
            found = {fmt: _stored(params, fmt, checkpoint) for fmt in PACK_FORMATS}
            if all(found.values()):
                return PackReports(checkpoint, found)
    raise PackProblem(
        _(
            "The ledger changed while this week's reports were being made, so they would not describe one "
            "checkpoint. A close or a payout run is probably posting; download the pack again when it has finished."
        )
    )


# The pack -------------------------------------------------------------------------------------------


def _report_facts(report: Report) -> dict[str, Any]:
    """What the manifest says about a report member: enough to find its row and check it."""
    return {
        "report_id": report.pk,
        "format": report.format,
        "parameters": report.parameters,
        "ledger_checkpoint_id": report.checkpoint_id,
        "ledger_checkpoint_at": report.checkpoint_at,
        "made_at": report.finished_at,
        "fairtask_version": report.version,
        "rows": report.rows,
        "size": report.size,
        "sha256": report.sha256,
    }


def _contents(period: PayPeriod, found: PackReports) -> tuple[dict[str, bytes], bytes]:
    """The small members, written here, and the manifest over them and the stored reports."""
    start, end = period_bounds(period)
    findings_csv, findings_json = _findings(period)
    files: dict[str, bytes] = {
        "wage_checks.csv": _wage_rows(period),
        "findings.csv": findings_csv,
        "findings.json": findings_json,
        "decisions_and_appeals.json": _json(decision_statistics(since=start, until=end)),
    }
    if found.reports:
        files["NOTE.txt"] = NOTE
    reports = {report_member(fmt): report for fmt, report in found.reports.items() if report is not None}
    hashes = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
    hashes.update({name: report.sha256 for name, report in reports.items()})
    manifest = {
        "period": {"id": period.pk, "start": period.start, "end": period.end, "timezone": period.timezone},
        "ledger_checkpoint": found.checkpoint.entry_id,
        "ledger_checkpoint_at": found.checkpoint.at,
        "reports": {name: _report_facts(report) for name, report in sorted(reports.items())},
        "files": dict(sorted(hashes.items())),
    }
    return files, _json(manifest)


def evidence_manifest_sha256(*, period: PayPeriod) -> tuple[PackReports, str | None]:
    """The period's reports as they stand, and the hash of the pack's manifest if it can be told without
    making anything (every report exists at the current checkpoint); ``None`` otherwise. Writes nothing."""
    found = pack_reports(period=period)
    if not found.is_complete:
        return found, None
    _files, manifest = _contents(period, found)
    return found, hashlib.sha256(manifest).hexdigest()


def _info(name: str, *, deflate: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    info.external_attr = _MEMBER_MODE
    return info


def _copy_report(archive: zipfile.ZipFile, name: str, report: Report) -> None:
    """Copy the stored file in blocks, checking it is still the one whose hash the manifest names."""
    digest = hashlib.sha256()
    info = _info(name, deflate=report.format not in _STORED_AS_IS)
    with report_file(report).open("rb") as source, archive.open(info, "w") as target:
        while block := source.read(HASH_BLOCK):
            digest.update(block)
            target.write(block)
    if digest.hexdigest() != report.sha256:
        raise PackProblem(
            _("Report #%(id)s's file changed while the pack was made; it was left out. Download the pack again.")
            % {"id": report.pk}
        )


def evidence_pack(*, period: PayPeriod, actor: User) -> Pack:
    """The ZIP, making any of the period's reports missing at the current checkpoint in ``actor``'s name."""
    found = pack_reports(period=period, actor=actor)
    files, manifest = _contents(period, found)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        members: dict[str, bytes | Report] = {**files}
        members.update({report_member(fmt): r for fmt, r in found.reports.items() if r is not None})
        for name, member in sorted(members.items()):
            if isinstance(member, Report):
                _copy_report(archive, name, member)
            else:
                archive.writestr(_info(name, deflate=True), member)
        archive.writestr(_info("manifest.json", deflate=True), manifest)
    return Pack(
        name=f"fairtask-evidence-{period.start:%Y-%m-%d}.zip",
        content=out.getvalue(),
        manifest_sha256=hashlib.sha256(manifest).hexdigest(),
    )
