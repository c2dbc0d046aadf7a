"""Every close page for every role: operations act, auditors read, contractors and strangers are kept out."""

from __future__ import annotations

import pytest
from django.http import HttpResponse

from payments.models import CloseRun, LedgerEntry
from tests.payments.access import CLOSE_ROUTES, LOGIN, CloseWorld, build_close_world
from tests.payments.work import floors_loaded
from tests.workforce.access import project_routes

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "contractor", "ops", "auditor", "superuser")
# GET: (anonymous, contractor, ops, auditor, superuser)
READ = (LOGIN, 403, 200, 200, 200)
POST_ONLY = (LOGIN, 403, 405, 403, 405)
ACCESS = {
    "payments:pay-period-list": READ,
    "payments:pay-period-detail": READ,
    "payments:pay-period-close": POST_ONLY,
    "payments:pay-period-retry": POST_ONLY,
    "payments:close-run-status": READ,
    "payments:project-pay": READ,
}
WRITES = ("payments:pay-period-close", "payments:pay-period-retry", "payments:project-pay")


@pytest.fixture
def world(db: None) -> CloseWorld:
    floors_loaded()
    return build_close_world()


def _status(response: HttpResponse) -> int | str:
    if response.status_code == 302 and "/accounts/login/" in response["Location"]:
        return LOGIN
    return response.status_code


def test_every_close_route_has_an_access_rule():
    names = {r.name for r in project_routes("payments")}
    assert set(CLOSE_ROUTES) <= names
    assert set(ACCESS) == set(CLOSE_ROUTES)


@pytest.mark.parametrize("name", CLOSE_ROUTES)
@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_policy_says_on_a_get(world, name, role):
    assert _status(world.client(role).get(world.url(name))) == ACCESS[name][ROLES.index(role)]


@pytest.mark.parametrize("name", WRITES)
@pytest.mark.parametrize("role", ["anonymous", "contractor", "auditor"])
def test_nobody_but_operations_changes_anything(world, name, role, django_capture_on_commit_callbacks):
    before = (CloseRun.objects.count(), LedgerEntry.objects.count(), world.project.piece_rate_minor)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = world.client(role).post(world.url(name), {"currency": "USD", "piece_rate": "9", "hourly_rate": "9"})
    assert _status(response) == (LOGIN if role == "anonymous" else 403)
    world.project.refresh_from_db()
    assert (CloseRun.objects.count(), LedgerEntry.objects.count(), world.project.piece_rate_minor) == before
    assert callbacks == []


def test_the_status_endpoint_and_pages_never_show_a_contractor_anything(world):
    client = world.client("contractor")
    for name in CLOSE_ROUTES:
        assert "nowhere-nel@example.com" not in client.get(world.url(name)).content.decode()
