"""Jobs run by a real Celery worker process, through Redis, against the test database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.workforce.factories import contractor
from workforce import services
from workforce.audit import audit_chain_verify
from workforce.jobs import appeals_overdue_notify, audit_log_verify
from workforce.models import Appeal, AuditChainCheck, AuditEvent, Decision, Role, User

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# The ``celery_worker`` fixture (tests/celery_worker.py) runs ``celery worker`` as a subprocess,
# through its own Redis database, against this run's test database.


def test_a_real_worker_verifies_the_audit_chain_and_stores_an_intact_check(celery_worker):
    contractor("active")  # registration, onboarding and approval each write audit events
    events = AuditEvent.objects.count()
    assert events > 0
    assert not AuditChainCheck.objects.exists()

    audit_log_verify.delay()

    check = celery_worker.wait_for(AuditChainCheck.objects.first, what="an AuditChainCheck row")
    assert check.events_checked == events
    assert check.is_intact
    assert check.first_broken_seq is None
    assert check.message == f"All {events} events are intact."


def test_a_real_worker_names_the_first_altered_event_in_a_tampered_chain(celery_worker):
    contractor("active")
    events = AuditEvent.objects.count()
    AuditEvent.objects.filter(seq=2).update(summary={"tampered": True})

    audit_log_verify.delay()

    check = celery_worker.wait_for(AuditChainCheck.objects.first, what="an AuditChainCheck row")
    assert not check.is_intact
    assert check.first_broken_seq == 2
    assert check.events_checked == 2 < events
    assert check.message == "Event #2 was altered: its content no longer matches its hash."


def test_a_real_worker_reminds_about_overdue_appeals_and_records_the_reminder_in_the_audit_log(celery_worker, ops):
    late_profile = contractor("paused", ops=ops)
    late = services.appeal_file(
        decision=Decision.objects.get(subject=late_profile.user, kind="pause"),
        appellant=late_profile.user,
        message="I was on leave that week.",
    )
    on_time_profile = contractor("paused", ops=ops)
    services.appeal_file(
        decision=Decision.objects.get(subject=on_time_profile.user, kind="pause"),
        appellant=on_time_profile.user,
        message="Please look again.",
    )
    Appeal.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=1))
    recipients = User.objects.filter(role=Role.OPERATIONS, is_active=True).count()

    appeals_overdue_notify.delay()

    event = celery_worker.wait_for(
        AuditEvent.objects.filter(action="appeals.overdue_notified").first, what="the reminder's audit event"
    )
    assert event.summary == {"count": 1, "appeals": [late.pk], "recipients": recipients}
    assert event.actor is None
    assert event.actor_label == "system"
    assert event.seq == AuditEvent.objects.count()  # appended to the end of the chain
    assert audit_chain_verify(store=False).is_intact
