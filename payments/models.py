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
from django.core.validators import MaxValueValidator, MinValueValidator
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
    # Every index costs each of the close's hundreds of thousands of inserts, so the ledger has
    # only those its readers use: none by author, by source, or by contractor and time.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    created_by_job = models.CharField(max_length=100, blank=True)
    # At most one reversal per entry: a partial unique index (below), which the many entries
    # that reverse nothing do not enter.
    reverses = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversals", db_index=False
    )
    # NULL is "no key": NULLs never collide in a unique index, every key does.
    key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL, unlike "", never collides

    class Meta:
        ordering: ClassVar[list[str]] = ["created_at", "id"]
        verbose_name_plural = "ledger entries"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["contractor", "period"], name="ledgerentry_contractor_period"),
            models.Index(fields=["period", "kind"], name="ledgerentry_period_kind"),
        ]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            # A constraint, not unique=True, which would add a second (pattern) index on PostgreSQL.
            models.UniqueConstraint(fields=["key"], name="ledgerentry_key_unique"),
            models.UniqueConstraint(
                fields=["reverses"], condition=Q(reverses__isnull=False), name="ledgerentry_one_reversal"
            ),
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


# Quality tiers --------------------------------------------------------------------------------


class TierKind(models.TextChoices):
    BONUS = "bonus", _("Bonus")
    PENALTY = "penalty", _("Penalty")


class QualityTier(models.Model):
    """A quality bonus or penalty on a project's piece earnings (rule 3).

    A bonus applies when the LOWER bound of the contractor's quality interval on the project
    is above ``threshold``; a penalty only when the UPPER bound is below it, so noise in a
    small sample never costs anyone money. ``multiplier`` scales the period's piece earnings:
    a bonus of 1.10 adds 10 %, a penalty of 0.95 takes 5 %.
    """

    project = models.ForeignKey("tasks.Project", on_delete=models.PROTECT, related_name="quality_tiers")
    kind = models.CharField(max_length=10, choices=TierKind.choices)
    threshold = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text=_("A quality between 0 and 1, e.g. 0.9000."),
    )
    multiplier = models.DecimalField(
        max_digits=6,
        decimal_places=4,
        help_text=_("Factor on the period's piece earnings: above 1 for a bonus (1.1000), below 1 for a penalty."),
    )
    note = models.TextField(help_text=_("Why this tier exists, in words the contractor reads on their statement."))
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["project", "kind", "threshold"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["project", "kind", "threshold"], name="qualitytier_one_per_threshold"),
            models.CheckConstraint(condition=Q(kind__in=TierKind.values), name="qualitytier_kind_valid"),
            models.CheckConstraint(condition=Q(threshold__gte=0, threshold__lte=1), name="qualitytier_threshold_0_1"),
            models.CheckConstraint(
                condition=Q(kind=TierKind.BONUS, multiplier__gt=1)
                | Q(kind=TierKind.PENALTY, multiplier__gte=0, multiplier__lt=1),
                name="qualitytier_multiplier_matches_kind",
            ),
            models.CheckConstraint(condition=Q(note__regex=r"\S"), name="qualitytier_has_note"),
        ]

    def __str__(self) -> str:
        bound = "lower bound >" if self.kind == TierKind.BONUS else "upper bound <"
        return f"{self.get_kind_display()} x{self.multiplier} on {self.project} when {bound} {self.threshold}"

    def clean(self) -> None:
        if self.kind == TierKind.BONUS and self.multiplier is not None and self.multiplier <= 1:
            raise ValidationError({"multiplier": _("A bonus multiplies piece earnings by more than 1, e.g. 1.10.")})
        if self.kind == TierKind.PENALTY and self.multiplier is not None and not 0 <= self.multiplier < 1:
            raise ValidationError(
                {"multiplier": _("A penalty multiplies piece earnings by at least 0 and less than 1, e.g. 0.95.")}
            )
        if self.project_id is None or self.threshold is None:
            return
        # A penalty threshold above a bonus threshold would let one interval earn both at once.
        others = QualityTier.objects.filter(project_id=self.project_id).exclude(pk=self.pk)
        if self.kind == TierKind.PENALTY and others.filter(kind=TierKind.BONUS, threshold__lt=self.threshold).exists():
            raise ValidationError(
                {"threshold": _("A penalty threshold must not be above a bonus threshold of the same project.")}
            )
        if self.kind == TierKind.BONUS and others.filter(kind=TierKind.PENALTY, threshold__gt=self.threshold).exists():
            raise ValidationError(
                {"threshold": _("A bonus threshold must not be below a penalty threshold of the same project.")}
            )


# The weekly close -----------------------------------------------------------------------------


class CloseStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Stopped; run the close again to resume")


class CloseRun(models.Model):
    """One run of a period's close, and the durable state that lets a crashed run resume.

    Contractors are closed in chunks of ascending id; each chunk's ledger entries, its
    exceptions and ``cursor`` (the last contractor id it covered) commit together, so running
    the close again continues after ``cursor`` and never posts a chunk twice. An empty
    ``contractor_ids`` means every contractor; a list is a retry of those contractors only.
    """

    period = models.ForeignKey(PayPeriod, on_delete=models.PROTECT, related_name="close_runs")
    status = models.CharField(max_length=10, choices=CloseStatus.choices, default=CloseStatus.RUNNING)
    contractor_ids = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(default=dj_timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    job = models.CharField(max_length=100, blank=True, help_text=_("The job that started the run, if no person did."))
    attempts = models.PositiveIntegerField(
        default=0, help_text=_("How many times a worker took the run up; more than 1 means it was resumed.")
    )
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    cursor = models.BigIntegerField(default=0, help_text=_("The highest contractor id already closed."))
    entries_posted = models.PositiveBigIntegerField(default=0)
    exceptions = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder)
    error = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-started_at", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            # Two live runs of one period would race for the same contractors.
            models.UniqueConstraint(
                fields=["period"], condition=Q(status=CloseStatus.RUNNING), name="closerun_one_running_per_period"
            ),
            models.CheckConstraint(condition=Q(status__in=CloseStatus.values), name="closerun_status_valid"),
            models.CheckConstraint(condition=Q(done__lte=models.F("total")), name="closerun_done_within_total"),
            models.CheckConstraint(
                condition=Q(started_by__isnull=False) | ~Q(job=""), name="closerun_names_who_started_it"
            ),
        ]

    def __str__(self) -> str:
        return f"Close of {self.period} ({self.get_status_display()}, {self.done}/{self.total})"

    @property
    def percent(self) -> int:
        if self.status == CloseStatus.DONE:
            return 100
        return min(100, int(100 * self.done / self.total)) if self.total else 0

    @property
    def is_retry(self) -> bool:
        return bool(self.contractor_ids)


class FraudExclusion(models.Model):
    """Task time a close left unpaid because of an active fraud mark (rule 1).

    If an appeal later overturns the finding, the next close pays the time back once
    (ledger key ``restored:<id>``) and counts it in that period's paid hours.
    """

    period = models.ForeignKey(PayPeriod, on_delete=models.PROTECT, related_name="fraud_exclusions")
    contractor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    fraud_mark = models.ForeignKey("tasks.FraudMark", on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey("tasks.Project", on_delete=models.PROTECT, related_name="+")
    seconds = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["period", "contractor"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["period", "fraud_mark"], name="fraudexclusion_once_per_period"),
        ]

    def __str__(self) -> str:
        return f"{self.seconds}s of {self.contractor_id} excluded in {self.period} (mark {self.fraud_mark_id})"


class WageCheckStatus(models.TextChoices):
    COMPLETE = "complete", _("Complete")
    PENDING = "pending", _("Pending: the top-up waits for a fix")


class WageCheck(models.Model):
    """The close's record of one contractor's floor comparison for a period (rule 2).

    Written by the close for every contractor it prices, in the same transaction as their
    ledger entries, and upserted on (period, contractor) so a resumed or retried close ends
    with the same row. Amounts are in the pay currency (``currency``); floors cite their rows.
    Reports, statements and audits read it instead of pricing the week again.
    """

    # The unique (period, contractor) constraint below serves lookups by period: no index of its own.
    period = models.ForeignKey(PayPeriod, on_delete=models.PROTECT, related_name="wage_checks", db_index=False)
    contractor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    jurisdiction = models.CharField(max_length=10, blank=True)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    task_seconds = models.BigIntegerField(default=0, help_text=_("Task time paid, after fraud exclusions."))
    qualification_seconds = models.BigIntegerField(default=0)
    instruction_seconds = models.BigIntegerField(default=0)
    excluded_seconds = models.BigIntegerField(default=0, help_text=_("Task time a fraud finding left unpaid."))
    paid_seconds = models.BigIntegerField(default=0)
    tasks_paid = models.IntegerField(default=0, help_text=_("Approved answers paid in this close."))
    earnings_minor = models.BigIntegerField(default=0, help_text=_("Before the top-up; bonuses and penalties in."))
    topup_minor = models.BigIntegerField(default=0)
    overtime_minor = models.BigIntegerField(default=0)
    required_minor = models.BigIntegerField(null=True, blank=True, help_text=_("Floor x hours, rounded up."))
    floor_hourly_minor = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    statutory = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    policy = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    fx = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    effective_hourly_before_minor = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    effective_hourly_after_minor = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    is_compliant = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=WageCheckStatus.choices, default=WageCheckStatus.COMPLETE)
    problem = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["period", "contractor"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["period", "contractor"], name="wagecheck_one_per_period"),
            models.CheckConstraint(condition=Q(status__in=WageCheckStatus.values), name="wagecheck_status_valid"),
            models.CheckConstraint(condition=Q(topup_minor__gte=0, overtime_minor__gte=0), name="wagecheck_no_debit"),
            models.CheckConstraint(
                condition=Q(status=WageCheckStatus.COMPLETE) | ~Q(problem=""), name="wagecheck_pending_says_why"
            ),
        ]

    def __str__(self) -> str:
        return f"Wage check of {self.contractor_id} in {self.period_id} ({self.status})"


from payments.audits.models import *  # noqa: E402,F403  (models live in the audits package)
from payments.payouts.models import *  # noqa: E402,F403  (models live in the payouts package)
from payments.reports.models import *  # noqa: E402,F403  (models live in the reports package)
