import pytest
from allauth.account.models import EmailAddress
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from tests.workforce.factories import SkillFactory, UserFactory, contractor, legal_documents
from workforce import selectors, services
from workforce.models import AuditEvent, ContractorProfile, DocumentAcceptance, LegalDocument, TaxForm, User

pytestmark = pytest.mark.django_db

PROFILE = {
    "legal_name": "Ada Example",
    "display_name": "Ada",
    "country": "US",
    "region": "US-CA",
    "timezone": "America/Los_Angeles",
    "languages": "en, es",
}


def test_signing_up_creates_an_applicant_profile_and_sends_a_verification_email(client, mailoutbox):
    response = client.post(
        reverse("account_signup"),
        {"email": "new@example.com", "password1": "a-long-test-password-42", "password2": "a-long-test-password-42"},
    )
    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert user.role == "contractor"
    assert user.profile.state == "applied"
    assert len(mailoutbox) == 1
    assert "new@example.com" in mailoutbox[0].to


def test_a_duplicate_email_is_refused_with_a_message_and_no_second_account(client):
    UserFactory(email="taken@example.com")
    response = client.post(
        reverse("account_signup"),
        {"email": "Taken@example.com", "password1": "a-long-test-password-42", "password2": "a-long-test-password-42"},
    )
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert "already registered" in str(response.context["form"].errors["email"])
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1
    assert EmailAddress.objects.filter(email__iexact="taken@example.com").count() == 1


def test_an_unknown_country_code_is_named_and_the_profile_is_unchanged(login):
    profile = contractor("onboarding_empty")
    events = AuditEvent.objects.count()
    response = login(profile.user).post(reverse("workforce:profile-edit"), {**PROFILE, "country": "XX"})
    assert response.status_code == 200
    assert "“XX” is not an ISO 3166-1 country code" in response.context["form"].errors["country"][0]
    profile.refresh_from_db()
    assert profile.country == ""
    assert AuditEvent.objects.count() == events


def test_a_region_outside_the_country_is_refused():
    profile = contractor("onboarding_empty")
    with pytest.raises(ValidationError) as exc:
        services.profile_update(
            profile=profile,
            actor=profile.user,
            legal_name="A",
            display_name="A",
            country="DE",
            region="US-CA",
            timezone_name="Europe/Berlin",
            languages=["de"],
            skills=[],
        )
    assert "region" in exc.value.message_dict


def test_a_valid_profile_sets_the_jurisdiction(login):
    profile = contractor("onboarding_empty")
    skill = SkillFactory.create(slug="translation")
    response = login(profile.user).post(reverse("workforce:profile-edit"), {**PROFILE, "skills": [skill.pk]})
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.jurisdiction == "US-CA"
    assert profile.languages == ["en", "es"]
    assert list(profile.skills.all()) == [skill]


def test_a_contractor_cannot_edit_another_contractors_profile():
    mine = contractor("onboarding_empty")
    theirs = contractor("onboarding_empty")
    with pytest.raises(PermissionDenied):
        services.profile_update(
            profile=theirs,
            actor=mine.user,
            legal_name="Mallory",
            display_name="M",
            country="DE",
            region="",
            timezone_name="Europe/Berlin",
            languages=["de"],
            skills=[],
        )
    theirs.refresh_from_db()
    assert theirs.legal_name == ""


def test_an_agreement_that_is_not_ticked_is_not_accepted(login):
    profile = contractor("onboarding_empty")
    agreement, _privacy = legal_documents()
    response = login(profile.user).post(reverse("workforce:agreements"), {"document": agreement.pk})
    assert response.status_code == 200
    assert "Tick the box" in response.context["form"].errors["accepted"][0]
    assert not DocumentAcceptance.objects.exists()


def test_acceptance_stores_version_time_and_ip_and_a_new_version_asks_again(login):
    profile = contractor("onboarding_empty")
    agreement, privacy = legal_documents()
    client = login(profile.user)
    for document in (agreement, privacy):
        client.post(
            reverse("workforce:agreements"), {"document": document.pk, "accepted": "on"}, REMOTE_ADDR="198.51.100.4"
        )
    acceptance = DocumentAcceptance.objects.get(user=profile.user, document=agreement)
    assert acceptance.ip_address == "198.51.100.4"
    assert acceptance.accepted_at is not None
    assert selectors.documents_to_accept(user=profile.user) == []
    newer = LegalDocument.objects.create(kind="agreement", version="2", title="Agreement v2", body="New terms.")
    assert selectors.documents_to_accept(user=profile.user) == [newer]
    step = next(s for s in selectors.onboarding_checklist(profile=profile) if s.key == "agreements")
    assert step.status == "todo"


def test_an_outdated_document_version_cannot_be_accepted():
    profile = contractor("onboarding_empty")
    old, _ = legal_documents("1")
    LegalDocument.objects.create(kind="agreement", version="2", title="Agreement v2", body="New.")
    with pytest.raises(ValidationError) as exc:
        services.document_accept(user=profile.user, document=old, accepted=True, ip_address="127.0.0.1")
    assert "document" in exc.value.message_dict


def test_only_the_last_four_characters_of_a_tax_id_are_stored(login):
    profile = contractor("onboarding_empty")
    response = login(profile.user).post(reverse("workforce:tax-form"), {"form_type": "w9", "tax_id": "123-45-6789"})
    assert response.status_code == 302
    form = TaxForm.objects.get(user=profile.user)
    assert form.tax_id_last4 == "6789"
    stored = " ".join(str(v) for v in TaxForm.objects.values_list().get())
    assert "12345" not in stored
    assert "123456789" not in " ".join(str(e.summary) for e in AuditEvent.objects.all())


def test_the_checklist_shows_each_step_and_waiting_for_approval_when_done(login):
    profile = contractor("onboarding")
    response = login(profile.user).get(reverse("workforce:onboarding"))
    assert response.status_code == 200
    states = {s.key: s.status for s in response.context["steps"]}
    assert states == {
        "profile": "done",
        "agreements": "done",
        "tax": "done",
        "payout": "todo",  # from payments (FAIRTASK_ONBOARDING_STEPS); optional, so still waiting
        "qualification": "later",
    }
    assert response.context["is_waiting"]
    assert "waiting for approval" in response.content.decode()


def test_an_unfinished_checklist_is_not_waiting_for_approval(login):
    profile = contractor("onboarding_empty")
    response = login(profile.user).get(reverse("workforce:onboarding"))
    assert not response.context["is_waiting"]
    assert ContractorProfile.objects.get(pk=profile.pk).state == "onboarding"


def test_a_contractor_sees_times_in_their_own_time_zone_with_the_zone_named(login):
    profile = contractor("onboarding")  # the factory's profile is in Europe/Berlin
    response = login(profile.user).get(reverse("workforce:my-decisions"))
    html = response.content.decode()
    assert "CET" in html or "CEST" in html
