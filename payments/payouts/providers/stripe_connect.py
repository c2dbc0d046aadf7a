"""Stripe Connect (Express accounts): onboarding, transfers, their lookup and reversal.

A payout is one transfer from the platform's balance to the contractor's connected account,
made with ``Idempotency-Key: <payout.key>`` and ``transfer_group=<payout.key>``. The key makes
Stripe answer a repeated request with the first result for 24 hours; the transfer group lets
``lookup`` find the transfer at any later time, so a payout resumed after a crash adopts the
transfer it already made instead of making a second one.

The SDK client is built on first use from the settings (no network at import or start-up);
its own retries (``STRIPE_MAX_NETWORK_RETRIES``) repeat a request with the same key.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import stripe
from django.conf import settings
from django.utils.translation import gettext as _

from payments.payouts.providers.base import (
    PayoutRefused,
    ProviderError,
    ProviderUnavailable,
    SubmitResult,
    TransferRecord,
)

if TYPE_CHECKING:
    from stripe.params import AccountCreateParams, TransferCreateParams, TransferListParams

    from payments.payouts.models import Payout, PayoutAccount

NAME = "stripe_connect"
LIST_PAGE_SIZE = 100
# Stripe error codes that mean "this transfer was not made and will not be made as asked".
# Any other 4xx (an unknown parameter, a bad key) is our mistake, not the contractor's: the
# payout then stays pending for a person instead of failing in everyone's inbox.
REFUSAL_CODES = frozenset(
    {
        "balance_insufficient",
        "insufficient_capabilities_for_transfer",
        "account_invalid",
        "resource_missing",
        "transfers_not_allowed",
        "amount_too_small",
        "amount_too_large",
    }
)


@dataclass(frozen=True)
class AccountStatus:
    """A connected account's state as Stripe reports it."""

    account_id: str
    details_submitted: bool
    payouts_enabled: bool
    transfers_active: bool
    disabled_reason: str
    requirements_due: list[str]


def account_status_from(account: Mapping[str, Any]) -> AccountStatus:
    """Read the fields Fairtask keeps from a Stripe account object (an API answer or a webhook's)."""
    requirements = account.get("requirements") or {}
    capabilities = account.get("capabilities") or {}
    return AccountStatus(
        account_id=str(account["id"]),
        details_submitted=bool(account.get("details_submitted")),
        payouts_enabled=bool(account.get("payouts_enabled")),
        transfers_active=capabilities.get("transfers") == "active",
        disabled_reason=str(requirements.get("disabled_reason") or ""),
        requirements_due=[str(item) for item in requirements.get("currently_due") or []],
    )


@lru_cache(maxsize=4)
def _client(api_key: str, api_base: str, retries: int, timeout_seconds: int) -> stripe.StripeClient:
    # One client (and one HTTP connection pool) per configuration, reused by every call.
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base},
        max_network_retries=retries,
        http_client=stripe.RequestsClient(timeout=timeout_seconds),
    )


def _translate(error: stripe.StripeError, *, refusals: frozenset[str] = REFUSAL_CODES) -> ProviderError:
    """Sort a Stripe error into unknown outcome (retry), refusal (final) or a problem for a person."""
    message = getattr(error, "user_message", None) or str(error) or error.__class__.__name__
    code = error.code or ""
    if isinstance(error, stripe.APIConnectionError | stripe.RateLimitError):
        return ProviderUnavailable(_("Stripe could not be reached: %(message)s") % {"message": message}, code)
    if isinstance(error, stripe.APIError) or (error.http_status or 0) >= 500:
        return ProviderUnavailable(_("Stripe failed to answer: %(message)s") % {"message": message}, code)
    if isinstance(error, stripe.InvalidRequestError | stripe.CardError) and code in refusals:
        return PayoutRefused(message, code)
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return ProviderError(
            _("Stripe refused the API key (%(message)s); check STRIPE_SECRET_KEY.") % {"message": message},
            code or "authentication",
        )
    return ProviderError(_("Stripe rejected the request: %(message)s") % {"message": message}, code or "invalid")


def _record(transfer: Mapping[str, Any]) -> TransferRecord:
    return TransferRecord(
        provider=NAME,
        reference=str(transfer["id"]),
        key=str(transfer.get("transfer_group") or ""),
        amount_minor=int(transfer["amount"]),
        currency=str(transfer["currency"]).upper(),
        destination=str(transfer.get("destination") or ""),
        created_at=datetime.datetime.fromtimestamp(int(transfer["created"]), tz=datetime.UTC),
        reversed_minor=int(transfer.get("amount_reversed") or 0),
    )


class StripeConnect:
    """The ``PayoutProvider`` for Stripe Connect, plus the Express account calls."""

    name = NAME
    is_batch = False

    def configuration_problem(self) -> str:
        if not settings.STRIPE_SECRET_KEY:
            return _("Stripe is not configured: set STRIPE_SECRET_KEY (or STRIPE_SECRET_KEY_FILE).")
        return ""

    def _client(self) -> stripe.StripeClient:
        problem = self.configuration_problem()
        if problem:
            raise ProviderError(problem, "not_configured")
        return _client(
            settings.STRIPE_SECRET_KEY,
            settings.STRIPE_API_BASE,
            settings.STRIPE_MAX_NETWORK_RETRIES,
            settings.STRIPE_TIMEOUT_SECONDS,
        )

    # Payouts -------------------------------------------------------------------------------

    def submit(self, payout: Payout) -> SubmitResult:
        """One transfer to the connected account; once it exists the money is the contractor's."""
        client = self._client()
        params: TransferCreateParams = {
            "amount": payout.amount_minor,
            "currency": payout.currency.lower(),
            "destination": payout.destination,
            "transfer_group": payout.key,
            "description": f"Fairtask payout #{payout.pk}",
            "metadata": {"fairtask_payout": str(payout.pk), "fairtask_contractor": str(payout.contractor_id)},
        }
        try:
            transfer = client.v1.transfers.create(params=params, options={"idempotency_key": payout.key})
        except stripe.StripeError as error:
            raise _translate(error) from error
        return SubmitResult(state="paid", reference=str(transfer.id))

    def lookup(self, payout: Payout) -> TransferRecord | None:
        """The transfer made under the payout's key (its transfer group), checked against the payout."""
        client = self._client()
        try:
            page = client.v1.transfers.list(params={"transfer_group": payout.key, "limit": 10})
        except stripe.StripeError as error:
            raise _translate(error, refusals=frozenset()) from error
        found = [_record(transfer.to_dict()) for transfer in page.data]
        if not found:
            return None
        if len(found) > 1:
            raise ProviderError(
                _("Stripe holds %(n)d transfers under the key of payout #%(id)s (%(refs)s); a person must look at it.")
                % {"n": len(found), "id": payout.pk, "refs": ", ".join(r.reference for r in found)},
                "duplicate",
            )
        record = found[0]
        if (record.amount_minor, record.currency, record.destination) != (
            payout.amount_minor,
            payout.currency,
            payout.destination,
        ):
            raise ProviderError(
                _(
                    "Stripe's transfer %(ref)s under the key of payout #%(id)s does not match it "
                    "(amount, currency or destination); a person must look at it."
                )
                % {"ref": record.reference, "id": payout.pk},
                "mismatch",
            )
        return record

    def records(self, *, since: datetime.datetime) -> Iterator[TransferRecord]:
        """Every transfer created at or after ``since``, newest first, page by page."""
        client = self._client()
        starting_after: str | None = None
        while True:
            params: TransferListParams = {"limit": LIST_PAGE_SIZE}
            if starting_after is not None:
                params["starting_after"] = starting_after
            try:
                page = client.v1.transfers.list(params=params)
            except stripe.StripeError as error:
                raise _translate(error, refusals=frozenset()) from error
            for transfer in page.data:
                record = _record(transfer.to_dict())
                if record.created_at < since:
                    return
                yield record
            if not page.has_more or not page.data:
                return
            starting_after = str(page.data[-1].id)

    def reclaim(self, payout: Payout) -> TransferRecord:
        """Reverse the whole transfer, under a key of its own, so the money is back on the platform."""
        client = self._client()
        try:
            client.v1.transfers.reversals.create(
                payout.provider_reference,
                params={"metadata": {"fairtask_payout": str(payout.pk)}},
                options={"idempotency_key": f"{payout.key}-reclaim"},
            )
            transfer = client.v1.transfers.retrieve(payout.provider_reference)
        except stripe.StripeError as error:
            raise _translate(error, refusals=frozenset()) from error
        return _record(transfer.to_dict())

    # Express accounts ----------------------------------------------------------------------

    def account_create(self, account: PayoutAccount, *, email: str, country: str) -> AccountStatus:
        """Create the contractor's Express account, once: a repeat under the same key returns it."""
        client = self._client()
        params: AccountCreateParams = {
            "type": "express",
            "email": email,
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {"fairtask_contractor": str(account.contractor_id)},
        }
        if country:
            params["country"] = country
        try:
            created = client.v1.accounts.create(params=params, options={"idempotency_key": account.key})
        except stripe.StripeError as error:
            raise _translate(error, refusals=frozenset()) from error
        return account_status_from(created.to_dict())

    def account_link(self, account: PayoutAccount, *, return_url: str, refresh_url: str) -> str:
        """A single-use link to Stripe's hosted onboarding for the account."""
        client = self._client()
        try:
            link = client.v1.account_links.create(
                params={
                    "account": account.stripe_account_id,
                    "type": "account_onboarding",
                    "return_url": return_url,
                    "refresh_url": refresh_url,
                }
            )
        except stripe.StripeError as error:
            raise _translate(error, refusals=frozenset()) from error
        return str(link.url)

    def account_status(self, account: PayoutAccount) -> AccountStatus:
        client = self._client()
        try:
            found = client.v1.accounts.retrieve(account.stripe_account_id)
        except stripe.StripeError as error:
            raise _translate(error, refusals=frozenset()) from error
        return account_status_from(found.to_dict())
