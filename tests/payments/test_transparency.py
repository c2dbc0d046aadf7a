"""Transparency for contractors: the automated rules with today's numbers, and all their own data."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from allauth.mfa.models import Authenticator
from django.http import StreamingHttpResponse
from django.test import Client, override_settings

from tasks.models import Answer, ProjectStatus
from tasks.services.work import assignment_submit, next_task
from tests.payments.factories import PayPeriodFactory, entry
from tests.tasks.factories import project, tasks, worker
from workforce.models import AuditEvent, User

pytestmark = pytest.mark.django_db


def _signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _export(user: User) -> dict:
    response = _signed_in(user).get("/me/data/export.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith('attachment; filename="fairtask-my-data-')
    assert isinstance(response, StreamingHttpResponse), "a long history is streamed, never built in memory"
    return json.loads(b"".join(response.streaming_content))


def test_the_export_holds_the_contractors_own_records_and_nobody_elses(ops):
    p = project()
    tasks(p, 2)
    me, other = worker(ops=ops), worker(ops=ops)
    for person, value in ((me, "cat"), (other, "dog")):
        assignment = next_task(worker=person)
        assignment_submit(assignment_id=assignment.pk, worker=person, value=value)
    period = PayPeriodFactory.create()
    entry(me, period, 1250, memo="Three approved answers.")
    entry(other, period, 999, memo="Someone else's pay.")

    data = _export(me)
    sections = data["sections"]
    assert data["format"] == "fairtask-contractor-export"
    assert data["contractor"] == me.pk
    assert sections["account"][0]["email"] == me.email
    assert sections["profile"][0]["country"] == "DE"
    assert {a["document_kind"] for a in sections["agreements"]} == {"agreement", "privacy"}
    assert sections["tax_form"][0]["tax_id_last4"] == "6789"
    assert [a["value"] for a in sections["answers"]] == ["cat"]
    assert len(sections["assignments"]) == 1
    assert sections["assignments"][0]["project_name"] == p.name
    assert [(e["amount_minor"], e["memo"]) for e in sections["ledger"]] == [(1250, "Three approved answers.")]
    assert any(d["kind"] == "onboarding" for d in sections["decisions"])
    text = json.dumps(data)
    assert other.email not in text
    assert "dog" not in text and "Someone else" not in text
    assert Answer.objects.count() == 2


def test_the_export_never_contains_secrets(ops):
    me = worker(ops=ops)
    User.objects.filter(pk=me.pk).update(password="pbkdf2_sha256$1$salt$not-for-export")
    Authenticator.objects.create(user=me, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"})
    me.refresh_from_db()
    text = json.dumps(_export(me))
    assert "not-for-export" not in text
    assert "JBSWY3DPEHPK3PXP" not in text
    assert "DE-123456789" not in text, "only the last four digits of the tax id are ever stored"


def test_each_download_is_recorded_in_the_audit_log(ops):
    me = worker(ops=ops)
    _export(me)
    event = AuditEvent.objects.get(action="contractor.data_export")
    assert event.actor_id == me.pk


def test_only_a_contractor_downloads_their_data(ops, auditor):
    assert _signed_in(ops).get("/me/data/export.json").status_code == 403
    assert _signed_in(auditor).get("/me/data/export.json").status_code == 403
    anonymous = Client().get("/me/data/export.json")
    assert anonymous.status_code == 302
    assert not AuditEvent.objects.filter(action="contractor.data_export").exists()


@override_settings(FAIRTASK_DAILY_HOUR_CAP=7, FAIRTASK_WEEKLY_HOUR_CAP=35, FAIRTASK_AUTO_APPROVE_DAYS=5)
def test_the_rules_page_shows_todays_thresholds_and_the_review_for_each(ops):
    open_project = project(min_quality=Decimal("0.700"), is_sensitive=True, exposure_daily_seconds=7200)
    project(name="Hidden draft", status=ProjectStatus.DRAFT, min_quality=Decimal("0.990"))
    page = _signed_in(worker(ops=ops)).get("/me/rules/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "At most 7 hours a day and 35 hours a week" in html
    assert "approved automatically" in html and "Automatic approval after 5 days." in html
    assert f"“{open_project.name}”: minimum quality 70.0%" in html
    assert "120 minutes a day" in html
    assert "Hidden draft" not in html
    assert html.count("Human review:") == 7


def test_the_rules_page_is_for_contractors(ops):
    assert _signed_in(ops).get("/me/rules/").status_code == 403
