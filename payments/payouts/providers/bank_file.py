"""The manual bank file: a CSV an operations manager uploads to the organisation's bank.

Nothing is sent from here. A payout is ``submitted`` when it is written into a file (each
payout goes into exactly one file, which is stored byte for byte), and ``paid`` or ``failed``
only when an operations manager confirms what the bank did. The "provider's records" are
therefore the stored files: ``lookup`` and ``records`` read them.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from payments.payouts.providers.base import ProviderError, SubmitResult, TransferRecord

if TYPE_CHECKING:
    from payments.payouts.models import Payout

NAME = "bank_file"
COLUMNS = ("name", "account_reference", "amount", "currency", "payout_reference")


def payout_reference(payout: Payout) -> str:
    """The reference the bank shows the contractor and the operations manager matches on."""
    return f"FAIRTASK-PAYOUT-{payout.pk}"


def file_content(payouts: Iterable[Payout]) -> str:
    """The CSV: one row per payout, the amount in major units with the currency's own decimals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for payout in payouts:
        writer.writerow(
            (
                payout.destination_name,
                payout.destination,
                f"{payout.amount.to_decimal():f}",
                payout.currency,
                payout_reference(payout),
            )
        )
    return out.getvalue()


class BankFile:
    """The ``PayoutProvider`` for payouts sent by a bank file."""

    name = NAME
    is_batch = True

    def configuration_problem(self) -> str:
        return ""

    def submit(self, payout: Payout) -> SubmitResult:
        """Writing the payout into a file is its submission; the bank's answer comes from a person."""
        return SubmitResult(state="submitted", reference=payout_reference(payout))

    def lookup(self, payout: Payout) -> TransferRecord | None:
        if payout.bank_file_id is None:
            return None
        return self._record(payout)

    def records(self, *, since: datetime.datetime) -> Iterator[TransferRecord]:
        from payments.payouts.models import Payout

        in_files = (
            Payout.objects.filter(bank_file__created_at__gte=since)
            .select_related("bank_file")
            .order_by("-bank_file__created_at", "-id")
        )
        for payout in in_files.iterator(chunk_size=1000):
            yield self._record(payout)

    def reclaim(self, payout: Payout) -> TransferRecord:
        raise ProviderError(
            _("A bank transfer cannot be taken back from Fairtask; ask the bank to recall it."), "not_supported"
        )

    def _record(self, payout: Payout) -> TransferRecord:
        assert payout.bank_file is not None
        return TransferRecord(
            provider=NAME,
            reference=payout_reference(payout),
            key=payout.key,
            amount_minor=payout.amount_minor,
            currency=payout.currency,
            destination=payout.destination,
            created_at=payout.bank_file.created_at,
        )
