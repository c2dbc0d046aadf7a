import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.workforce.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def test_repeated_failed_logins_are_rate_limited(client):
    user = UserFactory.create()
    responses = [
        client.post(reverse("account_login"), {"login": user.email, "password": "wrong-password"}) for _ in range(6)
    ]
    assert "Too many failed login attempts" not in responses[0].content.decode()
    assert "Too many failed login attempts" in responses[-1].content.decode()
    # Even the right password is refused while the limit holds.
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_signups_from_one_address_are_rate_limited(client):
    statuses = [
        client.post(
            reverse("account_signup"),
            {"email": f"s{i}@example.com", "password1": PASSWORD, "password2": PASSWORD},
        ).status_code
        for i in range(25)
    ]
    assert 429 in statuses
    assert statuses[0] == 302


def test_password_reset_sends_a_link_by_email(client, mailoutbox):
    user = UserFactory.create()
    response = client.post(reverse("account_reset_password"), {"email": user.email})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert "/accounts/password/reset/key/" in mailoutbox[0].body


def test_an_email_change_is_verified_before_it_counts(client, mailoutbox):
    user = UserFactory.create()
    client.force_login(user)
    response = client.post(reverse("account_email"), {"action_add": "", "email": "new-address@example.com"})
    assert response.status_code == 302
    assert any("new-address@example.com" in m.to for m in mailoutbox)
    user.refresh_from_db()
    assert user.email != "new-address@example.com"
