"""The WSGI lane (tasks.lane): plain next-task and submit skip Django's request cycle, safely.

These drive the production WSGI callable (workforce.wsgi.application) with raw environs,
as gunicorn does, and check that the lane answers exactly what Django would (body, status,
security headers), hands everything irregular to Django with the body intact, and keeps
Django's guarantees: allowed hosts, the HTTPS redirect, HSTS, request signals, and a logged
500 for a crash.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core import signals
from django.db import close_old_connections
from rest_framework.authtoken.models import Token

from tasks import api
from tasks.lane import hot_lane
from tasks.models import Answer, Assignment, AssignmentStatus
from tests.tasks.factories import project, tasks, worker
from workforce import wsgi

pytestmark = pytest.mark.django_db

NEXT = "/api/v1/next-task/"
Reply = tuple[int, dict[str, str], bytes]


@pytest.fixture(autouse=True)
def keep_test_connection() -> Iterator[None]:
    """As Django's test client does: the request signals must not close the test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def django_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The environs (with their body, as Django will read it) that the lane hands to Django."""
    seen: list[dict[str, Any]] = []
    real = wsgi.django_application

    def recording(environ: dict[str, Any], start_response: Any) -> Any:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        seen.append({**environ, "body": body})
        environ["wsgi.input"] = io.BytesIO(body)
        return real(environ, start_response)

    monkeypatch.setattr(wsgi, "application", hot_lane(recording))
    return seen


def call(path: str, body: Any = None, *, token: str | None = None, **extra: str) -> Reply:
    raw = b"" if body is None else json.dumps(body).encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Token {token}"
    environ.update(extra)
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started["status"], started["headers"] = status, headers

    chunks = wsgi.application(environ, start_response)
    content = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return int(started["status"].split()[0]), dict(started["headers"]), content


def key(user: Any) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def test_a_plain_claim_and_submit_are_served_by_the_lane_with_django_s_headers(ops, django_calls):
    p = project()
    tasks(p, 2)
    me = key(worker(ops=ops))
    status, headers, content = call(NEXT, {}, token=me)
    assert status == 200 and django_calls == [], "the claim never reached Django"
    claimed = json.loads(content)
    lease = Assignment.objects.get(pk=claimed["assignment"])
    assert lease.status == AssignmentStatus.LEASED and claimed["expires_at"] == lease.expires_at.isoformat()
    assert headers["Content-Type"] == "application/json" and headers["Content-Length"] == str(len(content))
    # The headers the security and clickjacking middlewares put on every response.
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin" and headers["Cross-Origin-Opener-Policy"] == "same-origin"

    status, headers, content = call(f"/api/v1/assignments/{lease.pk}/submit/", {"answer": "cat"}, token=me)
    answer = Answer.objects.get(assignment=lease)
    assert status == 201 and json.loads(content) == {"answer": answer.pk, "value": "cat", "created": True}
    assert django_calls == [] and headers["X-Frame-Options"] == "DENY"


def test_the_lane_answers_byte_for_byte_as_django_does(ops, django_calls, monkeypatch):
    p = project()
    tasks(p, 1)
    me = key(worker(ops=ops))
    lane_claim = call(NEXT, {}, token=me)
    monkeypatch.setattr(wsgi, "application", wsgi.django_application)  # the lane off: Django's cycle
    django_claim = call(NEXT, {}, token=me)  # the same live lease, given again
    assert lane_claim[0] == django_claim[0] == 200 and lane_claim[2] == django_claim[2]
    # Django adds Vary: Cookie (the middlewares read the session); a token answer does not vary by cookie.
    assert {k: v for k, v in django_claim[1].items() if k != "Vary"} == lane_claim[1]


def test_a_submit_the_lane_declines_reaches_django_with_its_body_and_gets_the_full_error(ops, django_calls):
    p = project()
    tasks(p, 1)
    me = key(worker(ops=ops))
    lease = json.loads(call(NEXT, {}, token=me)[2])["assignment"]
    status, _headers, content = call(f"/api/v1/assignments/{lease}/submit/", {"answer": "a giraffe"}, token=me)
    assert status == 400 and "Choose one of" in json.loads(content)["message"]
    assert [c["body"] for c in django_calls] == [b'{"answer": "a giraffe"}']
    assert not Answer.objects.exists()


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"HTTP_COOKIE": "sessionid=abc"}, "a cookie: session, CSRF and MFA are Django's"),
        ({"CONTENT_TYPE": "text/plain"}, "not JSON"),
        ({"REQUEST_METHOD": "GET"}, "not a POST"),
        ({"PATH_INFO": "/api/v1/next-task"}, "not exactly the path"),
        ({"PATH_INFO": "/api/v1/assignments/007/submit/"}, "not a plain id"),
        ({"CONTENT_LENGTH": "999999999"}, "over DATA_UPLOAD_MAX_MEMORY_SIZE"),
        ({"HTTP_AUTHORIZATION": "Bearer xyz"}, "not a token"),
    ],
)
def test_anything_irregular_goes_to_django(ops, django_calls, extra, why):
    me = key(worker(ops=ops))
    call(NEXT, {}, token=me, **extra)
    assert len(django_calls) == 1, why


def test_a_host_outside_allowed_hosts_is_refused_by_django_and_nothing_is_claimed(ops, django_calls, caplog):
    p = project()
    tasks(p, 1)
    me = key(worker(ops=ops))
    status, _headers, _content = call(NEXT, {}, token=me, HTTP_HOST="evil.example")
    assert status == 400 and len(django_calls) == 1
    assert not Assignment.objects.exists()


def test_over_plain_http_the_https_redirect_comes_first(ops, django_calls, settings):
    settings.SECURE_SSL_REDIRECT = True
    p = project()
    tasks(p, 1)
    status, headers, _content = call(NEXT, {}, token=key(worker(ops=ops)))
    assert status == 301 and headers["Location"] == "https://testserver/api/v1/next-task/"
    assert not Assignment.objects.exists()


def test_over_https_the_lane_sends_hsts(ops, django_calls, settings):
    settings.SECURE_HSTS_SECONDS = 3600
    p = project()
    tasks(p, 1)
    status, headers, _content = call(NEXT, {}, token=key(worker(ops=ops)), **{"wsgi.url_scheme": "https"})
    assert status == 200 and django_calls == []
    assert headers["Strict-Transport-Security"] == "max-age=3600"


def test_the_request_signals_run_around_each_lane_request(ops, django_calls):
    p = project()
    tasks(p, 1)
    heard: list[str] = []
    listeners: dict[str, Callable[..., None]] = {
        "started": lambda **_kw: heard.append("started"),
        "finished": lambda **_kw: heard.append("finished"),
    }
    signals.request_started.connect(listeners["started"])
    signals.request_finished.connect(listeners["finished"])
    try:
        assert call(NEXT, {}, token=key(worker(ops=ops)))[0] == 200
    finally:
        signals.request_started.disconnect(listeners["started"])
        signals.request_finished.disconnect(listeners["finished"])
    assert heard == ["started", "finished"] and django_calls == []


def test_a_crash_in_the_lane_is_logged_and_answered_500_like_django(ops, django_calls, monkeypatch, caplog):
    def broken(request: Any) -> Any:
        raise RuntimeError("the claim query failed")

    monkeypatch.setattr(api, "next_task_plain", broken)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        status, headers, content = call(NEXT, {}, token=key(worker(ops=ops)))
    assert status == 500 and b"the claim query failed" not in content
    assert headers["X-Frame-Options"] == "DENY"
    assert any("Internal Server Error" in r.getMessage() and r.exc_info for r in caplog.records)
