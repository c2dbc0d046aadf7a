"""Rule 1 re-checked: no active time goes unpaid unless a human decided it was fraud."""

from __future__ import annotations

from django.db import connection
from django.utils.translation import gettext as _

from payments.audits.checks.base import Draft, Scope, emails_of, period_ref, person_ref, ref
from payments.models import FraudExclusion, PayPeriod, WageCheck
from payments.selectors import close_exceptions_open
from payments.services.close.periods import period_bounds

CODE = "unpaid_time"

# Active seconds per contractor in the period's window, and how many of them a fraud exclusion
# of this period took out; then whether the close posted anything for them (by ledger key).
_UNPAID_SQL = """
WITH worked AS (
    SELECT s.worker_id AS c, sum(s.active_seconds) AS seconds
    FROM tasks_activityspan s
    WHERE s.started_at >= %(start)s AND s.started_at < %(end)s AND s.active_seconds > 0
    GROUP BY 1
), excluded AS (
    SELECT x.contractor_id AS c, sum(x.seconds) AS seconds
    FROM payments_fraudexclusion x WHERE x.period_id = %(period)s GROUP BY 1
)
SELECT w.c, w.seconds, coalesce(x.seconds, 0)
FROM worked w LEFT JOIN excluded x ON x.c = w.c
WHERE w.seconds > coalesce(x.seconds, 0)
  AND NOT EXISTS (SELECT 1 FROM payments_ledgerentry e WHERE e.key LIKE %(prefix)s || w.c || ':%%')
"""


def _unpaid(period: PayPeriod) -> list[tuple[int, int, int]]:
    start, end = period_bounds(period)
    with connection.cursor() as cursor:
        cursor.execute(_UNPAID_SQL, {"start": start, "end": end, "period": period.pk, "prefix": f"close:{period.pk}:"})
        return [(int(c), int(s), int(x)) for c, s, x in cursor.fetchall()]


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:.2f}"


def unpaid_time_check(scope: Scope) -> list[Draft]:
    """Paid time without pay in a closed period, and fraud exclusions no human decided."""
    drafts: list[Draft] = []
    for period in scope.periods:
        rows = _unpaid(period)
        if rows:
            # A contractor the close compared with the floor is accounted for, even with nothing to pay yet;
            # a pending comparison (the top-up waits on a close exception) is not, and is reported below.
            checked = set(
                WageCheck.objects.filter(
                    period=period, status="complete", contractor_id__in=[c for c, _s, _x in rows]
                ).values_list("contractor_id", flat=True)
            )
            rows = [row for row in rows if row[0] not in checked]
        waiting = {int(e["contractor"]): str(e.get("message", "")) for e in close_exceptions_open(period=period)}
        emails = emails_of({c for c, _s, _x in rows})
        for c, seconds, excluded in rows:
            who = emails.get(c, f"contractor #{c}")
            if c in waiting:
                drafts.append(
                    Draft(
                        check=CODE,
                        severity="warning",
                        title=_("Paid time waits for a close exception"),
                        message=_(
                            "%(who)s has %(hours)s hours of active time in the week %(period)s and nothing posted "
                            "for it yet; the close is waiting on: %(why)s"
                        )
                        % {"who": who, "hours": _hours(seconds - excluded), "period": period, "why": waiting[c]},
                        fingerprint=f"{CODE}:waiting:{period.pk}:{c}",
                        objects=[person_ref(c, emails), period_ref(period)],
                        period_id=period.pk,
                    )
                )
                continue
            drafts.append(
                Draft(
                    check=CODE,
                    severity="critical",
                    title=_("Active time left unpaid"),
                    message=_(
                        "%(who)s has %(hours)s hours of active time in the closed week %(period)s "
                        "(%(excluded)s hours of it excluded as fraud), but the close posted no pay "
                        "and recorded no floor comparison for them."
                    )
                    % {
                        "who": who,
                        "hours": _hours(seconds),
                        "period": period,
                        "excluded": _hours(excluded),
                    },
                    fingerprint=f"{CODE}:{period.pk}:{c}",
                    objects=[person_ref(c, emails), period_ref(period)],
                    period_id=period.pk,
                )
            )
        drafts.extend(_exclusions_without_human(period))
    return drafts


def _exclusions_without_human(period: PayPeriod) -> list[Draft]:
    """Time may be excluded only under an active fraud mark whose decision a person made."""
    drafts = []
    exclusions = FraudExclusion.objects.filter(period=period).select_related(
        "fraud_mark__decision", "contractor", "project"
    )
    for x in exclusions:
        decision = x.fraud_mark.decision
        if not (decision.is_automated or decision.decided_by_id is None):
            continue
        drafts.append(
            Draft(
                check=CODE,
                severity="critical",
                title=_("Time excluded from pay without a human fraud decision"),
                message=_(
                    "%(hours)s hours of %(who)s's task time on “%(project)s” were left unpaid in the week %(period)s, "
                    "but its fraud decision #%(decision)s was not made by a named person."
                )
                % {
                    "hours": _hours(x.seconds),
                    "who": x.contractor.email,
                    "project": x.project.name,
                    "period": period,
                    "decision": decision.pk,
                },
                fingerprint=f"{CODE}:exclusion:{x.pk}",
                objects=[
                    person_ref(x.contractor_id, {x.contractor_id: x.contractor.email}),
                    ref("workforce.decision", decision.pk, decision.get_kind_display()),
                    ref("payments.fraudexclusion", x.pk),
                    period_ref(period),
                ],
                period_id=period.pk,
            )
        )
    return drafts
