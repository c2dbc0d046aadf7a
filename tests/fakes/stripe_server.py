"""A local HTTP server that speaks the part of Stripe's API that Fairtask's payouts use.

Tests point the real ``stripe`` SDK at it, so the code under test builds real requests, reads
real responses and runs the SDK's own retry logic::

    with FakeStripe() as fake:
        client = stripe.StripeClient(
            API_KEY,
            base_addresses={"api": fake.url},
            max_network_retries=2,
            http_client=stripe.RequestsClient(timeout=5),
        )

It models what payout code depends on:

- form-encoded requests in bracket notation, Stripe's JSON objects and error bodies, and Bearer
  auth with a test-mode key;
- Connect Express accounts onboarded through a single-use account link, transfers, transfer
  reversals and the platform's available balance;
- idempotency keys as Stripe keeps them: a key remembers the endpoint, the parameters and the
  response of the first request that got as far as running (a rejection of malformed parameters
  is not kept, a refusal such as ``balance_insufficient`` is). A retry gets that response again;
  a different request under the same key is an ``idempotency_error``;
- faults injected into the next matching requests (a 500, a timeout, a response lost after the
  transfer was made) and signed webhook events.

Parameters not listed for an endpoint get Stripe's "unknown parameter" error, so a typo in our
code fails here instead of passing against a lenient fake. Not modelled: ``expand``, other
endpoints, pending funds, connected accounts' own balances and payouts, rate limits.
Requests run one at a time under a lock, so two requests with the same key never interleave.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import html
import json
import re
import secrets
import string
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.message import Message
from enum import Enum
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import IO, Any, Literal, NamedTuple, get_args
from urllib.parse import parse_qsl, urlsplit

import stripe

JSON = dict[str, Any]
FaultKind = Literal["http_500", "timeout", "drop_after_commit"]

API_KEY = "sk_test_fairtask"
WEBHOOK_SECRET = "whsec_fairtask_test"
# Enough in each currency that a test need not think about the balance unless it sets one.
DEFAULT_BALANCE_MINOR = {"eur": 10_000_000, "gbp": 10_000_000, "usd": 10_000_000}
ACCOUNT_LINK_TTL_SECONDS = 300
LIST_LIMIT_DEFAULT = 10
# Stripe's limits on metadata.
METADATA_MAX_KEYS = 50
METADATA_KEY_MAX_LENGTH = 40
METADATA_VALUE_MAX_LENGTH = 500
IDEMPOTENCY_KEY_MAX_LENGTH = 255
# What a new Express account still owes before Stripe lets money move.
NEW_ACCOUNT_REQUIREMENTS = ["business_type", "external_account", "tos_acceptance.date", "tos_acceptance.ip"]

_ID_ALPHABET = string.ascii_letters + string.digits
_FORM_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_BRACKETED = re.compile(r"\[([^\[\]]*)\]")


class _Keep(Enum):
    """Marks an argument that was not given, where ``None`` is a value of its own."""

    KEEP = "keep"


KEEP = _Keep.KEEP


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    params: JSON
    idempotency_key: str | None


class SignedEvent(NamedTuple):
    """A webhook body and the ``Stripe-Signature`` header that goes with it."""

    payload: bytes
    signature: str


@dataclass
class _Fault:
    method: str
    path: str
    kind: FaultKind
    times: int
    delay_seconds: float


@dataclass
class _AccountLink:
    account_id: str
    refresh_url: str
    return_url: str
    expires_at: int
    is_used: bool = False


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    is_sent: bool = True  # False: close the connection without answering


@dataclass(frozen=True)
class _Saved:
    """The first result under an idempotency key, with the request it answered."""

    path: str
    params: JSON
    reply: _Reply


_DROPPED = _Reply(0, b"", is_sent=False)


class _ApiError(Exception):
    """A Stripe error response.

    ``is_saved`` says whether an idempotency key keeps it: Stripe saves a result once the
    endpoint has started to run, so refusing malformed parameters is not saved and a retry
    with the same key runs again, while ``balance_insufficient`` is saved and replayed.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        is_saved: bool = True,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param
        self.is_saved = is_saved

    def reply(self) -> _Reply:
        error: JSON = {"type": self.error_type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
        if self.param is not None:
            error["param"] = self.param
        return _json_reply(self.status, {"error": error})


def _param_error(message: str, param: str, code: str | None = None) -> _ApiError:
    return _ApiError(400, message, code=code, param=param, is_saved=False)


def _json_reply(status: int, body: Mapping[str, Any]) -> _Reply:
    return _Reply(status, json.dumps(body, indent=2).encode(), (("Content-Type", "application/json"),))


def _html_reply(status: int, text: str, *, location: str | None = None) -> _Reply:
    page = f"<!doctype html>\n<title>Fake Stripe onboarding</title>\n<p>{text}</p>\n"
    headers = [("Content-Type", "text/html; charset=utf-8")]
    if location is not None:
        headers.append(("Location", location))
    return _Reply(status, page.encode(), tuple(headers))


def _new_id(prefix: str, length: int = 24) -> str:
    return prefix + "_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def _now() -> int:
    return int(time.time())


# Parameters


def _decode_form(pairs: Iterable[tuple[str, str]]) -> JSON:
    """Stripe's bracket notation as nested values: ``a[b][c]=1`` is a hash, ``a[0]=x`` a list."""
    root: JSON = {}
    for key, value in pairs:
        match = _FORM_KEY.fullmatch(key)
        if match is None:
            raise _param_error(f"Invalid parameter name: {key}", key)
        *parents, last = [match.group(1), *_BRACKETED.findall(match.group(2))]
        node = root
        for part in parents:
            child = node.setdefault(part or str(len(node)), {})
            if not isinstance(child, dict):
                raise _param_error(f"Invalid hash: {key} mixes a value and a hash.", match.group(1))
            node = child
        last = last or str(len(node))
        if isinstance(node.get(last), dict):
            raise _param_error(f"Invalid hash: {key} mixes a value and a hash.", match.group(1))
        node[last] = value
    return {name: _as_lists(value, name) for name, value in root.items()}


def _as_lists(value: Any, name: str) -> Any:
    """Turns hashes keyed 0, 1, ... into lists; metadata keys stay keys even when they are digits."""
    if not isinstance(value, dict):
        return value
    items = {key: _as_lists(item, key) for key, item in value.items()} if name != "metadata" else value
    if name != "metadata" and items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def _allow(params: JSON, *names: str) -> None:
    for name in params:
        if name not in names:
            accepted = ", ".join(names) or "no parameters"
            raise _param_error(
                f"Received unknown parameter: {name}. (The fake Stripe in tests/fakes/stripe_server.py "
                f"accepts {accepted} here.)",
                name,
                "parameter_unknown",
            )


def _text(params: JSON, name: str) -> str | None:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise _param_error(f"Invalid string: {name} must be a string, not a hash or a list.", name)
    return value


def _required_text(params: JSON, name: str) -> str:
    value = _text(params, name)
    if value is None:
        raise _param_error(f"Missing required param: {name}.", name, "parameter_missing")
    if value == "":
        raise _param_error(f"You passed an empty string for '{name}', which cannot be unset.", name)
    return value


def _integer(text: str, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if not re.fullmatch(r"-?\d+", text):
        raise _param_error(f"Invalid integer: {text}", name, "parameter_invalid_integer")
    value = int(text)
    if minimum is not None and value < minimum:
        raise _param_error(f"This value must be greater than or equal to {minimum}.", name)
    if maximum is not None and value > maximum:
        raise _param_error(f"This value must be less than or equal to {maximum}.", name)
    return value


def _boolean(value: Any, name: str) -> bool:
    if value == "true":
        return True
    if value == "false":
        return False
    raise _param_error(f"Invalid boolean: {value}", name)


def _currency(params: JSON) -> str:
    text = _required_text(params, "currency")
    if not re.fullmatch(r"[A-Za-z]{3}", text):
        raise _param_error(f"Invalid currency: {text}. Use a three-letter ISO code.", "currency")
    return text.lower()


def _url(params: JSON, name: str) -> str:
    text = _required_text(params, name)
    if not re.match(r"https?://[^/\s]+", text):
        raise _param_error(f"Not a valid URL: {text}", name, "url_invalid")
    return text


def _metadata(value: Any, current: Mapping[str, str]) -> dict[str, str]:
    """Merges like Stripe: a key set to "" is removed, and ``metadata=""`` removes them all."""
    if value is None:
        return dict(current)
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise _param_error("Invalid hash: metadata must be a hash of strings.", "metadata")
    merged = dict(current)
    for key, item in value.items():
        if not isinstance(item, str):
            raise _param_error(f"Invalid string: metadata[{key}] must be a string.", f"metadata[{key}]")
        if len(key) > METADATA_KEY_MAX_LENGTH:
            raise _param_error(
                f"Metadata keys can be at most {METADATA_KEY_MAX_LENGTH} characters; '{key}' is longer.", "metadata"
            )
        if len(item) > METADATA_VALUE_MAX_LENGTH:
            raise _param_error(
                f"Metadata values can be at most {METADATA_VALUE_MAX_LENGTH} characters; metadata[{key}] is longer.",
                f"metadata[{key}]",
            )
        if item == "":
            merged.pop(key, None)
        else:
            merged[key] = item
    if len(merged) > METADATA_MAX_KEYS:
        raise _param_error(f"An object can have at most {METADATA_MAX_KEYS} metadata keys.", "metadata")
    return merged


def _capabilities(value: Any, current: Mapping[str, str]) -> dict[str, str]:
    """``capabilities[transfers][requested]=true`` asks for a capability; it stays inactive until onboarding."""
    if value is None:
        return dict(current)
    if not isinstance(value, dict):
        raise _param_error("Invalid hash: capabilities must be a hash.", "capabilities")
    result = dict(current)
    for name, options in value.items():
        param = f"capabilities[{name}]"
        if not isinstance(options, dict) or set(options) != {"requested"}:
            raise _param_error(f"Invalid hash: {param} takes only 'requested'.", param)
        if _boolean(options["requested"], f"{param}[requested]"):
            result.setdefault(name, "inactive")
        else:
            result.pop(name, None)
    return result


def _requirements(*, currently_due: list[str], disabled_reason: str | None) -> JSON:
    return {
        "currently_due": list(currently_due),
        "eventually_due": list(currently_due),
        "past_due": list(currently_due),
        "pending_verification": [],
        "errors": [],
        "current_deadline": None,
        "disabled_reason": disabled_reason,
    }


# The server


class FakeStripe:
    """Stripe's API for one test: start it, point the SDK at ``url``, assert on what it holds."""

    def __init__(
        self,
        *,
        webhook_secret: str = WEBHOOK_SECRET,
        balances_minor: Mapping[str, int] | None = None,
        api_version: str = stripe.api_version,
    ) -> None:
        self.webhook_secret = webhook_secret
        self.api_version = api_version
        # Every change of state and every read for a helper happens under this lock.
        self._lock = threading.RLock()
        # Set by stop(), so a request held for a "timeout" fault ends with the server.
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._accounts: dict[str, JSON] = {}
        self._links: dict[str, _AccountLink] = {}
        self._transfers: dict[str, JSON] = {}  # in the order they were made
        self._available: dict[str, int] = dict(DEFAULT_BALANCE_MINOR if balances_minor is None else balances_minor)
        self._saved: dict[tuple[str | None, str], _Saved] = {}
        self._faults: list[_Fault] = []
        self._requests: list[RecordedRequest] = []
        self._events: list[JSON] = []
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., tuple[int, JSON]]]] = [
            ("POST", re.compile(r"/v1/accounts"), self._account_create),
            ("GET", re.compile(r"/v1/accounts/([^/]+)"), self._account_retrieve),
            ("POST", re.compile(r"/v1/accounts/([^/]+)"), self._account_update),
            ("POST", re.compile(r"/v1/account_links"), self._account_link_create),
            ("POST", re.compile(r"/v1/transfers"), self._transfer_create),
            ("GET", re.compile(r"/v1/transfers"), self._transfer_list),
            ("GET", re.compile(r"/v1/transfers/([^/]+)"), self._transfer_retrieve),
            ("POST", re.compile(r"/v1/transfers/([^/]+)/reversals"), self._reversal_create),
            ("GET", re.compile(r"/v1/balance"), self._balance_retrieve),
        ]

    # Lifecycle

    def start(self) -> FakeStripe:
        if self._server is not None:
            raise RuntimeError("This FakeStripe is already running.")
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        # A short poll interval, so that stop() returns at once rather than after half a second.
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-stripe", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("Start the FakeStripe first, with start() or a with block.")
        return f"http://127.0.0.1:{self._server.server_port}"

    # Faults

    def fault_next(
        self, method: str, path: str, kind: FaultKind, *, times: int = 1, delay_seconds: float = 2.0
    ) -> None:
        """The next ``times`` requests to ``method path`` (exact path) meet ``kind``; faults queue in order.

        - ``http_500``: a 500 ``api_error``, and nothing is done;
        - ``timeout``: no answer for ``delay_seconds`` (or until stop()), then the connection
          closes, and nothing is done; give the client a shorter timeout than the delay;
        - ``drop_after_commit``: the request runs and its result is saved under its idempotency
          key, then the connection closes unanswered, as when a response is lost on the way back.
        """
        if kind not in get_args(FaultKind):
            raise ValueError(f"Unknown fault kind {kind!r}; use one of {', '.join(get_args(FaultKind))}.")
        if times < 1:
            raise ValueError("times must be at least 1.")
        with self._lock:
            self._faults.append(_Fault(method.upper(), path, kind, times, delay_seconds))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.method == method and fault.path == path:
                    fault.times -= 1
                    if fault.times == 0:
                        del self._faults[index]
                    return fault
        return None

    # Inspection and set-up

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def transfers(self) -> list[JSON]:
        """Every transfer, oldest first."""
        with self._lock:
            return copy.deepcopy(list(self._transfers.values()))

    @property
    def accounts(self) -> dict[str, JSON]:
        with self._lock:
            return copy.deepcopy(self._accounts)

    @property
    def events(self) -> list[JSON]:
        """Every event built by ``event()``, oldest first."""
        with self._lock:
            return copy.deepcopy(self._events)

    def transfer_count(self, destination: str | None = None) -> int:
        with self._lock:
            return sum(1 for t in self._transfers.values() if destination in (None, t["destination"]))

    def balance(self, currency: str) -> int:
        """The platform's available balance in ``currency``, in minor units."""
        with self._lock:
            return self._available.get(currency.lower(), 0)

    def set_balance(self, currency: str, amount_minor: int) -> None:
        with self._lock:
            self._available[currency.lower()] = amount_minor

    def account_object(self, account_id: str) -> JSON:
        with self._lock:
            return copy.deepcopy(self._stored_account(account_id))

    def transfer_object(self, transfer_id: str) -> JSON:
        with self._lock:
            if transfer_id not in self._transfers:
                raise LookupError(f"The fake holds no transfer {transfer_id}.")
            return copy.deepcopy(self._transfers[transfer_id])

    def complete_onboarding(self, account_id: str) -> None:
        """What finishing Stripe's hosted onboarding does: details in, requested capabilities active."""
        with self._lock:
            account = self._stored_account(account_id)
            account["details_submitted"] = True
            account["charges_enabled"] = True
            account["payouts_enabled"] = True
            account["capabilities"] = {name: "active" for name in account["capabilities"]}
            account["requirements"] = _requirements(currently_due=[], disabled_reason=None)

    def set_account_status(
        self,
        account_id: str,
        *,
        transfers_active: bool | None = None,
        payouts_enabled: bool | None = None,
        disabled_reason: str | _Keep | None = KEEP,
    ) -> None:
        """Changes only what is given, as Stripe might after a review (``disabled_reason=None`` clears it)."""
        with self._lock:
            account = self._stored_account(account_id)
            if transfers_active is not None:
                account["capabilities"]["transfers"] = "active" if transfers_active else "inactive"
            if payouts_enabled is not None:
                account["payouts_enabled"] = payouts_enabled
            if disabled_reason is not KEEP:
                account["requirements"]["disabled_reason"] = disabled_reason

    def _stored_account(self, account_id: str) -> JSON:
        if account_id not in self._accounts:
            raise LookupError(f"The fake holds no account {account_id}.")
        return self._accounts[account_id]

    # Webhooks

    def event(
        self,
        event_type: str,
        obj: Mapping[str, Any],
        *,
        account: str | None = None,
        previous_attributes: Mapping[str, Any] | None = None,
        signed_at: int | None = None,
    ) -> SignedEvent:
        """A Stripe event around ``obj``, signed as Stripe signs it.

        ``account`` is the connected account a Connect event comes from (top level, as Stripe
        sends it); ``signed_at`` backdates the signature to test the tolerance window.
        """
        data: JSON = {"object": copy.deepcopy(dict(obj))}
        if previous_attributes is not None:
            data["previous_attributes"] = copy.deepcopy(dict(previous_attributes))
        body: JSON = {"id": _new_id("evt"), "object": "event"}
        if account is not None:
            body["account"] = account
        body |= {
            "api_version": self.api_version,
            "created": _now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        with self._lock:
            self._events.append(copy.deepcopy(body))
        payload = json.dumps(body, indent=2).encode()
        return SignedEvent(payload, self.sign(payload, timestamp=signed_at))

    def sign(self, payload: bytes, *, timestamp: int | None = None) -> str:
        """The ``Stripe-Signature`` header: an HMAC-SHA256 of ``"<t>.<payload>"`` with the webhook secret."""
        signed_at = _now() if timestamp is None else timestamp
        digest = hmac.new(self.webhook_secret.encode(), f"{signed_at}.".encode() + payload, hashlib.sha256)
        return f"t={signed_at},v1={digest.hexdigest()}"

    def account_updated_event(
        self, account_id: str, *, previous_attributes: Mapping[str, Any] | None = None
    ) -> SignedEvent:
        return self.event(
            "account.updated",
            self.account_object(account_id),
            account=account_id,
            previous_attributes=previous_attributes,
        )

    def transfer_reversed_event(self, transfer_id: str) -> SignedEvent:
        """Transfers belong to the platform, so this event carries no ``account``."""
        return self.event("transfer.reversed", self.transfer_object(transfer_id))

    def failed_payout_object(
        self,
        account_id: str,
        *,
        amount_minor: int,
        currency: str,
        failure_code: str = "account_closed",
        failure_message: str = "The bank account has been closed.",
    ) -> JSON:
        """A payout from a connected account's balance to its bank that the bank returned."""
        self.account_object(account_id)  # refuses an account the fake does not hold
        now = _now()
        return {
            "id": _new_id("po"),
            "object": "payout",
            "amount": amount_minor,
            "arrival_date": now,
            "automatic": True,
            "balance_transaction": _new_id("txn"),
            "created": now,
            "currency": currency.lower(),
            "description": "STRIPE PAYOUT",
            "destination": _new_id("ba"),
            "failure_balance_transaction": _new_id("txn"),
            "failure_code": failure_code,
            "failure_message": failure_message,
            "livemode": False,
            "metadata": {},
            "method": "standard",
            "source_type": "card",
            "statement_descriptor": None,
            "status": "failed",
            "type": "bank_account",
        }

    def payout_failed_event(
        self,
        account_id: str,
        *,
        amount_minor: int,
        currency: str,
        failure_code: str = "account_closed",
        failure_message: str = "The bank account has been closed.",
    ) -> SignedEvent:
        payout = self.failed_payout_object(
            account_id,
            amount_minor=amount_minor,
            currency=currency,
            failure_code=failure_code,
            failure_message=failure_message,
        )
        return self.event("payout.failed", payout, account=account_id)

    def send_event(self, url: str, event: SignedEvent, *, timeout_seconds: float = 10.0) -> tuple[int, bytes]:
        """POSTs a signed event as Stripe delivers it; returns the endpoint's status and body."""
        request = urllib.request.Request(
            url,
            data=event.payload,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": event.signature,
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            },
        )
        status, _, body = _open(request, timeout_seconds)
        return status, body

    def post_event(
        self, url: str, event_type: str, obj: Mapping[str, Any], *, account: str | None = None
    ) -> tuple[int, bytes]:
        return self.send_event(url, self.event(event_type, obj, account=account))

    # HTTP

    def _respond(self, method: str, target: str, body: bytes, headers: Message) -> _Reply:
        parts = urlsplit(target)
        path = parts.path
        form = body.decode() if method == "POST" else parts.query
        key = headers.get("Idempotency-Key")
        parse_error: _ApiError | None = None
        fault: _Fault | None = None
        try:
            params = _decode_form(parse_qsl(form, keep_blank_values=True))
        except _ApiError as error:
            params, parse_error = {}, error
        with self._lock:
            self._requests.append(RecordedRequest(method, path, params, key))
        if path.startswith("/onboarding/"):
            return self._onboarding_page(method, path, params)
        try:
            self._authenticate(headers.get("Authorization"))
            if parse_error is not None:
                raise parse_error
            fault = self._take_fault(method, path)
            if fault is not None and fault.kind == "http_500":
                raise _ApiError(
                    500,
                    "An unexpected error occurred in the fake Stripe (an injected http_500 fault).",
                    error_type="api_error",
                )
            if fault is not None and fault.kind == "timeout":
                self._stopping.wait(fault.delay_seconds)
                return _DROPPED
            reply = self._perform(method, path, params, key, headers.get("Stripe-Account"))
        except _ApiError as error:
            return error.reply()
        if fault is not None and fault.kind == "drop_after_commit":
            return _DROPPED
        return reply

    def _authenticate(self, authorization: str | None) -> None:
        scheme, _, api_key = (authorization or "").partition(" ")
        if scheme != "Bearer" or not api_key:
            raise _ApiError(
                401,
                "You did not provide an API key. Send it in the Authorization header as 'Bearer sk_test_...'.",
            )
        if not api_key.startswith("sk_test_"):
            raise _ApiError(401, f"Invalid API Key provided: {api_key[:8]}****. The fake accepts only sk_test_ keys.")

    def _perform(self, method: str, path: str, params: JSON, key: str | None, account: str | None) -> _Reply:
        handler, ids = self._route(method, path)
        if method != "POST" or not key:
            with self._lock:
                return self._run(handler, params, ids)[0]
        if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
            raise _param_error(
                f"Idempotency keys can be at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters.", "idempotency_key"
            )
        # Keys belong to the account the request acts as, like Stripe's.
        scope = (account, key)
        with self._lock:
            saved = self._saved.get(scope)
            if saved is None:
                reply, is_saved = self._run(handler, params, ids)
                if is_saved:
                    self._saved[scope] = _Saved(path, params, reply)
                return reply
        if saved.path != path:
            raise _ApiError(
                400,
                f"Keys for idempotent requests can only be used for the endpoint they were first used for "
                f"('{saved.path}', not '{path}'). Use a key other than '{key}' for a different request.",
                error_type="idempotency_error",
            )
        if saved.params != params:
            raise _ApiError(
                400,
                f"Keys for idempotent requests can only be used with the parameters they were first used with. "
                f"Use a key other than '{key}' for a different request.",
                error_type="idempotency_error",
            )
        return _Reply(saved.reply.status, saved.reply.body, (*saved.reply.headers, ("Idempotent-Replayed", "true")))

    def _route(self, method: str, path: str) -> tuple[Callable[..., tuple[int, JSON]], tuple[str, ...]]:
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if route_method == method and match is not None:
                return handler, match.groups()
        raise _ApiError(
            404,
            f"Unrecognized request URL ({method}: {path}). The fake Stripe in tests/fakes/stripe_server.py "
            "serves only the endpoints listed in its routes.",
            is_saved=False,
        )

    def _run(self, handler: Callable[..., tuple[int, JSON]], params: JSON, ids: tuple[str, ...]) -> tuple[_Reply, bool]:
        """The reply, and whether an idempotency key keeps it."""
        try:
            status, body = handler(params, *ids)
        except _ApiError as error:
            return error.reply(), error.is_saved
        return _json_reply(status, body), True

    def _onboarding_page(self, method: str, path: str, params: JSON) -> _Reply:
        """Stripe's hosted onboarding, finished at once: the link is used up and the account enabled."""
        match = re.fullmatch(r"/onboarding/([^/]+)", path)
        token = params.get("link")
        with self._lock:
            link = self._links.get(token) if isinstance(token, str) else None
            if method != "GET" or match is None or link is None or link.account_id != match.group(1):
                return _html_reply(404, "This onboarding link does not exist.")
            if link.is_used or _now() > link.expires_at:
                # Stripe sends the person to refresh_url, where the platform makes a new link.
                return _html_reply(
                    302,
                    f'This link has expired. <a href="{html.escape(link.refresh_url)}">Get a new one</a>.',
                    location=link.refresh_url,
                )
            link.is_used = True
            self.complete_onboarding(link.account_id)
        return _html_reply(
            302,
            f"Onboarding for {html.escape(link.account_id)} is complete. "
            f'<a href="{html.escape(link.return_url)}">Return to the platform</a>.',
            location=link.return_url,
        )

    # Endpoints. Each checks its parameters before it changes anything: an _ApiError raised
    # part-way must leave the state as it was.

    def _account(self, account_id: str) -> JSON:
        if account_id not in self._accounts:
            raise _ApiError(
                403,
                f"The provided key does not have access to account '{account_id}' (or that account does not exist).",
                code="account_invalid",
            )
        return self._accounts[account_id]

    def _account_create(self, params: JSON) -> tuple[int, JSON]:
        _allow(params, "type", "country", "email", "capabilities", "metadata", "business_type")
        account_type = _text(params, "type")
        if account_type is None:
            raise _param_error("You must provide a type for the account.", "type", "parameter_missing")
        if account_type not in ("express", "custom", "standard"):
            raise _param_error(f"Invalid type: {account_type}. Use express, custom or standard.", "type")
        country = _text(params, "country") or "US"
        if not re.fullmatch(r"[A-Za-z]{2}", country):
            raise _param_error(f"Invalid country: {country}. Use a two-letter ISO code.", "country")
        account: JSON = {
            "id": _new_id("acct", 16),
            "object": "account",
            "business_type": _text(params, "business_type"),
            "capabilities": _capabilities(params.get("capabilities"), {}),
            "charges_enabled": False,
            "country": country.upper(),
            "created": _now(),
            "details_submitted": False,
            "email": _text(params, "email"),
            "metadata": _metadata(params.get("metadata"), {}),
            "payouts_enabled": False,
            "requirements": _requirements(
                currently_due=NEW_ACCOUNT_REQUIREMENTS, disabled_reason="requirements.past_due"
            ),
            "type": account_type,
        }
        self._accounts[account["id"]] = account
        return 200, account

    def _account_retrieve(self, params: JSON, account_id: str) -> tuple[int, JSON]:
        _allow(params)
        return 200, self._account(account_id)

    def _account_update(self, params: JSON, account_id: str) -> tuple[int, JSON]:
        _allow(params, "email", "metadata", "capabilities")
        account = self._account(account_id)
        email = _text(params, "email")
        metadata = _metadata(params.get("metadata"), account["metadata"])
        capabilities = _capabilities(params.get("capabilities"), account["capabilities"])
        if email is not None:
            account["email"] = email or None
        account["metadata"] = metadata
        account["capabilities"] = capabilities
        return 200, account

    def _account_link_create(self, params: JSON) -> tuple[int, JSON]:
        _allow(params, "account", "refresh_url", "return_url", "type")
        account_id = _required_text(params, "account")
        refresh_url = _url(params, "refresh_url")
        return_url = _url(params, "return_url")
        link_type = _required_text(params, "type")
        if link_type != "account_onboarding":
            raise _param_error(f"Invalid type: {link_type}. The fake makes only account_onboarding links.", "type")
        self._account(account_id)
        created = _now()
        token = secrets.token_urlsafe(12)
        self._links[token] = _AccountLink(account_id, refresh_url, return_url, created + ACCOUNT_LINK_TTL_SECONDS)
        return 200, {
            "object": "account_link",
            "created": created,
            "expires_at": created + ACCOUNT_LINK_TTL_SECONDS,
            "url": f"{self.url}/onboarding/{account_id}?link={token}",
        }

    def _transfer_create(self, params: JSON) -> tuple[int, JSON]:
        _allow(params, "amount", "currency", "destination", "transfer_group", "description", "metadata")
        amount = _integer(_required_text(params, "amount"), "amount", minimum=1)
        currency = _currency(params)
        destination = _required_text(params, "destination")
        transfer_group = _text(params, "transfer_group")
        description = _text(params, "description")
        metadata = _metadata(params.get("metadata"), {})
        account = self._accounts.get(destination)
        if account is None:
            raise _ApiError(400, f"No such destination: '{destination}'", code="resource_missing", param="destination")
        if account["capabilities"].get("transfers") != "active":
            raise _ApiError(
                400,
                f"Your destination account {destination} needs the transfers capability to be active "
                "before it can receive transfers.",
                code="insufficient_capabilities_for_transfer",
                param="destination",
            )
        available = self._available.get(currency, 0)
        if available < amount:
            raise _ApiError(
                400,
                f"You have insufficient available funds in your Stripe account ({available} {currency} "
                f"available, {amount} asked). Add funds to your balance and try again.",
                code="balance_insufficient",
            )
        self._available[currency] = available - amount
        transfer_id = _new_id("tr")
        transfer: JSON = {
            "id": transfer_id,
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "balance_transaction": _new_id("txn"),
            "created": _now(),
            "currency": currency,
            "description": description,
            "destination": destination,
            "destination_payment": _new_id("py"),
            "livemode": False,
            "metadata": metadata,
            "reversals": {
                "object": "list",
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/transfers/{transfer_id}/reversals",
            },
            "reversed": False,
            "source_transaction": None,
            "source_type": "card",
            "transfer_group": transfer_group,
        }
        self._transfers[transfer_id] = transfer
        return 200, transfer

    def _transfer(self, transfer_id: str) -> JSON:
        if transfer_id not in self._transfers:
            raise _ApiError(404, f"No such transfer: '{transfer_id}'", code="resource_missing", param="id")
        return self._transfers[transfer_id]

    def _transfer_retrieve(self, params: JSON, transfer_id: str) -> tuple[int, JSON]:
        _allow(params)
        return 200, self._transfer(transfer_id)

    def _transfer_list(self, params: JSON) -> tuple[int, JSON]:
        """Newest first, like Stripe; ``starting_after`` pages to older ones, ``ending_before`` to newer."""
        _allow(params, "destination", "transfer_group", "limit", "starting_after", "ending_before")
        limit_text = _text(params, "limit")
        limit = LIST_LIMIT_DEFAULT if limit_text is None else _integer(limit_text, "limit", minimum=1, maximum=100)
        filters = {name: _text(params, name) for name in ("destination", "transfer_group")}
        found = [
            transfer
            for transfer in reversed(self._transfers.values())
            if all(value is None or transfer[name] == value for name, value in filters.items())
        ]
        ids = [transfer["id"] for transfer in found]
        starting_after, ending_before = _text(params, "starting_after"), _text(params, "ending_before")
        for name, cursor in (("starting_after", starting_after), ("ending_before", ending_before)):
            if cursor is not None and cursor not in ids:
                raise _param_error(f"No such transfer: '{cursor}'", name, "resource_missing")
        if starting_after is not None:
            found = found[ids.index(starting_after) + 1 :]
        if ending_before is not None:
            found = found[: ids.index(ending_before)]
            page = found[-limit:]
        else:
            page = found[:limit]
        return 200, {"object": "list", "data": page, "has_more": len(found) > limit, "url": "/v1/transfers"}

    def _reversal_create(self, params: JSON, transfer_id: str) -> tuple[int, JSON]:
        _allow(params, "amount", "metadata")
        amount_text = _text(params, "amount")
        amount = None if amount_text is None else _integer(amount_text, "amount", minimum=1)
        metadata = _metadata(params.get("metadata"), {})
        transfer = self._transfer(transfer_id)
        left = transfer["amount"] - transfer["amount_reversed"]
        if left == 0:
            raise _ApiError(400, f"Transfer {transfer_id} is already fully reversed.")
        amount = left if amount is None else amount
        if amount > left:
            raise _ApiError(
                400,
                f"The reversal of {amount} is more than the {left} left to reverse on transfer {transfer_id}.",
                param="amount",
            )
        reversal: JSON = {
            "id": _new_id("trr"),
            "object": "transfer_reversal",
            "amount": amount,
            "balance_transaction": _new_id("txn"),
            "created": _now(),
            "currency": transfer["currency"],
            "destination_payment_refund": _new_id("pyr"),
            "metadata": metadata,
            "source_refund": None,
            "transfer": transfer_id,
        }
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        transfer["reversals"]["data"].insert(0, reversal)
        transfer["reversals"]["total_count"] += 1
        self._available[transfer["currency"]] = self._available.get(transfer["currency"], 0) + amount
        return 200, reversal

    def _balance_retrieve(self, params: JSON) -> tuple[int, JSON]:
        _allow(params)
        currencies = sorted(self._available)
        return 200, {
            "object": "balance",
            "available": [
                {"amount": self._available[c], "currency": c, "source_types": {"card": self._available[c]}}
                for c in currencies
            ],
            "pending": [{"amount": 0, "currency": c, "source_types": {"card": 0}} for c in currencies],
            "livemode": False,
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeStripe


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.0: one request per connection, so a stopped fake leaves no connection behind."""

    server: _Server

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            reply = self.server.fake._respond(self.command, self.path, body, self.headers)
        except Exception as error:
            # A bug in the fake: answer with it, rather than drop the connection and have the
            # SDK report a network error that sends the reader looking in the wrong place.
            reply = _ApiError(500, f"The fake Stripe failed: {error!r}", error_type="api_error").reply()
        if not reply.is_sent:
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Request-Id", _new_id("req", 14))
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet; a test reads what was asked of the fake from ``requests``."""


# Browsing


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


def _opener() -> urllib.request.OpenerDirector:
    # No proxies: the fake and the test's servers are on loopback. No redirects: a test wants
    # to see where a page sends the browser, and Stripe does not follow a webhook's redirect.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def open_link(url: str, *, timeout_seconds: float = 10.0) -> tuple[int, str | None]:
    """GETs ``url`` as a browser would, without following a redirect: the status and ``Location``."""
    status, headers, _ = _open(urllib.request.Request(url), timeout_seconds)
    return status, headers.get("Location")


def _open(request: urllib.request.Request, timeout_seconds: float) -> tuple[int, Message, bytes]:
    try:
        with _opener().open(request, timeout=timeout_seconds) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()
