"""Payout runs: pay everyone whose payable balance reaches the minimum, once, and say who was skipped."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from payments.money import currency_check
from payments.payouts import selectors
from payments.payouts.models import Payout, PayoutAccount, PayoutRun, PayoutSkip, RunStatus
from payments.payouts.providers import provider_get
from payments.payouts.services import (
    BATCH_PROVIDERS,
    JOB,
    payout_create,
    payouts_resume,
    require_operations,
    submit_noting,
)
from workforce.audit import audit_record
from workforce.models import User
from workforce.services import wrong_state


@transaction.atomic
def payout_run_start(*, actor: User, currency: str | None = None) -> PayoutRun:
    """Record a run; the caller enqueues ``payout_run_job`` once this commits."""
    require_operations(actor)
    try:
        code = currency_check(currency or getattr(settings, "FAIRTASK_PAY_CURRENCY", "USD"))
    except (TypeError, ValueError) as exc:
        raise ValidationError({"currency": str(exc)}) from exc
    run = PayoutRun.objects.create(
        started_by=actor, currency=code, minimum_minor=settings.FAIRTASK_PAYOUT_MINIMUM_MINOR
    )
    audit_record(
        actor=actor, action="payout_run.start", obj=run, summary={"currency": code, "minimum": str(run.minimum)}
    )
    return run


@transaction.atomic
def payout_run_resume(*, run: PayoutRun, actor: User) -> PayoutRun:
    """Let a run that stopped or lost its worker go on; the caller enqueues the job again."""
    require_operations(actor)
    run = PayoutRun.objects.select_for_update().get(pk=run.pk)
    if run.status == RunStatus.DONE:
        raise wrong_state("run", _("Run #%(id)s is done; start a new run instead.") % {"id": run.pk})
    run.status, run.finished_at, run.error = RunStatus.QUEUED, None, ""
    run.save(update_fields=["status", "finished_at", "error"])
    audit_record(actor=actor, action="payout_run.resume", obj=run, summary={})
    return run


def _run_begin(run_id: int) -> PayoutRun:
    with transaction.atomic():
        run = PayoutRun.objects.select_for_update().get(pk=run_id)
        if run.is_finished:
            return run
        run.status = RunStatus.RUNNING
        run.processing_started_at = run.processing_started_at or timezone.now()
        run.attempts += 1
        run.save(update_fields=["status", "processing_started_at", "attempts"])
        return run


def _skip(run: PayoutRun, contractor_id: int, payable_minor: int, code: str, reason: str) -> None:
    PayoutSkip.objects.get_or_create(
        run=run,
        contractor_id=contractor_id,
        currency=run.currency,
        defaults={"amount_minor": payable_minor, "reason_code": code, "reason": reason},
    )


def _run_pay_one(
    run: PayoutRun, contractor_id: int, payable_minor: int, account: PayoutAccount | None
) -> Payout | None:
    """The run's payout for one contractor, or a recorded reason why there is none."""
    if account is None:
        _skip(run, contractor_id, payable_minor, PayoutSkip.Reason.NO_ACCOUNT, _("No payout account is set up yet."))
        return None
    if account.unusable_reason:
        _skip(run, contractor_id, payable_minor, PayoutSkip.Reason.ACCOUNT_UNUSABLE, account.unusable_reason)
        return None
    problem = provider_get(account.provider).configuration_problem()
    if problem:
        _skip(run, contractor_id, payable_minor, PayoutSkip.Reason.PROVIDER_UNCONFIGURED, problem)
        return None
    try:
        return payout_create(
            contractor=account.contractor, currency=run.currency, minimum=run.minimum, run=run, job=JOB
        )
    except ValidationError as exc:
        fields = exc.message_dict
        if "period" in fields:
            raise  # nowhere to record any payout: the run stops and says so
        if "currency" in fields:  # a payout is still pending; it is resumed, not doubled
            if Payout.objects.filter(run=run, contractor_id=contractor_id).exists():
                return None  # this run's own, made by a second copy of the job running alongside
            _skip(run, contractor_id, payable_minor, PayoutSkip.Reason.PENDING, " ".join(fields["currency"]))
        elif "account" in fields:
            _skip(run, contractor_id, payable_minor, PayoutSkip.Reason.ACCOUNT_UNUSABLE, " ".join(fields["account"]))
        # "amount": the balance fell below the minimum meanwhile; the next run pays it.
        return None


def payout_run_execute(*, run_id: int) -> PayoutRun:
    """Run (or go on with) a payout run; safe to run again after any failure or crash.

    First every payout left pending (by this run or an earlier one) is resumed under its own
    key; then each contractor with at least the minimum payable and not yet handled by this
    run gets a payout, or a recorded reason why not. Raises ``ProviderUnavailable`` (retry the
    job) or ``ProviderError`` (a person must look) and leaves the run running.
    """
    run = _run_begin(run_id)
    if run.is_finished:
        return run
    resumed = [p for p in payouts_resume() if p.run_id != run.pk]
    if resumed:
        PayoutRun.objects.filter(pk=run.pk).update(resumed_count=F("resumed_count") + len(resumed))
    handled = set(Payout.objects.filter(run=run).values_list("contractor_id", flat=True))
    handled |= set(PayoutSkip.objects.filter(run=run).values_list("contractor_id", flat=True))
    candidates = [
        (contractor_id, payable)
        for contractor_id, payable in selectors.payable_candidates(
            currency=run.currency, minimum_minor=run.minimum_minor
        )
        if contractor_id not in handled
    ]
    PayoutRun.objects.filter(pk=run.pk).update(
        planned_count=len(handled) + len(candidates),
        below_minimum_count=selectors.below_minimum_count(currency=run.currency, minimum_minor=run.minimum_minor),
    )
    accounts = {
        account.contractor_id: account
        for account in PayoutAccount.objects.filter(contractor_id__in=[c for c, _ in candidates]).select_related(
            "contractor"
        )
    }
    for contractor_id, payable in candidates:
        payout = _run_pay_one(run, contractor_id, payable, accounts.get(contractor_id))
        if payout is not None and payout.provider not in BATCH_PROVIDERS:
            submit_noting(payout.pk)
    with transaction.atomic():
        run = PayoutRun.objects.select_for_update().get(pk=run.pk)
        run.status, run.finished_at, run.error = RunStatus.DONE, timezone.now(), ""
        run.save(update_fields=["status", "finished_at", "error"])
        audit_record(
            actor=None,
            action="payout_run.finish",
            obj=run,
            summary={"counts": selectors.payout_run_counts(run=run), "skipped": run.skips.count()},
        )
    return run


@transaction.atomic
def payout_run_fail(*, run_id: int, error: str) -> PayoutRun:
    """The run's job gave up: say why; its pending payouts are resumed by the next run or the resume job."""
    run = PayoutRun.objects.select_for_update().get(pk=run_id)
    if run.status == RunStatus.DONE:
        return run
    run.status, run.finished_at, run.error = RunStatus.FAILED, timezone.now(), error
    run.save(update_fields=["status", "finished_at", "error"])
    return run
