"""What a fair-wage report says, read from the close's ``WageCheck`` rows (rules 2 and 8).

One row per contractor and closed pay period: pseudonymous id (real names only with the
setting and the permission), jurisdiction, paid hours by kind, tasks, earnings, top-up,
effective hourly before and after it, both floors in their local currency with the FX rate
and its date, the overtime premium and whether the floor was met. Money is formatted in SQL
with each currency's exponent: amounts exactly, floors rounded up and effective hourly rates
rounded down to the minor unit, so rounding never makes a contractor look better paid.

Rows come in a fixed order (period, then contractor id) from PostgreSQL, so the same
parameters at the same ledger checkpoint give the same bytes. The contractor id in the first
column is the input of the pseudonym; ``tasks.services.exports.worker_pseudonym`` is the one
definition of it and ``Pseudonyms`` only precomputes its HMAC key once per report.
"""

from __future__ import annotations

import datetime
import hmac
import importlib.metadata
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from payments.models import PayPeriod, PeriodStatus, jurisdiction_check
from payments.money import exponent
from tasks.services.exports import worker_pseudonym

COLUMNS = (
    "contractor",
    "period_start",
    "period_end",
    "jurisdiction",
    "currency",
    "task_hours",
    "qualification_hours",
    "instruction_hours",
    "paid_hours",
    "fraud_excluded_hours",
    "tasks_paid",
    "gross_earnings",
    "topup",
    "overtime_premium",
    "total_pay",
    "effective_hourly_before",
    "effective_hourly_after",
    "floor_hourly",
    "statutory_floor_local",
    "statutory_currency",
    "policy_floor_local",
    "policy_currency",
    "fx_rate",
    "fx_date",
    "below_floor_before_topup",
    "is_compliant",
    "status",
    "problem",
)
# Columns that hold numbers (as exact decimal text); the XLSX writes them as numbers.
NUMERIC_COLUMNS = frozenset(
    {
        "task_hours",
        "qualification_hours",
        "instruction_hours",
        "paid_hours",
        "fraud_excluded_hours",
        "tasks_paid",
        "gross_earnings",
        "topup",
        "overtime_premium",
        "total_pay",
        "effective_hourly_before",
        "effective_hourly_after",
        "floor_hourly",
    }
)


def fairtask_version() -> str:
    """``FAIRTASK_VERSION`` if set, else the installed package's version (pyproject.toml)."""
    configured = getattr(settings, "FAIRTASK_VERSION", "")
    if configured:
        return str(configured)
    try:
        return importlib.metadata.version("fairtask")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a checkout run without install
        return "unknown"


# Parameters -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportParams:
    """What a report covers: closed periods (by id, oldest first), one jurisdiction or all, names or not."""

    periods: tuple[int, ...]
    first_day: datetime.date
    last_day: datetime.date
    jurisdiction: str = ""  # "" = all; a country ("US") includes its subdivisions ("US-CA")
    real_names: bool = False

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["periods"] = list(self.periods)
        data["first_day"] = self.first_day.isoformat()
        data["last_day"] = self.last_day.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReportParams:
        return cls(
            periods=tuple(int(p) for p in data["periods"]),
            first_day=datetime.date.fromisoformat(data["first_day"]),
            last_day=datetime.date.fromisoformat(data["last_day"]),
            jurisdiction=str(data.get("jurisdiction", "")),
            real_names=bool(data.get("real_names", False)),
        )

    def text(self) -> str:
        """The parameters as one line of canonical JSON (sorted keys): what the file states."""
        return json.dumps(self.as_json(), sort_keys=True, separators=(",", ":"))


def report_params_check(
    *,
    period: PayPeriod | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    jurisdiction: str = "",
    real_names: bool = False,
    may_see_names: bool = False,
) -> ReportParams:
    """Check a report request and resolve it to closed periods; ``ValidationError`` names the field."""
    cleaned = ""
    if jurisdiction and jurisdiction.strip():
        try:
            cleaned = jurisdiction_check(jurisdiction)
        except ValidationError as exc:
            raise ValidationError({"jurisdiction": exc.messages}) from exc
    if real_names and not (settings.FAIRTASK_REPORT_REAL_NAMES and may_see_names):
        raise ValidationError(
            {
                "real_names": _(
                    "Real names need both the FAIRTASK_REPORT_REAL_NAMES setting and the “view real names” "
                    "permission; ask an administrator, or make the report with pseudonyms."
                )
            }
        )
    if period is not None:
        if date_from or date_to:
            raise ValidationError({"period": _("Choose a pay period or a date range, not both.")})
        if period.status != PeriodStatus.CLOSED:
            raise ValidationError(
                {"period": _("This pay period is not closed yet; a report can only show a closed period.")}
            )
        periods = [period]
    else:
        if date_from is None or date_to is None:
            raise ValidationError({"period": _("Choose a pay period, or give both a start and an end date.")})
        if date_to < date_from:
            raise ValidationError(
                {"date_to": _("The end date is before the start date; swap them or pick a later end date.")}
            )
        # Whole periods only: ``end`` is exclusive, so a period ends inside the range when end - 1 <= date_to.
        # (A range open to the last date there is, 9999-12-31, holds every period that ends.)
        inside = PayPeriod.objects.filter(start__gte=date_from, status=PeriodStatus.CLOSED)
        if date_to < datetime.date.max:
            inside = inside.filter(end__lte=date_to + datetime.timedelta(days=1))
        periods = list(inside.order_by("start"))
        if not periods:
            raise ValidationError(
                {"date_from": _("No closed pay period lies wholly inside this date range; widen the range.")}
            )
    return ReportParams(
        periods=tuple(p.pk for p in periods),
        first_day=periods[0].start,
        last_day=periods[-1].end - datetime.timedelta(days=1),
        jurisdiction=cleaned,
        real_names=bool(real_names),
    )


# The ledger checkpoint ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    entry_id: int  # 0 when the ledger is empty
    at: datetime.datetime | None

    def text(self) -> str:
        return self.at.isoformat() if self.at else ""


def checkpoint_now() -> Checkpoint:
    """The newest ledger entry: the report reflects the ledger up to and including it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, created_at FROM payments_ledgerentry ORDER BY id DESC LIMIT 1")
        row = cursor.fetchone()
    return Checkpoint(int(row[0]), row[1]) if row else Checkpoint(0, None)


# SQL -----------------------------------------------------------------------------------------------

# The chunk's ids are picked first (a narrow sort, or none on the (period, contractor) key), and
# only its rows are read and formatted: sorting whole rows would cost the whole period per chunk.
ROWS_SQL = """
SELECT w.contractor_id, {name}%(first_day)s, %(last_day)s, w.jurisdiction, w.currency,
       round(w.task_seconds / 3600.0, 4), round(w.qualification_seconds / 3600.0, 4),
       round(w.instruction_seconds / 3600.0, 4), round(w.paid_seconds / 3600.0, 4),
       round(w.excluded_seconds / 3600.0, 4), w.tasks_paid,
       round(w.earnings_minor / {unit}, {places}), round(w.topup_minor / {unit}, {places}),
       round(w.overtime_minor / {unit}, {places}),
       round((w.earnings_minor + w.topup_minor + w.overtime_minor) / {unit}, {places}),
       round(floor(w.effective_hourly_before_minor) / {unit}, {places}),
       round(floor(w.effective_hourly_after_minor) / {unit}, {places}),
       round(ceil(w.floor_hourly_minor) / {unit}, {places}),
       w.statutory->>'rate', w.statutory->>'currency', w.policy->>'rate', w.policy->>'currency',
       w.fx->>'rate', w.fx->>'date',
       CASE WHEN w.required_minor IS NULL THEN '' WHEN w.earnings_minor < w.required_minor THEN 'yes' ELSE 'no' END,
       CASE WHEN w.is_compliant THEN 'yes' ELSE 'no' END, w.status, w.problem
FROM {source}
ORDER BY w.contractor_id
"""
# One period whole (the CSV: one COPY, as ``psql \copy`` would run it) or a chunk of it (XLSX, PDF).
SOURCE_WHOLE = "payments_wagecheck w {join} WHERE w.period_id = %(period)s AND w.contractor_id > %(after)s {where}"
SOURCE_CHUNK = """(
    SELECT w.id FROM payments_wagecheck w
    WHERE w.period_id = %(period)s AND w.contractor_id > %(after)s {where}
    ORDER BY w.period_id, w.contractor_id LIMIT {limit}
) k JOIN payments_wagecheck w ON w.id = k.id {join}"""
# Without real names the file's first column is the pseudonym of the id that the query puts first.
NAME_REAL = "coalesce(nullif(cp.legal_name, ''), u.email), "
JOIN_REAL = (
    "JOIN workforce_user u ON u.id = w.contractor_id "
    "LEFT JOIN workforce_contractorprofile cp ON cp.user_id = w.contractor_id"
)
WHERE_JURISDICTION = "AND (w.jurisdiction = %(jurisdiction)s OR w.jurisdiction LIKE %(jurisdiction_like)s)"

SUMMARY_SQL = """
SELECT w.currency, grouping(w.jurisdiction) = 1, coalesce(w.jurisdiction, ''), count(*),
       sum(w.paid_seconds), sum(w.earnings_minor), sum(w.topup_minor), sum(w.overtime_minor),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY w.effective_hourly_before_minor),
       percentile_disc(0.1) WITHIN GROUP (ORDER BY w.effective_hourly_before_minor),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY w.effective_hourly_after_minor),
       percentile_disc(0.1) WITHIN GROUP (ORDER BY w.effective_hourly_after_minor),
       count(*) FILTER (WHERE w.required_minor IS NOT NULL AND w.earnings_minor < w.required_minor),
       count(*) FILTER (WHERE w.status = 'complete' AND NOT w.is_compliant),
       count(*) FILTER (WHERE w.status = 'pending'),
       min(w.floor_hourly_minor), max(w.floor_hourly_minor)
FROM payments_wagecheck w
WHERE w.period_id = ANY(%(periods)s) {where}
GROUP BY w.currency, ROLLUP (w.jurisdiction)
ORDER BY w.currency, 2, 3
"""
HISTOGRAM_SQL = """
SELECT least(floor(w.effective_hourly_before_minor / %(width)s)::int, %(bins)s),
       least(floor(w.effective_hourly_after_minor / %(width)s)::int, %(bins)s), count(*)
FROM payments_wagecheck w
WHERE w.period_id = ANY(%(periods)s) AND w.currency = %(currency)s AND w.paid_seconds > 0 {where}
GROUP BY 1, 2
"""
COUNT_SQL = "SELECT count(*) FROM payments_wagecheck w WHERE w.period_id = ANY(%(periods)s) {where}"


def _where(params: ReportParams) -> str:
    return WHERE_JURISDICTION if params.jurisdiction else ""


def _sql_params(params: ReportParams) -> dict[str, Any]:
    return {
        "periods": list(params.periods),
        "jurisdiction": params.jurisdiction,
        "jurisdiction_like": f"{params.jurisdiction}-%",
    }


def _currencies(params: ReportParams) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT currency FROM payments_wagecheck WHERE period_id = ANY(%s) ORDER BY 1",
            [list(params.periods)],
        )
        return [row[0] for row in cursor.fetchall()]


def rows_sql(params: ReportParams, currencies: list[str], *, chunk: int | None = None) -> str:
    """The rows query of one period (``%(period)s`` with its ``%(first_day)s`` and ``%(last_day)s``, contractor
    ids after ``%(after)s``); also what the bench copies with psql."""
    # The currency's exponent as a literal (one pay currency in practice, a CASE otherwise): the query
    # stays on the (period, contractor) index, read in its order, with no join to sort through.
    if len(currencies) <= 1:
        places = str(exponent(currencies[0])) if currencies else "2"
    else:
        places = "CASE w.currency " + " ".join(f"WHEN '{c}' THEN {exponent(c)}" for c in currencies) + " END"
    source = SOURCE_CHUNK if chunk else SOURCE_WHOLE
    return ROWS_SQL.format(
        name=NAME_REAL if params.real_names else "",
        source=source.format(
            join=JOIN_REAL if params.real_names else "", where=_where(params), limit=int(chunk) if chunk else 0
        ),
        unit=f"power(10::numeric, {places})" if len(currencies) > 1 else f"{10 ** int(places)}::numeric",
        places=places,
    )


def period_days(params: ReportParams) -> dict[int, dict[str, str]]:
    """Each period's first and last day as the rows show them, oldest period first."""
    found = {
        p.pk: {"first_day": p.start.isoformat(), "last_day": (p.end - datetime.timedelta(days=1)).isoformat()}
        for p in PayPeriod.objects.filter(pk__in=params.periods)
    }
    return {pk: found[pk] for pk in params.periods}


def row_count(params: ReportParams) -> int:
    with connection.cursor() as cursor:
        cursor.execute(COUNT_SQL.format(where=_where(params)), _sql_params(params))
        row = cursor.fetchone()
    return int(row[0]) if row else 0


# Pseudonyms ---------------------------------------------------------------------------------------


class Pseudonyms:
    """``worker_pseudonym`` for many ids: its HMAC key is derived once, then copied per id.

    The first id is checked against ``worker_pseudonym`` itself, so the report and the answer
    export can never disagree about who ``w-…`` is.
    """

    def __init__(self) -> None:
        template = salted_hmac("tasks.exports.worker", "")
        self._base: hmac.HMAC = template
        self._checked = False

    def __call__(self, contractor_id: bytes) -> bytes:
        mac = self._base.copy()
        mac.update(contractor_id)
        name = b"w-" + mac.hexdigest()[:16].encode()
        if not self._checked:
            if name.decode() != worker_pseudonym(int(contractor_id)):
                raise RuntimeError("The report's pseudonyms differ from tasks.services.exports.worker_pseudonym.")
            self._checked = True
        return name


# Rows as Python values (XLSX, PDF, tests) ---------------------------------------------------------

ROW_CHUNK = 20_000


def report_rows(params: ReportParams) -> Iterator[tuple[Any, ...]]:
    """Every row, in the file's order, with the pseudonym in place; read chunk by chunk, never all at once."""
    currencies = _currencies(params)
    pseudonym = Pseudonyms()
    sql = rows_sql(params, currencies, chunk=ROW_CHUNK)
    values = _sql_params(params)
    for period, days in period_days(params).items():
        after = 0
        while True:
            with connection.cursor() as cursor:
                cursor.execute(sql, {**values, **days, "period": period, "after": after})
                batch = cursor.fetchall()
            for row in batch:
                if params.real_names:
                    yield row[1:]
                else:
                    yield (pseudonym(str(row[0]).encode()).decode(), *row[1:])
            if len(batch) < ROW_CHUNK:
                break
            after = batch[-1][0]


# Summary ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryLine:
    currency: str
    jurisdiction: str  # "" on the overall line
    is_overall: bool
    contractors: int
    paid_seconds: int
    earnings_minor: int
    topup_minor: int
    overtime_minor: int
    median_before_minor: Decimal | None
    p10_before_minor: Decimal | None
    median_after_minor: Decimal | None
    p10_after_minor: Decimal | None
    below_floor_before: int
    not_compliant: int
    pending: int
    floor_min_minor: Decimal | None
    floor_max_minor: Decimal | None

    def as_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}


def report_summary(params: ReportParams) -> list[SummaryLine]:
    """Per jurisdiction, then overall (per pay currency): counts, hours, money, median and 10th percentile."""
    with connection.cursor() as cursor:
        cursor.execute(SUMMARY_SQL.format(where=_where(params)), _sql_params(params))
        return [
            SummaryLine(
                currency=row[0],
                is_overall=bool(row[1]),
                jurisdiction=row[2],
                contractors=int(row[3]),
                paid_seconds=int(row[4] or 0),
                earnings_minor=int(row[5] or 0),
                topup_minor=int(row[6] or 0),
                overtime_minor=int(row[7] or 0),
                median_before_minor=row[8],
                p10_before_minor=row[9],
                median_after_minor=row[10],
                p10_after_minor=row[11],
                below_floor_before=int(row[12]),
                not_compliant=int(row[13]),
                pending=int(row[14]),
                floor_min_minor=row[15],
                floor_max_minor=row[16],
            )
            for row in cursor.fetchall()
        ]


HISTOGRAM_BINS = 25


def report_histogram(params: ReportParams, *, currency: str, width_minor: int) -> dict[str, list[int]]:
    """Contractors per bin of effective hourly (``width_minor`` wide; the last bin is open), before and after."""
    before = [0] * (HISTOGRAM_BINS + 1)
    after = [0] * (HISTOGRAM_BINS + 1)
    with connection.cursor() as cursor:
        cursor.execute(
            HISTOGRAM_SQL.format(where=_where(params)),
            {**_sql_params(params), "currency": currency, "width": width_minor, "bins": HISTOGRAM_BINS},
        )
        for b, a, count in cursor.fetchall():
            if b is not None:
                before[b] += count
            if a is not None:
                after[a] += count
    return {"before": before, "after": after}
