import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from tests.workforce.factories import contractor
from workforce import services
from workforce.models import ContractorProfile, Decision, DecisionKind, DecisionProposal, ProposalStatus

pytestmark = pytest.mark.django_db


def test_approving_a_complete_onboarding_activates_and_records_a_human_decision(ops):
    profile = contractor("onboarding")
    services.contractor_transition(profile=profile, action="approve", actor=ops, reason="All steps complete.")
    profile.refresh_from_db()
    assert profile.state == "active"
    decision = Decision.objects.filter(subject=profile.user, kind=DecisionKind.APPROVAL).get()
    assert decision.reason == "All steps complete."
    assert decision.decided_by == ops
    assert not decision.is_automated
    assert decision.data["from_state"] == "onboarding"
    assert decision.data["to_state"] == "active"


def test_an_incomplete_onboarding_cannot_be_approved(ops):
    profile = contractor("onboarding_empty")
    with pytest.raises(ValidationError) as exc:
        services.contractor_transition(profile=profile, action="approve", actor=ops, reason="Looks fine.")
    assert "Profile" in str(exc.value.message_dict["action"])
    profile.refresh_from_db()
    assert profile.state == "onboarding"
    assert not Decision.objects.filter(subject=profile.user, kind=DecisionKind.APPROVAL).exists()


def test_a_decision_without_a_reason_is_refused_and_nothing_changes(ops):
    profile = contractor("active", ops=ops)
    before = Decision.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.contractor_transition(profile=profile, action="pause", actor=ops, reason="   ")
    assert "reason" in exc.value.message_dict
    profile.refresh_from_db()
    assert profile.state == "active"
    assert Decision.objects.count() == before


def test_the_database_refuses_a_decision_without_a_reason(ops):
    profile = contractor("active", ops=ops)
    with pytest.raises(IntegrityError), transaction.atomic():
        Decision.objects.create(subject=profile.user, kind="approval", outcome="x", reason="", decided_by=ops)


def test_pause_and_reinstate_go_back_and_forth(ops):
    profile = contractor("active", ops=ops)
    services.contractor_transition(profile=profile, action="pause", actor=ops, reason="Break.")
    services.contractor_transition(profile=profile, action="reinstate", actor=ops, reason="Back.")
    profile.refresh_from_db()
    assert profile.state == "active"
    kinds = list(Decision.objects.filter(subject=profile.user).values_list("kind", flat=True))
    assert kinds[:2] == ["reinstate", "pause"]


def test_a_transition_from_the_wrong_state_is_refused(ops):
    profile = contractor("onboarding")
    with pytest.raises(ValidationError) as exc:
        services.contractor_transition(profile=profile, action="pause", actor=ops, reason="Why not.")
    assert "not possible" in exc.value.message_dict["action"][0]


def test_an_automated_rule_cannot_pause_or_offboard_anyone():
    profile = contractor("active")
    with pytest.raises(ValidationError):
        services.contractor_transition(profile=profile, action="pause", actor=None, reason="Rule 7 fired.")
    with pytest.raises(ValidationError):
        services.decision_record(
            subject=profile.user,
            kind="offboard",
            outcome="offboarded",
            reason="Rule",
            decided_by=None,
            is_automated=True,
        )
    profile.refresh_from_db()
    assert profile.state == "active"


def test_the_database_refuses_an_automated_offboarding(ops):
    profile = contractor("active", ops=ops)
    with pytest.raises(IntegrityError), transaction.atomic():
        Decision.objects.create(subject=profile.user, kind="offboard", outcome="x", reason="r", is_automated=True)


def test_a_rule_proposes_a_pause_and_only_a_human_confirmation_pauses(ops):
    profile = contractor("active", ops=ops)
    proposal = services.proposal_create(
        subject=profile.user, kind="pause", rule="quality_floor", reason="Quality below 0.6.", data={"upper": 0.55}
    )
    profile.refresh_from_db()
    assert profile.state == "active"
    services.proposal_resolve(proposal=proposal, actor=ops, confirm=True, note="I checked five tasks; confirmed.")
    profile.refresh_from_db()
    proposal.refresh_from_db()
    assert profile.state == "paused"
    assert proposal.status == ProposalStatus.CONFIRMED
    assert proposal.decision is not None
    assert proposal.decision.decided_by == ops
    assert proposal.decision.data["rule"] == "quality_floor"


def test_a_contractor_cannot_take_operations_actions():
    worker = contractor("active")
    other = contractor("active")
    with pytest.raises(PermissionDenied):
        services.contractor_transition(profile=other, action="pause", actor=worker.user, reason="Nope.")
    assert DecisionProposal.objects.count() == 0


def test_a_bulk_action_applies_to_all_or_to_none(ops):
    a = contractor("active", ops=ops)
    b = contractor("active", ops=ops)
    c = contractor("onboarding")
    with pytest.raises(ValidationError) as exc:
        services.contractor_bulk_transition(profiles=[a, b, c], action="pause", actor=ops, reason="Audit.")
    assert any(str(c) in m for m in exc.value.message_dict["selection"])
    assert set(ContractorProfile.objects.filter(pk__in=[a.pk, b.pk]).values_list("state", flat=True)) == {"active"}
    done = services.contractor_bulk_transition(profiles=[a, b], action="pause", actor=ops, reason="Audit.")
    assert [p.state for p in done] == ["paused", "paused"]


def test_email_verification_moves_an_applicant_into_onboarding_with_an_automated_decision():
    profile = contractor("onboarding_empty")
    assert profile.state == "onboarding"
    decision = Decision.objects.get(subject=profile.user)
    assert decision.kind == "onboarding"
    assert decision.is_automated
    assert decision.reason


def test_the_api_answers_409_naming_the_field_when_the_state_forbids_an_action(ops, login):
    profile = contractor("onboarding")
    response = login(ops).post(
        f"/api/v1/contractors/{profile.pk}/transition/",
        {"action": "pause", "reason": "x"},
        content_type="application/json",
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "wrong_state"
    assert body["message"].startswith("action: ")
    assert "not possible" in body["extra"]["fields"]["action"][0]
    profile.refresh_from_db()
    assert profile.state == "onboarding"
