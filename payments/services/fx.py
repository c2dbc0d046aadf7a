"""Loading FX rates from a CSV file, all or nothing (rule 10).

The file (header ``date,base,quote,rate`` and an optional ``source``) is read once, row by
row. Every row is checked; good rows are written in chunks inside ONE transaction while the
file is read, and any problem rolls the whole file back after up to 100 problems have been
collected, so a rejected file changes nothing. A rate already stored for the same date and
pair is replaced by the file's (a correction), and the audit event lists what changed.
"""

from __future__ import annotations

import csv
import datetime
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.db import transaction
from django.utils.translation import gettext as _

from payments.models import FxRate
from payments.money import currency_check
from workforce.audit import audit_record
from workforce.models import User

COLUMNS = ("date", "base", "quote", "rate", "source")
REQUIRED = ("date", "base", "quote", "rate")
MAX_PROBLEMS = 100
PROGRESS_EVERY_ROWS = 1000
WRITE_CHUNK = 1000
CHANGES_IN_AUDIT = 100
_RATE_PLACES = 10  # FxRate.rate: max_digits 20, decimal_places 10
_RATE_WHOLE_DIGITS = 10
_SOURCE_MAX = 200  # FxRate.source's max_length
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

PairKey = tuple[datetime.date, str, str]


@dataclass(frozen=True)
class FxProblem:
    """One problem: ``row`` counts data rows from 1 after the header (None: the file or its header)."""

    row: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "header"
        return f"{where}, field {self.field}: {self.message}"


class FxFileRejected(Exception):
    """The file had problems; nothing was written. ``problems`` lists at most ``MAX_PROBLEMS``."""

    def __init__(self, problems: list[FxProblem], rows_read: int) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems
        self.rows_read = rows_read


@dataclass
class FxLoadResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    changes: list[dict[str, Any]] = field(default_factory=list)


ProgressCallback = Callable[[int], None]


def _header_problems(columns: list[str]) -> list[FxProblem]:
    if not set(REQUIRED) & set(columns):
        return [
            FxProblem(
                None,
                "header",
                _("The first line must be the header date,base,quote,rate (and optionally source); it reads: %(h)s.")
                % {"h": ",".join(columns)},
            )
        ]
    problems = [
        FxProblem(
            None,
            col or _("(empty)"),
            _("Unknown column in the header; the columns are: %(cols)s.") % {"cols": ", ".join(COLUMNS)},
        )
        for col in columns
        if col not in COLUMNS
    ]
    problems += [
        FxProblem(None, col, _("This column appears twice in the header."))
        for col in sorted({c for c in columns if columns.count(c) > 1})
    ]
    problems += [
        FxProblem(
            None, col, _("The header has no “%(col)s” column; it needs date, base, quote and rate.") % {"col": col}
        )
        for col in REQUIRED
        if col not in columns
    ]
    return problems


def _date(n: int, text: str, problems: list[FxProblem]) -> datetime.date | None:
    if not text:
        problems.append(FxProblem(n, "date", _("The date is missing; write it as YYYY-MM-DD.")))
        return None
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        return datetime.date.fromisoformat(text)
    except ValueError:
        problems.append(
            FxProblem(
                n, "date", _("“%(text)s” is not a date; write it as YYYY-MM-DD, e.g. 2026-01-31.") % {"text": text}
            )
        )
        return None


def _currency(n: int, column: str, text: str, problems: list[FxProblem]) -> str | None:
    if not text:
        problems.append(FxProblem(n, column, _("The currency is missing; write an ISO 4217 code such as EUR.")))
        return None
    try:
        return currency_check(text)
    except ValueError as exc:
        problems.append(FxProblem(n, column, str(exc)))
        return None


def _rate(n: int, text: str, problems: list[FxProblem]) -> Decimal | None:
    if not text:
        problems.append(FxProblem(n, "rate", _("The rate is missing; write how many quote units one base unit buys.")))
        return None
    try:
        rate = Decimal(text)
        if not rate.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        problems.append(
            FxProblem(
                n, "rate", _("“%(text)s” is not a number; write the rate with a point, e.g. 1.0842.") % {"text": text}
            )
        )
        return None
    if rate <= 0:
        problems.append(FxProblem(n, "rate", _("The rate must be above zero; “%(text)s” is not.") % {"text": text}))
        return None
    exponent = rate.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > _RATE_PLACES:
        problems.append(
            FxProblem(
                n, "rate", _("“%(text)s” has more than %(n)d decimal places.") % {"text": text, "n": _RATE_PLACES}
            )
        )
        return None
    if rate.adjusted() >= _RATE_WHOLE_DIGITS:
        problems.append(
            FxProblem(
                n,
                "rate",
                _("“%(text)s” is too large: at most %(n)d digits before the point.")
                % {"text": text, "n": _RATE_WHOLE_DIGITS},
            )
        )
        return None
    return rate


def _rows(stream: IO[str], problems: list[FxProblem]) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, cells by column) for each data row; reading problems go to ``problems``."""
    reader = csv.reader(stream)
    n = 0
    try:
        header = next(reader, None)
        if header is None:
            problems.append(FxProblem(None, "file", _("The file is empty; it needs the header date,base,quote,rate.")))
            return
        columns = [h.strip().lower() for h in header]
        header_problems = _header_problems(columns)
        if header_problems:
            problems.extend(header_problems)
            return
        for cells in reader:
            n += 1
            if not any(c.strip() for c in cells):
                continue  # a blank line still counts as a row, as in a spreadsheet
            if len(cells) != len(columns):
                problems.append(
                    FxProblem(
                        n,
                        "row",
                        _("This row has %(got)d values for %(want)d columns (%(cols)s).")
                        % {"got": len(cells), "want": len(columns), "cols": ", ".join(columns)},
                    )
                )
                continue
            yield n, {col: cell.strip() for col, cell in zip(columns, cells, strict=True)}
    except csv.Error as exc:
        problems.append(FxProblem(n + 1, "row", _("This row cannot be read as CSV (%(error)s).") % {"error": exc}))
    except UnicodeDecodeError:
        problems.append(FxProblem(n + 1, "file", _("The file is not UTF-8 text; save it as UTF-8.")))


def _write(chunk: list[FxRate], result: FxLoadResult) -> None:
    """Insert new rates and replace changed ones; count each kind for the summary."""
    if not chunk:
        return
    stored = {
        (r.date, r.base, r.quote): r.rate
        for r in FxRate.objects.filter(
            date__in={r.date for r in chunk}, base__in={r.base for r in chunk}, quote__in={r.quote for r in chunk}
        ).only("date", "base", "quote", "rate")
    }
    for rate in chunk:
        old = stored.get((rate.date, rate.base, rate.quote))
        if old is None:
            result.created += 1
        elif old == rate.rate:
            result.unchanged += 1
        else:
            result.updated += 1
            if len(result.changes) < CHANGES_IN_AUDIT:
                result.changes.append(
                    {"date": rate.date, "base": rate.base, "quote": rate.quote, "old": old, "new": rate.rate}
                )
    FxRate.objects.bulk_create(
        chunk, update_conflicts=True, unique_fields=["date", "base", "quote"], update_fields=["rate", "source"]
    )
    chunk.clear()


def fx_rates_load(
    *,
    stream: IO[str],
    file_name: str,
    actor: User | None = None,
    progress: ProgressCallback | None = None,
) -> FxLoadResult:
    """Load every row of an FX rate CSV, or none: on any problem raise ``FxFileRejected``.

    ``stream`` is a text file opened with ``newline=""`` (``encoding="utf-8-sig"`` accepts
    spreadsheet exports with a byte-order mark). A row without a source gets the file's name.
    """
    problems: list[FxProblem] = []
    seen: dict[PairKey, int] = {}
    chunk: list[FxRate] = []
    result = FxLoadResult()
    default_source = f"file {file_name}"[:_SOURCE_MAX]
    with transaction.atomic():
        for n, cells in _rows(stream, problems):
            result.rows = n
            day = _date(n, cells["date"], problems)
            base = _currency(n, "base", cells["base"], problems)
            quote = _currency(n, "quote", cells["quote"], problems)
            rate = _rate(n, cells["rate"], problems)
            source = cells.get("source", "") or default_source
            if base and quote and base == quote:
                problems.append(
                    FxProblem(n, "quote", _("The quote currency must differ from the base (%(c)s).") % {"c": base})
                )
            if len(source) > _SOURCE_MAX:
                problems.append(
                    FxProblem(n, "source", _("The source has at most %(n)d characters.") % {"n": _SOURCE_MAX})
                )
            if day and base and quote:
                pair: PairKey = (day, base, quote)
                if pair in seen:
                    problems.append(
                        FxProblem(
                            n,
                            "date",
                            _("Row %(row)d already gives %(base)s→%(quote)s on %(day)s; keep one of the two rows.")
                            % {"row": seen[pair], "base": base, "quote": quote, "day": day.isoformat()},
                        )
                    )
                else:
                    seen[pair] = n
            if len(problems) >= MAX_PROBLEMS:
                break
            if problems:
                chunk.clear()  # nothing more is written once the file is known to be rejected
            elif day and base and quote and rate is not None:
                chunk.append(FxRate(date=day, base=base, quote=quote, rate=rate, source=source))
                if len(chunk) >= WRITE_CHUNK:
                    _write(chunk, result)
            if progress is not None and n % PROGRESS_EVERY_ROWS == 0:
                progress(n)
        if problems:
            # Raising inside the atomic block rolls back every chunk already written.
            raise FxFileRejected(problems[:MAX_PROBLEMS], result.rows)
        _write(chunk, result)
        audit_record(
            actor=actor,
            action="fx.load",
            summary={
                "file": file_name,
                "rows": result.rows,
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "changes": result.changes,
            },
        )
    if progress is not None:
        progress(result.rows)
    return result
