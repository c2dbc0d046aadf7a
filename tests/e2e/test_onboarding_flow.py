"""A contractor's first days, driven through the portal in a real browser.

Sign up, verify the email, onboard, get approved by an operations manager (who signs in
with a TOTP code), read the decision and appeal it, and read the answer of a second
manager. Only the fixtures (documents, a skill, the managers) are made without the UI.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from allauth.mfa.models import Authenticator
from django.core import mail
from playwright.sync_api import expect

from tests.e2e.conftest import NewPage, pass_mfa, sign_in, totp_code_now
from tests.workforce.factories import PASSWORD
from workforce.models import (
    Appeal,
    AppealStatus,
    ContractorProfile,
    ContractorState,
    Decision,
    DecisionKind,
    LegalDocument,
    Skill,
    User,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = Path("/tmp/fairtask-onboarding-checklist-390px.png")
CONTRACTOR_EMAIL = "ada.lovelace@example.com"
CONTRACTOR_PASSWORD = "crowd-work-deserves-fair-pay-7"
TAX_ID = "DE-123456789"
APPROVAL_REASON = "All onboarding steps are complete and your profile matches the text classification projects."
APPEAL_MESSAGE = "Please also record that I label German texts; my approval only mentions text classification."
ANSWER_REASON = "The approval stands; German is on your profile, so German projects already include you."


def step(key: str) -> str:
    """The onboarding checklist item for one step."""
    return f"ol.checklist li[data-step='{key}']"


def test_a_contractor_signs_up_onboards_is_approved_appeals_and_reads_the_answer(
    new_page: NewPage,
    onboarding_documents: list[LegalDocument],
    skill: Skill,
    ops_manager: User,
    other_ops_manager: User,
) -> None:
    # 1. Sign up on a phone and confirm the email address from the message we send.
    contractor = new_page(phone=True)
    contractor.goto("/accounts/signup/")
    contractor.get_by_label("Email").fill(CONTRACTOR_EMAIL)
    contractor.get_by_label("Password:", exact=True).fill(CONTRACTOR_PASSWORD)
    contractor.get_by_label("Password (again):", exact=True).fill(CONTRACTOR_PASSWORD)
    contractor.get_by_role("button", name="Sign Up").click()
    expect(contractor.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [CONTRACTOR_EMAIL]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", str(message.body))
    assert link, message.body
    contractor.goto(link.group(0))
    expect(contractor.get_by_role("heading", name="Confirm Email Address")).to_be_visible()
    contractor.get_by_role("button", name="Confirm").click()

    # Confirming in the browser that signed up signs the contractor in, onto the checklist.
    expect(contractor).to_have_url(re.compile(r"/onboarding/$"))
    expect(contractor.get_by_role("heading", name="Your onboarding")).to_be_visible()
    expect(contractor.locator("p.state")).to_contain_text("Onboarding")
    for key in ("profile", "agreements", "tax"):
        expect(contractor.locator(step(key))).to_contain_text("To do")
    expect(contractor.locator("#waiting")).to_have_count(0)

    # 2a. Profile.
    contractor.locator(step("profile")).get_by_role("link").click()
    expect(contractor.get_by_role("heading", name="Your profile")).to_be_visible()
    contractor.get_by_label("Legal name").fill("Ada King Lovelace")
    contractor.get_by_label("Display name").fill("Ada L.")
    contractor.get_by_label("Country").fill("DE")
    contractor.get_by_label("Region").fill("DE-BE")
    contractor.get_by_label("Time zone").fill("Europe/Berlin")
    contractor.get_by_label("Languages").fill("en, de")
    contractor.get_by_label("Text classification").check()
    contractor.get_by_role("button", name="Save profile").click()
    expect(contractor.get_by_role("status")).to_contain_text("Your profile is saved.")
    expect(contractor.locator(step("profile"))).to_contain_text("Done")

    # 2b. The agreement, then the privacy notice: one document at a time, each ticked and accepted.
    contractor.locator(step("agreements")).get_by_role("link").click()
    for title in ("Contractor agreement v1", "Privacy notice v1"):
        expect(contractor.get_by_role("heading", level=2).first).to_contain_text(title)
        contractor.get_by_label("I have read and accept this document.").check()
        contractor.get_by_role("button", name="Accept").click()
        expect(contractor.get_by_role("status")).to_contain_text(f"You accepted “{title}”.")
    expect(contractor).to_have_url(re.compile(r"/onboarding/$"))
    expect(contractor.locator(step("agreements"))).to_contain_text("Done")

    # 2c. Tax form: the whole ID goes in, only its last four characters are ever shown again.
    contractor.locator(step("tax")).get_by_role("link").click()
    contractor.get_by_label("Tax form").select_option(label="W-8BEN (non-US individual)")
    contractor.get_by_label("Tax ID").fill(TAX_ID)
    contractor.get_by_role("button", name="Save").click()
    expect(contractor.get_by_role("status")).to_contain_text("Your tax form status is saved.")
    expect(contractor.locator(step("tax"))).to_contain_text("ID ending 6789")
    contractor.locator(step("tax")).get_by_role("link").click()
    expect(contractor.get_by_text("On file:")).to_contain_text("ID ending 6789")
    expect(contractor.get_by_label("Tax ID")).to_have_value("")
    assert "12345" not in contractor.content()

    # 2d. Every step done: the contractor waits for a person to approve them.
    contractor.goto("/onboarding/")
    expect(contractor.locator("#waiting")).to_contain_text("waiting for approval")
    contractor.screenshot(path=str(SCREENSHOT), full_page=True)

    # 3. An operations manager signs in with a TOTP code and approves, with a reason.
    manager = new_page()
    sign_in(manager, email=ops_manager.email, password=PASSWORD)
    pass_mfa(manager)
    expect(manager).to_have_url(re.compile(r"/ops/contractors/$"))
    row = manager.get_by_role("row").filter(has_text=CONTRACTOR_EMAIL)
    expect(row).to_contain_text("Onboarding")
    row.get_by_role("link", name="Ada L.").click()
    expect(manager.get_by_role("heading", name="Ada L.", level=1)).to_be_visible()
    expect(manager.locator("#state")).to_have_text("Onboarding")
    manager.get_by_label("Action").select_option(label="Approve")
    manager.get_by_label("Reason").fill(APPROVAL_REASON)
    manager.get_by_role("button", name="Record decision").click()
    expect(manager.get_by_role("status")).to_contain_text("Done: approve recorded with your reason.")
    expect(manager.locator("#state")).to_have_text("Active")

    # 4. The contractor signs in again elsewhere, reads the decision and its reason, and appeals.
    contractor = new_page(phone=True)
    sign_in(contractor, email=CONTRACTOR_EMAIL, password=CONTRACTOR_PASSWORD)
    # An active contractor lands on Work; the checklist now says they are approved.
    expect(contractor).to_have_url(re.compile(r"/work/$"))
    contractor.get_by_role("link", name="Onboarding").click()
    expect(contractor.get_by_text("You are approved and active.")).to_be_visible()
    contractor.get_by_role("link", name="Decisions about me").click()
    card = contractor.locator("li.card").filter(has_text="Approval: approved")
    expect(card.locator(".reason")).to_have_text(APPROVAL_REASON)
    expect(card).to_contain_text("decided by a person")
    card.get_by_role("link", name="Approval: approved").click()
    expect(contractor.locator("dd.reason")).to_have_text(APPROVAL_REASON)
    contractor.get_by_label("Why should this decision change?").fill(APPEAL_MESSAGE)
    contractor.get_by_role("button", name="File appeal").click()
    expect(contractor.get_by_role("status")).to_contain_text("Your appeal is filed")
    appeal_section = contractor.locator("section.appeal")
    expect(appeal_section).to_contain_text(APPEAL_MESSAGE)
    expect(appeal_section).to_contain_text("Status: Open")
    expect(contractor.get_by_role("button", name="File appeal")).to_have_count(0)

    # 5a. The manager who decided may not judge their own decision.
    manager.get_by_role("link", name="Appeals").click()
    manager.get_by_role("row").filter(has_text=CONTRACTOR_EMAIL).get_by_role("link").click()
    expect(manager.locator(".appeal-message")).to_have_text(APPEAL_MESSAGE)
    manager.get_by_label("Uphold the decision").check()
    manager.get_by_label("Reason").fill("I stand by my own decision.")
    manager.get_by_role("button", name="Answer appeal").click()
    expect(manager.get_by_role("alert")).to_contain_text(
        "You made the original decision; another manager must answer this appeal."
    )

    # 5b. A second manager answers it.
    reviewer = new_page()
    sign_in(reviewer, email=other_ops_manager.email, password=PASSWORD)
    pass_mfa(reviewer)
    reviewer.get_by_role("link", name="Appeals").click()
    expect(reviewer.get_by_role("heading", name="Appeals")).to_be_visible()
    reviewer.get_by_role("row").filter(has_text=CONTRACTOR_EMAIL).get_by_role("link").click()
    expect(reviewer.get_by_role("heading", name=f"Appeal by {CONTRACTOR_EMAIL}")).to_be_visible()
    expect(reviewer.locator(".appeal-message")).to_have_text(APPEAL_MESSAGE)
    reviewer.get_by_label("Uphold the decision").check()
    reviewer.get_by_label("Reason").fill(ANSWER_REASON)
    reviewer.get_by_role("button", name="Answer appeal").click()
    expect(reviewer.get_by_role("status")).to_contain_text("Your answer is recorded and the contractor can read it.")
    expect(reviewer.get_by_text("No appeals waiting.")).to_be_visible()

    # ... and the contractor reads the answer on the decision page.
    contractor.reload()
    expect(appeal_section).to_contain_text("Status: Decision upheld")
    expect(contractor.locator("p.answer")).to_have_text(f"Answer: {ANSWER_REASON}")

    # The stored rows say the same.
    user = User.objects.get(email=CONTRACTOR_EMAIL)
    profile = ContractorProfile.objects.get(user=user)
    assert profile.state == ContractorState.ACTIVE
    assert (profile.country, profile.region, profile.timezone) == ("DE", "DE-BE", "Europe/Berlin")
    assert profile.languages == ["en", "de"]
    assert list(profile.skills.all()) == [skill]
    assert user.tax_form.tax_id_last4 == "6789"
    assert user.acceptances.count() == 2

    decisions = {d.kind: d for d in Decision.objects.filter(subject=user)}
    assert Decision.objects.filter(subject=user).count() == len(decisions) == 3
    assert set(decisions) == {DecisionKind.ONBOARDING, DecisionKind.APPROVAL, DecisionKind.APPEAL}
    assert decisions[DecisionKind.ONBOARDING].is_automated
    approval = decisions[DecisionKind.APPROVAL]
    assert (approval.outcome, approval.reason, approval.decided_by) == ("approved", APPROVAL_REASON, ops_manager)
    assert not approval.is_automated
    answer = decisions[DecisionKind.APPEAL]
    assert (answer.outcome, answer.reason, answer.decided_by) == (AppealStatus.UPHELD, ANSWER_REASON, other_ops_manager)

    appeal = Appeal.objects.get()
    assert appeal.decision == approval
    assert appeal.appellant == user
    assert appeal.message == APPEAL_MESSAGE
    assert appeal.status == AppealStatus.UPHELD
    assert appeal.answered_by == other_ops_manager
    assert appeal.outcome_decision == answer


def test_a_manager_without_an_authenticator_is_sent_to_enrol_from_any_portal_page(
    new_page: NewPage, ops_manager_without_mfa: User
) -> None:
    enrol = re.compile(r"/accounts/2fa/totp/activate/$")
    page = new_page()
    sign_in(page, email=ops_manager_without_mfa.email, password=PASSWORD)
    # Straight from sign-in to enrolment, which allauth guards with a fresh password check.
    expect(page.get_by_role("heading", name="Confirm Access")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/\?next=%2Faccounts%2F2fa%2Ftotp%2Factivate%2F$"))
    page.get_by_placeholder("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(enrol)

    for path in ("/", "/ops/contractors/", "/ops/appeals/", "/ops/audit-log/", "/decisions/", "/onboarding/"):
        page.goto(path)
        expect(page).to_have_url(enrol)
        expect(page.get_by_role("heading", name="Activate Authenticator App")).to_be_visible()
    assert not Authenticator.objects.filter(user=ops_manager_without_mfa).exists()

    # Enrolling with the secret shown on the page opens the portal.
    secret = page.get_by_label("Authenticator secret").input_value()
    page.get_by_label("Authenticator code").fill(totp_code_now(secret))
    page.get_by_role("button", name="Activate").click()
    expect(page).not_to_have_url(enrol)
    page.goto("/ops/contractors/")
    expect(page.get_by_role("heading", name="Contractors")).to_be_visible()
    assert Authenticator.objects.filter(user=ops_manager_without_mfa, type=Authenticator.Type.TOTP).exists()
