"""The people API through HTTP: one error shape, owner-only records, read-only auditors, tokens, MFA."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.workforce.access import World, build_world, db_state
from tests.workforce.factories import contractor, staff_user
from workforce.models import Appeal, AuditEvent, ContractorProfile, ContractorState, Decision, Role, User

pytestmark = pytest.mark.django_db

PROFILE_URL = reverse("workforce:api-my-profile")


@pytest.fixture
def world(db: None) -> World:
    return build_world()


def _json(client: Client, method: str, url: str, data: dict[str, Any]) -> Any:
    send = getattr(client, method)
    return send(url, json.dumps(data), content_type="application/json")


def _token_client(user: User) -> Client:
    token = Token.objects.create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {token.key}")


def _assert_error_shape(body: dict[str, Any]) -> None:
    assert set(body) == {"message", "code", "extra"}
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["extra"], dict)


def _valid_profile(**overrides: Any) -> dict[str, Any]:
    return {
        "legal_name": "Grace Example",
        "display_name": "grace",
        "country": "US",
        "region": "US-CA",
        "timezone": "America/Los_Angeles",
        "languages": ["en"],
        **overrides,
    }


def test_an_unknown_country_is_refused_with_the_error_shape_naming_the_field_and_nothing_is_written(
    login: Any,
) -> None:
    profile = contractor("onboarding")
    before = (AuditEvent.objects.count(), ContractorProfile.objects.get(pk=profile.pk).country)

    response = _json(login(profile.user), "put", PROFILE_URL, _valid_profile(country="XX", region=""))

    assert response.status_code == 400
    body = response.json()
    _assert_error_shape(body)
    assert body["code"] == "invalid"
    assert body["message"].startswith("country: ")
    assert "XX" in body["message"]
    assert list(body["extra"]["fields"]) == ["country"]
    assert "ISO 3166-1" in body["extra"]["fields"]["country"][0]
    assert (AuditEvent.objects.count(), ContractorProfile.objects.get(pk=profile.pk).country) == before


def test_every_invalid_field_is_listed_under_its_own_name(login: Any) -> None:
    profile = contractor("onboarding")
    response = _json(login(profile.user), "put", PROFILE_URL, _valid_profile(timezone="Mars/Olympus", languages=["zz"]))
    assert response.status_code == 400
    fields = response.json()["extra"]["fields"]
    assert set(fields) == {"timezone", "languages"}


def test_a_missing_field_uses_the_same_error_shape(login: Any) -> None:
    profile = contractor("onboarding")
    response = _json(login(profile.user), "put", PROFILE_URL, {"legal_name": "Only This"})
    assert response.status_code == 400
    body = response.json()
    _assert_error_shape(body)
    assert body["code"] == "invalid"
    assert {"display_name", "country", "timezone", "languages"} <= set(body["extra"]["fields"])


def test_a_valid_profile_is_saved_and_returned(login: Any) -> None:
    profile = contractor("onboarding")
    response = _json(login(profile.user), "put", PROFILE_URL, _valid_profile())
    assert response.status_code == 200
    assert response.json()["region"] == "US-CA"
    profile.refresh_from_db()
    assert (profile.country, profile.region, profile.timezone) == ("US", "US-CA", "America/Los_Angeles")


def test_appealing_someone_elses_decision_is_not_found_and_files_no_appeal(world: World) -> None:
    url = reverse("workforce:api-decision-appeal", kwargs={"pk": world.decision.pk})
    appeals = Appeal.objects.count()

    response = _json(world.client("contractor_b"), "post", url, {"message": "Let me appeal this."})

    assert response.status_code == 404
    body = response.json()
    _assert_error_shape(body)
    assert body["code"] == "not_found"
    assert Appeal.objects.count() == appeals
    assert not Appeal.objects.filter(decision=world.decision).exists()


def test_a_contractor_can_appeal_their_own_decision_once(world: World) -> None:
    url = reverse("workforce:api-decision-appeal", kwargs={"pk": world.decision.pk})
    client = world.client("contractor_a")

    first = _json(client, "post", url, {"message": "The approval text is wrong."})
    assert first.status_code == 201
    assert first.json()["decision"] == world.decision.pk

    second = _json(client, "post", url, {"message": "Again."})
    assert second.status_code == 409
    body = second.json()
    _assert_error_shape(body)
    assert body["code"] == "wrong_state"
    assert list(body["extra"]["fields"]) == ["decision"]
    assert Appeal.objects.filter(decision=world.decision).count() == 1


def test_an_auditor_posting_a_transition_is_forbidden_and_nothing_changes(world: World) -> None:
    url = reverse("workforce:api-contractor-transition", kwargs={"pk": world.profile_a.pk})
    before = db_state(world)
    decisions = Decision.objects.count()

    response = _json(world.client("auditor"), "post", url, {"action": "reinstate", "reason": "Back to work."})

    assert response.status_code == 403
    body = response.json()
    _assert_error_shape(body)
    assert body["code"] == "permission_denied"
    assert "auditors" in body["message"]
    assert db_state(world) == before
    assert Decision.objects.count() == decisions
    world.profile_a.refresh_from_db()
    assert world.profile_a.state == ContractorState.PAUSED


def test_a_transition_from_the_wrong_state_is_a_conflict_naming_the_action_field(world: World) -> None:
    url = reverse("workforce:api-contractor-transition", kwargs={"pk": world.profile_a.pk})
    response = _json(world.client("ops"), "post", url, {"action": "approve", "reason": "Looks good."})
    assert response.status_code == 409
    body = response.json()
    _assert_error_shape(body)
    assert body["code"] == "wrong_state"
    assert list(body["extra"]["fields"]) == ["action"]
    world.profile_a.refresh_from_db()
    assert world.profile_a.state == ContractorState.PAUSED


def test_a_contractor_lists_only_their_own_decisions_and_appeals(world: World) -> None:
    client = world.client("contractor_b")
    decisions = client.get(reverse("workforce:api-decision-list")).json()
    appeals = client.get(reverse("workforce:api-appeal-list")).json()
    b = world.users["contractor_b"].pk
    assert decisions
    assert {d["subject"] for d in decisions} == {b}
    assert appeals == []


def test_a_token_authenticates_an_api_client(world: World) -> None:
    client = _token_client(world.users["contractor_a"])
    response = client.get(PROFILE_URL)
    assert response.status_code == 200
    assert response.json()["email"] == "owner-ada@example.com"
    assert "_auth_user_id" not in client.session  # the token is the credential, not a session


def test_a_token_lets_an_operations_manager_write_without_a_session_or_csrf(world: World) -> None:
    client = _token_client(world.users["ops"])
    client.handler.enforce_csrf_checks = True
    url = reverse("workforce:api-contractor-transition", kwargs={"pk": world.profile_a.pk})
    response = _json(client, "post", url, {"action": "reinstate", "reason": "Back to work."})
    assert response.status_code == 200
    assert response.json()["state"] == ContractorState.ACTIVE


def test_a_signed_in_browser_cannot_post_to_the_api_without_a_csrf_token(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["ops"])
    url = reverse("workforce:api-contractor-transition", kwargs={"pk": world.profile_a.pk})
    before = db_state(world)

    response = _json(client, "post", url, {"action": "reinstate", "reason": "Back to work."})

    assert response.status_code == 403
    _assert_error_shape(response.json())
    assert "CSRF" in response.json()["message"]
    assert db_state(world) == before


def test_an_unknown_token_is_refused_with_the_error_shape() -> None:
    response = Client(HTTP_AUTHORIZATION="Token " + "0" * 40).get(PROFILE_URL)
    assert response.status_code in (401, 403)
    body = response.json()
    _assert_error_shape(body)
    assert body["code"] == "authentication_failed"


def test_an_anonymous_request_is_refused_with_the_error_shape() -> None:
    response = Client().get(reverse("workforce:api-decision-list"))
    assert response.status_code in (401, 403)
    body = response.json()
    _assert_error_shape(body)
    assert body["code"] == "not_authenticated"


@pytest.mark.parametrize("role", [Role.OPERATIONS, Role.AUDITOR])
def test_a_staff_user_without_mfa_gets_mfa_required_from_the_api(login: Any, role: str) -> None:
    contractor("active")
    user = staff_user(role, with_mfa=False)
    response = login(user).get(reverse("workforce:api-contractor-list"))
    assert response.status_code == 403
    body = response.json()
    _assert_error_shape(body)
    assert body["code"] == "mfa_required"


@pytest.mark.parametrize("role", [Role.OPERATIONS, Role.AUDITOR])
def test_a_token_does_not_let_a_staff_user_without_mfa_past_the_mfa_requirement(role: str) -> None:
    profile = contractor("paused")
    user = staff_user(role, with_mfa=False)
    client = _token_client(user)

    listing = client.get(reverse("workforce:api-contractor-list"))
    assert listing.status_code == 403
    assert listing.json()["code"] == "mfa_required"

    url = reverse("workforce:api-contractor-transition", kwargs={"pk": profile.pk})
    response = _json(client, "post", url, {"action": "reinstate", "reason": "Back to work."})
    assert response.status_code == 403
    assert response.json()["code"] == "mfa_required"
    profile.refresh_from_db()
    assert profile.state == ContractorState.PAUSED


def test_a_superuser_without_mfa_gets_mfa_required_with_a_token() -> None:
    user = staff_user(Role.OPERATIONS, with_mfa=False, is_superuser=True, is_staff=True)
    response = _token_client(user).get(reverse("workforce:api-decision-list"))
    assert response.status_code == 403
    assert response.json()["code"] == "mfa_required"
