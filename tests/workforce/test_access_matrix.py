"""Who may read and change what: each workforce URL for each role, and each write for each role that may not write.

``ACCESS`` is the access policy in one table. Every URL the resolver knows in the
``workforce`` namespace must have a row, so a page added without a decision about who may
see it fails ``test_every_workforce_url_has_an_entry_in_the_access_table``. Statuses are
exact: a 200 where a 404 is expected is a leak, and so is a 403 where the policy says 404
(a contractor must not learn that another contractor's record exists).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.test import Client
from django.urls import reverse

from tests.workforce.access import A_SECRETS, ROLES, World, build_world, db_state, project_routes
from tests.workforce.factories import PASSWORD
from workforce.models import ContractorState, Role, User
from workforce.signals import OPERATIONS_GROUP

pytestmark = pytest.mark.django_db

LOGIN = "login"  # 302 to the sign-in page, with ?next= pointing back
ROUTES = {route.name: route for route in project_routes("workforce")}


@dataclass(frozen=True)
class Redirect:
    """A 302 by design, to this URL name (home sends each role to its start page)."""

    to: str


Expect = int | str | Redirect


@dataclass(frozen=True)
class Access:
    anonymous: Expect
    contractor_a: Expect  # the owner of the object in the URL
    contractor_b: Expect  # another contractor
    ops: Expect
    auditor: Expect
    superuser: Expect
    writes: bool = False  # a POST or PUT here can change data (its payload is in WRITES)

    def for_role(self, role: str) -> Expect:
        expected: Expect = getattr(self, role)
        return expected


TO_ONBOARDING = Redirect("workforce:onboarding")
TO_CONTRACTORS = Redirect("workforce:contractor-list")
TO_WORK = Redirect("tasks:work-home")
# Contractor pages without an object in the URL: each contractor sees their own.
CONTRACTOR_PAGE = Access(LOGIN, 200, 200, 403, 403, 403)
# Pages for operations and auditors; contractors get 403 whatever the object.
STAFF_PAGE = Access(LOGIN, 403, 403, 200, 200, 200)
# POST-only operations endpoints: a GET is 405 for those allowed to POST, 403 for the rest.
OPS_POST_ONLY = Access(LOGIN, 403, 403, 405, 403, 405, writes=True)
# API endpoints that only accept POST: the method check comes after authentication.
API_POST_ONLY = Access(403, 405, 405, 405, 405, 405, writes=True)

ACCESS: dict[str, Access] = {
    # Contractor A is still onboarding; contractor B is active, so B's home is Work.
    "workforce:home": Access(LOGIN, TO_ONBOARDING, TO_WORK, TO_CONTRACTORS, TO_CONTRACTORS, TO_CONTRACTORS),
    "workforce:onboarding": CONTRACTOR_PAGE,
    "workforce:profile-edit": Access(LOGIN, 200, 200, 403, 403, 403, writes=True),
    "workforce:agreements": Access(LOGIN, 200, 200, 403, 403, 403, writes=True),
    "workforce:tax-form": Access(LOGIN, 200, 200, 403, 403, 403, writes=True),
    "workforce:my-decisions": CONTRACTOR_PAGE,
    "workforce:decision-detail": Access(LOGIN, 200, 404, 200, 200, 200, writes=True),
    "workforce:contractor-list": STAFF_PAGE,
    "workforce:contractor-export": STAFF_PAGE,
    "workforce:contractor-bulk": OPS_POST_ONLY,
    "workforce:contractor-detail": STAFF_PAGE,
    "workforce:contractor-transition": OPS_POST_ONLY,
    "workforce:proposal-resolve": OPS_POST_ONLY,
    "workforce:appeal-queue": STAFF_PAGE,
    "workforce:appeal-detail": Access(LOGIN, 403, 403, 200, 200, 200, writes=True),
    "workforce:audit-log": STAFF_PAGE,
    "workforce:api-my-profile": Access(403, 200, 200, 403, 403, 403, writes=True),
    "workforce:api-decision-list": Access(403, 200, 200, 200, 200, 200),
    "workforce:api-decision-detail": Access(403, 200, 404, 200, 200, 200),
    "workforce:api-decision-appeal": API_POST_ONLY,
    "workforce:api-contractor-list": Access(403, 403, 403, 200, 200, 200),
    "workforce:api-contractor-detail": Access(403, 200, 404, 200, 200, 200),
    "workforce:api-contractor-transition": API_POST_ONLY,
    "workforce:api-appeal-list": Access(403, 200, 200, 200, 200, 200),
    "workforce:api-appeal-answer": API_POST_ONLY,
}


@dataclass(frozen=True)
class Write:
    """A request that succeeds for ``writer`` and must change nothing for every role in ``refused``."""

    url_name: str
    method: str  # "post" or "put"
    payload: Callable[[World], dict[str, Any]]
    writer: str
    success: int  # the writer's status: 302 for a portal form, the API's status otherwise
    refused: dict[str, Expect]


OWNER_ONLY: dict[str, Expect] = {"ops": 403, "auditor": 403, "superuser": 403, "anonymous": LOGIN}
OPS_ONLY: dict[str, Expect] = {"contractor_a": 403, "contractor_b": 403, "auditor": 403, "anonymous": LOGIN}
API_OWNER_ONLY: dict[str, Expect] = {"ops": 403, "auditor": 403, "superuser": 403, "anonymous": 403}
API_OPS_ONLY: dict[str, Expect] = {"contractor_a": 403, "contractor_b": 403, "auditor": 403, "anonymous": 403}

PROFILE_FORM = {
    "legal_name": "Ada Changed",
    "display_name": "ada-changed",
    "country": "FR",
    "region": "",
    "timezone": "Europe/Paris",
    "languages": "fr",
}

WRITES: dict[str, Write] = {
    w.url_name: w
    for w in [
        Write("workforce:profile-edit", "post", lambda w: PROFILE_FORM, "contractor_a", 302, OWNER_ONLY),
        Write(
            "workforce:agreements",
            "post",
            lambda w: {"document": w.new_agreement.pk, "accepted": "on"},
            "contractor_a",
            302,
            OWNER_ONLY,
        ),
        Write(
            "workforce:tax-form",
            "post",
            lambda w: {"form_type": "w9", "tax_id": "987-65-4321"},
            "contractor_a",
            302,
            OWNER_ONLY,
        ),
        Write(
            "workforce:decision-detail",
            "post",
            lambda w: {"message": "The approval text is wrong."},
            "contractor_a",
            302,
            {**OWNER_ONLY, "contractor_b": 404},
        ),
        Write(
            "workforce:contractor-bulk",
            "post",
            lambda w: {"selected": [w.profile_a.pk], "action": "reinstate", "reason": "Back to work."},
            "ops",
            302,
            OPS_ONLY,
        ),
        Write(
            "workforce:contractor-transition",
            "post",
            lambda w: {"action": "reinstate", "reason": "Back to work."},
            "ops",
            302,
            OPS_ONLY,
        ),
        Write(
            "workforce:proposal-resolve",
            "post",
            lambda w: {"confirm": "yes", "reason": "Confirmed after review."},
            "ops",
            302,
            OPS_ONLY,
        ),
        Write(
            "workforce:appeal-detail",
            "post",
            lambda w: {"outcome": "overturned", "reason": "The pause was a mistake."},
            "ops",
            302,
            OPS_ONLY,
        ),
        Write(
            "workforce:api-my-profile",
            "put",
            lambda w: {
                "legal_name": "Ada Changed",
                "display_name": "ada-changed",
                "country": "FR",
                "timezone": "Europe/Paris",
                "languages": ["fr"],
            },
            "contractor_a",
            200,
            API_OWNER_ONLY,
        ),
        Write(
            "workforce:api-decision-appeal",
            "post",
            lambda w: {"message": "The approval text is wrong."},
            "contractor_a",
            201,
            {**API_OWNER_ONLY, "contractor_b": 404},
        ),
        Write(
            "workforce:api-contractor-transition",
            "post",
            lambda w: {"action": "reinstate", "reason": "Back to work."},
            "ops",
            200,
            API_OPS_ONLY,
        ),
        Write(
            "workforce:api-appeal-answer",
            "post",
            lambda w: {"outcome": "overturned", "reason": "The pause was a mistake."},
            "ops",
            200,
            API_OPS_ONLY,
        ),
    ]
}


@pytest.fixture
def world(db: None) -> World:
    return build_world()


def _body(response: HttpResponseBase) -> str:
    if isinstance(response, StreamingHttpResponse):
        return b"".join(response.streaming_content).decode()  # type: ignore[arg-type]
    assert isinstance(response, HttpResponse)
    return response.content.decode()


def _request(client: Client, write: Write, url: str, data: dict[str, Any]) -> HttpResponseBase:
    if ROUTES[write.url_name].is_api:
        send = client.put if write.method == "put" else client.post
        return send(url, json.dumps(data), content_type="application/json")
    assert write.method == "post"
    return client.post(url, data)


def _assert_status(response: HttpResponseBase, expected: Expect, url: str, role: str) -> None:
    where = f"{role} at {url}"
    if expected == LOGIN:
        assert response.status_code == 302, f"{where}: expected a redirect to sign in, got {response.status_code}"
        assert response["Location"].startswith(reverse("account_login") + "?next="), where
    elif isinstance(expected, Redirect):
        assert response.status_code == 302, f"{where}: expected a redirect, got {response.status_code}"
        assert response["Location"] == reverse(expected.to), where
    else:
        assert response.status_code == expected, f"{where}: expected {expected}, got {response.status_code}"


# The policy table itself ------------------------------------------------------------------


def test_every_workforce_url_has_an_entry_in_the_access_table() -> None:
    assert len(ROUTES) >= 25, "the resolver walk found too few URLs; is it still walking the includes?"
    assert set(ROUTES) - set(ACCESS) == set(), "add these URLs to ACCESS with the status each role must get"
    assert set(ACCESS) - set(ROUTES) == set(), "these ACCESS rows name URLs that no longer exist"


def test_every_write_endpoint_has_a_payload_that_every_other_role_is_refused() -> None:
    declared = {name for name, access in ACCESS.items() if access.writes}
    api_writes = {route.name for route in ROUTES.values() if route.api_write_methods}
    assert api_writes <= declared, "an API view with post/put/patch/delete must be marked writes=True"
    assert set(WRITES) == declared, "each writes=True URL needs a Write entry (and only those)"
    for write in WRITES.values():
        assert write.writer not in write.refused
        assert write.refused["auditor"] == 403, f"{write.url_name}: an auditor must always get 403"
        assert set(write.refused) | {write.writer} >= {"anonymous", "auditor", "ops", "contractor_a"}
        if ROUTES[write.url_name].is_api:
            assert write.method in ROUTES[write.url_name].api_write_methods


# Reading: every URL for every role --------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("url_name", sorted(ACCESS))
def test_each_role_gets_exactly_the_status_the_policy_gives_it(world: World, url_name: str, role: str) -> None:
    url = world.url(ROUTES[url_name])
    response = world.client(role).get(url)
    _assert_status(response, ACCESS[url_name].for_role(role), url, role)
    if role == "contractor_b" and response.status_code == 200:
        body = _body(response)
        leaked = [secret for secret in A_SECRETS if secret in body]
        assert leaked == [], f"contractor B read contractor A's data at {url}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("url_name", sorted(name for name, access in ACCESS.items() if not access.writes))
def test_a_read_only_url_changes_nothing_when_posted_to(world: World, url_name: str, role: str) -> None:
    url = world.url(ROUTES[url_name])
    before = db_state(world)
    response = world.client(role).post(url, {"action": "pause", "reason": "x", "selected": [world.profile_a.pk]})
    assert response.status_code in (200, 302, 403, 404, 405), f"{role} at {url}: {response.status_code}"
    assert db_state(world) == before, f"a POST by {role} to {url} changed data"


# Writing: the allowed role succeeds, everyone else is refused and nothing changes --------


@pytest.mark.parametrize("url_name", sorted(WRITES))
def test_the_allowed_role_changes_data_with_the_same_request(world: World, url_name: str) -> None:
    """The control run: without it, a refused request that changes nothing would prove nothing."""
    write = WRITES[url_name]
    url = world.url(ROUTES[url_name])
    before = db_state(world)
    response = _request(world.client(write.writer), write, url, write.payload(world))
    assert response.status_code == write.success, _body(response)[:500]
    assert db_state(world) != before


@pytest.mark.parametrize("url_name", sorted(WRITES))
def test_an_auditor_cannot_change_anything(world: World, url_name: str) -> None:
    write = WRITES[url_name]
    url = world.url(ROUTES[url_name])
    before = db_state(world)
    response = _request(world.client("auditor"), write, url, write.payload(world))
    _assert_status(response, 403, url, "auditor")
    assert db_state(world) == before


@pytest.mark.parametrize("role", ["contractor_a", "contractor_b"])
@pytest.mark.parametrize("url_name", sorted(name for name, w in WRITES.items() if w.writer == "ops"))
def test_a_contractor_cannot_use_an_operations_endpoint(world: World, url_name: str, role: str) -> None:
    write = WRITES[url_name]
    url = world.url(ROUTES[url_name])
    before = db_state(world)
    response = _request(world.client(role), write, url, write.payload(world))
    assert response.status_code in (403, 404)
    _assert_status(response, write.refused[role], url, role)
    assert db_state(world) == before


@pytest.mark.parametrize(
    ("url_name", "role"),
    sorted(
        (name, role)
        for name, write in WRITES.items()
        for role in write.refused
        if role != "auditor" and not (write.writer == "ops" and role.startswith("contractor"))
    ),
)
def test_nobody_else_can_write_a_contractors_records_and_anonymous_requests_change_nothing(
    world: World, url_name: str, role: str
) -> None:
    write = WRITES[url_name]
    url = world.url(ROUTES[url_name])
    before = db_state(world)
    response = _request(world.client(role), write, url, write.payload(world))
    _assert_status(response, write.refused[role], url, role)
    assert db_state(world) == before


def test_a_bulk_action_only_redirects_within_the_site(world: World) -> None:
    response = world.client("ops").post(
        reverse("workforce:contractor-bulk"),
        {"selected": [world.profile_a.pk], "action": "reinstate", "reason": "Back.", "next": "https://evil.example/"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("workforce:contractor-list")
    response = world.client("ops").post(
        reverse("workforce:contractor-bulk"),
        {"action": "reinstate", "reason": "Back.", "next": "/ops/contractors/?state=paused"},
    )
    assert response["Location"] == "/ops/contractors/?state=paused"


# The Django admin: superusers only ------------------------------------------------------


def _admin_urls(world: World) -> list[str]:
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        opts = model._meta
        urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    urls.append(reverse("admin:workforce_contractorprofile_change", args=[world.profile_a.pk]))
    urls.append(reverse("admin:workforce_user_change", args=[world.users["contractor_a"].pk]))
    return urls


@pytest.mark.parametrize("role", [r for r in ROLES if r != "superuser"])
def test_only_a_superuser_gets_into_the_admin(world: World, role: str) -> None:
    client = world.client(role)
    for url in _admin_urls(world):
        response = client.get(url)
        assert response.status_code == 302, f"{role} reached {url}"
        assert response["Location"].startswith(reverse("admin:login")), f"{role} at {url}"
        # The admin's own sign-in page does not let a signed-in non-staff user in either.
        follow = client.get(response["Location"])
        if role == "anonymous":
            assert follow.status_code == 302
            assert follow["Location"].startswith(reverse("account_login"))
        else:
            assert follow.status_code == 403, f"{role} at the admin sign-in page"


def test_a_superuser_with_mfa_reaches_every_admin_page(world: World) -> None:
    client = world.client("superuser")
    for url in _admin_urls(world):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role", [r for r in ROLES if r != "superuser"])
def test_an_admin_action_by_anyone_but_a_superuser_changes_nothing(world: World, role: str) -> None:
    changelist = reverse("admin:workforce_contractorprofile_changelist")
    data = {"action": "action_reinstate", "_selected_action": [world.profile_a.pk], "apply": "1", "reason": "Back."}
    before = db_state(world)
    response = world.client(role).post(changelist, data)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert db_state(world) == before
    # The control run: the same action by a superuser does reinstate A.
    world.client("superuser").post(changelist, data)
    world.profile_a.refresh_from_db()
    assert world.profile_a.state == ContractorState.ACTIVE


def test_the_admin_sign_in_form_cannot_skip_the_second_factor(world: World) -> None:
    """A password alone must never open the admin: sign-in goes through allauth and its TOTP step."""
    client = Client()
    superuser = world.users["superuser"]
    response = client.post(reverse("admin:login"), {"username": superuser.email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert client.get(reverse("admin:index")).status_code == 302


def _admin_user_form(user: User, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "email": user.email,
        "role": user.role,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "",
        "is_superuser": "on" if user.is_superuser else "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def _ops_in_the_admin(world: World) -> Client:
    ops = world.users["ops"]
    ops.is_staff = True
    ops.save()
    ops.groups.add(Group.objects.get(name=OPERATIONS_GROUP))
    return world.client("ops")


def test_an_operations_manager_in_the_admin_cannot_raise_a_contractors_privileges(world: World) -> None:
    """The Operations managers group may change people records, but not who is staff, superuser or which role."""
    client = _ops_in_the_admin(world)
    user = world.users["contractor_a"]
    url = reverse("admin:workforce_user_change", args=[user.pk])
    assert client.get(url).status_code == 200

    client.post(url, _admin_user_form(user, role=Role.OPERATIONS, is_staff="on", is_superuser="on", first_name="X"))

    user.refresh_from_db()
    assert user.first_name == "X"  # the form was saved: only the privilege fields were ignored
    assert (user.role, user.is_staff, user.is_superuser) == (Role.CONTRACTOR, False, False)


def test_a_superuser_can_still_grant_roles_in_the_admin(world: World) -> None:
    user = world.users["contractor_b"]
    url = reverse("admin:workforce_user_change", args=[user.pk])
    response = world.client("superuser").post(url, _admin_user_form(user, role=Role.AUDITOR))
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.role == Role.AUDITOR


@pytest.mark.parametrize("target", ["ops", "superuser", "auditor"])
def test_an_operations_manager_in_the_admin_cannot_edit_a_staff_account_or_their_own(world: World, target: str) -> None:
    """No self-promotion; and changing a staff account's email would let a manager reset its password."""
    client = _ops_in_the_admin(world)
    user = world.users[target]
    before = (user.email, user.role, user.is_staff, user.is_superuser)
    url = reverse("admin:workforce_user_change", args=[user.pk])
    assert client.get(url).status_code == 200  # they may look

    response = client.post(url, _admin_user_form(user, email="takeover@example.com", is_superuser="on"))

    assert response.status_code == 403
    user.refresh_from_db()
    assert (user.email, user.role, user.is_staff, user.is_superuser) == before
