"""Money: an integer count of a currency's minor units plus its ISO 4217 code.

Amounts are never floats. A decimal amount becomes minor units in exactly one place,
``to_minor_units``, and the default rounding there is ``CONTRACTOR_ROUNDING``: towards
positive infinity on the contractor's ledger, so an amount owed to them rounds up and a
penalty (a negative amount) rounds towards zero. Either way the odd fraction of a minor
unit stays with the contractor. Rates (pay rates, FX rates) are ``Decimal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, localcontext
from functools import cache
from typing import Any

import pycountry

# Signed amounts on a contractor's ledger round towards +∞: up for what they are owed, towards
# zero for what is taken from them.
CONTRACTOR_ROUNDING = ROUND_CEILING

# ISO 4217 minor units of the currencies whose exponent is not 2 (the list maintained by SIX,
# the ISO 4217 maintenance agency). Every other currency has two decimal places.
_EXPONENTS: dict[str, int] = {
    # no minor unit in use
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    # thousandths (fils, baisa, millimes, dirhams)
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    # units of account quoted to four places
    "CLF": 4,
    "UYW": 4,
}

# Codes ISO 4217 lists with no minor unit at all ("N.A."): precious metals, bond-market units,
# the SDR, testing and "no currency". Nobody is paid in them, so they cannot hold money here.
_NOT_MONEY = frozenset({"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"})

# Enough significant digits for any BigIntegerField amount times a 20-digit rate, so that the
# only rounding that ever happens is the explicit one in ``to_minor_units``.
_PRECISION = 80


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were combined without an explicit conversion."""


@cache
def currency_check(code: str) -> str:
    """Return the ISO 4217 code in upper case, or raise ``ValueError`` saying what is wrong."""
    if not isinstance(code, str):
        raise TypeError(f"A currency is a three-letter ISO 4217 code, not {type(code).__name__}.")
    cleaned = code.strip().upper()
    if len(cleaned) != 3 or not cleaned.isascii() or not cleaned.isalpha():
        raise ValueError(f"“{code}” is not a currency code; use three letters such as USD, EUR or JPY.")
    if pycountry.currencies.get(alpha_3=cleaned) is None:
        raise ValueError(f"“{cleaned}” is not an ISO 4217 currency code; use a code such as USD, EUR or JPY.")
    if cleaned in _NOT_MONEY:
        raise ValueError(f"“{cleaned}” has no minor unit in ISO 4217 (it is not a currency anyone is paid in).")
    return cleaned


def exponent(code: str) -> int:
    """The number of decimal places of the currency's minor unit: 2 for USD, 0 for JPY, 3 for KWD."""
    return _EXPONENTS.get(currency_check(code), 2)


def _exact(value: Any, what: str) -> Decimal:
    """A Decimal or int as an exact Decimal; floats are refused because they are not exact."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(
            f"{what} must be a Decimal or an int, not {type(value).__name__}"
            + (" (floats are not exact; write Decimal('0.1'), not 0.1)." if isinstance(value, float) else ".")
        )
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"{what} must be a finite number, not {number}.")
    return number


def to_minor_units(amount: Decimal | int, currency: str, *, rounding: str = CONTRACTOR_ROUNDING) -> int:
    """The one place where a decimal amount in major units becomes whole minor units."""
    number = _exact(amount, "An amount")
    with localcontext(prec=_PRECISION):
        return int(number.scaleb(exponent(currency)).to_integral_value(rounding=rounding))


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: ``minor`` units of ``currency`` (1250 USD is 12.50 USD; 1200 JPY is 1200 JPY)."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise TypeError(
                f"Money counts whole minor units (an int), not {type(self.minor).__name__}; "
                "use Money.from_decimal for an amount such as Decimal('12.50')."
            )
        object.__setattr__(self, "currency", currency_check(self.currency))

    # Construction and conversion at the edges --------------------------------------------

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, amount: Decimal | int, currency: str, *, rounding: str = CONTRACTOR_ROUNDING) -> Money:
        """``Money.from_decimal(Decimal("12.345"), "USD")`` is 12.35 USD: rounding favours the contractor."""
        return cls(to_minor_units(amount, currency, rounding=rounding), currency)

    def to_decimal(self) -> Decimal:
        """The amount in major units with the currency's own number of places: Decimal("12.50")."""
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def convert(self, rate: Decimal, to: str, *, rounding: str = CONTRACTOR_ROUNDING) -> Money:
        """This amount in ``to`` at ``rate`` (1 of this currency = ``rate`` of ``to``), rounded up."""
        factor = _exact(rate, "An FX rate")
        if factor <= 0:
            raise ValueError(f"An FX rate must be above zero, not {factor}.")
        target = currency_check(to)
        if target == self.currency and factor != 1:
            raise ValueError(f"Converting {self.currency} to itself needs the rate 1, not {factor}.")
        with localcontext(prec=_PRECISION):
            return Money.from_decimal(self.to_decimal() * factor, target, rounding=rounding)

    # Arithmetic ----------------------------------------------------------------------------

    def _same_currency(self, other: Any, verb: str) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"Cannot {verb} Money and {type(other).__name__}.")
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"Cannot {verb} {self.format()} and {other.format()}: convert one of them with a dated FX rate first."
            )
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.minor + self._same_currency(other, "add").minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.minor - self._same_currency(other, "subtract").minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        """Scale by a Decimal or int (hours, a quality factor); the result rounds in the contractor's favour."""
        number = _exact(factor, "A Money multiplier")
        with localcontext(prec=_PRECISION):
            exact = Decimal(self.minor) * number
            return Money(int(exact.to_integral_value(rounding=CONTRACTOR_ROUNDING)), self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.minor < self._same_currency(other, "compare").minor

    def __le__(self, other: Money) -> bool:
        return self.minor <= self._same_currency(other, "compare").minor

    def __gt__(self, other: Money) -> bool:
        return self.minor > self._same_currency(other, "compare").minor

    def __ge__(self, other: Money) -> bool:
        return self.minor >= self._same_currency(other, "compare").minor

    @property
    def is_zero(self) -> bool:
        return self.minor == 0

    # Display -------------------------------------------------------------------------------

    def format(self) -> str:
        """``"12.50 USD"``, ``"1200 JPY"``, ``"-0.050 KWD"``: every minor digit, then the code."""
        return f"{self.to_decimal():f} {self.currency}"

    def __str__(self) -> str:
        return self.format()
