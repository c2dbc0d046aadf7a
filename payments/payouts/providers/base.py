"""The one interface every payout provider implements, and the errors that tell the caller what happened.

The three errors are the whole contract about outcomes, because exactly-once depends on it:

- ``ProviderUnavailable``: the call may or may not have reached the provider (a timeout, a
  lost connection, a 5xx). The payout stays ``pending``; a retry sends the same idempotency
  key, or first finds the payment with ``lookup``.
- ``PayoutRefused``: the provider answered that it did not and will not make this payment
  (e.g. ``balance_insufficient``). The payout fails and its amount returns to the balance.
- ``ProviderError`` itself: anything else (a missing key, a rejected parameter, a record
  that does not match). Nothing is assumed: the payout stays ``pending`` for a person to look at.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from payments.payouts.models import Payout


class ProviderError(Exception):
    """A provider call that neither paid nor definitively refused; the payout keeps its state."""

    def __init__(self, message: str, code: str = "") -> None:
        # Positional arguments only, so Celery can pickle the exception when it retries a job.
        super().__init__(message, code)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message


class ProviderUnavailable(ProviderError):
    """The outcome is unknown because the provider could not be reached or failed (retry)."""


class PayoutRefused(ProviderError):
    """The provider refused this payout and made no payment; the refusal is final."""


@dataclass(frozen=True)
class TransferRecord:
    """One payment as the provider records it."""

    provider: str
    reference: str  # a Stripe transfer id (tr_…) or a bank file's payout reference
    key: str  # the payout key it was made under (Stripe: the transfer_group)
    amount_minor: int
    currency: str  # upper case, as in the ledger
    destination: str
    created_at: datetime.datetime
    reversed_minor: int = 0


@dataclass(frozen=True)
class SubmitResult:
    """What ``submit`` achieved: ``paid`` (the money arrived) or ``submitted`` (sent, not yet confirmed)."""

    state: str
    reference: str


class PayoutProvider(Protocol):
    """A way to pay contractors. Every call for one payout carries ``payout.key``."""

    name: str
    # A batch provider is paid by a file a person sends (no call per payout); the payout run
    # leaves its payouts pending for that file.
    is_batch: bool

    def configuration_problem(self) -> str:
        """Why this provider cannot be used now ("" when it can), e.g. a missing API key."""
        ...

    def submit(self, payout: Payout) -> SubmitResult:
        """Make the payment under the payout's idempotency key; a repeat returns the first result."""
        ...

    def lookup(self, payout: Payout) -> TransferRecord | None:
        """The provider's record of this payout, found by its key, or None if it made none."""
        ...

    def records(self, *, since: datetime.datetime) -> Iterator[TransferRecord]:
        """Every payment the provider holds from ``since`` on, newest first (for reconciliation)."""
        ...

    def reclaim(self, payout: Payout) -> TransferRecord:
        """Take a paid payout's money back to the platform (when the contractor's bank returned it)."""
        ...
