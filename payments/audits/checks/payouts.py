"""Rule 6 re-checked against the provider: every payout we sent is there once, as we wrote it, and the
provider holds no payment in our name that we have no payout row for."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
from collections import defaultdict
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.utils.translation import gettext as _

from payments.audits.checks.base import Draft, Scope, money, ref
from payments.money import to_minor_units
from payments.payouts.models import BankFile, Payout, PayoutState, ProviderName
from payments.payouts.providers import ProviderError, TransferRecord, provider_get
from payments.payouts.providers.bank_file import payout_reference

CODE = "payout_provider"
# Every payout key starts with this (``payments.payouts.services.new_key``); a transfer group
# in this namespace was made by Fairtask, whatever else shares the Stripe account.
KEY_PREFIX = "fairtask-payout-"
SENT = (PayoutState.SUBMITTED, PayoutState.PAID)


def _payout_ref(payout: Payout) -> dict[str, object]:
    return ref("payments.payout", payout.pk, f"payout #{payout.pk} ({payout.amount.format()})")


def _draft(fingerprint: str, severity: str, title: str, message: str, objects: list[dict[str, object]]) -> Draft:
    return Draft(CODE, severity, title, message, f"{CODE}:{fingerprint}", objects)


def payout_provider_check(scope: Scope) -> list[Draft]:
    """Payouts of the last ``FAIRTASK_AUDIT_PAYOUT_DAYS`` days against Stripe's transfers and the stored bank files."""
    since = scope.now - datetime.timedelta(days=settings.FAIRTASK_AUDIT_PAYOUT_DAYS)
    return _stripe(since) + _bank_files(since)


def _stripe(since: datetime.datetime) -> list[Draft]:
    payouts = list(
        Payout.objects.filter(provider=ProviderName.STRIPE, state__in=SENT, created_at__gte=since).order_by("pk")
    )
    provider = provider_get(ProviderName.STRIPE)
    problem = provider.configuration_problem()
    if problem:
        if not payouts:
            return []
        return [
            _draft(
                "stripe_unreachable",
                "warning",
                _("Stripe payouts could not be checked"),
                _("%(n)d Stripe payouts of the last %(days)d days could not be compared with Stripe: %(why)s")
                % {"n": len(payouts), "days": settings.FAIRTASK_AUDIT_PAYOUT_DAYS, "why": problem},
                [],
            )
        ]
    by_key: dict[str, list[TransferRecord]] = defaultdict(list)
    try:
        # A day's margin: a transfer is created a moment after its payout row.
        for record in provider.records(since=since - datetime.timedelta(days=1)):
            if record.key.startswith(KEY_PREFIX):
                by_key[record.key].append(record)
    except ProviderError as error:
        return [
            _draft(
                "stripe_unreachable",
                "warning",
                _("Stripe payouts could not be checked"),
                _("Listing Stripe's transfers failed, so %(n)d payouts were not compared: %(why)s")
                % {"n": len(payouts), "why": error.message},
                [],
            )
        ]
    drafts = [d for payout in payouts for d in _compare(payout, by_key.pop(payout.key, []))]
    # What is left in our namespace has no payout row among those checked: find any older or unsent row.
    known = dict(Payout.objects.filter(key__in=list(by_key)).values_list("key", "state"))
    for key, records in sorted(by_key.items()):
        state = known.get(key)
        if state == PayoutState.FAILED:
            drafts.extend(_failed_but_standing(key, records))
            continue
        if state is not None:
            continue  # a pending payout being resolved, or a sent one older than the window
        for record in records:
            drafts.append(
                _draft(
                    f"orphan:{record.reference}",
                    "critical",
                    _("Provider payment without a payout"),
                    _(
                        "Stripe holds transfer %(ref)s of %(amount)s to %(dest)s, made on %(on)s under "
                        "Fairtask's key %(key)s, but Fairtask has no payout with that key."
                    )
                    % {
                        "ref": record.reference,
                        "amount": money(record.amount_minor, record.currency),
                        "dest": record.destination,
                        "on": f"{record.created_at:%Y-%m-%d %H:%M}",
                        "key": key,
                    },
                    [ref("stripe.transfer", record.reference)],
                )
            )
    return drafts


def _failed_but_standing(key: str, records: list[TransferRecord]) -> list[Draft]:
    """A failed payout returned its amount to the balance: a transfer under its key must be fully reversed."""
    return [
        _draft(
            f"failed_standing:{record.reference}",
            "critical",
            _("Failed payout still paid at the provider"),
            _(
                "The payout with key %(key)s is recorded as failed and its amount went back to the balance, but "
                "Stripe's transfer %(ref)s still stands at %(net)s."
            )
            % {
                "key": key,
                "ref": record.reference,
                "net": money(record.amount_minor - record.reversed_minor, record.currency),
            },
            [ref("stripe.transfer", record.reference)],
        )
        for record in records
        if record.amount_minor > record.reversed_minor
    ]


def _compare(payout: Payout, records: list[TransferRecord]) -> list[Draft]:
    objects = [_payout_ref(payout), ref("workforce.user", payout.contractor_id, f"contractor #{payout.contractor_id}")]
    if not records:
        return [
            _draft(
                f"missing:{payout.pk}",
                "critical",
                _("Payout missing at the provider"),
                _(
                    "Payout #%(id)s of %(amount)s is %(state)s since %(on)s, but Stripe has no transfer under its key "
                    "%(key)s."
                )
                % {
                    "id": payout.pk,
                    "amount": payout.amount.format(),
                    "state": payout.get_state_display().lower(),
                    "on": f"{payout.submitted_at or payout.created_at:%Y-%m-%d %H:%M}",
                    "key": payout.key,
                },
                objects,
            )
        ]
    if len(records) > 1:
        return [
            _draft(
                f"duplicate:{payout.pk}",
                "critical",
                _("Payout paid more than once"),
                _(
                    "Stripe holds %(n)d transfers under the key of payout #%(id)s (%(refs)s); "
                    "it should hold exactly one."
                )
                % {"n": len(records), "id": payout.pk, "refs": ", ".join(r.reference for r in records)},
                objects + [ref("stripe.transfer", r.reference) for r in records],
            )
        ]
    record = records[0]
    differences = []
    if record.amount_minor != payout.amount_minor:
        differences.append(
            _("amount %(theirs)s minor units, ours %(ours)s")
            % {
                "theirs": record.amount_minor,
                "ours": payout.amount_minor,
            }
        )
    if record.currency != payout.currency:
        differences.append(
            _("currency %(theirs)s, ours %(ours)s") % {"theirs": record.currency, "ours": payout.currency}
        )
    if record.destination != payout.destination:
        differences.append(
            _("destination %(theirs)s, ours %(ours)s") % {"theirs": record.destination, "ours": payout.destination}
        )
    drafts = []
    if differences:
        drafts.append(
            _draft(
                f"differs:{payout.pk}",
                "critical",
                _("Payout differs from the provider's record"),
                _("Stripe's transfer %(ref)s for payout #%(id)s does not match it: %(diff)s.")
                % {"ref": record.reference, "id": payout.pk, "diff": "; ".join(differences)},
                [*objects, ref("stripe.transfer", record.reference)],
            )
        )
    if record.reversed_minor and payout.state == PayoutState.PAID:
        drafts.append(
            _draft(
                f"reversed:{payout.pk}",
                "warning",
                _("Paid payout reversed at the provider"),
                _(
                    "Stripe reversed %(rev)s minor units of transfer %(ref)s, "
                    "but payout #%(id)s is still recorded as paid."
                )
                % {"rev": record.reversed_minor, "ref": record.reference, "id": payout.pk},
                [*objects, ref("stripe.transfer", record.reference)],
            )
        )
    return drafts


def _file_rows(bank_file: BankFile) -> dict[str, dict[str, str]]:
    reader = csv.DictReader(io.StringIO(bank_file.content))
    return {row.get("payout_reference", ""): row for row in reader}


def _bank_files(since: datetime.datetime) -> list[Draft]:
    payouts = (
        Payout.objects.filter(provider=ProviderName.BANK_FILE, state__in=SENT, created_at__gte=since)
        .select_related("bank_file")
        .order_by("pk")
    )
    drafts: list[Draft] = []
    files: dict[int, dict[str, dict[str, str]]] = {}
    for payout in payouts:
        objects = [_payout_ref(payout)]
        bank_file = payout.bank_file
        if bank_file is None:
            drafts.append(
                _draft(
                    f"bank_missing:{payout.pk}",
                    "critical",
                    _("Bank payout without a bank file"),
                    _("Payout #%(id)s of %(amount)s is %(state)s but is in no stored bank file.")
                    % {"id": payout.pk, "amount": payout.amount.format(), "state": payout.get_state_display().lower()},
                    objects,
                )
            )
            continue
        file_ref = ref("payments.bankfile", bank_file.pk, bank_file.file_name)
        if bank_file.pk not in files:
            files[bank_file.pk] = _file_rows(bank_file)
            if hashlib.sha256(bank_file.content.encode()).hexdigest() != bank_file.sha256:
                drafts.append(
                    _draft(
                        f"bank_file_altered:{bank_file.pk}",
                        "critical",
                        _("Bank file altered"),
                        _("Bank file #%(id)s no longer matches the SHA-256 recorded when it was generated (%(sha)s).")
                        % {"id": bank_file.pk, "sha": bank_file.sha256},
                        [file_ref],
                    )
                )
        row = files[bank_file.pk].get(payout_reference(payout))
        problem = _row_problem(payout, row)
        if problem:
            drafts.append(
                _draft(
                    f"bank_differs:{payout.pk}",
                    "critical",
                    _("Payout differs from its bank file"),
                    _("Payout #%(id)s does not match its line in bank file #%(file)s: %(problem)s.")
                    % {"id": payout.pk, "file": bank_file.pk, "problem": problem},
                    [*objects, file_ref],
                )
            )
    return drafts


def _row_problem(payout: Payout, row: dict[str, str] | None) -> str:
    if row is None:
        return _("the file has no line with reference %(ref)s") % {"ref": payout_reference(payout)}
    problems = []
    try:
        amount = to_minor_units(Decimal(row.get("amount", "")), payout.currency)
    except (InvalidOperation, TypeError, ValueError):
        amount = None
    if amount != payout.amount_minor:
        problems.append(
            _("amount %(file)s in the file, %(ours)s in the payout")
            % {
                "file": row.get("amount"),
                "ours": payout.amount.format(),
            }
        )
    if row.get("currency") != payout.currency:
        problems.append(_("currency %(file)s in the file") % {"file": row.get("currency")})
    if row.get("account_reference") != payout.destination:
        problems.append(_("a different account in the file"))
    return "; ".join(problems)
