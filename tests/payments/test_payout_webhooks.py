"""Stripe webhooks: signed events only, each event once, and their effect on accounts and payouts."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe
from django.core import mail
from django.test import Client
from django.urls import reverse

from payments.money import Money
from payments.payouts.models import Payout, PayoutAccount, PayoutState, StripeEvent
from payments.payouts.runs import payout_run_execute, payout_run_start
from payments.selectors import balance
from tests.fakes.stripe_server import API_KEY, FakeStripe, SignedEvent
from tests.payments.payouts import (
    bank_contractor,
    configure_stripe,
    earn,
    ledger_returns,
    periods,
    stripe_account_id,
    stripe_contractor,
)
from workforce.models import ContractorProfile, User
from workforce.selectors import onboarding_checklist

pytestmark = pytest.mark.django_db

URL = "/payments/stripe/webhook/"


@pytest.fixture
def fake(settings: Any, stripe_fake: FakeStripe) -> FakeStripe:
    configure_stripe(settings, stripe_fake)
    settings.FAIRTASK_PAYOUT_MINIMUM_MINOR = 1000
    return stripe_fake


def _send(event: SignedEvent, *, signature: str | None = None) -> Any:
    headers = {} if signature == "" else {"Stripe-Signature": signature or event.signature}
    return Client().post(URL, data=event.payload, content_type="application/json", headers=headers)


def _stripe(fake: FakeStripe) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, base_addresses={"api": fake.url}, http_client=stripe.RequestsClient(timeout=5))


def _paid(fake: FakeStripe, ops: User, minor: int = 5000) -> Payout:
    closed, _ = periods()
    user = stripe_contractor(fake)
    earn(user, closed, minor)
    payout_run_execute(run_id=payout_run_start(actor=ops, currency="USD").pk)
    payout = Payout.objects.get(contractor=user)
    assert payout.state == PayoutState.PAID
    return payout


def test_the_webhook_url_is_the_documented_one():
    assert reverse("payments:payout-stripe-webhook") == URL


@pytest.mark.parametrize("signature", ["", "t=1,v1=deadbeef", "garbage"])
def test_an_event_with_a_bad_or_missing_signature_gets_400_and_changes_nothing(fake, signature):
    user = stripe_contractor(fake, onboarded=False)
    account_id = stripe_account_id(user)
    fake.complete_onboarding(account_id)
    event = fake.account_updated_event(account_id)

    response = _send(event, signature=signature)

    assert response.status_code == 400
    assert "signed" in response.json()["message"]
    assert not StripeEvent.objects.exists()
    assert not PayoutAccount.objects.get(contractor=user).is_usable


def test_an_event_signed_with_another_secret_or_too_long_ago_is_refused(fake):
    user = stripe_contractor(fake, onboarded=False)
    fake.complete_onboarding(stripe_account_id(user))
    other = FakeStripe(webhook_secret="whsec_someone_else")
    forged = fake.account_updated_event(stripe_account_id(user))
    assert _send(forged, signature=other.sign(forged.payload)).status_code == 400
    old = fake.event("account.updated", fake.account_object(stripe_account_id(user)), signed_at=1_000_000_000)
    assert _send(old).status_code == 400
    assert not StripeEvent.objects.exists()
    assert not PayoutAccount.objects.get(contractor=user).is_usable


def test_a_tampered_body_with_a_valid_signature_of_the_original_is_refused(fake):
    user = stripe_contractor(fake, onboarded=False)
    fake.complete_onboarding(stripe_account_id(user))
    event = fake.account_updated_event(stripe_account_id(user))
    body = json.loads(event.payload)
    body["data"]["object"]["id"] = "acct_someone_else"
    assert _send(SignedEvent(json.dumps(body).encode(), event.signature)).status_code == 400


def test_without_a_webhook_secret_events_are_refused_with_503_so_stripe_sends_them_again(fake, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    user = stripe_contractor(fake)
    response = _send(fake.account_updated_event(stripe_account_id(user)))
    assert response.status_code == 503
    assert not StripeEvent.objects.exists()


def test_account_updated_flips_the_account_and_the_checklist(fake):
    user = stripe_contractor(fake)
    account_id = stripe_account_id(user)
    profile = ContractorProfile.objects.get(user=user)
    assert PayoutAccount.objects.get(contractor=user).is_usable

    fake.set_account_status(account_id, transfers_active=False, disabled_reason="requirements.past_due")
    response = _send(fake.account_updated_event(account_id))

    assert response.status_code == 200 and response.json()["received"] is True
    account = PayoutAccount.objects.get(contractor=user)
    assert (account.transfers_active, account.disabled_reason) == (False, "requirements.past_due")
    step = next(s for s in onboarding_checklist(profile=profile) if s.key == "payout")
    assert step.status == "todo" and "requirements.past_due" in step.detail

    fake.set_account_status(account_id, transfers_active=True, disabled_reason=None)
    _send(fake.account_updated_event(account_id))

    assert PayoutAccount.objects.get(contractor=user).is_usable
    assert next(s for s in onboarding_checklist(profile=profile) if s.key == "payout").status == "done"
    assert StripeEvent.objects.filter(type="account.updated").count() == 2


def test_a_replayed_event_is_recorded_once_and_has_one_effect(fake, ops, django_capture_on_commit_callbacks):
    payout = _paid(fake, ops)
    # Someone reverses the transfer in Stripe's dashboard; Stripe tells us (and may tell us twice).
    _stripe(fake).v1.transfers.reversals.create(payout.provider_reference)
    event = fake.transfer_reversed_event(payout.provider_reference)

    with django_capture_on_commit_callbacks(execute=True):
        first = _send(event)
        second = _send(event)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["result"] == "Already handled."
    assert StripeEvent.objects.count() == 1
    payout.refresh_from_db()
    assert (payout.state, payout.failure_code) == (PayoutState.FAILED, "transfer_reversed")
    assert len(ledger_returns(payout.contractor)) == 1
    assert balance(contractor=payout.contractor) == {"USD": Money(5000, "USD")}
    assert len(mail.outbox) == 1


def test_a_bank_payout_failure_takes_the_transfer_back_then_returns_it_and_tells_the_contractor(
    fake, ops, login, django_capture_on_commit_callbacks
):
    payout = _paid(fake, ops)
    user = payout.contractor
    event = fake.payout_failed_event(
        stripe_account_id(user), amount_minor=5000, currency="usd", failure_message="The bank account has been closed."
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = _send(event)
        replay = _send(event)

    assert response.status_code == 200, response.content
    assert replay.json()["result"] == "Already handled."
    transfer = fake.transfer_object(payout.provider_reference)
    assert transfer["amount_reversed"] == 5000  # the money left the contractor's Stripe balance first
    reversals = [r for r in fake.requests if r.path.endswith("/reversals")]
    assert [r.idempotency_key for r in reversals] == [f"{payout.key}-reclaim"]
    payout.refresh_from_db()
    assert (payout.state, payout.failure_code) == (PayoutState.FAILED, "account_closed")
    assert "bank account has been closed" in payout.failure_reason
    assert balance(contractor=user) == {"USD": Money(5000, "USD")}
    assert len(ledger_returns(user)) == 1
    [message] = mail.outbox
    assert message.to == [user.email] and "bank account has been closed" in message.body
    page = login(user).get(reverse("payments:payout-list")).content.decode()
    assert 'id="account-problem"' in page and "Update your bank details" in page


def test_a_bank_payout_failure_that_matches_no_payout_moves_no_money(fake, ops):
    payout = _paid(fake, ops)
    user = payout.contractor
    event = fake.payout_failed_event(stripe_account_id(user), amount_minor=1234, currency="usd")

    response = _send(event)

    assert response.status_code == 200
    assert "No paid payout of 12.34 USD" in response.json()["result"]
    payout.refresh_from_db()
    assert payout.state == PayoutState.PAID
    assert fake.transfer_object(payout.provider_reference)["amount_reversed"] == 0
    assert ledger_returns(user) == []
    assert "Your bank returned 12.34 USD" in PayoutAccount.objects.get(contractor=user).problem


def test_a_bank_payout_failure_while_stripe_is_down_keeps_nothing_so_stripe_sends_it_again(fake, ops, settings):
    payout = _paid(fake, ops)
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    event = fake.payout_failed_event(stripe_account_id(payout.contractor), amount_minor=5000, currency="usd")
    fake.fault_next("POST", f"/v1/transfers/{payout.provider_reference}/reversals", "http_500")

    assert _send(event).status_code == 503
    assert not StripeEvent.objects.exists()
    payout.refresh_from_db()
    assert payout.state == PayoutState.PAID

    assert _send(event).status_code == 200  # Stripe's next delivery
    payout.refresh_from_db()
    assert payout.state == PayoutState.FAILED
    assert fake.transfer_object(payout.provider_reference)["amount_reversed"] == 5000


def test_a_transfer_reversed_before_the_worker_recorded_it_is_matched_by_its_key(fake, ops, settings):
    closed, _ = periods()
    user = stripe_contractor(fake)
    earn(user, closed, 5000)
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    fake.fault_next("POST", "/v1/transfers", "drop_after_commit")
    run = payout_run_start(actor=ops, currency="USD")
    with pytest.raises(Exception, match="could not be reached"):
        payout_run_execute(run_id=run.pk)
    [transfer] = fake.transfers
    payout = Payout.objects.get()
    assert payout.state == PayoutState.PENDING and payout.provider_reference == ""
    event = fake.event("transfer.reversed", {**transfer, "amount_reversed": 5000, "reversed": True})

    assert _send(event).status_code == 200

    payout.refresh_from_db()
    assert payout.state == PayoutState.FAILED
    assert balance(contractor=user) == {"USD": Money(5000, "USD")}
    payout_run_execute(run_id=run.pk)  # the retry finds it settled and sends nothing
    assert fake.transfer_count() == 1


def test_a_failed_payout_of_the_platforms_own_balance_touches_no_contractor(fake):
    bank_user = bank_contractor()
    some_account = stripe_account_id(stripe_contractor(fake))
    platform_payout = fake.failed_payout_object(some_account, amount_minor=1000, currency="usd")
    response = _send(fake.event("payout.failed", platform_payout))  # no "account": the platform's own
    assert response.json()["result"] == "A payout of the platform's own balance; nothing to do."
    assert PayoutAccount.objects.get(contractor=bank_user).problem == ""


def test_an_event_fairtask_does_not_act_on_is_recorded_and_answered_200(fake):
    event = fake.event("charge.succeeded", {"id": "ch_1", "object": "charge"})
    response = _send(event)
    assert response.status_code == 200
    assert StripeEvent.objects.get().result == "Not an event Fairtask acts on."


def test_the_webhook_needs_no_login_and_no_csrf_token_but_only_accepts_post(fake):
    client = Client(enforce_csrf_checks=True)
    user = stripe_contractor(fake)
    event = fake.account_updated_event(stripe_account_id(user))
    response = client.post(
        URL, data=event.payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=event.signature
    )
    assert response.status_code == 200
    assert client.get(URL).status_code == 405
