"""The manual bank file: generate it (the payouts in it are submitted) and confirm what the bank did."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from payments.payouts.models import BankFile, Payout, PayoutRun, PayoutState, ProviderName
from payments.payouts.providers.bank_file import BankFile as BankFileProvider
from payments.payouts.providers.bank_file import file_content
from payments.payouts.services import payout_fail, require_operations
from workforce.audit import audit_record
from workforce.models import User
from workforce.services import wrong_state


@transaction.atomic
def bank_file_create(*, run: PayoutRun, actor: User) -> BankFile:
    """Put every bank payout of the run that is waiting into one new file: they are submitted by it.

    Each payout goes into exactly one file (the rows are locked and leave ``pending``), and the
    file is stored as generated, so downloading it again gives the same bytes.
    """
    require_operations(actor)
    payouts = list(
        Payout.objects.select_for_update()
        .filter(run=run, provider=ProviderName.BANK_FILE, state=PayoutState.PENDING)
        .order_by("id")
    )
    if not payouts:
        raise wrong_state(
            "run",
            _("Run #%(id)s has no bank payouts waiting for a file; download an earlier file instead.") % {"id": run.pk},
        )
    content = file_content(payouts)
    bank_file = BankFile.objects.create(
        run=run,
        created_by=actor,
        currency=run.currency,
        payout_count=len(payouts),
        total_minor=sum(p.amount_minor for p in payouts),
        content=content,
        sha256=hashlib.sha256(content.encode()).hexdigest(),
    )
    provider = BankFileProvider()
    now = timezone.now()
    for payout in payouts:
        payout.provider_reference = provider.submit(payout).reference
        payout.state = PayoutState.SUBMITTED
        payout.submitted_at = now
        payout.bank_file = bank_file
        payout.attempts += 1
        payout.last_attempt_at = now
    Payout.objects.bulk_update(
        payouts, ["provider_reference", "state", "submitted_at", "bank_file", "attempts", "last_attempt_at"]
    )
    audit_record(
        actor=actor,
        action="payout.bank_file",
        obj=bank_file,
        summary={"run": run.pk, "payouts": len(payouts), "total": str(bank_file.total), "sha256": bank_file.sha256},
    )
    return bank_file


@transaction.atomic
def payout_confirm(*, payout: Payout, actor: User, is_paid: bool, reason: str = "") -> Payout:
    """An operations manager records what the bank did with a submitted bank-file payout."""
    require_operations(actor)
    payout = Payout.objects.select_for_update(of=("self",)).select_related("contractor").get(pk=payout.pk)
    if payout.provider != ProviderName.BANK_FILE:
        raise wrong_state("payout", _("Only bank-file payouts are confirmed by hand; Stripe reports its own."))
    if payout.state != PayoutState.SUBMITTED:
        hint = _("generate the run's bank file first") if payout.state == PayoutState.PENDING else _("it is settled")
        raise wrong_state(
            "payout",
            _("Payout #%(id)s is %(state)s, so it cannot be confirmed: %(hint)s.")
            % {"id": payout.pk, "state": payout.get_state_display().lower(), "hint": hint},
        )
    reason = (reason or "").strip()
    if is_paid:
        payout.state, payout.paid_at, payout.settled_by = PayoutState.PAID, timezone.now(), actor
        payout.save(update_fields=["state", "paid_at", "settled_by"])
        audit_record(actor=actor, action="payout.paid", obj=payout, summary={"amount": str(payout.amount)})
    else:
        if not reason:
            raise ValidationError({"reason": _("Write why the bank returned it; the contractor reads this.")})
        payout_fail(payout=payout, code="bank_returned", reason=reason, actor=actor)
    return payout
