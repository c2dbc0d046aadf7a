"""The WSGI lane for the two calls an annotator makes in a loop: next task, then submit.

A contractor's API client makes these two requests back to back all day, and Django's
request cycle (eleven middlewares, URL resolution, DRF) cost more than the work they do.
``hot_lane`` wraps the Django application: a request it recognises as plain is answered by
the same functions as the views' fast path (``tasks.api.next_task_plain`` and
``submit_plain``); every other request, and any plain one those functions decline, goes to
Django unchanged, with its body restored.

Plain means: POST to exactly one of the two paths, ``Authorization: Token …``, a JSON body
no larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE``, no cookie (so no session, CSRF or MFA
question can arise), a host in ``ALLOWED_HOSTS``, and no HTTPS redirect due. What the
skipped middlewares would do for such a request is done here with Django's own code: the
request signals (which manage database connections), the security and frame headers, and
an exception answered as Django answers it (logged, 500). Timezone and language stay at
their defaults, as the middlewares leave them for a token request.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import get_script_prefix, reverse
from django.utils import timezone

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Handler = Callable[[HttpRequest], HttpResponse | None]


def _no_view(request: HttpRequest) -> HttpResponse:
    raise AssertionError("the lane's middlewares only process requests and responses")


@cache
def _routes() -> tuple[str, re.Pattern[str]]:
    """The next-task path and a pattern of the submit path (with its assignment id), from the URLconf."""
    prefix = get_script_prefix()  # reverse() includes it; PATH_INFO, which is matched here, does not
    next_path = "/" + reverse("tasks:api:next-task").removeprefix(prefix)
    submit_path = "/" + reverse("tasks:api:submit", args=[0]).removeprefix(prefix)
    head, _zero, tail = submit_path.rpartition("/0/")
    return next_path, re.compile(rf"{re.escape(head)}/([1-9][0-9]{{0,17}})/{re.escape(tail)}")


@cache
def _guards() -> tuple[SecurityMiddleware | None, XFrameOptionsMiddleware | None]:
    security = "django.middleware.security.SecurityMiddleware" in settings.MIDDLEWARE
    frames = "django.middleware.clickjacking.XFrameOptionsMiddleware" in settings.MIDDLEWARE
    return (SecurityMiddleware(_no_view) if security else None, XFrameOptionsMiddleware(_no_view) if frames else None)


@receiver(setting_changed)
def _settings_changed(**_kwargs: Any) -> None:
    """Tests change settings; the middlewares read theirs when made."""
    _routes.cache_clear()
    _guards.cache_clear()


def _handler(environ: dict[str, Any]) -> Handler | None:
    """The lane's function for a plain request, else None (Django answers it)."""
    if environ.get("REQUEST_METHOD") != "POST" or "HTTP_COOKIE" in environ:
        return None
    if not environ.get("HTTP_AUTHORIZATION", "").startswith(("Token ", "token ")):
        return None
    if environ.get("CONTENT_TYPE", "").partition(";")[0].strip() != "application/json":
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if length < 0 or (limit is not None and length > limit):
        return None
    from tasks import api

    next_path, submit_path = _routes()
    path = environ.get("PATH_INFO", "")
    if path == next_path:
        return api.next_task_plain
    match = submit_path.fullmatch(path)
    if match is None:
        return None
    pk = int(match.group(1))
    return lambda request: api.submit_plain(request, pk)


def _reply(response: HttpResponse, start_response: StartResponse) -> list[bytes]:
    content = response.content
    if not response.has_header("Content-Length"):
        response.headers["Content-Length"] = str(len(content))
    start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
    return [content]


def hot_lane(django_app: WsgiApp) -> WsgiApp:
    """Wrap the Django WSGI application so that the plain next-task and submit skip its request cycle."""

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        handler = _handler(environ)
        if handler is None:
            return django_app(environ, start_response)
        request = WSGIRequest(environ)
        security, frames = _guards()
        try:
            request.get_host()
        except DisallowedHost:
            return django_app(environ, start_response)  # Django refuses it, and logs it, its own way
        # An HTTPS redirect that is due comes first, and nothing else runs.
        response: HttpResponse | None = security.process_request(request) if security is not None else None
        if response is None:
            signals.request_started.send(sender=hot_lane, environ=environ)
            try:
                timezone.deactivate()
                body = request.body
                try:
                    response = handler(request)
                except Exception as exc:  # answered as Django answers it: logged, then a 500
                    response = response_for_exception(request, exc)
            finally:
                signals.request_finished.send(sender=hot_lane)
            if response is None:
                environ["wsgi.input"] = io.BytesIO(body)
                environ["CONTENT_LENGTH"] = str(len(body))
                return django_app(environ, start_response)
        if security is not None:
            response = security.process_response(request, response)
        if frames is not None:
            response = frames.process_response(request, response)
        return _reply(response, start_response)

    return application
