"""Setting up payouts: Stripe Express onboarding through an account link, bank details, and the checklist."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from payments.payouts.models import PayoutAccount
from tests.fakes.stripe_server import FakeStripe, open_link
from tests.payments.payouts import configure_stripe
from tests.workforce.factories import contractor, staff_user
from workforce import services
from workforce.models import AuditEvent, ContractorProfile
from workforce.selectors import onboarding_checklist

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings: Any, stripe_fake: FakeStripe) -> FakeStripe:
    configure_stripe(settings, stripe_fake)
    return stripe_fake


def _steps(client: Any) -> dict[str, Any]:
    return {s.key: s for s in client.get(reverse("workforce:onboarding")).context["steps"]}


def test_onboarding_through_the_account_link_makes_the_checklist_step_done(fake, login):
    profile = contractor("active")
    client = login(profile.user)
    assert _steps(client)["payout"].status == "todo"

    started = client.post(reverse("payments:payout-setup"))

    assert started.status_code == 302 and started["Location"].startswith(f"{fake.url}/onboarding/")
    account = PayoutAccount.objects.get(contractor=profile.user)
    created = fake.account_object(account.stripe_account_id)
    assert created["type"] == "express" and created["email"] == profile.user.email
    assert created["country"] == "DE" and created["capabilities"] == {"transfers": "inactive"}
    assert created["metadata"] == {"fairtask_contractor": str(profile.user.pk)}
    assert not account.is_usable
    status, back_to = open_link(started["Location"])  # the contractor fills in Stripe's form
    assert (status, back_to) == (302, "http://testserver/payments/payouts/setup/return/")
    assert back_to is not None

    returned = client.get(back_to.removeprefix("http://testserver"), follow=True)

    assert "Your Stripe account is ready" in returned.content.decode()
    account.refresh_from_db()
    assert (account.details_submitted, account.payouts_enabled, account.transfers_active) == (True, True, True)
    step = _steps(client)["payout"]
    assert step.status == "done" and "ready to receive payouts" in step.detail


def test_the_express_account_is_created_once_however_often_setup_is_started(fake, login):
    profile = contractor("active")
    client = login(profile.user)
    first = client.post(reverse("payments:payout-setup"))
    second = client.post(reverse("payments:payout-setup"))

    assert first.status_code == second.status_code == 302
    assert first["Location"] != second["Location"]  # a fresh single-use link each time
    assert len(fake.accounts) == 1
    creations = [r for r in fake.requests if r.method == "POST" and r.path == "/v1/accounts"]
    assert len(creations) == 1 and creations[0].idempotency_key == PayoutAccount.objects.get().key


def test_a_lost_answer_to_the_account_creation_gets_the_same_account_on_the_next_click(fake, login, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    profile = contractor("active")
    client = login(profile.user)
    fake.fault_next("POST", "/v1/accounts", "drop_after_commit")

    refused = client.post(reverse("payments:payout-setup"), follow=True)

    assert "Stripe could not be reached" in refused.content.decode()
    assert PayoutAccount.objects.get().stripe_account_id == ""
    client.post(reverse("payments:payout-setup"))
    assert len(fake.accounts) == 1
    assert PayoutAccount.objects.get().stripe_account_id == next(iter(fake.accounts))


def test_an_expired_link_sends_the_contractor_to_a_fresh_one(fake, login):
    profile = contractor("active")
    client = login(profile.user)
    link = client.post(reverse("payments:payout-setup"))["Location"]
    open_link(link)
    status, refresh = open_link(link)  # used: Stripe sends the browser to refresh_url
    assert (status, refresh) == (302, "http://testserver/payments/payouts/setup/refresh/")
    assert refresh is not None

    fresh = client.get(refresh.removeprefix("http://testserver"))

    assert fresh.status_code == 302 and fresh["Location"].startswith(f"{fake.url}/onboarding/")
    assert fresh["Location"] != link


def test_a_missing_payout_account_does_not_block_approval_and_the_checklist_says_so(fake, login):
    profile = contractor("onboarding")
    response = login(profile.user).get(reverse("workforce:onboarding"))
    step = {s.key: s for s in response.context["steps"]}["payout"]
    assert (step.status, step.required, step.blocks_approval) == ("todo", False, False)
    assert "Not needed for approval" in step.detail
    assert response.context["is_waiting"]

    services.contractor_transition(profile=profile, action="approve", actor=staff_user(), reason="Checklist complete.")

    assert ContractorProfile.objects.get(pk=profile.pk).state == "active"


def test_a_stripe_account_still_being_checked_shows_as_waiting(fake, login):
    profile = contractor("active")
    client = login(profile.user)
    client.post(reverse("payments:payout-setup"))
    account = PayoutAccount.objects.get()
    fake.complete_onboarding(account.stripe_account_id)
    fake.set_account_status(account.stripe_account_id, payouts_enabled=False)
    client.get(reverse("payments:payout-setup-return"))

    step = _steps(client)["payout"]

    assert step.status == "waiting"
    assert "Waiting" in client.get(reverse("workforce:onboarding")).content.decode()


def test_setup_without_a_stripe_key_says_what_to_configure_and_calls_nothing(stripe_fake, login, settings):
    settings.STRIPE_SECRET_KEY = ""
    profile = contractor("active")
    response = login(profile.user).post(reverse("payments:payout-setup"), follow=True)
    assert "STRIPE_SECRET_KEY" in response.content.decode()
    assert stripe_fake.requests == []
    assert not PayoutAccount.objects.exists()


def test_with_the_bank_file_provider_a_contractor_saves_bank_details(login, settings):
    settings.FAIRTASK_PAYOUT_PROVIDER = "bank_file"
    profile = contractor("active")
    client = login(profile.user)
    page = client.get(reverse("payments:payout-setup")).content.decode()
    assert '<label for="id_reference">' in page

    response = client.post(
        reverse("payments:payout-setup"), {"holder": "Ana  Example", "reference": "de89 3704 0044 0532 0130 00"}
    )

    assert response.status_code == 302
    account = PayoutAccount.objects.get(contractor=profile.user)
    assert (account.provider, account.bank_account_holder) == ("bank_file", "Ana Example")
    assert account.bank_account_reference == "DE89370400440532013000"
    step = _steps(client)["payout"]
    assert step.status == "done" and "ending 3000" in step.detail
    event = AuditEvent.objects.get(action="payout_account.bank_set")
    assert event.summary == {"contractor": profile.user.pk, "reference_last4": "3000"}


@pytest.mark.parametrize(
    ("data", "field", "text"),
    [
        ({"holder": "=HYPERLINK(1)", "reference": "DE89370400440532013000"}, "holder", "cannot start with"),
        ({"holder": "Ana", "reference": "DE89-3704"}, "reference", "letters and digits only"),
    ],
)
def test_bad_bank_details_are_refused_next_to_their_field_and_nothing_is_saved(login, settings, data, field, text):
    settings.FAIRTASK_PAYOUT_PROVIDER = "bank_file"
    profile = contractor("active")

    response = login(profile.user).post(reverse("payments:payout-setup"), data)

    assert response.status_code == 400
    assert text in " ".join(response.context["form"].errors[field])
    assert not PayoutAccount.objects.exists()


def test_the_checklist_without_the_payments_hook_keeps_its_placeholder(settings):
    settings.FAIRTASK_ONBOARDING_STEPS = []
    steps = {s.key: s.status for s in onboarding_checklist(profile=contractor("onboarding"))}
    assert steps["payout"] == "later"
