"""Payout providers behind one interface (``base.PayoutProvider``): Stripe Connect and the bank file."""

from __future__ import annotations

from payments.payouts.providers.bank_file import BankFile
from payments.payouts.providers.base import (
    PayoutProvider,
    PayoutRefused,
    ProviderError,
    ProviderUnavailable,
    SubmitResult,
    TransferRecord,
)
from payments.payouts.providers.stripe_connect import StripeConnect

_PROVIDERS: dict[str, type[StripeConnect] | type[BankFile]] = {
    StripeConnect.name: StripeConnect,
    BankFile.name: BankFile,
}


def provider_get(name: str) -> PayoutProvider:
    """The provider called ``name`` (a ``ProviderName`` value)."""
    try:
        return _PROVIDERS[name]()
    except KeyError:
        raise ProviderError(f"Unknown payout provider “{name}”.", "unknown_provider") from None


def stripe_connect() -> StripeConnect:
    """Stripe with its account calls, which only Stripe has."""
    return StripeConnect()


__all__ = [
    "PayoutProvider",
    "PayoutRefused",
    "ProviderError",
    "ProviderUnavailable",
    "SubmitResult",
    "TransferRecord",
    "provider_get",
    "stripe_connect",
]
