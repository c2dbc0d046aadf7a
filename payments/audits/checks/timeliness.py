"""Pay on time: every week that is over gets closed, and every payout started reaches the contractor.

Late and lost pay is what this product exists to prevent. The close runs from a beat job and
payouts from runs an operations manager starts, so a stopped worker, a failed close or a bank
file nobody confirmed would otherwise only show as silence. This check names each one.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.utils.translation import gettext as _

from payments.audits.checks.base import Draft, Scope, period_ref, person_ref, ref
from payments.models import PayPeriod, PeriodStatus
from payments.money import Money
from payments.payouts.models import Payout, PayoutState
from payments.services.close import period_closes_from

CODE = "pay_on_time"


def _late(delta: datetime.timedelta) -> dict[str, int]:
    return {"days": delta.days, "hours": delta.seconds // 3600}


def pay_on_time_check(scope: Scope) -> list[Draft]:
    """Weeks over for longer than ``FAIRTASK_AUDIT_CLOSE_GRACE_HOURS`` yet not closed (critical), and payouts
    neither paid nor failed ``FAIRTASK_AUDIT_LATE_PAYOUT_DAYS`` after they were started (critical)."""
    drafts = []
    grace = datetime.timedelta(hours=settings.FAIRTASK_AUDIT_CLOSE_GRACE_HOURS)
    for period in PayPeriod.objects.exclude(status=PeriodStatus.CLOSED).order_by("start"):
        closes_from = period_closes_from(period)
        if scope.now < closes_from + grace:
            continue
        drafts.append(
            Draft(
                check=CODE,
                severity="critical",
                title=_("Week over but not closed"),
                message=_(
                    "The week %(period)s could be closed from %(from)s UTC, %(days)d days and %(hours)d hours ago, "
                    "and is still %(status)s: nobody has been paid for it. Close it from its page, and look at its "
                    "close runs for one that failed or stopped."
                )
                % {
                    "period": period,
                    "from": f"{closes_from:%Y-%m-%d %H:%M}",
                    "status": period.get_status_display().lower(),
                    **_late(scope.now - closes_from),
                },
                fingerprint=f"{CODE}:close:{period.pk}",
                objects=[period_ref(period)],
                period_id=period.pk,
            )
        )
    limit = settings.FAIRTASK_AUDIT_LATE_PAYOUT_DAYS
    stuck = (
        Payout.objects.exclude(state__in=[PayoutState.PAID, PayoutState.FAILED])
        .filter(created_at__lt=scope.now - datetime.timedelta(days=limit))
        .select_related("contractor")
        .order_by("created_at", "pk")
    )
    for payout in stuck:
        drafts.append(
            Draft(
                check=CODE,
                severity="critical",
                title=_("Payout not arrived"),
                message=_(
                    "Payout #%(id)s of %(amount)s to %(who)s (%(provider)s) was started on %(on)s UTC and is still "
                    "“%(state)s” %(days)d days and %(hours)d hours later; payouts should arrive within %(limit)d days. "
                    "Check it with the provider or the bank, then confirm it or mark it returned."
                )
                % {
                    "id": payout.pk,
                    "amount": Money(payout.amount_minor, payout.currency).format(),
                    "who": payout.contractor.email,
                    "provider": payout.get_provider_display(),
                    "on": f"{payout.created_at:%Y-%m-%d %H:%M}",
                    "state": payout.get_state_display(),
                    "limit": limit,
                    **_late(scope.now - payout.created_at),
                },
                fingerprint=f"{CODE}:payout:{payout.pk}",
                objects=[
                    ref("payments.payout", payout.pk),
                    person_ref(payout.contractor_id, {payout.contractor_id: payout.contractor.email}),
                ],
            )
        )
    return drafts
