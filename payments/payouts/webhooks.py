"""Stripe webhooks at /payments/stripe/webhook/: verified, recorded once, then acted on.

Every request is checked with ``stripe.Webhook.construct_event`` against
``STRIPE_WEBHOOK_SECRET``; a missing or wrong signature (or a signature older than five
minutes) gets 400 and changes nothing. Each event's id is stored in the same transaction as
its effect, under a unique index, so a redelivered or replayed event has no second effect,
and an event whose handling fails (Stripe unreachable) leaves nothing behind: we answer 503
and Stripe delivers it again later.

Events handled:

- ``account.updated``: the connected account's state (details submitted, payouts enabled,
  transfers capability, disabled reason) is copied to its ``PayoutAccount``.
- ``transfer.reversed``: the payout whose transfer it is (by transfer id, or by its key in
  ``transfer_group`` if the worker died before recording the id) fails, fully reversed, and
  its amount returns to the balance. A partial reversal is recorded for a person.
- ``payout.failed``: the contractor's bank returned a payout from their Stripe balance. It is
  matched to our newest paid payout to that connected account with the same currency and
  amount (with one transfer per run and Stripe's automatic payouts, a bank payout carries one
  transfer); that transfer is reversed, so the money is back on the platform before it goes
  back on the balance (else the next run would pay it twice), and the contractor is told.
  A failure that matches no payout (several transfers paid out together) changes no money:
  it is recorded on the event and shown to the contractor as a problem with their account.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments.money import Money
from payments.payouts.accounts import payout_account_status_apply
from payments.payouts.models import Payout, PayoutAccount, PayoutState, ProviderName, StripeEvent
from payments.payouts.providers import ProviderError, ProviderUnavailable
from payments.payouts.providers.stripe_connect import account_status_from
from payments.payouts.services import payout_fail, payout_reclaim

logger = logging.getLogger(__name__)

JOB = "stripe-webhook"  # the author of the ledger entries a webhook posts


def _account_updated(event: StripeEvent) -> str:
    account = payout_account_status_apply(status=account_status_from(event.payload["data"]["object"]))
    if account is None:
        return "No payout account has this Stripe account."
    state = "usable" if account.is_usable else f"not usable: {account.unusable_reason}"
    return f"Payout account #{account.pk} updated ({state})."


def _transfer_reversed(event: StripeEvent) -> str:
    transfer = event.payload["data"]["object"]
    by_id = Payout.objects.filter(provider=ProviderName.STRIPE, provider_reference=transfer["id"])
    by_key = Payout.objects.filter(provider=ProviderName.STRIPE, key=transfer.get("transfer_group") or "-")
    found = (by_id | by_key).values_list("pk", flat=True).first()
    if found is None:
        return f"No payout has transfer {transfer['id']}."
    # The lock waits for a worker that is still recording this payout's transfer.
    payout = Payout.objects.select_for_update(of=("self",)).select_related("contractor").get(pk=found)
    if payout.state == PayoutState.FAILED:
        return f"Payout #{payout.pk} had already failed and been returned."
    reversed_minor = int(transfer.get("amount_reversed") or 0)
    if reversed_minor < payout.amount_minor:
        payout.last_error = _("Stripe reversed %(part)s of this payout's transfer; a person must decide the rest.") % {
            "part": Money(reversed_minor, payout.currency)
        }
        payout.save(update_fields=["last_error"])
        return f"Payout #{payout.pk}: partial reversal recorded for a person."
    payout_fail(
        payout=payout,
        code="transfer_reversed",
        reason=_("Stripe reversed the transfer to your Stripe account, so the money came back to Fairtask."),
        job=JOB,
    )
    return f"Payout #{payout.pk} failed (transfer reversed) and was returned to the balance."


def _payout_failed(event: StripeEvent) -> str:
    bank_payout = event.payload["data"]["object"]
    if not event.account:
        return "A payout of the platform's own balance; nothing to do."
    account = PayoutAccount.objects.select_for_update().filter(stripe_account_id=event.account).first()
    if account is None:
        return "No payout account has this Stripe account."
    amount = Money(int(bank_payout["amount"]), str(bank_payout["currency"]).upper())
    message = bank_payout.get("failure_message") or bank_payout.get("failure_code") or _("no reason given")
    reason = _("Your bank returned %(amount)s that Stripe sent to it: %(message)s") % {
        "amount": amount,
        "message": message,
    }
    account.problem = _("%(reason)s Update your bank details in Stripe under “Set up payouts”.") % {"reason": reason}
    account.save(update_fields=["problem"])
    match = (
        Payout.objects.filter(
            account=account,
            provider=ProviderName.STRIPE,
            state=PayoutState.PAID,
            currency=amount.currency,
            amount_minor=amount.minor,
        )
        .order_by("-paid_at", "-id")
        .first()
    )
    if match is None:
        return f"No paid payout of {amount} to this account; recorded as a problem with the account."
    try:
        payout_reclaim(
            payout_id=match.pk, code=bank_payout.get("failure_code") or "bank_returned", reason=reason, job=JOB
        )
    except ProviderUnavailable:
        raise  # nothing is kept: Stripe delivers the event again
    except ProviderError as exc:
        Payout.objects.filter(pk=match.pk).update(last_error=str(exc))
        return f"Payout #{match.pk} matches, but its transfer could not be reversed: {exc}"
    return f"Payout #{match.pk} reversed, failed and returned to the balance."


HANDLERS: dict[str, Callable[[StripeEvent], str]] = {
    "account.updated": _account_updated,
    "transfer.reversed": _transfer_reversed,
    "payout.failed": _payout_failed,
}


@transaction.atomic
def stripe_event_handle(*, payload: dict[str, Any]) -> str:
    """Act on one verified event, once: a second delivery of the same id does nothing."""
    try:
        # A savepoint: a concurrent delivery of the same id waits here for ours to commit,
        # then fails on the unique index, and reports the duplicate.
        with transaction.atomic():
            event = StripeEvent.objects.create(
                event_id=str(payload["id"]),
                type=str(payload.get("type") or ""),
                account=str(payload.get("account") or ""),
                payload=payload,
            )
    except IntegrityError:
        return "Already handled."
    handler = HANDLERS.get(event.type)
    event.result = handler(event) if handler else "Not an event Fairtask acts on."
    event.save(update_fields=["result"])
    return event.result


def _answer(status: int, message: str) -> JsonResponse:
    return JsonResponse({"message": message}, status=status)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        # 503, not 400: Stripe keeps the event and delivers it again once the secret is set.
        return _answer(503, "Set STRIPE_WEBHOOK_SECRET to receive Stripe events.")
    try:
        stripe.Webhook.construct_event(request.body, request.headers.get("Stripe-Signature"), secret)
        payload = json.loads(request.body)
        if not isinstance(payload, dict) or "id" not in payload:
            raise ValueError("not an event")
    except (ValueError, stripe.SignatureVerificationError):
        return _answer(400, "The request is not an event signed with this endpoint's secret.")
    try:
        result = stripe_event_handle(payload=payload)
    except ProviderUnavailable as exc:
        logger.warning("Stripe event %s not handled yet: %s", payload.get("id"), exc)
        return _answer(503, "Stripe could not be reached while handling the event; deliver it again later.")
    return JsonResponse({"received": True, "result": result})
