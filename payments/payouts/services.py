"""Payouts, exactly once (rule 6).

1. ``payout_create`` writes the ``Payout`` row (pending, with its idempotency key) and its
   negative ledger ``payout`` entry in ONE transaction, under a lock on the contractor's payout
   account, before any provider is called. The money has left the balance, so no other run
   can pay it again, and the row is there whatever happens next.
2. ``payout_submit`` counts the attempt and commits, then calls the provider while holding
   the payout's row lock (a second worker skips the row; PostgreSQL drops the lock if the
   worker dies). A payout with an earlier attempt is first looked up at the provider by its
   key, so one that went through before a crash is adopted instead of sent again; otherwise
   it is sent with the same idempotency key, which the provider answers with the first result.
3. The answer decides: paid (Stripe: the transfer exists, the money is in the contractor's
   account), failed (a definitive refusal: a ``payout_return`` entry puts the amount back and
   the contractor is told why), or still pending (outcome unknown: retried later with the same
   key, by the job's retry, the next run or the 15-minute resume job).

Bank-file payouts stop after step 1 until an operations manager generates the run's file
and confirms what the bank did (``bank.py``). Runs are in ``runs.py``, payout accounts in
``accounts.py``.
"""

from __future__ import annotations

import datetime
import logging
import os
import time
import uuid
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from payments.models import EntryKind, PayPeriod, PeriodStatus
from payments.money import Money, currency_check
from payments.payouts import selectors
from payments.payouts.models import Payout, PayoutAccount, PayoutRun, PayoutState, ProviderName
from payments.payouts.providers import (
    PayoutRefused,
    ProviderError,
    ProviderUnavailable,
    SubmitResult,
    provider_get,
)
from payments.services.ledger import entry_post
from workforce.audit import audit_record
from workforce.models import User
from workforce.services import wrong_state

logger = logging.getLogger(__name__)

JOB = "payouts"  # the author of the ledger entries the payout jobs post
BATCH_PROVIDERS = (ProviderName.BANK_FILE,)
# Provider errors that every payout would meet (no key, a key Stripe refuses): they stop a run.
STOP_CODES = frozenset({"not_configured", "authentication"})
# How long the test-only hook holds a worker after a provider call (the test kills it sooner).
TEST_HOLD_SECONDS = 120


def require_operations(actor: User) -> None:
    if not actor.is_operations:
        raise PermissionDenied(_("Only an operations manager can do this."))


def new_key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


# Where payout entries go -------------------------------------------------------------------


def payout_period_get(*, at: datetime.datetime | None = None) -> PayPeriod:
    """The pay period that records money moving now: the open period covering ``at``, else the newest open one.

    A closed period is never written to: its statement is final.
    """
    at = at or timezone.now()
    open_periods = PayPeriod.objects.exclude(status=PeriodStatus.CLOSED)
    near = open_periods.filter(start__lte=at.date() + datetime.timedelta(days=1), end__gte=at.date())
    for period in near.order_by("start"):
        day = at.astimezone(ZoneInfo(period.timezone)).date()
        if period.start <= day < period.end:
            return period
    newest = open_periods.order_by("-start").first()
    if newest is None:
        raise wrong_state(
            "period",
            _("There is no open pay period to record payouts in; open the current pay period first, then run again."),
        )
    return newest


# Creating a payout -------------------------------------------------------------------------


def _destination(account: PayoutAccount) -> tuple[str, str]:
    if account.provider == ProviderName.STRIPE:
        return account.stripe_account_id, ""
    return account.bank_account_reference, account.bank_account_holder


@transaction.atomic
def payout_create(
    *,
    contractor: User,
    currency: str,
    amount: Money | None = None,
    minimum: Money | None = None,
    run: PayoutRun | None = None,
    actor: User | None = None,
    job: str = "",
) -> Payout:
    """Write a pending payout and its ledger ``payout`` entry together, before any provider call.

    ``amount`` defaults to the whole payable balance. Refused, with nothing written: no usable
    payout account, a provider that is not configured, a payout in this currency still
    pending, an amount above the payable balance (or below ``minimum``).
    """
    try:
        currency = currency_check(currency)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"currency": str(exc)}) from exc
    # The lock makes two payouts of one contractor take turns: the second sees the first's
    # ledger entry in the balance, and the pending check below.
    account = PayoutAccount.objects.select_for_update().filter(contractor=contractor).first()
    if account is None:
        raise ValidationError(
            {"account": _("%(who)s has no payout account yet; it is set up under Payouts.") % {"who": contractor}}
        )
    if account.unusable_reason:
        raise ValidationError({"account": account.unusable_reason})
    provider = provider_get(account.provider)
    if provider.configuration_problem():
        raise ValidationError({"provider": provider.configuration_problem()})
    pending = Payout.objects.filter(contractor=contractor, currency=currency, state=PayoutState.PENDING).first()
    if pending is not None:
        raise wrong_state(
            "currency",
            _("Payout #%(id)s of %(amount)s to %(who)s is still pending; it is finished before another one starts.")
            % {"id": pending.pk, "amount": pending.amount, "who": contractor},
        )
    balance = selectors.payable_balance(contractor=contractor, currency=currency)
    amount = balance.payable if amount is None else amount
    if amount.currency != currency:
        raise ValidationError({"amount": _("The amount must be in %(currency)s.") % {"currency": currency}})
    if amount.minor <= 0:
        raise ValidationError(
            {"amount": _("There is nothing to pay: the payable balance is %(payable)s.") % {"payable": balance.payable}}
        )
    if amount > balance.payable:
        raise ValidationError(
            {
                "amount": _(
                    "The payout of %(amount)s is more than %(who)s can be paid now (%(payable)s); pay at "
                    "most that. Earnings of periods that are not closed yet (%(waiting)s) are paid after the close."
                )
                % {"amount": amount, "who": contractor, "payable": balance.payable, "waiting": balance.waiting}
            }
        )
    if minimum is not None and amount < minimum:
        raise ValidationError(
            {
                "amount": _("%(amount)s is below the minimum payout of %(minimum)s.")
                % {"amount": amount, "minimum": minimum}
            }
        )
    period = payout_period_get()
    destination, name = _destination(account)
    payout = Payout.objects.create(
        run=run,
        contractor=contractor,
        account=account,
        provider=account.provider,
        amount_minor=amount.minor,
        currency=currency,
        key=new_key("fairtask-payout"),
        destination=destination,
        destination_name=name,
    )
    where = (
        _("your Stripe account")
        if account.provider == ProviderName.STRIPE
        else _("your bank account ending %(last4)s") % {"last4": destination[-4:]}
    )
    payout.entry = entry_post(
        contractor=contractor,
        kind=EntryKind.PAYOUT,
        amount=-amount,
        period=period,
        memo=_("Payout #%(id)s of %(amount)s to %(where)s.") % {"id": payout.pk, "amount": amount, "where": where},
        details={"payout": payout.pk, "run": run.pk if run else None, "provider": payout.provider},
        source=payout,
        actor=actor,
        job=job if actor is None else "",
        key=payout.ledger_key,
    )
    payout.save(update_fields=["entry"])
    return payout


# Sending it --------------------------------------------------------------------------------


def _locked_pending(payout_id: int) -> Payout | None:
    """The payout locked for this worker, or None if another worker has it or it is no longer pending."""
    payout = (
        Payout.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("contractor", "account")
        .filter(pk=payout_id)
        .first()
    )
    if payout is None or payout.state != PayoutState.PENDING:
        return None
    return payout


def _hold_for_crash_test(payout: Payout) -> None:
    """Tests only (``FAIRTASK_PAYOUT_TEST_HOLD_FILE``): stop the first worker here, after the
    provider's answer and before the database update, so a test can kill it at that point."""
    path = settings.FAIRTASK_PAYOUT_TEST_HOLD_FILE
    if not path:
        return
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return  # held once already; a resumed attempt goes on
    with os.fdopen(fd, "w") as marker:
        marker.write(f"{os.getpid()} {payout.pk}\n")
    time.sleep(TEST_HOLD_SECONDS)


def _payout_sent(payout: Payout, result: SubmitResult) -> None:
    now = timezone.now()
    payout.provider_reference = result.reference
    payout.submitted_at = payout.submitted_at or now
    payout.last_error = ""
    if result.state == PayoutState.PAID:
        payout.state = PayoutState.PAID
        payout.paid_at = now
    else:
        payout.state = PayoutState.SUBMITTED
    payout.save(update_fields=["provider_reference", "submitted_at", "last_error", "state", "paid_at"])


def payout_fail(*, payout: Payout, code: str, reason: str, actor: User | None = None, job: str = JOB) -> None:
    """Mark a payout failed and put its amount back on the balance, once (the return's ledger key).

    The caller holds the payout's row lock. The contractor is emailed after the commit.
    """
    reason = reason.strip() or _("The provider gave no reason.")
    payout.return_entry = entry_post(
        contractor=payout.contractor,
        kind=EntryKind.PAYOUT_RETURN,
        amount=payout.amount,
        period=payout_period_get(),
        memo=_("Payout #%(id)s of %(amount)s failed and is back in your balance: %(reason)s")
        % {"id": payout.pk, "amount": payout.amount, "reason": reason},
        details={"payout": payout.pk, "code": code},
        source=payout,
        actor=actor,
        job="" if actor is not None else job,
        key=payout.return_key,
    )
    payout.state = PayoutState.FAILED
    payout.failed_at = timezone.now()
    payout.failure_code = code
    payout.failure_reason = reason
    payout.settled_by = actor
    payout.save(update_fields=["return_entry", "state", "failed_at", "failure_code", "failure_reason", "settled_by"])
    audit_record(
        actor=actor,
        action="payout.fail",
        obj=payout,
        summary={"contractor": payout.contractor_id, "amount": str(payout.amount), "code": code, "reason": reason},
    )
    payout_id = payout.pk
    # After the commit, and robust: a mail server that is down must not undo the return.
    transaction.on_commit(lambda: payout_failure_notify(payout_id=payout_id), robust=True)


def payout_failure_notify(*, payout_id: int) -> None:
    """Email the contractor that a payout failed, why, and that the amount is back in their balance."""
    payout = Payout.objects.select_related("contractor").get(pk=payout_id)
    send_mail(
        subject=_("Fairtask: your payout of %(amount)s could not be made") % {"amount": payout.amount},
        message=_(
            "Your payout #%(id)s of %(amount)s failed: %(reason)s\n\n"
            "The amount is back in your balance and is paid with the next payout run once the problem is fixed. "
            "Check your payout account under Payouts: %(path)s"
        )
        % {
            "id": payout.pk,
            "amount": payout.amount,
            "reason": payout.failure_reason,
            "path": reverse("payments:payout-list"),
        },
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[payout.contractor.email],
    )


def payout_submit(*, payout_id: int) -> Payout | None:
    """Send one pending payout to its provider exactly once; None if another worker has it or it is settled.

    Raises ``ProviderUnavailable`` when the outcome is unknown (the payout stays pending; call
    again later) and ``ProviderError`` for a problem a person must fix (also left pending).
    """
    with transaction.atomic():
        payout = _locked_pending(payout_id)
        if payout is None or payout.provider in BATCH_PROVIDERS:
            return payout
        earlier_attempts = payout.attempts
        payout.attempts += 1
        payout.last_attempt_at = timezone.now()
        payout.save(update_fields=["attempts", "last_attempt_at"])
    # Committed: from here on, whatever happens to this worker, the next attempt knows a call
    # may have reached the provider and looks the payout up first. The call itself runs under
    # the row lock, so no second worker sends this payout at the same time.
    error: ProviderError | None = None
    with transaction.atomic():
        payout = _locked_pending(payout_id)
        if payout is None:
            return None
        provider = provider_get(payout.provider)
        try:
            found = provider.lookup(payout) if earlier_attempts else None
            result = SubmitResult(PayoutState.PAID, found.reference) if found else provider.submit(payout)
        except PayoutRefused as refusal:
            payout_fail(payout=payout, code=refusal.code, reason=refusal.message)
            return payout
        except ProviderError as exc:
            payout.last_error = str(exc)
            payout.save(update_fields=["last_error"])
            error = exc
        else:
            _hold_for_crash_test(payout)
            _payout_sent(payout, result)
            return payout
    raise error


def submit_noting(payout_id: int) -> Payout | None:
    """``payout_submit``, but a problem with this one payout (kept on it) does not stop the others.

    An unknown outcome (retry later) and a provider that refuses our credentials (every
    payout would meet it) still stop the caller.
    """
    try:
        return payout_submit(payout_id=payout_id)
    except ProviderUnavailable:
        raise
    except ProviderError as exc:
        if exc.code in STOP_CODES:
            raise
        logger.warning("Payout #%s left pending: %s", payout_id, exc)
        return None


def payouts_resume(*, older_than: datetime.timedelta | None = None) -> list[Payout]:
    """Send again every pending payout (not bank-file ones), oldest first, each with its own key."""
    pending = Payout.objects.filter(state=PayoutState.PENDING).exclude(provider__in=BATCH_PROVIDERS)
    if older_than is not None:
        pending = pending.filter(created_at__lt=timezone.now() - older_than)
    done = []
    for payout_id in pending.order_by("id").values_list("id", flat=True):
        payout = submit_noting(payout_id)
        if payout is not None:
            done.append(payout)
    return done


# When the contractor's bank returns a Stripe payout ------------------------------------------


def payout_reclaim(*, payout_id: int, code: str, reason: str, job: str) -> Payout:
    """Take a paid Stripe payout back (reverse the transfer), then fail it and return it to the balance.

    The money must leave the contractor's Stripe balance before it returns to their Fairtask
    balance, or the next run would pay it a second time. The reversal has its own idempotency
    key, so a repeat (a redelivered webhook) reverses nothing twice.
    """
    with transaction.atomic():
        payout = Payout.objects.select_for_update(of=("self",)).select_related("contractor").get(pk=payout_id)
        if payout.state == PayoutState.FAILED:
            return payout
        if payout.state != PayoutState.PAID or payout.provider != ProviderName.STRIPE:
            raise wrong_state("payout", _("Payout #%(id)s is not a paid Stripe payout.") % {"id": payout.pk})
        record = provider_get(payout.provider).reclaim(payout)
        if record.reversed_minor < payout.amount_minor:
            raise ProviderError(
                _("Only %(part)s of payout #%(id)s was reversed; a person must look at it.")
                % {"part": Money(record.reversed_minor, payout.currency), "id": payout.pk},
                "partial_reversal",
            )
        payout_fail(payout=payout, code=code, reason=reason, job=job)
        return payout
