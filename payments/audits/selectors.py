"""Reads the auditor portal and the evidence pack share, so the page and the pack show the same numbers."""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from payments.audits.checks.ledger import ledger_sums
from payments.audits.models import Finding
from payments.models import LedgerEntry, PayPeriod, PeriodStatus, WageCheck
from payments.payouts.models import Payout, PayoutState
from payments.services.close.periods import period_bounds
from tasks.models import ActivitySpan, Answer, ReviewStatus
from workforce.models import Appeal, Decision, User


def finding_list(
    *, status: str = "", severity: str = "", check: str = "", period: PayPeriod | None = None
) -> QuerySet[Finding]:
    findings = Finding.objects.select_related("resolved_by", "period", "first_run", "last_run")
    if status:
        findings = findings.filter(status=status)
    if severity:
        findings = findings.filter(severity=severity)
    if check:
        findings = findings.filter(check_code=check)
    if period is not None:
        findings = findings.filter(period=period)
    return findings.order_by("-last_seen_at", "-pk")


def closed_periods(*, limit: int = 12) -> list[PayPeriod]:
    """The latest closed periods, newest first."""
    return list(PayPeriod.objects.filter(status=PeriodStatus.CLOSED).order_by("-start")[:limit])


@dataclass(frozen=True)
class PeriodSummary:
    period: PayPeriod
    contractors: int
    paid_seconds: int
    earnings_minor: int
    topups_minor: int
    compliant: int | None  # None: no floor comparison recorded for this period
    open_findings: int

    @property
    def hours(self) -> Decimal:
        return (Decimal(self.paid_seconds) / 3600).quantize(Decimal("0.01"))


def _seconds(period: PayPeriod) -> dict[int, int]:
    start, end = period_bounds(period)
    rows = (
        ActivitySpan.objects.filter(started_at__gte=start, started_at__lt=end)
        .values("worker")
        .annotate(s=Sum("active_seconds"))
    )
    return {row["worker"]: int(row["s"] or 0) for row in rows}


def period_summary(*, period: PayPeriod) -> PeriodSummary:
    sums = ledger_sums(period)
    compliant = None
    rows = WageCheck.objects.filter(period=period)
    if rows.exists():
        compliant = rows.filter(is_compliant=True).count()
    if compliant is None and sums:
        # Without the close's own comparison: everyone not named by an open floor finding.
        short = Finding.objects.filter(period=period, check_code="floor_after_topup", status="open").count()
        compliant = len(sums) - short
    return PeriodSummary(
        period=period,
        contractors=len(sums),
        paid_seconds=sum(_seconds(period).values()),
        earnings_minor=sum(e for e, _t, _o in sums.values()),
        topups_minor=sum(t for _e, t, _o in sums.values()),
        compliant=compliant,
        open_findings=Finding.objects.filter(period=period, status="open").count(),
    )


_MEDIAN_SQL = """
WITH pay AS (
    SELECT contractor_id AS c, sum(amount_minor) AS minor
    FROM payments_ledgerentry
    WHERE period_id = %(period)s AND key LIKE %(prefix)s AND kind NOT IN ('payout', 'payout_return', 'overtime')
    GROUP BY 1
), secs AS (
    SELECT worker_id AS c, sum(active_seconds) AS s
    FROM tasks_activityspan WHERE started_at >= %(start)s AND started_at < %(end)s GROUP BY 1
)
SELECT upper(coalesce(nullif(p.region, ''), nullif(p.country, ''), '?')),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY pay.minor * 3600.0 / secs.s)
FROM pay JOIN secs ON secs.c = pay.c LEFT JOIN workforce_contractorprofile p ON p.user_id = pay.c
WHERE secs.s > 0
GROUP BY 1
"""


def effective_hourly_medians(*, periods: list[PayPeriod]) -> dict[str, list[tuple[str, int]]]:
    """{jurisdiction: [(week, median effective hourly after top-up in minor units), …]}, oldest week first.

    Effective hourly is (earnings + top-up) x 3600 / active seconds, per contractor, from the ledger.
    """
    series: dict[str, list[tuple[str, int]]] = {}
    for period in reversed(periods):
        start, end = period_bounds(period)
        with connection.cursor() as cursor:
            cursor.execute(
                _MEDIAN_SQL, {"period": period.pk, "prefix": f"close:{period.pk}:%", "start": start, "end": end}
            )
            for jurisdiction, median in cursor.fetchall():
                series.setdefault(jurisdiction, []).append((f"{period.start:%m-%d}", int(median or 0)))
    return series


def late_payouts(*, periods: list[PayPeriod], now: datetime.datetime | None = None) -> list[tuple[PayPeriod, int]]:
    """Per closed period, the payouts that pay it out (made before the next close) and were paid more than
    ``FAIRTASK_AUDIT_LATE_PAYOUT_DAYS`` after its close, or are still unpaid that long after."""
    now = now or timezone.now()
    late_after = datetime.timedelta(days=settings.FAIRTASK_AUDIT_LATE_PAYOUT_DAYS)
    result = []
    ordered = sorted((p for p in periods if p.closed_at), key=lambda p: p.closed_at or now)
    for index, period in enumerate(ordered):
        assert period.closed_at is not None
        until = ordered[index + 1].closed_at if index + 1 < len(ordered) else None
        payouts = Payout.objects.filter(created_at__gte=period.closed_at)
        if until is not None:
            payouts = payouts.filter(created_at__lt=until)
        deadline = period.closed_at + late_after
        late = payouts.filter(state=PayoutState.PAID, paid_at__gt=deadline).count()
        if now > deadline:
            late += payouts.exclude(state__in=[PayoutState.PAID, PayoutState.FAILED]).count()
        result.append((period, late))
    return sorted(result, key=lambda row: row[0].start)


def rejections(*, periods: list[PayPeriod]) -> list[tuple[PayPeriod, int]]:
    rows = []
    for period in sorted(periods, key=lambda p: p.start):
        start, end = period_bounds(period)
        count = Answer.objects.filter(
            review_status=ReviewStatus.REJECTED, submitted_at__gte=start, submitted_at__lt=end
        ).count()
        rows.append((period, count))
    return rows


def decision_outcomes(*, periods: list[PayPeriod]) -> list[tuple[PayPeriod, dict[tuple[str, str], int]]]:
    """Per period (oldest first), the decisions made in it counted by (kind, outcome): the weekly chart's data."""
    rows = []
    for period in sorted(periods, key=lambda p: p.start):
        start, end = period_bounds(period)
        counts = (
            Decision.objects.filter(decided_at__gte=start, decided_at__lt=end)
            .values("kind", "outcome")
            .annotate(n=Count("id"))
            .order_by("kind", "outcome")
        )
        rows.append((period, {(row["kind"], row["outcome"]): int(row["n"]) for row in counts}))
    return rows


def decision_statistics(
    *, since: datetime.datetime | None = None, until: datetime.datetime | None = None
) -> dict[str, Any]:
    """Decisions by kind and outcome, automated or not, and appeals by status (with how many were late)."""
    decisions = Decision.objects.all()
    appeals = Appeal.objects.all()
    if since is not None:
        decisions, appeals = decisions.filter(decided_at__gte=since), appeals.filter(filed_at__gte=since)
    if until is not None:
        decisions, appeals = decisions.filter(decided_at__lt=until), appeals.filter(filed_at__lt=until)
    by_outcome = [
        {"kind": row["kind"], "outcome": row["outcome"], "is_automated": row["is_automated"], "count": row["n"]}
        for row in decisions.values("kind", "outcome", "is_automated")
        .annotate(n=Count("id"))
        .order_by("kind", "outcome")
    ]
    statuses = Counter(dict(appeals.values_list("status").annotate(n=Count("id")).values_list("status", "n")))
    answered_late = sum(
        1
        for filed, due, answered in appeals.values_list("filed_at", "due_at", "answered_at")
        if answered and answered > due
    )
    open_overdue = appeals.filter(status="open", due_at__lt=timezone.now()).count()
    return {
        "decisions": by_outcome,
        "decisions_total": sum(row["count"] for row in by_outcome),
        "appeals": {status: statuses.get(status, 0) for status in ("open", "upheld", "overturned")},
        "appeals_answered_late": answered_late,
        "appeals_open_overdue": open_overdue,
    }


@dataclass(frozen=True)
class Drilldown:
    contractor: User
    period: PayPeriod
    seconds_by_kind: dict[str, int]
    entries: list[LedgerEntry]
    wage_check: Any | None
    payouts: list[Payout]


def contractor_period(*, contractor: User, period: PayPeriod) -> Drilldown:
    """One contractor's week as an auditor checks it: time by kind, the close's lines, the floor comparison, payouts."""
    start, end = period_bounds(period)
    by_kind = {
        row["kind"]: int(row["s"] or 0)
        for row in ActivitySpan.objects.filter(worker=contractor, started_at__gte=start, started_at__lt=end)
        .values("kind")
        .annotate(s=Sum("active_seconds"))
    }
    entries = list(
        LedgerEntry.objects.filter(contractor=contractor, key__startswith=f"close:{period.pk}:{contractor.pk}:")
        .union(LedgerEntry.objects.filter(contractor=contractor, period=period))
        .order_by("created_at", "id")
    )
    check = WageCheck.objects.filter(period=period, contractor=contractor).first()
    payouts = list(
        Payout.objects.filter(contractor=contractor, created_at__gte=period.closed_at or end).order_by("created_at")[:5]
    )
    return Drilldown(contractor, period, by_kind, entries, check, payouts)
