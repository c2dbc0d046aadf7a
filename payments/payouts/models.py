"""Payouts (rule 6): where a contractor is paid, each run, each payout and what the provider said.

A ``Payout`` row and its ledger ``payout`` entry are committed together before the provider
is called, and every call for that payout carries the payout's own ``key`` as its idempotency
key (Stripe's ``Idempotency-Key`` and the transfer's ``transfer_group``). So a payout is never
lost (the row is there whatever happens to the call) and never made twice (a repeated call
is recognised by the provider, and after a crash the payout is first looked up by its key).

These models are loaded by the last line of ``payments/models.py``; their app is ``payments``.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from payments.models import CURRENCY_PATTERN, validate_currency
from payments.money import Money


class ProviderName(models.TextChoices):
    STRIPE = "stripe_connect", _("Stripe Connect")
    BANK_FILE = "bank_file", _("Bank transfer (bank file)")


class PayoutAccount(models.Model):
    """Where a contractor is paid: a Stripe Express account, or bank details for the manual bank file.

    The Stripe fields mirror the connected account as Stripe last reported it (on return from
    onboarding and from ``account.updated`` webhooks); money moves only when it is usable.
    """

    contractor = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_account")
    provider = models.CharField(max_length=20, choices=ProviderName.choices)
    # A random token for the idempotency key of the account's creation at Stripe.
    key = models.CharField(max_length=100, unique=True)
    stripe_account_id = models.CharField(max_length=64, blank=True)
    details_submitted = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(default=False)
    transfers_active = models.BooleanField(default=False, help_text=_("The transfers capability is active."))
    disabled_reason = models.CharField(max_length=100, blank=True)
    requirements_due = models.JSONField(default=list, blank=True)
    bank_account_holder = models.CharField(max_length=200, blank=True)
    bank_account_reference = models.CharField(max_length=64, blank=True, help_text=_("IBAN or account number."))
    problem = models.TextField(
        blank=True, help_text=_("Something the contractor must fix, e.g. a bank that returned a payout.")
    )
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(provider__in=ProviderName.values), name="payoutaccount_provider_valid"),
            models.UniqueConstraint(
                fields=["stripe_account_id"],
                condition=~Q(stripe_account_id=""),
                name="payoutaccount_one_row_per_stripe_account",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} account of {self.contractor_id}"

    @property
    def unusable_reason(self) -> str:
        """Why no money can be sent here yet, in words for the contractor; empty when it can."""
        if self.provider == ProviderName.STRIPE:
            if not self.stripe_account_id or not self.details_submitted:
                return str(_("Stripe onboarding is not finished: open “Set up payouts” and complete it."))
            if self.disabled_reason:
                return str(
                    _("Stripe has paused this account (%(reason)s): open “Set up payouts” and finish what Stripe asks.")
                    % {"reason": self.disabled_reason}
                )
            if not self.transfers_active or not self.payouts_enabled:
                return str(_("Stripe is still checking the account details; this usually takes a few minutes."))
            return ""
        if not self.bank_account_holder or not self.bank_account_reference:
            return str(_("The bank details are missing: enter the account holder and the IBAN or account number."))
        return ""

    @property
    def is_usable(self) -> bool:
        return not self.unusable_reason

    @property
    def bank_reference_masked(self) -> str:
        reference = self.bank_account_reference
        return f"…{reference[-4:]}" if reference else ""


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Stopped; pending payouts resume on the next run")


class PayoutRun(models.Model):
    """One payout run in one currency: who started it, when, and what it did."""

    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(default=dj_timezone.now)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    minimum_minor = models.BigIntegerField(help_text=_("The smallest payout of this run, in minor units."))
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text=_("How many times a worker started on the run."))
    planned_count = models.PositiveIntegerField(default=0, help_text=_("Contractors with a payable balance."))
    below_minimum_count = models.PositiveIntegerField(default=0)
    resumed_count = models.PositiveIntegerField(default=0, help_text=_("Pending payouts of earlier runs resumed."))
    error = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-started_at", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(status__in=RunStatus.values), name="payoutrun_status_valid"),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_PATTERN), name="payoutrun_currency_code"),
            models.CheckConstraint(condition=Q(minimum_minor__gt=0), name="payoutrun_minimum_positive"),
            models.CheckConstraint(
                condition=~Q(status__in=[RunStatus.DONE, RunStatus.FAILED]) | Q(finished_at__isnull=False),
                name="payoutrun_finished_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Payout run #{self.pk} ({self.currency}, {self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in (RunStatus.DONE, RunStatus.FAILED)

    @property
    def minimum(self) -> Money:
        return Money(self.minimum_minor, self.currency)


class PayoutState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUBMITTED = "submitted", _("Submitted")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed; returned to the balance")


class BankFile(models.Model):
    """A generated bank file, kept byte for byte: the payouts in it were submitted by it, once."""

    run = models.ForeignKey(PayoutRun, on_delete=models.PROTECT, related_name="bank_files")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    payout_count = models.PositiveIntegerField()
    total_minor = models.BigIntegerField()
    content = models.TextField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(payout_count__gt=0), name="bankfile_not_empty"),
        ]

    def __str__(self) -> str:
        return f"Bank file #{self.pk} of run #{self.run_id}"

    @property
    def file_name(self) -> str:
        return f"fairtask-payouts-run{self.run_id}-file{self.pk}.csv"

    @property
    def total(self) -> Money:
        return Money(self.total_minor, self.currency)


class Payout(models.Model):
    """Money sent to one contractor once. ``pending`` means written, provider outcome not yet known."""

    run = models.ForeignKey(PayoutRun, on_delete=models.PROTECT, null=True, blank=True, related_name="payouts")
    contractor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts")
    account = models.ForeignKey(PayoutAccount, on_delete=models.PROTECT, related_name="payouts")
    provider = models.CharField(max_length=20, choices=ProviderName.choices)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3, validators=[validate_currency])
    state = models.CharField(max_length=10, choices=PayoutState.choices, default=PayoutState.PENDING)
    # The idempotency key of every provider call for this payout, and Stripe's transfer_group.
    # Random rather than the row id, so a database restored from a backup can never reuse a
    # key (and adopt a transfer) that belongs to a payout it no longer knows about.
    key = models.CharField(max_length=100, unique=True)
    # Where the money goes, as it was when the payout was written.
    destination = models.CharField(max_length=100)
    destination_name = models.CharField(max_length=200, blank=True)
    provider_reference = models.CharField(
        max_length=100, blank=True, help_text=_("Stripe transfer id, or bank file line.")
    )
    attempts = models.PositiveIntegerField(default=0, help_text=_("Provider calls started for this payout."))
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, help_text=_("The last error that left the outcome unknown."))
    failure_code = models.CharField(max_length=100, blank=True)
    failure_reason = models.TextField(blank=True)
    bank_file = models.ForeignKey(BankFile, on_delete=models.PROTECT, null=True, blank=True, related_name="payouts")
    entry = models.OneToOneField(
        "payments.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    return_entry = models.OneToOneField(
        "payments.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=dj_timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["contractor", "-created_at"], name="payout_contractor_newest"),
            models.Index(fields=["state", "provider"], name="payout_state_provider"),
        ]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_PATTERN), name="payout_currency_code"),
            models.CheckConstraint(condition=Q(state__in=PayoutState.values), name="payout_state_valid"),
            models.CheckConstraint(condition=Q(provider__in=ProviderName.values), name="payout_provider_valid"),
            # At most one payout per contractor and currency whose outcome is still open, so a
            # second run cannot pay the same balance while the first payout is in flight.
            models.UniqueConstraint(
                fields=["contractor", "currency"],
                condition=Q(state="pending"),
                name="payout_one_pending_per_currency",
            ),
            models.UniqueConstraint(fields=["run", "contractor", "currency"], name="payout_once_per_run"),
            models.CheckConstraint(
                condition=~Q(state__in=["submitted", "paid"]) | ~Q(provider_reference=""),
                name="payout_sent_has_reference",
            ),
            models.CheckConstraint(condition=~Q(state="paid") | Q(paid_at__isnull=False), name="payout_paid_has_time"),
            models.CheckConstraint(
                condition=~Q(state="failed")
                | (Q(failed_at__isnull=False, return_entry__isnull=False) & Q(failure_reason__regex=r"\S")),
                name="payout_failed_is_explained_and_returned",
            ),
        ]

    def __str__(self) -> str:
        return f"Payout #{self.pk} {self.amount.format()} to {self.contractor_id} ({self.state})"

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)

    @property
    def ledger_key(self) -> str:
        return f"payout:{self.pk}"

    @property
    def return_key(self) -> str:
        return f"payout-return:{self.pk}"


class PayoutSkip(models.Model):
    """A contractor a run could not pay although their balance was above the minimum, and why."""

    class Reason(models.TextChoices):
        NO_ACCOUNT = "no_account", _("No payout account")
        ACCOUNT_UNUSABLE = "account_unusable", _("Payout account not ready")
        PROVIDER_UNCONFIGURED = "provider_unconfigured", _("Provider not configured")
        PENDING = "pending", _("An earlier payout is still pending")

    run = models.ForeignKey(PayoutRun, on_delete=models.PROTECT, related_name="skips")
    contractor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_skips")
    currency = models.CharField(max_length=3, validators=[validate_currency])
    amount_minor = models.BigIntegerField(help_text=_("The payable balance that was not paid."))
    reason_code = models.CharField(max_length=30, choices=Reason.choices)
    reason = models.TextField()
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["run", "contractor", "currency"], name="payoutskip_once_per_run"),
            models.CheckConstraint(condition=Q(reason__regex=r"\S"), name="payoutskip_has_reason"),
        ]

    def __str__(self) -> str:
        return f"Run #{self.run_id} skipped {self.contractor_id}: {self.reason_code}"

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


class StripeEvent(models.Model):
    """A webhook event received from Stripe; the unique id makes a redelivery a no-op."""

    event_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100)
    account = models.CharField(max_length=64, blank=True, help_text=_("The connected account it came from."))
    received_at = models.DateTimeField(default=dj_timezone.now)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    result = models.TextField(blank=True, help_text=_("What Fairtask did with it."))

    class Meta:
        ordering: ClassVar[list[str]] = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


# What ``payments/models.py`` re-exports: the models only, so Django finds them.
__all__ = ["BankFile", "Payout", "PayoutAccount", "PayoutRun", "PayoutSkip", "StripeEvent"]
