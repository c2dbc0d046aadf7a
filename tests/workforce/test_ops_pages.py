import csv
import io

import pytest
from django.test import override_settings
from django.urls import reverse

from tests.workforce.factories import SkillFactory, contractor
from workforce.models import ContractorProfile, Decision

pytestmark = pytest.mark.django_db


def _names(response) -> list[str]:
    return [p.user.email for p in response.context["page"]]


def test_the_contractor_list_filters_by_state_country_skill_and_search(ops, login):
    active = contractor("active", ops=ops, email="active@example.com")
    contractor("paused", ops=ops, email="paused@example.com")
    contractor("onboarding", email="onboarding@example.com")
    client = login(ops)
    url = reverse("workforce:contractor-list")
    assert _names(client.get(url, {"state": "paused"})) == ["paused@example.com"]
    assert set(_names(client.get(url, {"country": "de"}))) == {
        "active@example.com",
        "paused@example.com",
        "onboarding@example.com",
    }
    assert _names(client.get(url, {"country": "US"})) == []
    assert _names(client.get(url, {"q": "ACTIVE@"})) == ["active@example.com"]
    SkillFactory.create(slug="translation")
    active.skills.add(SkillFactory.create(slug="translation"))
    assert _names(client.get(url, {"skill": "translation"})) == ["active@example.com"]


@override_settings(FAIRTASK_CONTRACTORS_PER_PAGE=2)
def test_the_contractor_list_is_paginated_and_keeps_the_filters(ops, login):
    for _ in range(5):
        contractor("onboarding_empty")
    response = login(ops).get(reverse("workforce:contractor-list"), {"state": "onboarding", "page": 3})
    assert response.context["page"].number == 3
    assert len(response.context["page"]) == 1
    assert "state=onboarding&amp;page=2" in response.content.decode()


def test_the_csv_export_streams_exactly_the_filtered_list(ops, auditor, login):
    contractor("active", ops=ops, email="a@example.com")
    contractor("paused", ops=ops, email="p@example.com")
    response = login(auditor).get(reverse("workforce:contractor-export"), {"state": "paused"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["email"] for r in rows] == ["p@example.com"]
    assert rows[0]["state"] == "paused"
    assert rows[0]["region"] == "DE-BE"


def test_a_manager_pauses_from_the_detail_page_with_a_reason(ops, login):
    profile = contractor("active", ops=ops)
    client = login(ops)
    response = client.post(
        reverse("workforce:contractor-transition", args=[profile.pk]), {"action": "pause", "reason": ""}, follow=True
    )
    assert "every decision needs one" in response.content.decode()
    assert ContractorProfile.objects.get(pk=profile.pk).state == "active"
    client.post(
        reverse("workforce:contractor-transition", args=[profile.pk]),
        {"action": "pause", "reason": "Checking two flagged tasks."},
    )
    assert ContractorProfile.objects.get(pk=profile.pk).state == "paused"
    assert Decision.objects.filter(subject=profile.user, kind="pause").get().reason == "Checking two flagged tasks."


def test_a_bulk_action_on_a_selection_changes_all_or_reports_why_not(ops, login):
    a = contractor("active", ops=ops)
    b = contractor("active", ops=ops)
    waiting = contractor("onboarding")
    client = login(ops)
    url = reverse("workforce:contractor-bulk")
    response = client.post(
        url, {"selected": [a.pk, b.pk, waiting.pk], "action": "pause", "reason": "Weekly audit."}, follow=True
    )
    assert "Nothing was changed" in response.content.decode()
    assert ContractorProfile.objects.filter(state="paused").count() == 0
    client.post(url, {"selected": [a.pk, b.pk], "action": "pause", "reason": "Weekly audit."})
    assert set(ContractorProfile.objects.filter(pk__in=[a.pk, b.pk]).values_list("state", flat=True)) == {"paused"}


def test_the_admin_action_asks_for_a_reason_and_uses_the_same_service(login):
    from tests.workforce.factories import staff_user

    admin = staff_user(is_superuser=True, is_staff=True)
    profile = contractor("onboarding")
    client = login(admin)
    url = reverse("admin:workforce_contractorprofile_changelist")
    response = client.post(url, {"action": "action_approve", "_selected_action": [profile.pk]})
    assert response.status_code == 200
    assert "give a reason" in response.content.decode()
    assert ContractorProfile.objects.get(pk=profile.pk).state == "onboarding"
    client.post(
        url, {"action": "action_approve", "_selected_action": [profile.pk], "apply": "1", "reason": "Complete."}
    )
    assert ContractorProfile.objects.get(pk=profile.pk).state == "active"
    decision = Decision.objects.get(subject=profile.user, kind="approval")
    assert decision.reason == "Complete."
    assert decision.decided_by == admin


def test_decisions_and_the_audit_log_cannot_be_edited_in_the_admin(login):
    from tests.workforce.factories import staff_user

    admin = staff_user(is_superuser=True, is_staff=True)
    profile = contractor("active")
    decision = Decision.objects.filter(subject=profile.user).first()
    assert decision is not None
    client = login(admin)
    response = client.post(reverse("admin:workforce_decision_change", args=[decision.pk]), {"reason": "Rewritten"})
    assert response.status_code == 403
    decision.refresh_from_db()
    assert decision.reason != "Rewritten"
    assert client.get(reverse("admin:workforce_auditevent_delete", args=[1])).status_code == 403


def test_an_edit_in_the_admin_writes_an_audit_event(login):
    from tests.workforce.factories import staff_user
    from workforce.models import AuditEvent, Skill

    admin = staff_user(is_superuser=True, is_staff=True)
    response = login(admin).post(reverse("admin:workforce_skill_add"), {"slug": "audio", "name": "Audio"})
    assert response.status_code == 302
    skill = Skill.objects.get(slug="audio")
    event = AuditEvent.objects.get(action="admin.add", object_id=str(skill.pk))
    assert event.actor == admin
    assert event.summary["fields"] == ["name", "slug"]


def test_an_operations_manager_uses_the_admin_through_the_operations_group(ops, login):
    from django.contrib.auth.models import Group

    from workforce.signals import OPERATIONS_GROUP

    ops.is_staff = True
    ops.save()
    ops.groups.add(Group.objects.get(name=OPERATIONS_GROUP))
    client = login(ops)
    assert client.get(reverse("admin:workforce_contractorprofile_changelist")).status_code == 200
    assert client.get(reverse("admin:workforce_decision_changelist")).status_code == 200
    assert client.get(reverse("admin:workforce_skill_add")).status_code == 403
