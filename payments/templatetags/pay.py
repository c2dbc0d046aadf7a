"""Template filters for pay: amounts kept in minor units shown in major units, hours from seconds."""

from __future__ import annotations

from decimal import Decimal

from django import template

from payments.money import exponent

register = template.Library()


@register.filter
def minor(value: int | Decimal | str | None, currency: str) -> str:
    """``1234`` with ``"USD"`` → ``"12.34 USD"``; fractional minor units (a rate) keep two more places."""
    if value is None or value == "":
        return "—"
    amount = Decimal(str(value))
    places = exponent(currency)
    shown = amount.scaleb(-places)
    digits = places if amount == amount.to_integral_value() else places + 2
    return f"{shown.quantize(Decimal(1).scaleb(-digits)):f} {currency}"


@register.filter
def hours(seconds: int | None) -> str:
    """Seconds as hours with two decimals: ``5400`` → ``"1.50"``."""
    return f"{Decimal(seconds or 0) / 3600:.2f}"
