"""Payout accounts: where a contractor is paid, and what Stripe says about their Express account."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from payments.payouts.models import PayoutAccount, ProviderName
from payments.payouts.providers import ProviderError, stripe_connect
from payments.payouts.providers.stripe_connect import AccountStatus
from payments.payouts.services import new_key
from workforce.audit import audit_record
from workforce.models import ContractorProfile, User
from workforce.services import wrong_state


def _account_for_update(contractor: User, provider: str) -> PayoutAccount:
    account = PayoutAccount.objects.select_for_update().filter(contractor=contractor).first()
    if account is None:
        account = PayoutAccount.objects.create(
            contractor=contractor, provider=provider, key=new_key("fairtask-account")
        )
    return account


@transaction.atomic
def payout_account_bank_set(*, contractor: User, holder: str, reference: str, actor: User) -> PayoutAccount:
    """Record the bank details that the bank file pays to; later payouts go there."""
    holder = " ".join((holder or "").split())
    reference = "".join((reference or "").split()).upper()
    errors = {}
    if not holder:
        errors["holder"] = _("Enter the account holder's name as the bank knows it.")
    elif holder[0] in "=+-@":
        errors["holder"] = _("The name cannot start with =, +, - or @; write it as the bank knows it.")
    if not reference:
        errors["reference"] = _("Enter the IBAN or account number.")
    elif len(reference) > 34 or not reference.isascii() or not reference.isalnum():
        errors["reference"] = _("Use letters and digits only (an IBAN has at most 34), e.g. DE89370400440532013000.")
    if errors:
        raise ValidationError(errors)
    account = _account_for_update(contractor, ProviderName.BANK_FILE)
    account.provider = ProviderName.BANK_FILE
    account.bank_account_holder = holder
    account.bank_account_reference = reference
    account.problem = ""
    account.updated_at = timezone.now()
    account.save()
    audit_record(
        actor=actor,
        action="payout_account.bank_set",
        obj=account,
        summary={"contractor": contractor.pk, "reference_last4": reference[-4:]},
    )
    return account


def _stripe_account_ensure(contractor: User) -> PayoutAccount:
    """The contractor's Stripe Express account, created at Stripe on first use.

    Once only: the account row's key goes with the request, so a repeat gets the same account.
    """
    with transaction.atomic():
        account = _account_for_update(contractor, ProviderName.STRIPE)
        if account.provider != ProviderName.STRIPE:
            account.provider = ProviderName.STRIPE
            account.updated_at = timezone.now()
            account.save(update_fields=["provider", "updated_at"])
    if account.stripe_account_id:
        return account
    profile = ContractorProfile.objects.filter(user=contractor).first()
    try:
        status = stripe_connect().account_create(
            account, email=contractor.email, country=profile.country if profile else ""
        )
    except ProviderError as exc:
        raise ValidationError({"provider": str(exc)}) from exc
    with transaction.atomic():
        account = PayoutAccount.objects.select_for_update().get(pk=account.pk)
        account.stripe_account_id = status.account_id
        _status_copy(account, status)
        account.save()
    return account


def _status_copy(account: PayoutAccount, status: AccountStatus) -> None:
    account.details_submitted = status.details_submitted
    account.payouts_enabled = status.payouts_enabled
    account.transfers_active = status.transfers_active
    account.disabled_reason = status.disabled_reason
    account.requirements_due = status.requirements_due
    account.updated_at = timezone.now()


def payout_account_onboarding_start(*, contractor: User, return_url: str, refresh_url: str) -> str:
    """Stripe onboarding: create the Express account (once), then a fresh single-use link to Stripe's form.

    No transaction is open during the calls to Stripe; what they return is saved afterwards.
    """
    provider = stripe_connect()
    problem = provider.configuration_problem()
    if problem:
        raise ValidationError({"provider": problem})
    account = _stripe_account_ensure(contractor)
    try:
        return provider.account_link(account, return_url=return_url, refresh_url=refresh_url)
    except ProviderError as exc:
        raise ValidationError({"provider": str(exc)}) from exc


def payout_account_refresh(*, contractor: User) -> PayoutAccount:
    """Read the Stripe account's state (when the contractor comes back from Stripe's form)."""
    account = PayoutAccount.objects.filter(contractor=contractor, provider=ProviderName.STRIPE).first()
    if account is None or not account.stripe_account_id:
        raise wrong_state("account", _("You have no Stripe account yet; choose “Set up payouts” to create one."))
    try:
        status = stripe_connect().account_status(account)
    except ProviderError as exc:
        raise ValidationError({"provider": str(exc)}) from exc
    updated = payout_account_status_apply(status=status)
    assert updated is not None
    return updated


@transaction.atomic
def payout_account_status_apply(*, status: AccountStatus) -> PayoutAccount | None:
    """Store what Stripe says about a connected account; None if it is not one of ours."""
    account = PayoutAccount.objects.select_for_update().filter(stripe_account_id=status.account_id).first()
    if account is None:
        return None
    _status_copy(account, status)
    if account.is_usable and account.problem and not status.requirements_due:
        account.problem = ""  # Stripe has what it needs again (e.g. new bank details)
    account.save()
    return account
