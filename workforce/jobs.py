"""Celery jobs for people: thin wrappers around services, safe to run twice."""

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import OperationalError
from django.utils import timezone

from workforce import services
from workforce.audit import audit_chain_verify
from workforce.models import Appeal, AppealStatus, Role, User

# Only a lost database connection or lock timeout is worth retrying; anything else is final.
TRANSIENT_ERRORS = (OperationalError,)


@shared_task(
    name="workforce.jobs.audit_log_verify",
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=5,
    retry_backoff=True,
)
def audit_log_verify() -> dict[str, object]:
    """Verify the audit chain and store the result where auditors see it."""
    result = audit_chain_verify(store=True)
    return {"events_checked": result.events_checked, "is_intact": result.is_intact}


@shared_task(
    name="workforce.jobs.appeals_overdue_notify",
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=5,
    retry_backoff=True,
)
def appeals_overdue_notify() -> int:
    """Email operations managers the appeals that have passed their due date, and audit the reminder."""
    overdue = list(
        Appeal.objects.filter(status=AppealStatus.OPEN, due_at__lt=timezone.now()).select_related("appellant")
    )
    if not overdue:
        return 0
    recipients = list(User.objects.filter(role=Role.OPERATIONS, is_active=True).values_list("email", flat=True))
    lines = [f"- appeal #{a.pk} by {a.appellant.email}, due {a.due_at:%Y-%m-%d %H:%M} UTC" for a in overdue]
    send_mail(
        subject=f"Fairtask: {len(overdue)} appeal(s) overdue",
        message="These appeals are past their due date:\n" + "\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
    services.appeal_overdue_notice_record(appeals=overdue, recipient_count=len(recipients))
    return len(overdue)
