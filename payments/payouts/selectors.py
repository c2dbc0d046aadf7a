"""Reads about payouts shared by the pages, the run and the onboarding checklist.

The payable balance is the one number a run pays. Earnings count once their pay period is
closed (the close may still add top-ups or reversals to an open one), payouts and returned
payouts count at once, and it is never more than the whole balance, so a correction posted
in the open period (a reversal of older pay) is taken into account before anything is paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from payments.models import EntryKind, LedgerEntry, PeriodStatus
from payments.money import Money
from payments.payouts.models import (
    BankFile,
    Payout,
    PayoutAccount,
    PayoutRun,
    PayoutSkip,
    PayoutState,
    ProviderName,
)
from workforce.models import ContractorProfile, User
from workforce.permissions import can_read_people
from workforce.selectors import ChecklistStep

_SETTLED = Q(period__status=PeriodStatus.CLOSED) | Q(kind__in=[EntryKind.PAYOUT, EntryKind.PAYOUT_RETURN])


@dataclass(frozen=True)
class PayableBalance:
    total: Money  # every entry, as ``payments.selectors.balance``
    settled: Money  # entries of closed periods, plus payouts and returns

    @property
    def payable(self) -> Money:
        """What a payout may take now: the smaller of the two, and never below zero."""
        return Money(max(0, min(self.total.minor, self.settled.minor)), self.total.currency)

    @property
    def waiting(self) -> Money:
        """Earnings in periods that are not closed yet: paid by the first run after their close."""
        return Money(max(0, self.total.minor - self.payable.minor), self.total.currency)


def _balances(currency: str) -> QuerySet[LedgerEntry, dict[str, Any]]:
    return (
        LedgerEntry.objects.filter(currency=currency)
        .values("contractor_id")
        .annotate(total=Coalesce(Sum("amount_minor"), 0), settled=Coalesce(Sum("amount_minor", filter=_SETTLED), 0))
        .order_by("contractor_id")
    )


def payable_balance(*, contractor: User, currency: str) -> PayableBalance:
    row = _balances(currency).filter(contractor_id=contractor.pk).first()
    total, settled = (row["total"], row["settled"]) if row else (0, 0)
    return PayableBalance(Money(int(total), currency), Money(int(settled), currency))


def payable_candidates(*, currency: str, minimum_minor: int) -> list[tuple[int, int]]:
    """(contractor id, payable minor units) of everyone with at least ``minimum_minor`` payable."""
    rows = _balances(currency).filter(Q(total__gte=minimum_minor) & Q(settled__gte=minimum_minor))
    return [(row["contractor_id"], min(int(row["total"]), int(row["settled"]))) for row in rows]


def below_minimum_count(*, currency: str, minimum_minor: int) -> int:
    """Contractors with something payable, but less than the minimum: they wait for the next run."""
    rows = _balances(currency).filter(Q(total__gt=0) & Q(settled__gt=0))
    return rows.filter(Q(total__lt=minimum_minor) | Q(settled__lt=minimum_minor)).count()


# Payout accounts ---------------------------------------------------------------------------


def payout_account_get(*, contractor: User) -> PayoutAccount | None:
    return PayoutAccount.objects.filter(contractor=contractor).first()


def payout_account_step(profile: ContractorProfile) -> ChecklistStep:
    """The onboarding checklist's "Payout account" step (registered in FAIRTASK_ONBOARDING_STEPS).

    It never blocks approval: time is paid into the ledger from the first task, whether or not
    money can leave it yet. It blocks payouts, and says so.
    """
    account = PayoutAccount.objects.filter(contractor_id=profile.user_id).first()
    later = _("Not needed for approval; until it is ready, payout runs keep your balance for you.")
    title = _("Payout account")
    if account is None:
        return ChecklistStep(
            "payout", title, "todo", f"{_('Tell us where to send your pay.')} {later}", "payments:payout-setup", False
        )
    if account.is_usable:
        if account.provider == ProviderName.STRIPE:
            where = _("Your Stripe account is ready to receive payouts.")
        else:
            where = _("Payouts go to the bank account ending %(last4)s.") % {
                "last4": account.bank_account_reference[-4:]
            }
        return ChecklistStep("payout", title, "done", where, "payments:payout-setup", False)
    # Stripe still checking what was sent is a wait; anything Stripe asks for is the contractor's to do.
    is_checking = account.provider == ProviderName.STRIPE and account.details_submitted and not account.disabled_reason
    status = "waiting" if is_checking else "todo"
    return ChecklistStep("payout", title, status, f"{account.unusable_reason} {later}", "payments:payout-setup", False)


# Runs and payouts --------------------------------------------------------------------------


def payout_run_list() -> QuerySet[PayoutRun]:
    return PayoutRun.objects.select_related("started_by").order_by("-started_at", "-id")


def payout_list(*, contractor: User | None = None, run: PayoutRun | None = None) -> QuerySet[Payout]:
    payouts = Payout.objects.select_related("contractor", "run", "bank_file", "settled_by")
    if contractor is not None:
        payouts = payouts.filter(contractor=contractor)
    if run is not None:
        payouts = payouts.filter(run=run)
    return payouts.order_by("-created_at", "-id")


def payout_skip_list(*, run: PayoutRun | None = None, contractor: User | None = None) -> QuerySet[PayoutSkip]:
    skips = PayoutSkip.objects.select_related("contractor", "run")
    if run is not None:
        skips = skips.filter(run=run)
    if contractor is not None:
        skips = skips.filter(contractor=contractor)
    return skips.order_by("-created_at", "-id")


def payout_skip_current(*, contractor: User) -> PayoutSkip | None:
    """The latest run's reason for not paying the contractor, unless a later payout was made."""
    skip = payout_skip_list(contractor=contractor).first()
    if skip is None or Payout.objects.filter(contractor=contractor, created_at__gt=skip.created_at).exists():
        return None
    return skip


def payout_run_counts(*, run: PayoutRun) -> dict[str, int]:
    """How many of the run's payouts are in each state, every state named (zero included)."""
    counts = dict.fromkeys(PayoutState.values, 0)
    for row in Payout.objects.filter(run=run).values("state").annotate(n=Count("id")).order_by():
        counts[row["state"]] = row["n"]
    return counts


def payout_run_status(*, run: PayoutRun) -> dict[str, Any]:
    """What the run page shows and its progress bar polls."""
    counts = payout_run_counts(run=run)
    skipped = PayoutSkip.objects.filter(run=run).count()
    created = sum(counts.values())
    # A payout is handled once the provider has answered; a bank payout waits for its file,
    # which is a person's step, so it counts as handled by the run.
    handled = created - counts[PayoutState.PENDING] + skipped
    handled += Payout.objects.filter(run=run, state=PayoutState.PENDING, provider=ProviderName.BANK_FILE).count()
    total = max(run.planned_count, handled)
    percent = int(handled * 100 / total) if total else 0
    if run.is_finished:
        percent = 100
    return {
        "status": run.status,
        "status_display": run.get_status_display(),
        "is_finished": run.is_finished,
        "percent": percent,
        "planned": run.planned_count,
        "handled": handled,
        "skipped": skipped,
        "below_minimum": run.below_minimum_count,
        "resumed": run.resumed_count,
        "counts": counts,
        "error": run.error,
    }


# Who may see what ---------------------------------------------------------------------------


def payout_for_user(*, user: User, pk: int) -> Payout:
    """A contractor sees their own payouts (another's is a 404); operations and auditors see all."""
    payout = get_object_or_404(
        Payout.objects.select_related("contractor", "run", "bank_file", "settled_by", "account"), pk=pk
    )
    if can_read_people(user) or payout.contractor_id == user.pk:
        return payout
    raise Http404


def payout_run_for_user(*, user: User, pk: int) -> PayoutRun:
    """Runs are staff pages; the views let contractors no further than the role check."""
    if not can_read_people(user):
        raise Http404
    return get_object_or_404(PayoutRun.objects.select_related("started_by"), pk=pk)


def bank_file_for_user(*, user: User, pk: int) -> BankFile:
    if not can_read_people(user):
        raise Http404
    return get_object_or_404(BankFile.objects.select_related("run", "created_by"), pk=pk)
