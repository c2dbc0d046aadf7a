from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

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


__all__ = ["PASSWORD"]
