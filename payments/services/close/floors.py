"""The wage floor a close applies, per jurisdiction and day, in the pay currency (rule 2).

The floor of a day is the higher of the statutory floor (``floor_on``) and the organisation's
policy floor (``policy_floor_on``), each converted to the pay currency at the FX rate of the
period's last day (``fx_rate_on``). Lookups are cached for the run: a close asks about a few
jurisdictions and at most nine days, whatever the number of contractors.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from functools import cached_property
from typing import Any

from django.utils.translation import gettext as _

from payments.money import Money, exponent
from payments.selectors import (
    FloorCurrencyMismatch,
    FloorQuote,
    FxQuote,
    FxRateMissing,
    floor_on,
    fx_rate_on,
    policy_floor_on,
)
from payments.services.rates import per_hour_minor

_PRECISION = 80


class FloorProblem(Exception):
    """The floor of a contractor cannot be known yet: an exception of the close, shown to operations."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def again(self) -> FloorProblem:
        """A fresh copy to raise from the cache: re-raising one instance would chain every traceback
        (and every frame's locals, whole chunks of priced lines) onto it for the rest of the run."""
        return FloorProblem(self.code, self.message)


@dataclass(frozen=True)
class DayFloor:
    """The floor that applies on ``day``: ``rate_minor`` minor units of the pay currency an hour, exactly.

    ``ratio`` is the same rate as an exact integer fraction, for the top-up's arithmetic;
    ``summary`` and ``fx_summaries`` are what the top-up's details cite, ready for JSON.
    """

    day: datetime.date
    rate_minor: Decimal
    applied: str  # "statutory" or "policy"
    statutory: FloorQuote | None
    policy: FloorQuote | None
    fx: tuple[FxQuote, ...]
    summary: dict[str, Any] = field(compare=False)
    fx_summaries: tuple[dict[str, Any], ...] = field(compare=False, default=())

    @cached_property
    def ratio(self) -> tuple[int, int]:
        return self.rate_minor.as_integer_ratio()

    def rate_text(self, currency: str) -> str:
        """The hourly floor as the contractor reads it, rounded up to the minor unit: "16.90 USD"."""
        return Money.from_decimal(self.rate_minor.scaleb(-exponent(currency)), currency).format()


def _quote_summary(quote: FloorQuote | None) -> dict[str, Any] | None:
    """The floor row as a top-up's details cite it (plain JSON values: Decimals and dates as text)."""
    if quote is None:
        return None
    return {
        "kind": quote.kind,
        "row": quote.row_id,
        "jurisdiction": quote.row_jurisdiction or "everywhere",
        "hourly_rate": str(quote.hourly_rate),
        "currency": quote.currency,
        "effective_from": quote.effective_from.isoformat(),
        "source_url": quote.source_url,
    }


def fx_summary(fx: FxQuote) -> dict[str, Any]:
    """The FX rate as a top-up's details cite it (plain JSON values)."""
    return {
        "base": fx.base,
        "quote": fx.quote,
        "rate": str(fx.rate),
        "day": fx.day.isoformat(),
        "rate_date": fx.rate_date.isoformat(),
        "source": fx.source,
        "is_inverse": fx.is_inverse,
    }


class FloorBook:
    """Cached floors for one close: ``day(jurisdiction, day)`` or a ``FloorProblem``."""

    def __init__(self, *, currency: str, fx_day: datetime.date) -> None:
        self.currency = currency
        self.fx_day = fx_day
        self._days: dict[tuple[str, datetime.date], DayFloor | FloorProblem] = {}
        self._fx: dict[str, FxQuote | FloorProblem] = {}

    def _rate(self, currency: str) -> FxQuote:
        found = self._fx.get(currency)
        if found is None:
            try:
                found = fx_rate_on(base=currency, quote=self.currency, day=self.fx_day)
            except FxRateMissing as exc:
                found = FloorProblem(
                    "fx_missing",
                    _("The wage floor is in %(base)s and pay is in %(pay)s, but %(why)s")
                    % {"base": currency, "pay": self.currency, "why": exc},
                )
            self._fx[currency] = found
        if isinstance(found, FloorProblem):
            raise found.again()
        return found

    def _converted(self, quote: FloorQuote) -> tuple[Decimal, FxQuote]:
        fx = self._rate(quote.currency)
        with localcontext(prec=_PRECISION):
            return per_hour_minor(quote.hourly_rate * fx.rate, self.currency), fx

    def _lookup(self, jurisdiction: str, day: datetime.date) -> DayFloor:
        if not jurisdiction:
            raise FloorProblem(
                "no_jurisdiction",
                _(
                    "The contractor has no country or region on their profile, so no wage floor applies yet. "
                    "Their earnings are posted; the top-up waits until the profile names their jurisdiction."
                ),
            )
        try:
            statutory = floor_on(jurisdiction=jurisdiction, day=day)
        except FloorCurrencyMismatch as exc:
            raise FloorProblem("floor_currency", str(exc)) from exc
        except FxRateMissing as exc:  # pragma: no cover - floor_on wraps it, this is a second guard
            raise FloorProblem("fx_missing", str(exc)) from exc
        policy = policy_floor_on(jurisdiction=jurisdiction, day=day)
        if statutory is None and policy is None:
            raise FloorProblem(
                "no_floor",
                _("No wage floor is recorded for %(j)s on %(day)s; add the statutory floor or a policy floor.")
                % {"j": jurisdiction, "day": day.isoformat()},
            )
        candidates = []
        for quote in (statutory, policy):
            if quote is not None:
                rate, fx = self._converted(quote)
                candidates.append((rate, quote, fx))
        # The higher floor applies; on a tie the statutory one is cited, because it is the law.
        rate, chosen, _fx = max(candidates, key=lambda c: (c[0], c[1].kind == "statutory"))
        rates_used = tuple({fx.base: fx for _r, _q, fx in candidates if fx.fx_rate_id is not None}.values())
        summary = {
            "day": day.isoformat(),
            "hourly_minor": str(rate.quantize(Decimal("0.0001"))),
            "applied": chosen.kind,
            "statutory": _quote_summary(statutory),
            "policy": _quote_summary(policy),
        }
        fx_summaries = tuple(fx_summary(fx) for fx in rates_used)
        return DayFloor(day, rate, chosen.kind, statutory, policy, rates_used, summary, fx_summaries)

    def day(self, jurisdiction: str, day: datetime.date) -> DayFloor:
        key = (jurisdiction, day)
        found = self._days.get(key)
        if found is None:
            try:
                found = self._lookup(jurisdiction, day)
            except FloorProblem as problem:
                found = problem
            self._days[key] = found
        if isinstance(found, FloorProblem):
            raise found.again()
        return found
