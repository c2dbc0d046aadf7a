"""Two-factor sign-in: staff reach nothing but enrolment until enrolled; contractors are never asked.

The sign-in tests go through allauth's real forms (password, then a TOTP code computed from
the secret), not ``force_login``, because skipping those stages is exactly what they check.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.test import Client
from django.urls import reverse

from tests.workforce.access import Route, World, build_world, project_routes
from tests.workforce.factories import PASSWORD, TOTP_SECRET, contractor, has_mfa, staff_user
from workforce.models import Role, User

pytestmark = pytest.mark.django_db

ACTIVATE_URL = "/accounts/2fa/totp/activate/"
AUTHENTICATE_URL = "/accounts/2fa/authenticate/"
PORTAL_ROUTES = [route for route in project_routes("workforce") if not route.is_api]
STAFF_ROLES = ["ops", "auditor", "superuser"]


def _staff(role: str, *, with_mfa: bool) -> User:
    if role == "superuser":
        return staff_user(Role.OPERATIONS, with_mfa=with_mfa, is_superuser=True, is_staff=True)
    return staff_user(Role.OPERATIONS if role == "ops" else Role.AUDITOR, with_mfa=with_mfa)


def _totp_code(secret: str) -> str:
    """The code an authenticator app shows now; waits out the last second of a 30-second window."""
    if 30 - time.time() % 30 < 1.5:
        time.sleep(2)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def _sign_in_with_password(user: User) -> tuple[Client, Any]:
    client = Client()
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    return client, response


def _open_enrolment(client: Client) -> Any:
    """allauth asks for the password again before showing the TOTP secret; that page is reachable too."""
    response = client.get(ACTIVATE_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert client.get(response["Location"]).status_code == 200
    back = client.post(response["Location"], {"password": PASSWORD})
    assert back.status_code == 302
    assert back["Location"] == ACTIVATE_URL
    page = client.get(ACTIVATE_URL)
    assert page.status_code == 200
    return page


@pytest.fixture
def world(db: None) -> World:
    return build_world()


@pytest.mark.parametrize("route", PORTAL_ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize("role", STAFF_ROLES)
def test_staff_without_an_authenticator_are_sent_to_enrolment_from_every_portal_page(
    world: World, role: str, route: Route
) -> None:
    client = Client()
    client.force_login(_staff(role, with_mfa=False))
    for method in (client.get, client.post):
        response = method(world.url(route))
        assert response.status_code == 302, f"{role} at {route.name}"
        assert response["Location"] == ACTIVATE_URL, f"{role} at {route.name}"


def test_a_superuser_without_an_authenticator_is_sent_to_enrolment_from_the_admin() -> None:
    client = Client()
    client.force_login(_staff("superuser", with_mfa=False))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"] == ACTIVATE_URL


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_staff_without_an_authenticator_can_enrol_and_sign_out(role: str) -> None:
    user = _staff(role, with_mfa=False)
    client, response = _sign_in_with_password(user)
    assert response.status_code == 302
    assert client.get(response["Location"])["Location"] == ACTIVATE_URL

    _open_enrolment(client)
    assert client.post(reverse("account_logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_enrolling_an_authenticator_opens_the_portal() -> None:
    user = _staff("ops", with_mfa=False)
    client, _response = _sign_in_with_password(user)
    secret = _open_enrolment(client).context["form"].secret

    response = client.post(ACTIVATE_URL, {"code": _totp_code(secret)})

    assert response.status_code == 302
    assert has_mfa(user)
    assert client.get(reverse("workforce:contractor-list")).status_code == 200


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_staff_with_an_authenticator_reach_their_pages(world: World, role: str) -> None:
    client = world.client(role)
    for name in ("workforce:contractor-list", "workforce:appeal-queue", "workforce:audit-log"):
        assert client.get(reverse(name)).status_code == 200, name
    detail = next(route for route in PORTAL_ROUTES if route.name == "workforce:contractor-detail")
    assert client.get(world.url(detail)).status_code == 200
    assert client.get(reverse("workforce:api-contractor-list")).status_code == 200


def test_a_contractor_is_never_asked_for_mfa() -> None:
    profile = contractor("active")
    assert not has_mfa(profile.user)
    client, response = _sign_in_with_password(profile.user)
    assert response.status_code == 302
    assert response["Location"] == reverse("workforce:home")
    # An active contractor's home is Work; nothing on the way asks for a second factor.
    assert client.get(reverse("workforce:home"))["Location"] == reverse("tasks:work-home")
    for name in ("workforce:onboarding", "workforce:my-decisions", "workforce:api-my-profile"):
        assert client.get(reverse(name)).status_code == 200, name


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_an_enrolled_staff_user_must_enter_a_totp_code_after_the_password(role: str) -> None:
    user = _staff(role, with_mfa=True)
    client, response = _sign_in_with_password(user)

    assert response.status_code == 302
    assert response["Location"] == AUTHENTICATE_URL
    assert "_auth_user_id" not in client.session
    waiting = client.get(reverse("workforce:contractor-list"))
    assert waiting.status_code == 302
    assert waiting["Location"].startswith(reverse("account_login"))

    assert client.get(AUTHENTICATE_URL).status_code == 200
    done = client.post(AUTHENTICATE_URL, {"code": _totp_code(TOTP_SECRET)})

    assert done.status_code == 302
    assert done["Location"] == reverse("workforce:home")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get(reverse("workforce:contractor-list")).status_code == 200


def test_a_wrong_totp_code_does_not_complete_the_sign_in() -> None:
    user = _staff("ops", with_mfa=True)
    client, response = _sign_in_with_password(user)
    assert response["Location"] == AUTHENTICATE_URL
    right = int(_totp_code(TOTP_SECRET))

    wrong = client.post(AUTHENTICATE_URL, {"code": format_hotp_value((right + 1) % 1_000_000)})

    assert wrong.status_code == 200
    assert wrong.context["form"].errors
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("workforce:contractor-list")).status_code == 302
