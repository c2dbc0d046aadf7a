"""Reads shared by statements, reports, the period close and the API, so their numbers agree.

Balances are derived from ledger entries only: there is no stored balance to drift from them.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum

from payments.models import (
    CloseRun,
    CloseStatus,
    EntryKind,
    FxRate,
    LedgerEntry,
    PayPeriod,
    PolicyFloor,
    WageCheck,
    WageFloor,
)
from payments.money import Money, currency_check
from workforce.models import User

# An inverse rate (1 / rate) keeps this many significant digits; conversions round only at the end.
_INVERSE_PRECISION = 28


class FxRateMissing(LookupError):
    """No usable FX rate for a currency pair on a day."""

    def __init__(self, message: str, *, base: str, quote: str, day: datetime.date) -> None:
        super().__init__(message)
        self.base = base
        self.quote = quote
        self.day = day


class FloorCurrencyMismatch(ValueError):
    """A national and a subdivision floor in different currencies cannot be compared without an FX rate."""


@dataclass(frozen=True)
class FxQuote:
    """1 ``base`` = ``rate`` ``quote`` on ``day``, from the row dated ``rate_date`` (or the identity)."""

    base: str
    quote: str
    rate: Decimal
    day: datetime.date
    rate_date: datetime.date
    source: str
    fx_rate_id: int | None  # None for the identity (same currency)
    is_inverse: bool = False  # the stored row is quote→base and ``rate`` is its reciprocal


@dataclass(frozen=True)
class FloorQuote:
    """The floor in effect for ``jurisdiction`` on ``day``, naming the row it comes from so a report can cite it."""

    kind: str  # "statutory" (WageFloor) or "policy" (PolicyFloor)
    jurisdiction: str  # as asked, e.g. "US-CA"
    day: datetime.date
    hourly_rate: Decimal
    currency: str
    row_id: int
    row_jurisdiction: str  # the row's own: "US" when the national floor is the higher one; "" = everywhere
    effective_from: datetime.date
    source_url: str = ""  # statutory rows only
    note: str = ""
    fx: FxQuote | None = None  # the rate used to compare national and subdivision floors, if they differ

    def hourly(self) -> Money:
        """The hourly floor as Money, rounded up to the minor unit (in the contractor's favour)."""
        return Money.from_decimal(self.hourly_rate, self.currency)


# FX --------------------------------------------------------------------------------------


def fx_rate_on(*, base: str, quote: str, day: datetime.date) -> FxQuote:
    """The newest rate dated on or before ``day``, direct or inverted; the same currency is 1.

    A rate older than ``FAIRTASK_FX_MAX_AGE_DAYS`` before ``day`` is refused rather than used
    silently: a floor converted at a months-old rate is not the floor of that day.
    """
    base, quote = currency_check(base), currency_check(quote)
    if base == quote:
        return FxQuote(base, quote, Decimal(1), day, day, "identity", None)
    direct = FxRate.objects.filter(base=base, quote=quote, date__lte=day).order_by("-date").first()
    inverse = FxRate.objects.filter(base=quote, quote=base, date__lte=day).order_by("-date").first()
    if direct is None and inverse is None:
        raise FxRateMissing(
            f"No FX rate for {base}→{quote} (or {quote}→{base}) on or before {day:%Y-%m-%d}; "
            "load one with manage.py load_fx_rates or add it in the admin.",
            base=base,
            quote=quote,
            day=day,
        )
    # The newer of the two wins; on the same date the direct quote does.
    use_inverse = direct is None or (inverse is not None and inverse.date > direct.date)
    row = inverse if use_inverse else direct
    assert row is not None
    max_age = settings.FAIRTASK_FX_MAX_AGE_DAYS
    if (day - row.date).days > max_age:
        raise FxRateMissing(
            f"The newest FX rate for {base}→{quote} on or before {day:%Y-%m-%d} is from {row.date:%Y-%m-%d}, "
            f"more than {max_age} days earlier; load a rate for {day:%Y-%m-%d} or shortly before.",
            base=base,
            quote=quote,
            day=day,
        )
    if use_inverse:
        with localcontext(prec=_INVERSE_PRECISION):
            rate = Decimal(1) / row.rate
    else:
        rate = row.rate
    return FxQuote(base, quote, rate, day, row.date, row.source, row.pk, is_inverse=use_inverse)


# Wage floors -------------------------------------------------------------------------------


def _in_effect(rows: QuerySet[WageFloor], jurisdiction: str, day: datetime.date) -> WageFloor | None:
    return rows.filter(jurisdiction=jurisdiction, effective_from__lte=day).order_by("-effective_from").first()


def _statutory(row: WageFloor, jurisdiction: str, day: datetime.date, fx: FxQuote | None = None) -> FloorQuote:
    return FloorQuote(
        kind="statutory",
        jurisdiction=jurisdiction,
        day=day,
        hourly_rate=row.hourly_rate,
        currency=row.currency,
        row_id=row.pk,
        row_jurisdiction=row.jurisdiction,
        effective_from=row.effective_from,
        source_url=row.source_url,
        note=row.note,
        fx=fx,
    )


def floor_on(*, jurisdiction: str, day: datetime.date) -> FloorQuote | None:
    """The statutory floor on ``day``: for a subdivision ("US-CA"), the higher of it and its country's.

    A national and a regional floor are in the same currency in practice; if they are not,
    they are compared at the FX rate of ``day`` (``FxRateMissing`` if there is none).
    ``None`` means no floor is recorded for the jurisdiction on that day.
    """
    jurisdiction = (jurisdiction or "").strip().upper()
    if not jurisdiction:
        return None
    rows = WageFloor.objects.all()
    country = jurisdiction.split("-", 1)[0]
    national = _in_effect(rows, country, day)
    regional = _in_effect(rows, jurisdiction, day) if jurisdiction != country else None
    if national is None or regional is None:
        row = regional or national
        return _statutory(row, jurisdiction, day) if row else None
    fx = None
    national_rate = national.hourly_rate
    if national.currency != regional.currency:
        try:
            fx = fx_rate_on(base=national.currency, quote=regional.currency, day=day)
        except FxRateMissing as exc:
            raise FloorCurrencyMismatch(
                f"The floors of {country} ({national.currency}) and {jurisdiction} ({regional.currency}) "
                f"differ in currency and cannot be compared on {day:%Y-%m-%d}: {exc}"
            ) from exc
        national_rate = national.hourly_rate * fx.rate
    # On a tie the regional row is cited: it is the more specific law.
    if national_rate > regional.hourly_rate:
        return _statutory(national, jurisdiction, day, fx)
    return _statutory(regional, jurisdiction, day, fx)


def policy_floor_on(*, jurisdiction: str, day: datetime.date) -> FloorQuote | None:
    """The organisation's own floor on ``day``: the most specific row wins (region, country, everywhere)."""
    jurisdiction = (jurisdiction or "").strip().upper()
    candidates = [jurisdiction, jurisdiction.split("-", 1)[0], ""] if jurisdiction else [""]
    for code in dict.fromkeys(candidates):  # ordered and without repeats ("DE" is its own country)
        row = PolicyFloor.objects.filter(jurisdiction=code, effective_from__lte=day).order_by("-effective_from").first()
        if row is not None:
            return FloorQuote(
                kind="policy",
                jurisdiction=jurisdiction,
                day=day,
                hourly_rate=row.hourly_rate,
                currency=row.currency,
                row_id=row.pk,
                row_jurisdiction=row.jurisdiction,
                effective_from=row.effective_from,
                note=row.note,
            )
    return None


# The ledger --------------------------------------------------------------------------------


def ledger_entry_list(*, contractor: User, period: PayPeriod | None = None) -> QuerySet[LedgerEntry]:
    """A contractor's entries, oldest first, with what a statement line shows already joined."""
    entries = LedgerEntry.objects.filter(contractor=contractor).select_related("period", "created_by", "reverses")
    if period is not None:
        entries = entries.filter(period=period)
    return entries.order_by("created_at", "id")


def _totals(entries: QuerySet[LedgerEntry]) -> dict[str, Money]:
    sums = entries.order_by().values("currency").annotate(total=Sum("amount_minor")).order_by("currency")
    return {row["currency"]: Money(int(row["total"]), row["currency"]) for row in sums}


def balance(*, contractor: User) -> dict[str, Money]:
    """What the platform owes the contractor, per currency: the sum of all their entries."""
    return _totals(LedgerEntry.objects.filter(contractor=contractor))


def period_total(*, contractor: User, period: PayPeriod, kinds: Iterable[str] | None = None) -> dict[str, Money]:
    """The sum of a contractor's entries in a period per currency.

    With ``kinds``, only entries of those kinds count, net of their reversals in the period:
    a reversed piece-rate entry no longer counts as piece-rate earnings.
    """
    entries = LedgerEntry.objects.filter(contractor=contractor, period=period)
    if kinds is not None:
        wanted = list(kinds)
        entries = entries.filter(Q(kind__in=wanted) | Q(kind=EntryKind.REVERSAL, reverses__kind__in=wanted))
    return _totals(entries)


# Pay periods and the close -------------------------------------------------------------------


def period_list() -> QuerySet[PayPeriod]:
    """Every pay period, newest first."""
    return PayPeriod.objects.order_by("-start")


def close_run_list(*, period: PayPeriod) -> QuerySet[CloseRun]:
    """A period's close runs, newest first, with who started them."""
    return CloseRun.objects.filter(period=period).select_related("started_by").order_by("-started_at", "-pk")


def close_exceptions_open(*, period: PayPeriod) -> list[dict[str, Any]]:
    """The exceptions still open: those of the period's latest finished run (a full close or a retry).

    A retry covers exactly the contractors whose exceptions were open, so its own list is what
    remains; while a run is still going, the list is that of the run before it.
    """
    last = CloseRun.objects.filter(period=period, status=CloseStatus.DONE).order_by("-finished_at", "-pk").first()
    return list(last.exceptions) if last is not None else []


def close_run_status(*, run: CloseRun) -> dict[str, Any]:
    """What the close page's progress bar polls, and what any API would show, so the numbers agree."""
    return {
        "id": run.pk,
        "period": run.period_id,
        "status": run.status,
        "status_display": run.get_status_display(),
        "is_finished": run.status != CloseStatus.RUNNING,
        "is_retry": run.is_retry,
        "total": run.total,
        "done": run.done,
        "percent": run.percent,
        "entries_posted": run.entries_posted,
        "exceptions": len(run.exceptions),
        "attempts": run.attempts,
        "updated_at": run.updated_at.isoformat(),
        "error": run.error,
    }


def period_topup_list(*, period: PayPeriod) -> QuerySet[WageCheck]:
    """The contractors whose close topped their pay up to the floor, with the figures it used (rule 2).

    The close's own records (``WageCheck``), so the close page shows the same arithmetic as the
    top-up entry and the statement.
    """
    return (
        WageCheck.objects.filter(period=period, topup_minor__gt=0).select_related("contractor").order_by("contractor")
    )


def period_entry_totals(*, period: PayPeriod) -> list[dict[str, Any]]:
    """The period's ledger per kind and currency: entries and their sum (what the close page shows)."""
    return list(
        LedgerEntry.objects.filter(period=period)
        .order_by()
        .values("kind", "currency")
        .annotate(entries=Count("id"), total_minor=Sum("amount_minor"))
        .order_by("kind", "currency")
    )
