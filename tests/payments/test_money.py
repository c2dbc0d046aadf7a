"""Money: exact minor units per ISO 4217 exponent, rounding in the contractor's favour, no floats."""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

import pytest

from payments.money import CurrencyMismatch, Money, exponent, to_minor_units

# Exponents ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "places"),
    [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("ISK", 0), ("XOF", 0), ("KWD", 3), ("BHD", 3), ("CLF", 4)],
)
def test_each_currency_uses_its_iso_4217_exponent(code, places):
    assert exponent(code) == places


def test_a_currency_code_is_read_in_any_case_and_stored_in_upper_case():
    assert Money(100, " usd ").currency == "USD"
    assert Money(100, "usd") == Money(100, "USD")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ABC", "“ABC” is not an ISO 4217 currency code"),
        ("US", "“US” is not a currency code"),
        ("XAU", "“XAU” has no minor unit"),
    ],
)
def test_an_unknown_or_non_money_currency_is_refused_by_name(code, message):
    with pytest.raises(ValueError, match=message):
        Money(100, code)


# Rounding ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("12.50", "USD", 1250),  # exact amounts are not touched
        ("12.341", "USD", 1235),  # a fraction of a cent owed rounds up
        ("0.001", "USD", 1),
        ("1200.1", "JPY", 1201),  # zero-decimal currency: whole yen, rounded up
        ("1200", "JPY", 1200),
        ("1.2345", "KWD", 1235),  # three decimals: fils
        ("1.2341", "KWD", 1235),
        ("-1.239", "USD", -123),  # a penalty rounds towards zero: less is taken
        ("-1200.9", "JPY", -1200),
        ("-0.0005", "KWD", 0),
    ],
)
def test_from_decimal_rounds_every_fraction_in_the_contractors_favour(amount, currency, minor):
    assert Money.from_decimal(Decimal(amount), currency) == Money(minor, currency)


def test_another_rounding_mode_can_be_asked_for_explicitly():
    assert Money.from_decimal(Decimal("12.349"), "USD", rounding=ROUND_FLOOR).minor == 1234
    assert to_minor_units(Decimal("0.125"), "USD", rounding=ROUND_HALF_EVEN) == 12


def test_rounding_is_exact_even_for_amounts_beyond_the_default_decimal_precision():
    # 29 significant digits: Python's default context (28) would round before the ceiling.
    big = Money(9_000_000_000_000_000_001, "USD")
    assert (big * Decimal("1.0000000001")).minor == 9_000_000_000_900_000_002


# Arithmetic ----------------------------------------------------------------------------------


def test_amounts_in_one_currency_add_subtract_negate_and_compare():
    a, b = Money(1250, "USD"), Money(75, "USD")
    assert a + b == Money(1325, "USD")
    assert a - b == Money(1175, "USD")
    assert -a == Money(-1250, "USD")
    assert b < a and a > b and a >= Money(1250, "USD") and b <= a
    assert Money(0, "JPY").is_zero and not b.is_zero


@pytest.mark.parametrize("operation", ["add", "sub", "lt", "ge"])
def test_mixing_currencies_without_a_conversion_raises_currency_mismatch(operation):
    usd, eur = Money(1250, "USD"), Money(300, "EUR")
    with pytest.raises(CurrencyMismatch, match=r"12\.50 USD and 3\.00 EUR"):
        {"add": lambda: usd + eur, "sub": lambda: usd - eur, "lt": lambda: usd < eur, "ge": lambda: usd >= eur}[
            operation
        ]()
    assert issubclass(CurrencyMismatch, ValueError)


def test_amounts_in_different_currencies_are_simply_not_equal():
    assert Money(100, "USD") != Money(100, "EUR")


@pytest.mark.parametrize(
    ("minor", "currency", "factor", "expected"),
    [
        (1001, "USD", Decimal("0.5"), 501),  # 500.5 cents owed: 501
        (-1001, "USD", Decimal("0.5"), -500),  # half a penalty of 10.01: 5.00 taken, not 5.01
        (1600, "USD", Decimal("1.25"), 2000),  # 1.25 hours at 16.00
        (1600, "USD", Decimal("0.3333"), 534),  # 533.28 → 534
        (999, "JPY", Decimal("1.001"), 1000),  # 999.999 yen → 1000
        (1234, "KWD", 3, 3702),
    ],
)
def test_multiplying_rounds_to_the_minor_unit_in_the_contractors_favour(minor, currency, factor, expected):
    assert Money(minor, currency) * factor == Money(expected, currency)
    assert factor * Money(minor, currency) == Money(expected, currency)


def test_floats_are_refused_everywhere_with_a_clear_type_error():
    with pytest.raises(TypeError, match=r"floats are not exact; write Decimal\('0.1'\)"):
        Money(1000, "USD") * 0.1  # type: ignore[operator]
    with pytest.raises(TypeError, match="floats are not exact"):
        Money.from_decimal(12.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="floats are not exact"):
        Money(1000, "USD").convert(0.9, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="whole minor units"):
        Money(12.5, "USD")  # type: ignore[arg-type]


def test_money_cannot_be_multiplied_by_money_or_added_to_a_number():
    with pytest.raises(TypeError):
        Money(100, "USD") * Money(2, "USD")  # type: ignore[operator]
    with pytest.raises(TypeError, match="Cannot add Money and int"):
        Money(100, "USD") + 1  # type: ignore[operator]


# Display and conversion ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "text", "decimal"),
    [
        (1250, "USD", "12.50 USD", "12.50"),
        (1200, "JPY", "1200 JPY", "1200"),
        (-50, "KWD", "-0.050 KWD", "-0.050"),
        (0, "USD", "0.00 USD", "0.00"),
        (5, "CLF", "0.0005 CLF", "0.0005"),
    ],
)
def test_format_and_to_decimal_show_every_minor_digit(minor, currency, text, decimal):
    money = Money(minor, currency)
    assert money.format() == text and str(money) == text
    assert str(money.to_decimal()) == decimal


@pytest.mark.parametrize(
    ("minor", "currency", "rate", "to", "expected"),
    [
        (1000, "USD", "0.92345", "EUR", 924),  # 9.2345 EUR → 9.24
        (1234, "USD", "157.123", "JPY", 1939),  # 1938.89782 JPY → 1939
        (1000, "JPY", "0.00196", "KWD", 1960),  # 1.96 KWD = 1960 fils
        (-1000, "USD", "0.92345", "EUR", -923),  # a debit converts towards zero
    ],
)
def test_convert_uses_an_explicit_decimal_rate_and_rounds_up(minor, currency, rate, to, expected):
    assert Money(minor, currency).convert(Decimal(rate), to) == Money(expected, to)


def test_convert_refuses_a_rate_that_is_not_positive():
    with pytest.raises(ValueError, match="above zero"):
        Money(100, "USD").convert(Decimal(0), "EUR")
