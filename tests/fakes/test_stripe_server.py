"""The fake Stripe server, driven through the real ``stripe`` SDK the way the payout code will drive it.

No database: the fake is plain Python. ``stripe_fake`` (tests/conftest.py) starts one per test.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from tests.fakes.stripe_server import API_KEY, DEFAULT_BALANCE_MINOR, FakeStripe, open_link

TIMEOUT_SECONDS = 5.0
# The timeout test's client gives up after this long; the fake holds the request for longer.
SHORT_TIMEOUT_SECONDS = 0.3


def _client(
    fake: FakeStripe, *, retries: int = 0, timeout_seconds: float = TIMEOUT_SECONDS, api_key: str = API_KEY
) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": fake.url},
        max_network_retries=retries,
        http_client=stripe.RequestsClient(timeout=timeout_seconds),
    )


def _account(client: stripe.StripeClient) -> stripe.Account:
    return client.v1.accounts.create(
        params={
            "type": "express",
            "country": "DE",
            "email": "ana@example.com",
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {"worker": "12"},
        }
    )


def _onboarded(fake: FakeStripe, client: stripe.StripeClient) -> str:
    account = _account(client)
    fake.complete_onboarding(account.id)
    return account.id


def _pay(
    client: stripe.StripeClient, destination: str, *, amount: int = 1500, key: str = "payout-1", group: str = "period-1"
) -> stripe.Transfer:
    return client.v1.transfers.create(
        params={
            "amount": amount,
            "currency": "EUR",
            "destination": destination,
            "transfer_group": group,
            "metadata": {"payout": key},
        },
        options={"idempotency_key": key},
    )


def _posts(fake: FakeStripe, path: str) -> list[str | None]:
    """The idempotency keys of the POSTs the fake received on ``path``."""
    return [r.idempotency_key for r in fake.requests if r.method == "POST" and r.path == path]


# Accounts and onboarding


def test_an_account_is_made_from_bracketed_form_parameters(stripe_fake):
    account = _account(_client(stripe_fake))

    assert account.id.startswith("acct_")
    assert account.object == "account"
    assert account.capabilities is not None
    assert account.capabilities.transfers == "inactive"
    assert account.details_submitted is False
    assert account.to_dict()["metadata"] == {"worker": "12"}
    assert stripe_fake.requests[-1].params == {
        "type": "express",
        "country": "DE",
        "email": "ana@example.com",
        "capabilities": {"transfers": {"requested": "true"}},
        "metadata": {"worker": "12"},
    }


def test_an_account_update_merges_metadata_and_an_empty_value_removes_a_key(stripe_fake):
    client = _client(stripe_fake)
    account = _account(client)

    updated = client.v1.accounts.update(account.id, params={"metadata": {"worker": "", "profile": "7"}})

    assert updated.to_dict()["metadata"] == {"profile": "7"}
    assert client.v1.accounts.retrieve(account.id).to_dict()["metadata"] == {"profile": "7"}


def test_the_account_link_page_completes_onboarding_and_sends_the_person_back(stripe_fake):
    client = _client(stripe_fake)
    account = _account(client)
    link = client.v1.account_links.create(
        params={
            "account": account.id,
            "refresh_url": "https://fairtask.test/payouts/refresh/",
            "return_url": "https://fairtask.test/payouts/return/",
            "type": "account_onboarding",
        }
    )
    assert link.object == "account_link"
    assert link.url.startswith(f"{stripe_fake.url}/onboarding/{account.id}")

    assert open_link(link.url) == (302, "https://fairtask.test/payouts/return/")

    onboarded = client.v1.accounts.retrieve(account.id)
    assert onboarded.details_submitted is True
    assert onboarded.payouts_enabled is True
    assert onboarded.capabilities is not None
    assert onboarded.capabilities.transfers == "active"
    # A link works once; Stripe sends a second visit to refresh_url for a new one.
    assert open_link(link.url) == (302, "https://fairtask.test/payouts/refresh/")


def test_an_unknown_account_is_refused_as_stripe_refuses_it(stripe_fake):
    with pytest.raises(stripe.PermissionError) as refused:
        _client(stripe_fake).v1.accounts.retrieve("acct_doesnotexist")

    assert refused.value.http_status == 403
    assert refused.value.error is not None
    assert refused.value.error.code == "account_invalid"


# Transfers


def test_a_transfer_is_made_in_lower_case_currency_and_leaves_the_available_balance(stripe_fake):
    client = _client(stripe_fake)
    destination = _onboarded(stripe_fake, client)
    stripe_fake.set_balance("eur", 10_000)

    transfer = _pay(client, destination, amount=1500)

    assert transfer.id.startswith("tr_")
    assert (transfer.amount, transfer.currency, transfer.destination) == (1500, "eur", destination)
    assert transfer.metadata.to_dict() == {"payout": "payout-1"}
    assert transfer.reversed is False
    assert client.v1.transfers.retrieve(transfer.id).id == transfer.id
    balance = client.v1.balance.retrieve()
    assert [(b.currency, b.amount) for b in balance.available if b.currency == "eur"] == [("eur", 8500)]


def test_a_retry_with_the_same_key_gets_the_first_transfer_and_makes_no_second(stripe_fake):
    client = _client(stripe_fake)
    destination = _onboarded(stripe_fake, client)

    first = _pay(client, destination, key="payout-1")
    again = _pay(client, destination, key="payout-1")

    assert again.id == first.id
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert stripe_fake.transfer_count() == 1


def test_the_same_key_with_a_different_amount_is_an_idempotency_error(stripe_fake):
    client = _client(stripe_fake)
    destination = _onboarded(stripe_fake, client)
    _pay(client, destination, amount=1500, key="payout-1")

    with pytest.raises(stripe.IdempotencyError):
        _pay(client, destination, amount=1600, key="payout-1")

    assert stripe_fake.transfer_count() == 1


def test_a_key_used_on_another_endpoint_is_an_idempotency_error(stripe_fake):
    client = _client(stripe_fake)
    destination = _onboarded(stripe_fake, client)
    _pay(client, destination, key="payout-1")

    with pytest.raises(stripe.IdempotencyError):
        client.v1.accounts.update(destination, params={"metadata": {"a": "b"}}, options={"idempotency_key": "payout-1"})


def test_a_refusal_is_replayed_under_its_key_but_a_malformed_request_is_not_kept(stripe_fake):
    """Stripe keeps a result once the endpoint has started; bad parameters never start it."""
    client = _client(stripe_fake)
    destination = _onboarded(stripe_fake, client)
    stripe_fake.set_balance("eur", 100)
    with pytest.raises(stripe.InvalidRequestError):
        _pay(client, destination, amount=1500, key="payout-1")
    stripe_fake.set_balance("eur", 10_000)

    with pytest.raises(stripe.InvalidRequestError) as replayed:
        _pay(client, destination, amount=1500, key="payout-1")
    assert replayed.value.code == "balance_insufficient"

    with pytest.raises(stripe.InvalidRequestError):
        client.v1.transfers.create(
            params={"amount": 1500, "currency": "eur"},  # type: ignore[typeddict-item]  # no destination, on purpose
            options={"idempotency_key": "payout-2"},
        )
    assert _pay(client, destination, amount=1500, key="payout-2").amount == 1500


def test_a_transfer_above_the_available_balance_fails_with_balance_insufficient(stripe_fake):
    client = _client(stripe_fake)
    destination = _onboarded(stripe_fake, client)
    stripe_fake.set_balance("eur", 1499)

    with pytest.raises(stripe.InvalidRequestError) as refused:
        _pay(client, destination, amount=1500)

    assert refused.value.code == "balance_insufficient"
    assert refused.value.http_status == 400
    assert stripe_fake.transfer_count() == 0
    assert stripe_fake.balance("eur") == 1499


def test_a_transfer_to_an_account_whose_transfers_are_not_active_fails(stripe_fake):
    client = _client(stripe_fake)
    not_onboarded = _account(client).id
    restricted = _onboarded(stripe_fake, client)
    stripe_fake.set_account_status(restricted, transfers_active=False, disabled_reason="requirements.past_due")

    for destination in (not_onboarded, restricted, "acct_doesnotexist"):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            _pay(client, destination, key=f"payout-{destination}")
        assert refused.value.param == "destination"

    assert stripe_fake.transfer_count() == 0
    requirements = client.v1.accounts.retrieve(restricted).requirements
    assert requirements is not None
    assert requirements.disabled_reason == "requirements.past_due"


def test_a_parameter_the_fake_does_not_know_is_refused_rather_than_ignored(stripe_fake):
    client = _client(stripe_fake)
    destination = _onboarded(stripe_fake, client)

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.transfers.create(
            params={"amount": 1500, "currency": "eur", "destination": destination, "source_transaction": "ch_1"}
        )

    assert refused.value.code == "parameter_unknown"
    assert refused.value.param == "source_transaction"


def test_transfers_are_listed_by_transfer_group_newest_first_and_page_through(stripe_fake):
    client = _client(stripe_fake)
    destination = _onboarded(stripe_fake, client)
    older = _pay(client, destination, key="a", group="period-1")
    _pay(client, destination, key="b", group="period-2")
    newer = _pay(client, destination, key="c", group="period-1")

    page = client.v1.transfers.list(params={"transfer_group": "period-1", "limit": 1})

    assert [t.id for t in page.data] == [newer.id]
    assert page.has_more is True
    assert page.url == "/v1/transfers"
    assert [t.id for t in page.auto_paging_iter()] == [newer.id, older.id]
    assert stripe_fake.requests[-1].params == {"transfer_group": "period-1", "limit": "1", "starting_after": newer.id}
    assert len(client.v1.transfers.list(params={"destination": destination}).data) == 3


def test_partial_then_full_reversals_update_the_transfer_and_return_the_money(stripe_fake):
    client = _client(stripe_fake)
    destination = _onboarded(stripe_fake, client)
    stripe_fake.set_balance("eur", 1500)
    transfer = _pay(client, destination, amount=1500)

    partial = client.v1.transfers.reversals.create(transfer.id, params={"amount": 500})
    assert (partial.object, partial.amount, partial.transfer) == ("transfer_reversal", 500, transfer.id)
    assert client.v1.transfers.retrieve(transfer.id).amount_reversed == 500

    client.v1.transfers.reversals.create(transfer.id)
    reversed_transfer = client.v1.transfers.retrieve(transfer.id)
    assert (reversed_transfer.amount_reversed, reversed_transfer.reversed) == (1500, True)
    assert stripe_fake.balance("eur") == 1500
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.transfers.reversals.create(transfer.id, params={"amount": 1})


# Faults and the SDK's retries


def test_sdk_retries_through_500s_make_exactly_one_transfer(stripe_fake):
    client = _client(stripe_fake, retries=2)
    destination = _onboarded(stripe_fake, client)
    stripe_fake.fault_next("POST", "/v1/transfers", "http_500", times=2)

    transfer = _pay(client, destination)

    assert stripe_fake.transfer_count() == 1
    assert stripe_fake.transfers[0]["id"] == transfer.id
    # The SDK sent the key it was given each time.
    assert _posts(stripe_fake, "/v1/transfers") == ["payout-1"] * 3


def test_without_retries_a_500_raises_and_moves_no_money(stripe_fake):
    client = _client(stripe_fake)
    destination = _onboarded(stripe_fake, client)
    stripe_fake.fault_next("POST", "/v1/transfers", "http_500")

    with pytest.raises(stripe.APIError):
        _pay(client, destination)

    assert stripe_fake.transfer_count() == 0


def test_a_response_lost_after_the_transfer_is_replayed_on_the_sdk_retry(stripe_fake):
    client = _client(stripe_fake, retries=1)
    destination = _onboarded(stripe_fake, client)
    stripe_fake.fault_next("POST", "/v1/transfers", "drop_after_commit")

    transfer = _pay(client, destination)

    assert stripe_fake.transfer_count() == 1
    assert stripe_fake.transfers[0]["id"] == transfer.id
    assert transfer.last_response is not None
    assert transfer.last_response.headers["Idempotent-Replayed"] == "true"
    assert _posts(stripe_fake, "/v1/transfers") == ["payout-1", "payout-1"]


def test_a_lost_response_without_retries_is_a_connection_error_though_the_transfer_exists(stripe_fake):
    client = _client(stripe_fake)
    destination = _onboarded(stripe_fake, client)
    stripe_fake.fault_next("POST", "/v1/transfers", "drop_after_commit")

    with pytest.raises(stripe.APIConnectionError):
        _pay(client, destination)

    assert stripe_fake.transfer_count(destination=destination) == 1
    assert _pay(client, destination).id == stripe_fake.transfers[0]["id"]


def test_a_timeout_reaches_a_short_timeout_client_as_a_connection_error_and_moves_no_money(stripe_fake):
    client = _client(stripe_fake, timeout_seconds=SHORT_TIMEOUT_SECONDS)
    destination = _onboarded(stripe_fake, client)
    stripe_fake.fault_next("POST", "/v1/transfers", "timeout", delay_seconds=10 * SHORT_TIMEOUT_SECONDS)

    with pytest.raises(stripe.APIConnectionError):
        _pay(client, destination)

    assert stripe_fake.transfer_count() == 0
    assert stripe_fake.balance("eur") == DEFAULT_BALANCE_MINOR["eur"]


def test_faults_apply_in_order_to_their_own_endpoint_and_clear_faults_drops_them(stripe_fake):
    client = _client(stripe_fake, retries=2)
    destination = _onboarded(stripe_fake, client)
    stripe_fake.fault_next("POST", "/v1/transfers", "http_500")
    stripe_fake.fault_next("POST", "/v1/transfers", "drop_after_commit")
    stripe_fake.fault_next("GET", "/v1/balance", "http_500")
    stripe_fake.clear_faults()
    stripe_fake.fault_next("POST", "/v1/transfers", "http_500")
    stripe_fake.fault_next("POST", "/v1/transfers", "drop_after_commit")

    client.v1.balance.retrieve()
    transfer = _pay(client, destination)

    assert [r.path for r in stripe_fake.requests if r.path == "/v1/balance"] == ["/v1/balance"]
    assert _posts(stripe_fake, "/v1/transfers") == ["payout-1"] * 3
    assert [t["id"] for t in stripe_fake.transfers] == [transfer.id]


# Authentication


def test_a_request_without_a_test_secret_key_is_refused_with_401(stripe_fake):
    with pytest.raises(stripe.AuthenticationError):
        _client(stripe_fake, api_key="sk_live_notatestkey").v1.balance.retrieve()

    request = urllib.request.Request(f"{stripe_fake.url}/v1/balance")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=TIMEOUT_SECONDS)
    with refused.value as response:
        assert response.code == 401
        assert json.loads(response.read())["error"]["type"] == "invalid_request_error"


# Webhooks


def test_a_signed_event_is_accepted_by_the_sdk_and_a_tampered_one_is_rejected(stripe_fake):
    client = _client(stripe_fake)
    account_id = _onboarded(stripe_fake, client)
    payload, signature = stripe_fake.account_updated_event(account_id)

    event = stripe.Webhook.construct_event(payload, signature, stripe_fake.webhook_secret)

    assert event.id.startswith("evt_")
    assert (event.type, event.account, event.livemode) == ("account.updated", account_id, False)
    assert event.data.object["capabilities"]["transfers"] == "active"
    tampered = payload.replace(b'"transfers": "active"', b'"transfers": "inactive"')
    assert tampered != payload
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, signature, stripe_fake.webhook_secret)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, signature, "whsec_someone_else")


def test_a_signature_older_than_the_tolerance_is_rejected(stripe_fake):
    payload, signature = stripe_fake.event("balance.available", {"object": "balance"}, signed_at=1_000_000_000)

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, signature, stripe_fake.webhook_secret)


def test_a_payout_failed_event_names_the_connected_account_and_the_bank_failure(stripe_fake):
    account_id = _onboarded(stripe_fake, _client(stripe_fake))
    payload, signature = stripe_fake.payout_failed_event(
        account_id, amount_minor=1500, currency="EUR", failure_code="account_closed"
    )

    event = stripe.Webhook.construct_event(payload, signature, stripe_fake.webhook_secret)

    assert (event.type, event.account) == ("payout.failed", account_id)
    payout = event.data.object
    assert (payout["object"], payout["status"], payout["failure_code"]) == ("payout", "failed", "account_closed")
    assert (payout["amount"], payout["currency"]) == (1500, "eur")


def test_a_transfer_reversed_event_carries_the_reversed_transfer(stripe_fake):
    client = _client(stripe_fake)
    transfer = _pay(client, _onboarded(stripe_fake, client))
    client.v1.transfers.reversals.create(transfer.id)
    payload, signature = stripe_fake.transfer_reversed_event(transfer.id)

    event = stripe.Webhook.construct_event(payload, signature, stripe_fake.webhook_secret)

    assert event.type == "transfer.reversed"
    assert "account" not in event
    assert (event.data.object["id"], event.data.object["reversed"]) == (transfer.id, True)


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[str, list[tuple[bytes, str]]]]:
    """A bare endpoint that keeps what it is sent: its URL and the (body, Stripe-Signature) pairs."""
    received: list[tuple[bytes, str]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers["Stripe-Signature"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/webhooks/stripe/", received
    server.shutdown()
    server.server_close()
    thread.join()


def test_post_event_delivers_a_body_and_signature_the_sdk_accepts(stripe_fake, webhook_receiver):
    url, received = webhook_receiver
    account_id = _onboarded(stripe_fake, _client(stripe_fake))
    account = stripe_fake.account_object(account_id)

    status, _ = stripe_fake.post_event(url, "account.updated", account, account=account_id)

    assert status == 200
    [(body, signature)] = received
    event = stripe.Webhook.construct_event(body, signature, stripe_fake.webhook_secret)
    assert (event.type, event.account, event.data.object["id"]) == ("account.updated", account_id, account_id)
    assert [e["id"] for e in stripe_fake.events] == [event.id]
