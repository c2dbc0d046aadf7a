"""Fixtures for browser tests: a headless Debian Chromium driven by Playwright against ``live_server``.

``live_server`` serves the app from a thread of this process, so it needs committed rows
(``transactional_db``), and the locmem ``mail.outbox`` it writes to is the one the test reads.
Nothing here downloads a browser: Playwright launches the system Chromium.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Protocol

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.db import connections
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

from tests.workforce.factories import TOTP_SECRET, SkillFactory, legal_documents, staff_user
from workforce.models import LegalDocument, Role, Skill, User

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 10_000
PHONE_VIEWPORT: ViewportSize = {"width": 390, "height": 844}
DESKTOP_VIEWPORT: ViewportSize = {"width": 1280, "height": 900}

# Every expect() waits at most this long: a broken page fails in seconds, not minutes.
expect.set_options(timeout=TIMEOUT_MS)


def totp_code_now(secret: str = TOTP_SECRET) -> str:
    """The code an authenticator app would show now (by default for the managers' test secret).

    allauth accepts only the current 30-second window (no tolerance), so near the end of a
    window wait for the next one rather than race it: at most a five-second pause.
    """
    if 30 - time.time() % 30 < 5:
        time.sleep(30 - time.time() % 30 + 0.2)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def sign_in(page: Page, *, email: str, password: str) -> None:
    """Sign in through allauth's form (a manager then meets the TOTP step: ``pass_mfa``)."""
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In").click()


def pass_mfa(page: Page) -> None:
    """Type the current code from the managers' authenticator into the two-factor form."""
    expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()
    page.get_by_placeholder("Code").fill(totp_code_now())
    page.get_by_role("button", name="Sign In").click()


class NewPage(Protocol):
    def __call__(self, *, phone: bool = False) -> Page: ...


@pytest.fixture
def browser(live_server: LiveServer, transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    """A headless Chromium for one test.

    Playwright's sync API runs an asyncio loop in the test thread while it is open, and
    Django refuses ORM calls while a loop runs there. The test's own ORM calls (fixtures,
    the final row checks) stay synchronous and on this one thread, so that check is a
    false alarm here and is lifted for this test only. The browser depends on the
    database fixtures so that it closes (and the loop stops) before the database is flushed.
    """
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # While the loop runs, Django keeps this thread's connections in a separate
        # (async-context) store, so the test's queries opened a second connection that the
        # database teardown cannot see. Close it here, while that store is still current.
        connections.close_all()


@pytest.fixture
def new_page(browser: Browser, live_server: LiveServer) -> Iterator[NewPage]:
    """Open a page in a fresh browser context: its own cookies, so each person has their own session.

    Paths given to ``page.goto`` are relative to the live server.
    """
    contexts: list[BrowserContext] = []

    def make(*, phone: bool = False) -> Page:
        context = browser.new_context(
            base_url=live_server.url,
            viewport=PHONE_VIEWPORT if phone else DESKTOP_VIEWPORT,
            is_mobile=phone,
            has_touch=phone,
            locale="en-GB",
            timezone_id="Europe/Berlin",
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def onboarding_documents(transactional_db: None) -> list[LegalDocument]:
    """The contractor agreement and the privacy notice, both current."""
    return legal_documents()


@pytest.fixture
def skill(transactional_db: None) -> Skill:
    return SkillFactory.create(slug="text-classification", name="Text classification")


@pytest.fixture
def ops_manager(transactional_db: None) -> User:
    """An operations manager with a TOTP authenticator on ``TOTP_SECRET``."""
    return staff_user(Role.OPERATIONS, email="olga.ops@example.com")


@pytest.fixture
def other_ops_manager(transactional_db: None) -> User:
    return staff_user(Role.OPERATIONS, email="oskar.ops@example.com")


@pytest.fixture
def ops_manager_without_mfa(transactional_db: None) -> User:
    return staff_user(Role.OPERATIONS, with_mfa=False, email="nina.new@example.com")
