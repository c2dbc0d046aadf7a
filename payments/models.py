"""Money owed and paid: pay periods, the append-only ledger, wage floors and FX rates.

Invariants live in the database as well as in the services: a ledger row is never updated
or deleted (a PostgreSQL trigger, migration 0002), its amount is signed by its kind, a
reversal names the entry it reverses and an entry is reversed at most once, and an
idempotency key makes a second post of the same thing impossible.
"""

from __future__ import annotations

import datetime
from typing import ClassVar

import pycountry
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from payments.money import Money, currency_check
from workforce.validation import timezone_names

CURRENCY_PATTERN = r"^[A-Z]{3}$"
# ISO 3166-1 alpha-2, optionally with an ISO 3166-2 subdivision: "DE", "US-CA", "GB-ENG".
JURISDICTION_PATTERN = r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$"


def validate_currency(value: str) -> None:
    try:
        currency_check(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(str(exc)) from exc


def jurisdiction_check(code: str) -> str:
    """Return an ISO 3166-1 country ("DE") or ISO 3166-2 subdivision ("US-CA") in upper case, or raise."""
    cleaned = (code or "").strip().upper()
    country = cleaned.split("-", 1)[0]
    if len(country) != 2 or pycountry.countries.get(alpha_2=country) is None:
        raise ValidationError(
            _("“%(code)s” is not an ISO 3166-1 country code; use two letters such as DE, or a region such as US-CA.")
            % {"code": code}
        )
    if "-" in cleaned and pycountry.subdivisions.get(code=cleaned) is None:
        raise ValidationError(
            _("“%(code)s” is not an ISO 3166-2 subdivision of %(country)s; use a code such as US-CA.")
            % {"code": code, "country": country}
        )
    return cleaned


def validate_timezone(value: str) -> None:
    if value not in timezone_names():
        raise ValidationError(
            _("“%(name)s” is not a known time zone; use an IANA name such as UTC or Europe/Berlin.") % {"name": value}
        )


def validate_jurisdiction(value: str) -> None:
    jurisdiction_check(value)


def validate_jurisdiction_or_blank(value: str) -> None:
    if value:
        jurisdiction_check(value)


# Pay periods ------------------------------------------------------------------------------


class PeriodStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSING = "closing", _("Closing")
    CLOSED = "closed", _("Closed")


class PayPeriod(models.Model):
    """A pay period: ``start`` inclusive, ``end`` exclusive, as dates in ``timezone``."""

    start = models.DateField(unique=True)
    end = models.DateField(help_text=_("Exclusive: the first day after the period."))
    timezone = models.CharField(
        max_length=64, validators=[validate_timezone], help_text=_("IANA time zone name, e.g. UTC or Europe/Berlin.")
    )
    status = models.CharField(max_length=10, choices=PeriodStatus.choices, default=PeriodStatus.OPEN)
    closing_started_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-start"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="payperiod_end_after_start"),
            models.CheckConstraint(condition=Q(status__in=PeriodStatus.values), name="payperiod_status_valid"),
            models.CheckConstraint(
                condition=~Q(status=PeriodStatus.CLOSED) | Q(closed_at__isnull=False),
                name="payperiod_closed_has_time",
            ),
        ]

    def __str__(self) -> str:
        last = self.end - datetime.timedelta(days=1)
        return f"{self.start:%Y-%m-%d} to {last:%Y-%m-%d} ({self.timezone})"


# The ledger -------------------------------------------------------------------------------


class EntryKind(models.TextChoices):
    PIECE = "piece", _("Piece rate")
    HOURLY = "hourly", _("Hourly pay")
    QUALIFICATION = "qualification", _("Qualification test time")
    INSTRUCTION = "instruction", _("Instruction reading time")
    BONUS = "bonus", _("Bonus")
    PENALTY = "penalty", _("Penalty")
    TOPUP = "topup", _("Wage-floor top-up")
    OVERTIME = "overtime", _("Overtime premium")
    REVERSAL = "reversal", _("Reversal")
    PAYOUT = "payout", _("Payout")
    PAYOUT_RETURN = "payout_return", _("Returned payout")


# Money owed to the contractor (or returned to their balance) is positive; money taken from it
# (a penalty, a payout) is negative. A reversal is minus the entry it reverses, so either sign.
CREDIT_KINDS = (
    EntryKind.PIECE,
    EntryKind.HOURLY,
    EntryKind.QUALIFICATION,
    EntryKind.INSTRUCTION,
    EntryKind.BONUS,
    EntryKind.TOPUP,
    EntryKind.OVERTIME,
    EntryKind.PAYOUT_RETURN,
)
DEBIT_KINDS = (EntryKind.PENALTY, EntryKind.PAYOUT)
# Kinds that count as earnings towards the effective hourly rate (rule 2).
EARNING_KINDS = (
    EntryKind.PIECE,
    EntryKind.HOURLY,
    EntryKind.QUALIFICATION,
    EntryKind.INSTRUCTION,
    EntryKind.BONUS,
    EntryKind.OVERTIME,
)


class LedgerEntry(models.Model):
    """One signed amount on a contractor's account. Append-only: corrections are reversal entries."""

    # The composite indexes below lead with contractor and period, so the FKs need no index of their own.
    contractor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ledger_entries", db_index=False
    )
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    amount_minor = models.BigIntegerField(help_text=_("Signed, in the currency's minor units."))
    currency = models.CharField(max_length=3, validators=[validate_currency])
    period = models.ForeignKey(PayPeriod, on_delete=models.PROTECT, related_name="entries", db_index=False)
    source_type = models.CharField(max_length=100, blank=True, help_text=_("app_label.model, e.g. tasks.answer"))
    source_id = models.BigIntegerField(null=True, blank=True)
    memo = models.TextField(help_text=_("Why, in words the contractor reads on their statement."))
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=dj_timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by_job = models.CharField(max_length=100, blank=True)
    reverses = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by")
    # NULL is "no key": NULLs never collide in a unique index, every key does.
    key = models.CharField(max_length=200, unique=True, null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["created_at", "id"]
        verbose_name_plural = "ledger entries"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["contractor", "created_at"], name="ledgerentry_contractor_time"),
            models.Index(fields=["contractor", "period"], name="ledgerentry_contractor_period"),
            models.Index(fields=["period", "kind"], name="ledgerentry_period_kind"),
            models.Index(fields=["source_type", "source_id"], name="ledgerentry_source"),
        ]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(memo__regex=r"\S"), name="ledgerentry_has_memo"),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_PATTERN), name="ledgerentry_currency_code"),
            models.CheckConstraint(condition=~Q(amount_minor=0), name="ledgerentry_amount_not_zero"),
            models.CheckConstraint(condition=Q(kind__in=EntryKind.values), name="ledgerentry_kind_valid"),
            models.CheckConstraint(
                condition=Q(kind__in=CREDIT_KINDS, amount_minor__gt=0)
                | Q(kind__in=DEBIT_KINDS, amount_minor__lt=0)
                | Q(kind=EntryKind.REVERSAL),
                name="ledgerentry_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind=EntryKind.REVERSAL, reverses__isnull=False)
                | (~Q(kind=EntryKind.REVERSAL) & Q(reverses__isnull=True)),
                name="ledgerentry_reversal_names_entry",
            ),
            models.CheckConstraint(
                condition=Q(created_by__isnull=False, created_by_job="")
                | (Q(created_by__isnull=True) & ~Q(created_by_job="")),
                name="ledgerentry_one_author",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount.format()} for {self.contractor_id} (#{self.pk})"

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


# Wage floors and FX rates -----------------------------------------------------------------


class WageFloorManager(models.Manager["WageFloor"]):
    def get_by_natural_key(self, jurisdiction: str, effective_from: str) -> WageFloor:
        return self.get(jurisdiction=jurisdiction, effective_from=effective_from)


class WageFloor(models.Model):
    """A statutory minimum hourly wage of a jurisdiction, from ``effective_from`` until the next row."""

    jurisdiction = models.CharField(
        max_length=10,
        validators=[validate_jurisdiction],
        help_text=_("ISO 3166-1 country (DE) or ISO 3166-2 subdivision (US-CA)."),
    )
    currency = models.CharField(max_length=3, validators=[validate_currency])
    hourly_rate = models.DecimalField(max_digits=12, decimal_places=4)
    effective_from = models.DateField()
    source_url = models.URLField(max_length=500, help_text=_("The official page that states this rate."))
    checked_on = models.DateField(help_text=_("When a person last checked the rate against the source."))
    note = models.TextField(blank=True)

    objects = WageFloorManager()

    class Meta:
        ordering: ClassVar[list[str]] = ["jurisdiction", "-effective_from"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["jurisdiction", "effective_from"], name="wagefloor_one_per_day"),
            models.CheckConstraint(condition=Q(hourly_rate__gt=0), name="wagefloor_rate_positive"),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_PATTERN), name="wagefloor_currency_code"),
            models.CheckConstraint(
                condition=Q(jurisdiction__regex=JURISDICTION_PATTERN), name="wagefloor_jurisdiction_code"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.jurisdiction} {self.hourly_rate} {self.currency}/h from {self.effective_from}"

    def natural_key(self) -> tuple[str, str]:
        return (self.jurisdiction, self.effective_from.isoformat())

    def clean(self) -> None:
        self.jurisdiction = (self.jurisdiction or "").strip().upper()
        self.currency = (self.currency or "").strip().upper()


class PolicyFloor(models.Model):
    """The organisation's own floor (e.g. a living wage) above the statutory one; blank jurisdiction = everywhere."""

    jurisdiction = models.CharField(
        max_length=10,
        blank=True,
        validators=[validate_jurisdiction_or_blank],
        help_text=_("ISO 3166-1/3166-2 code, or empty for everywhere."),
    )
    currency = models.CharField(max_length=3, validators=[validate_currency])
    hourly_rate = models.DecimalField(max_digits=12, decimal_places=4)
    effective_from = models.DateField()
    note = models.TextField(help_text=_("Why this floor exists, e.g. the living-wage study it follows."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["jurisdiction", "-effective_from"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["jurisdiction", "effective_from"], name="policyfloor_one_per_day"),
            models.CheckConstraint(condition=Q(hourly_rate__gt=0), name="policyfloor_rate_positive"),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_PATTERN), name="policyfloor_currency_code"),
            models.CheckConstraint(condition=Q(note__regex=r"\S"), name="policyfloor_has_note"),
            models.CheckConstraint(
                condition=Q(jurisdiction="") | Q(jurisdiction__regex=JURISDICTION_PATTERN),
                name="policyfloor_jurisdiction_code",
            ),
        ]

    def __str__(self) -> str:
        where = self.jurisdiction or "everywhere"
        return f"Policy floor {where} {self.hourly_rate} {self.currency}/h from {self.effective_from}"

    def clean(self) -> None:
        self.jurisdiction = (self.jurisdiction or "").strip().upper()
        self.currency = (self.currency or "").strip().upper()


class FxRate(models.Model):
    """On ``date``, 1 ``base`` = ``rate`` ``quote``."""

    date = models.DateField()
    base = models.CharField(max_length=3, validators=[validate_currency])
    quote = models.CharField(max_length=3, validators=[validate_currency])
    rate = models.DecimalField(max_digits=20, decimal_places=10)
    source = models.CharField(max_length=200, blank=True, help_text=_("Where the rate comes from, e.g. ECB."))

    class Meta:
        ordering: ClassVar[list[str]] = ["-date", "base", "quote"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["base", "quote", "-date"], name="fxrate_pair_latest"),
        ]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["date", "base", "quote"], name="fxrate_one_per_pair_and_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="fxrate_rate_positive"),
            models.CheckConstraint(condition=~Q(base=models.F("quote")), name="fxrate_two_currencies"),
            models.CheckConstraint(
                condition=Q(base__regex=CURRENCY_PATTERN, quote__regex=CURRENCY_PATTERN), name="fxrate_currency_codes"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date}: 1 {self.base} = {self.rate} {self.quote}"

    def clean(self) -> None:
        self.base = (self.base or "").strip().upper()
        self.quote = (self.quote or "").strip().upper()
        if self.base and self.base == self.quote:
            raise ValidationError({"quote": _("The quote currency must differ from the base currency.")})
