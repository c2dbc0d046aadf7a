from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import stripe
from django.test import Client

from tests.fakes.stripe_server import FakeStripe
from tests.workforce.factories import PASSWORD, staff_user
from workforce.models import Role, User

# ``celery_broker`` and ``celery_worker``: a real Celery worker process for tests marked ``worker``.
pytest_plugins = ["tests.celery_worker"]


@pytest.fixture
def ops(db: None) -> User:
    return staff_user(Role.OPERATIONS)


@pytest.fixture
def ops2(db: None) -> User:
    return staff_user(Role.OPERATIONS)


@pytest.fixture
def auditor(db: None) -> User:
    return staff_user(Role.AUDITOR)


@pytest.fixture
def login() -> Callable[[User], Client]:
    """A client logged in as the user, past MFA (``force_login`` skips the allauth stages)."""

    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def stripe_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    """A local Stripe API for one test (``tests/fakes/stripe_server.py``), stopped afterwards.

    The SDK sleeps at least half a second before each retry; here it sleeps 10 ms, so a test
    that makes it retry stays fast. When and how it retries is still the SDK's own logic.
    """
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.01)
    with FakeStripe() as fake:
        yield fake


__all__ = ["PASSWORD"]
