"""The fair-wage report's files: CSV (streamed with COPY), XLSX (write-only) and PDF (WeasyPrint).

The CSV is evidence that can be recomputed: it opens with five ``name,value`` rows (the report,
its parameters as canonical JSON, the ledger checkpoint's id and time, the Fairtask version), a
blank row, then the table. It holds nothing that changes between two runs of the same request
at the same checkpoint (not the time it was made), so the same request gives the same bytes
and the same SHA-256; the time, the hash and the summary are on the report's manifest.
XLSX and PDF state the time they were made as well, on their summary sheet or page.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, BinaryIO, Protocol

from django.db import connection
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _

from payments.money import Money
from payments.reports.builder import (
    COLUMNS,
    HISTOGRAM_BINS,
    NUMERIC_COLUMNS,
    ROW_CHUNK,
    Checkpoint,
    Pseudonyms,
    ReportParams,
    SummaryLine,
    _currencies,
    _sql_params,
    fairtask_version,
    period_days,
    report_histogram,
    report_rows,
    rows_sql,
)


class Progress(Protocol):
    """Rows written so far; ``live`` while this session streams (only another session can record it)."""

    def __call__(self, rows: int, *, live: bool = False) -> None: ...


WRITE_BATCH = 5000


class HashingWriter:
    """A binary file that also keeps the SHA-256 and the size of everything written to it."""

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.target.write(data)

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()


@dataclass(frozen=True)
class Made:
    """What the writer that made a file knows about it."""

    rows: int


def lead_rows(params: ReportParams, checkpoint: Checkpoint) -> list[list[str]]:
    return [
        ["report", "fair_wage"],
        ["parameters", params.text()],
        ["ledger_checkpoint_id", str(checkpoint.entry_id)],
        ["ledger_checkpoint_at", checkpoint.text()],
        ["fairtask_version", fairtask_version()],
    ]


def csv_write(params: ReportParams, checkpoint: Checkpoint, out: HashingWriter, *, progress: Progress) -> Made:
    """Stream the CSV: PostgreSQL formats every row (COPY … CSV), Python only puts the pseudonym in front.

    One COPY per period, read row by row and written in batches, so memory stays flat whatever
    the size; progress is recorded every ``ROW_CHUNK`` rows (on the progress writer's own session).
    """
    head = io.StringIO()
    writer = csv.writer(head, lineterminator="\n")
    writer.writerows(lead_rows(params, checkpoint))
    writer.writerow([])
    writer.writerow(COLUMNS)
    out.write(head.getvalue().encode())
    sql = f"COPY ({rows_sql(params, _currencies(params))}) TO STDOUT WITH (FORMAT csv)"
    values = _sql_params(params)
    pseudonym = Pseudonyms()
    real = params.real_names
    total = 0
    with connection.cursor() as cursor:
        raw: Any = cursor.cursor
        for period, days in period_days(params).items():
            buffer: list[bytes] = []
            with raw.copy(sql, {**values, **days, "period": period, "after": 0}) as copy:
                for data in copy:  # PostgreSQL sends one COPY message per row
                    line = bytes(data)
                    cut = line.index(b",")
                    buffer.append(line[cut + 1 :] if real else pseudonym(line[:cut]) + line[cut:])
                    if len(buffer) >= WRITE_BATCH:
                        out.write(b"".join(buffer))
                        total += len(buffer)
                        buffer = []
                        if total % ROW_CHUNK == 0:
                            progress(total, live=True)  # this session is busy with the COPY
            out.write(b"".join(buffer))
            total += len(buffer)
            progress(total)
    return Made(rows=total)


# Summary as people read it ------------------------------------------------------------------------


def _money(minor: int | Decimal | None, currency: str, *, up: bool = False) -> str:
    """Whole minor units as money text; a fractional rate rounds down (or up, for a floor)."""
    if minor is None:
        return ""
    whole = math.ceil(minor) if up else math.floor(minor)
    return Money(int(whole), currency).format()


def _hours(seconds: int) -> str:
    return f"{Decimal(seconds) / 3600:.2f}"


def summary_table(summary: list[SummaryLine]) -> list[dict[str, str]]:
    """The summary's lines as text: what the XLSX's summary sheet and the PDF's tables show."""
    return [
        {
            "scope": _("All jurisdictions") if s.is_overall else (s.jurisdiction or _("(none yet)")),
            "currency": s.currency,
            "contractors": str(s.contractors),
            "paid_hours": _hours(s.paid_seconds),
            "earnings": _money(s.earnings_minor, s.currency),
            "topup": _money(s.topup_minor, s.currency),
            "overtime": _money(s.overtime_minor, s.currency),
            "median_before": _money(s.median_before_minor, s.currency),
            "p10_before": _money(s.p10_before_minor, s.currency),
            "median_after": _money(s.median_after_minor, s.currency),
            "p10_after": _money(s.p10_after_minor, s.currency),
            "below_floor_before": str(s.below_floor_before),
            "not_compliant": str(s.not_compliant),
            "pending": str(s.pending),
            "floor": _floor_range(s),
        }
        for s in summary
    ]


def _floor_range(s: SummaryLine) -> str:
    low, high = _money(s.floor_min_minor, s.currency, up=True), _money(s.floor_max_minor, s.currency, up=True)
    return low if low == high else f"{low} to {high}"


SUMMARY_HEADINGS = {
    "scope": _("Jurisdiction"),
    "currency": _("Currency"),
    "contractors": _("Contractors"),
    "paid_hours": _("Paid hours"),
    "earnings": _("Earnings before top-up"),
    "topup": _("Top-up total"),
    "overtime": _("Overtime premium"),
    "median_before": _("Median hourly before top-up"),
    "p10_before": _("10th percentile before top-up"),
    "median_after": _("Median hourly after top-up"),
    "p10_after": _("10th percentile after top-up"),
    "below_floor_before": _("Below the floor before top-up"),
    "not_compliant": _("Below the floor after top-up"),
    "pending": _("Pending (top-up waiting)"),
    "floor": _("Floor (pay currency)"),
}


def _about(params: ReportParams, checkpoint: Checkpoint, made_at: Any) -> list[tuple[str, str]]:
    return [
        (_("Report"), _("Fair-wage report")),
        (_("Parameters"), params.text()),
        (_("Pay periods"), f"{params.first_day.isoformat()} to {params.last_day.isoformat()}"),
        (_("Jurisdiction"), params.jurisdiction or _("all")),
        (_("Ledger checkpoint"), f"#{checkpoint.entry_id} at {checkpoint.text() or '-'}"),
        (_("Made at"), made_at.isoformat()),
        (_("Fairtask version"), fairtask_version()),
    ]


# XLSX ---------------------------------------------------------------------------------------------


def _cell(column: str, value: Any) -> Any:
    if value is None:
        return ""
    if column in NUMERIC_COLUMNS:
        return value if isinstance(value, (int, Decimal)) else Decimal(str(value))
    return str(value)


def xlsx_write(
    params: ReportParams,
    checkpoint: Checkpoint,
    out: HashingWriter,
    *,
    summary: list[SummaryLine],
    progress: Progress,
) -> Made:
    """A workbook in openpyxl's write-only mode (rows go straight to disk): "Summary" then "Rows"."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Summary"))
    for label, value in _about(params, checkpoint, timezone.now()):
        sheet.append([label, value])
    sheet.append([])
    sheet.append(list(SUMMARY_HEADINGS.values()))
    for line in summary_table(summary):
        sheet.append([line[key] for key in SUMMARY_HEADINGS])
    rows = book.create_sheet(_("Rows"))
    rows.append(list(COLUMNS))
    count = 0
    for row in report_rows(params):
        rows.append([_cell(column, value) for column, value in zip(COLUMNS, row, strict=True)])
        count += 1
        if count % ROW_CHUNK == 0:
            progress(count)
    buffer = io.BytesIO()  # openpyxl seeks in its target; the zip is small next to the rows it held
    book.save(buffer)
    out.write(buffer.getvalue())
    progress(count)
    return Made(rows=count)


# PDF ----------------------------------------------------------------------------------------------

PDF_ROWS_SHOWN = 300
CHART_W, CHART_H, MARGIN = 640, 260, 40


def chart_svg(params: ReportParams, summary: list[SummaryLine]) -> str:
    """An inline SVG: contractors by effective hourly rate before and after the top-up, and the floors."""
    overall = [s for s in summary if s.is_overall and s.floor_max_minor is not None]
    if not overall:
        return ""
    line = overall[0]
    currency = line.currency
    assert line.floor_max_minor is not None and line.floor_min_minor is not None
    top = max(1, math.ceil(line.floor_max_minor * Decimal("2.5")))
    width = max(1, -(-top // HISTOGRAM_BINS))
    counts = report_histogram(params, currency=currency, width_minor=width)
    bins = HISTOGRAM_BINS + 1
    highest = max(max(counts["before"]), max(counts["after"]), 1)
    step = (CHART_W - 2 * MARGIN) / bins
    plot_h = CHART_H - 2 * MARGIN

    def x(minor: Decimal | int) -> float:
        return MARGIN + min(float(Decimal(minor) / width), bins) * step

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_W}" height="{CHART_H}" role="img" '
        f'aria-label="{escape(_("Contractors by effective hourly rate, before and after the top-up"))}">',
        f'<line x1="{MARGIN}" y1="{CHART_H - MARGIN}" x2="{CHART_W - MARGIN}" y2="{CHART_H - MARGIN}" stroke="#333"/>',
    ]
    for i in range(bins):
        for offset, key, colour in ((0.05, "before", "#b0b0b0"), (0.5, "after", "#1f5fa8")):
            h = plot_h * counts[key][i] / highest
            parts.append(
                f'<rect x="{MARGIN + (i + offset) * step:.1f}" y="{CHART_H - MARGIN - h:.1f}" '
                f'width="{step * 0.45:.1f}" height="{h:.1f}" fill="{colour}"/>'
            )
        if i % 5 == 0:
            parts.append(
                f'<text x="{MARGIN + i * step:.1f}" y="{CHART_H - MARGIN + 14}" font-size="9">'
                f"{escape(_money(i * width, currency))}</text>"
            )
    for floor, label in ((line.floor_min_minor, _("lowest floor")), (line.floor_max_minor, _("highest floor"))):
        fx = x(floor)
        parts.append(
            f'<line x1="{fx:.1f}" y1="{MARGIN}" x2="{fx:.1f}" y2="{CHART_H - MARGIN}" stroke="#c0392b" '
            'stroke-dasharray="4 3"/>'
        )
        parts.append(
            f'<text x="{fx + 3:.1f}" y="{MARGIN - 4 if label == _("highest floor") else MARGIN + 10}" '
            f'font-size="9" fill="#c0392b">{escape(label)} {escape(_money(floor, currency, up=True))}</text>'
        )
    parts.append(
        f'<text x="{MARGIN}" y="{CHART_H - 6}" font-size="9">{escape(_("grey: before top-up; blue: after"))}'
        f" ({currency}/h, {escape(_('last bar: and above'))})</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def pdf_write(
    params: ReportParams,
    checkpoint: Checkpoint,
    out: HashingWriter,
    *,
    summary: list[SummaryLine],
    progress: Progress,
) -> Made:
    """Summary, the per-jurisdiction table, the chart, and the contractors who needed a top-up or wait for one."""
    from weasyprint import HTML

    shown: list[tuple[Any, ...]] = []
    count = flagged = 0
    below = COLUMNS.index("below_floor_before_topup")
    status = COLUMNS.index("status")
    for row in report_rows(params):
        count += 1
        if row[below] == "yes" or row[status] == "pending":
            flagged += 1
            if len(shown) < PDF_ROWS_SHOWN:
                shown.append(row)
        if count % ROW_CHUNK == 0:
            progress(count)
    picked = [COLUMNS.index(c) for c in PDF_COLUMNS]
    context = {
        "about": _about(params, checkpoint, timezone.now()),
        "headings": list(SUMMARY_HEADINGS.values()),
        "summary": [list(line.values()) for line in summary_table(summary)],
        "chart": chart_svg(params, summary),
        "columns": PDF_COLUMNS,
        "rows": [[row[i] if row[i] is not None else "" for i in picked] for row in shown],
        "flagged": flagged,
        "shown": len(shown),
        "total": count,
    }
    html = render_to_string("payments/report_fair_wage_pdf.html", context)
    out.write(HTML(string=html).write_pdf())
    progress(count)
    return Made(rows=count)


PDF_COLUMNS = (
    "contractor",
    "period_start",
    "jurisdiction",
    "paid_hours",
    "gross_earnings",
    "topup",
    "effective_hourly_before",
    "effective_hourly_after",
    "floor_hourly",
    "status",
)
