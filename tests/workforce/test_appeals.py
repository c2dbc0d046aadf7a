from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from tests.workforce.factories import contractor
from workforce import services
from workforce.models import Appeal, Decision

pytestmark = pytest.mark.django_db


def _paused(ops):
    profile = contractor("paused", ops=ops)
    return profile, Decision.objects.get(subject=profile.user, kind="pause")


def test_a_contractor_appeals_a_decision_and_gets_a_due_date(ops, login):
    profile, decision = _paused(ops)
    response = login(profile.user).post(
        reverse("workforce:decision-detail", args=[decision.pk]), {"message": "I was on leave that week."}
    )
    assert response.status_code == 302
    appeal = Appeal.objects.get(decision=decision)
    assert appeal.message == "I was on leave that week."
    assert timedelta(days=6, hours=23) < appeal.due_at - appeal.filed_at <= timedelta(days=7)


@override_settings(FAIRTASK_APPEAL_DUE_DAYS=2)
def test_the_appeal_due_date_is_a_setting(ops):
    profile, decision = _paused(ops)
    appeal = services.appeal_file(decision=decision, appellant=profile.user, message="Please look again.")
    assert appeal.due_at - appeal.filed_at == timedelta(days=2)


def test_an_appeal_on_someone_elses_decision_is_refused_and_nothing_is_written(ops, login):
    _profile, decision = _paused(ops)
    other = contractor("active", ops=ops)
    response = login(other.user).post(reverse("workforce:decision-detail", args=[decision.pk]), {"message": "Mine now"})
    assert response.status_code == 404
    with pytest.raises(PermissionDenied):
        services.appeal_file(decision=decision, appellant=other.user, message="Mine now")
    assert not Appeal.objects.exists()


def test_an_empty_appeal_message_is_refused(ops, login):
    profile, decision = _paused(ops)
    response = login(profile.user).post(reverse("workforce:decision-detail", args=[decision.pk]), {"message": " "})
    assert response.status_code == 200
    assert "Explain why" in response.context["form"].errors["message"][0]
    assert not Appeal.objects.exists()


def test_the_person_who_decided_cannot_answer_the_appeal(ops):
    profile, decision = _paused(ops)
    appeal = services.appeal_file(decision=decision, appellant=profile.user, message="Unfair.")
    with pytest.raises(ValidationError) as exc:
        services.appeal_answer(appeal=appeal, actor=ops, outcome="upheld", reason="I stand by it.")
    assert "another manager" in exc.value.message_dict["appeal"][0]
    appeal.refresh_from_db()
    assert appeal.status == "open"


def test_overturning_a_pause_on_appeal_reinstates_and_records_the_outcome_as_a_decision(ops, ops2):
    profile, decision = _paused(ops)
    appeal = services.appeal_file(decision=decision, appellant=profile.user, message="The flagged tasks were gold.")
    services.appeal_answer(appeal=appeal, actor=ops2, outcome="overturned", reason="The flags were wrong.")
    appeal.refresh_from_db()
    profile.refresh_from_db()
    assert appeal.status == "overturned"
    assert appeal.outcome_decision is not None
    assert appeal.outcome_decision.kind == "appeal"
    assert appeal.outcome_decision.decided_by == ops2
    assert appeal.outcome_decision.reason == "The flags were wrong."
    assert profile.state == "active"


def test_an_appeal_can_be_answered_only_once_and_needs_a_reason(ops, ops2):
    profile, decision = _paused(ops)
    appeal = services.appeal_file(decision=decision, appellant=profile.user, message="Unfair.")
    with pytest.raises(ValidationError):
        services.appeal_answer(appeal=appeal, actor=ops2, outcome="upheld", reason="")
    services.appeal_answer(appeal=appeal, actor=ops2, outcome="upheld", reason="Checked twice.")
    with pytest.raises(ValidationError):
        services.appeal_answer(appeal=appeal, actor=ops2, outcome="overturned", reason="Changed my mind.")
    with pytest.raises(ValidationError):
        services.appeal_file(decision=decision, appellant=profile.user, message="Again.")
    assert Decision.objects.filter(kind="appeal").count() == 1


def test_the_queue_lists_open_appeals_by_due_date_and_marks_overdue_ones(ops, ops2, login):
    first, d1 = _paused(ops)
    second, d2 = _paused(ops)
    late = services.appeal_file(decision=d1, appellant=first.user, message="A")
    soon = services.appeal_file(decision=d2, appellant=second.user, message="B")
    Appeal.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(days=1))
    response = login(ops2).get(reverse("workforce:appeal-queue"))
    appeals = list(response.context["appeals"])
    assert [a.pk for a in appeals] == [late.pk, soon.pk]
    assert appeals[0].is_overdue and not appeals[1].is_overdue
    assert response.content.decode().count("Overdue") == 1
