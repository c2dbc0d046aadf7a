"""Posting to the ledger and correcting it (rule 5).

The ledger only grows: ``entry_post`` appends one signed entry, ``entry_reverse`` appends
its opposite. An idempotency ``key`` is unique in the database, so posting the same thing
twice (a retried job, a second close) returns the first entry instead of paying again.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _

from payments.models import CREDIT_KINDS, DEBIT_KINDS, EntryKind, LedgerEntry, PayPeriod
from payments.money import Money
from workforce.audit import audit_record
from workforce.models import User
from workforce.services import wrong_state

KEY_MAX_LENGTH = 200  # LedgerEntry.key's max_length
JOB_MAX_LENGTH = 100  # LedgerEntry.created_by_job's max_length


def _author(actor: User | None, job: str) -> str:
    """Every entry names exactly one author: the person who posted it, or the job that did."""
    job = (job or "").strip()
    if (actor is None) == (not job):
        raise ValidationError(
            {"actor": _("Name who posts this entry: a person (actor) or a job (job), exactly one of the two.")}
        )
    if len(job) > JOB_MAX_LENGTH:
        raise ValidationError({"job": _("A job name has at most %(n)d characters.") % {"n": JOB_MAX_LENGTH}})
    return job


def _memo(memo: str) -> str:
    memo = (memo or "").strip()
    if not memo:
        raise ValidationError({"memo": _("Write the reason the contractor will read on their statement.")})
    return memo


def _check_amount(kind: str, amount: Money) -> None:
    if not isinstance(amount, Money):
        raise ValidationError({"amount": _("The amount must be Money (minor units and a currency).")})
    label = EntryKind(kind).label
    if amount.is_zero:
        raise ValidationError({"amount": _("An entry of zero changes nothing; post nothing instead.")})
    if kind in CREDIT_KINDS and amount.minor < 0:
        raise ValidationError(
            {
                "amount": _("A %(kind)s entry adds to the contractor's balance, so its amount must be positive.")
                % {"kind": label}
            }
        )
    if kind in DEBIT_KINDS and amount.minor > 0:
        raise ValidationError(
            {
                "amount": _("A %(kind)s entry takes from the contractor's balance, so its amount must be negative.")
                % {"kind": label}
            }
        )


def _source(source: models.Model | None) -> tuple[str, int | None]:
    if source is None:
        return "", None
    if not isinstance(source.pk, int):
        raise ValidationError({"source": _("The source must be a saved object with a numeric id.")})
    return source._meta.label_lower, source.pk


def _same_entry(existing: LedgerEntry, *, contractor: User, kind: str, amount: Money, period: PayPeriod) -> bool:
    return (
        existing.contractor_id == contractor.pk
        and existing.kind == kind
        and existing.amount == amount
        and existing.period_id == period.pk
    )


def _existing_for_key(key: str, **wanted: Any) -> LedgerEntry | None:
    """The entry already posted under ``key``; a key reused for a different entry is a bug, not a retry."""
    existing = LedgerEntry.objects.filter(key=key).first()
    if existing is not None and not _same_entry(existing, **wanted):
        raise wrong_state(
            "key",
            _(
                "The key “%(key)s” was already used for entry #%(id)s (%(kind)s %(amount)s); "
                "a different entry needs a different key."
            )
            % {"key": key, "id": existing.pk, "kind": existing.get_kind_display(), "amount": existing.amount},
        )
    return existing


@transaction.atomic
def entry_post(
    *,
    contractor: User,
    kind: str,
    amount: Money,
    period: PayPeriod,
    memo: str,
    details: dict[str, Any] | None = None,
    source: models.Model | None = None,
    actor: User | None = None,
    job: str = "",
    key: str | None = None,
) -> LedgerEntry:
    """Append one signed entry: earnings and returned payouts positive, penalties and payouts negative.

    With a ``key``, posting again returns the entry already posted under it, also when two
    posts race: the database's unique index lets one insert win and the other re-reads it.
    Reversals go through ``entry_reverse``.
    """
    if kind not in EntryKind.values:
        raise ValidationError({"kind": _("Unknown entry kind “%(kind)s”.") % {"kind": kind}})
    if kind == EntryKind.REVERSAL:
        raise ValidationError({"kind": _("Reverse an entry with entry_reverse; it names the entry it reverses.")})
    _check_amount(kind, amount)
    memo = _memo(memo)
    job = _author(actor, job)
    source_type, source_id = _source(source)
    wanted: dict[str, Any] = {"contractor": contractor, "kind": kind, "amount": amount, "period": period}
    if key is not None:
        key = key.strip()
        if not key or len(key) > KEY_MAX_LENGTH:
            raise ValidationError(
                {"key": _("An idempotency key has 1 to %(n)d characters, or is None.") % {"n": KEY_MAX_LENGTH}}
            )
        existing = _existing_for_key(key, **wanted)
        if existing is not None:
            return existing
    entry = LedgerEntry(
        contractor=contractor,
        kind=kind,
        amount_minor=amount.minor,
        currency=amount.currency,
        period=period,
        source_type=source_type,
        source_id=source_id,
        memo=memo,
        details=details or {},
        created_by=actor,
        created_by_job=job,
        key=key,
    )
    try:
        # A savepoint, so a lost race on the key leaves the caller's transaction usable.
        with transaction.atomic():
            entry.save(force_insert=True)
    except IntegrityError:
        # Another transaction committed the same key between our check and our insert (the
        # insert waited on its row in the unique index). Anything else is a real error.
        if key is None:
            raise
        existing = _existing_for_key(key, **wanted)
        if existing is None:
            raise
        return existing
    if actor is not None:
        # A person's manual entry (a bonus, a penalty, an adjustment) is on the audit record;
        # the jobs' bulk entries are their own record and would only slow the chain.
        audit_record(
            actor=actor,
            action="ledger.post",
            obj=entry,
            summary={"contractor": contractor.pk, "kind": kind, "amount": str(amount), "period": period.pk},
        )
    return entry


@transaction.atomic
def entry_reverse(
    *,
    entry: LedgerEntry,
    memo: str,
    actor: User | None = None,
    job: str = "",
    period: PayPeriod | None = None,
) -> LedgerEntry:
    """Cancel an entry by appending its opposite; an entry is reversed at most once.

    The reversal lands in ``period`` (default: the entry's own), e.g. the open period when
    the entry's period is already closed. A reversal cannot itself be reversed: post a new
    entry instead.
    """
    memo = _memo(memo)
    job = _author(actor, job)
    # The lock makes two concurrent reversals of one entry take turns; the second then sees
    # the first. The unique index on ``reverses`` is the backstop.
    original = LedgerEntry.objects.select_for_update().get(pk=entry.pk)
    if original.kind == EntryKind.REVERSAL:
        raise wrong_state(
            "entry",
            _("Entry #%(id)s is a reversal and cannot be reversed; post a new entry instead.") % {"id": original.pk},
        )
    done = LedgerEntry.objects.filter(reverses=original).values_list("pk", flat=True).first()
    if done is not None:
        raise wrong_state(
            "entry",
            _("Entry #%(id)s was already reversed by entry #%(by)s; an entry is reversed only once.")
            % {"id": original.pk, "by": done},
        )
    reversal = LedgerEntry.objects.create(
        contractor_id=original.contractor_id,
        kind=EntryKind.REVERSAL,
        amount_minor=-original.amount_minor,
        currency=original.currency,
        period=period or original.period,
        # The reversal keeps the original's source, so totals per source net to zero.
        source_type=original.source_type,
        source_id=original.source_id,
        memo=memo,
        details={
            "reverses": original.pk,
            "reversed_kind": original.kind,
            "reversed_amount_minor": original.amount_minor,
        },
        created_by=actor,
        created_by_job=job,
        reverses=original,
    )
    audit_record(
        actor=actor,
        action="ledger.reverse",
        obj=reversal,
        summary={
            "reverses": original.pk,
            "contractor": original.contractor_id,
            "kind": original.kind,
            "amount": str(-original.amount),
            "memo": memo,
            "job": job,
        },
    )
    return reversal
