"""Pay statements and the earnings page, read from the ledger and the time records only.

Every amount on a statement is a ledger entry or a sum of entries (rule 5); hours come from
the paid-time spans; the floor comparison is the close's own record (``WageCheck``), whose
arithmetic the top-up entry repeats. Nothing here writes.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils.translation import gettext as _

from payments.models import EntryKind, LedgerEntry, PayPeriod, PeriodStatus, WageCheck
from payments.money import Money, exponent
from payments.services.close.periods import period_bounds
from payments.services.rates import pay_currency
from tasks.models import ActivityKind, ActivitySpan, Answer, FraudMark, QualityEstimate, ReviewStatus
from workforce.models import User

# The order lines appear in on a statement: what was earned, then corrections, then money out.
LINE_ORDER = [
    EntryKind.HOURLY,
    EntryKind.PIECE,
    EntryKind.INSTRUCTION,
    EntryKind.QUALIFICATION,
    EntryKind.BONUS,
    EntryKind.PENALTY,
    EntryKind.TOPUP,
    EntryKind.OVERTIME,
    EntryKind.REVERSAL,
    EntryKind.PAYOUT,
    EntryKind.PAYOUT_RETURN,
]
EARNED_KINDS = frozenset(LINE_ORDER[:8])  # everything before the reversals: pay for the period
MONEY_OUT_KINDS = frozenset({EntryKind.PAYOUT, EntryKind.PAYOUT_RETURN})


@dataclass(frozen=True)
class Line:
    kind: str
    kind_label: str
    memo: str
    amount: Money
    created_at: datetime.datetime
    details: dict[str, Any]


@dataclass
class Statement:
    contractor: User
    period: PayPeriod
    currency: str
    is_final: bool
    seconds: dict[str, int]  # paid seconds by activity kind
    excluded_seconds: int  # task time under an active fraud decision
    answers: dict[str, int]  # submitted in the period, by review status
    quality: list[dict[str, Any]]
    lines: list[Line]
    totals: dict[str, Money]  # by entry kind
    earned: Money  # pay for the period (everything but money paid out or returned)
    paid_out: Money  # payouts net of returns, posted in this period
    net: Money  # all entries of the period
    check: WageCheck | None  # the close's record of the floor comparison, once the period is closed
    topup_details: dict[str, Any] = field(default_factory=dict)

    @property
    def paid_seconds(self) -> int:
        return sum(self.seconds.values())

    @property
    def hours(self) -> Decimal:
        return (Decimal(self.paid_seconds) / 3600).quantize(Decimal("0.01"))

    def hours_of(self, kind: str) -> Decimal:
        return (Decimal(self.seconds.get(kind, 0)) / 3600).quantize(Decimal("0.01"))

    @property
    def effective_hourly(self) -> Money | None:
        """Earnings before top-up divided by paid hours, rounded in the contractor's favour."""
        if not self.paid_seconds:
            return None
        before = sum((m.minor for k, m in self.totals.items() if k not in {EntryKind.TOPUP, *MONEY_OUT_KINDS}), 0)
        return Money(-(-before * 3600 // self.paid_seconds), self.currency)

    def total_of(self, kind: str) -> Money:
        return self.totals.get(kind, Money(0, self.currency))

    @property
    def comparison(self) -> dict[str, Any] | None:
        """The floor comparison in one shape: the close's WageCheck, else the top-up entry's own arithmetic."""
        c = self.check
        if c is not None:
            return {
                "jurisdiction": c.jurisdiction,
                "currency": c.currency,
                "paid_seconds": c.paid_seconds,
                "earnings_minor": c.earnings_minor,
                "effective_before_minor": c.effective_hourly_before_minor,
                "floor_hourly_minor": c.floor_hourly_minor,
                "required_minor": c.required_minor,
                "topup_minor": c.topup_minor,
                "effective_after_minor": c.effective_hourly_after_minor,
                "overtime_minor": c.overtime_minor,
                "status": c.status,
                "problem": c.problem,
                "statutory": c.statutory,
                "fx": c.fx,
            }
        d = self.topup_details
        if not d:
            return None
        return {
            "jurisdiction": d.get("jurisdiction", ""),
            "currency": d.get("currency", self.currency),
            "paid_seconds": d.get("paid_seconds", 0),
            "earnings_minor": d.get("earnings_minor"),
            "effective_before_minor": d.get("effective_hourly_minor"),
            "floor_hourly_minor": d.get("floor_hourly_minor"),
            "required_minor": d.get("required_minor"),
            "topup_minor": d.get("topup_minor"),
            "effective_after_minor": d.get("floor_hourly_minor"),
            "overtime_minor": self.total_of(EntryKind.OVERTIME).minor,
            "status": "complete",
            "problem": "",
            "statutory": [f.get("statutory") for f in d.get("floors", [])],
            "fx": d.get("fx", []),
        }


def wage_check_for(*, contractor: User, period: PayPeriod) -> WageCheck | None:
    """The close's floor comparison for this contractor and period, when the close has recorded one."""
    return WageCheck.objects.filter(contractor=contractor, period=period).first()


def _seconds(contractor: User, period: PayPeriod) -> tuple[dict[str, int], int]:
    start, end = period_bounds(period)
    spans = ActivitySpan.objects.filter(worker=contractor, started_at__gte=start, started_at__lt=end)
    fraud = FraudMark.objects.filter(assignment=OuterRef("assignment"), is_active=True)
    rows = spans.annotate(excluded=Exists(fraud)).values("kind", "excluded").annotate(s=Sum("active_seconds"))
    seconds: dict[str, int] = defaultdict(int)
    excluded = 0
    for row in rows:
        if row["excluded"] and row["kind"] == ActivityKind.TASK:
            excluded += int(row["s"] or 0)
        else:
            seconds[row["kind"]] += int(row["s"] or 0)
    return dict(seconds), excluded


def _answers(contractor: User, period: PayPeriod) -> dict[str, int]:
    start, end = period_bounds(period)
    rows = (
        Answer.objects.filter(worker=contractor, submitted_at__gte=start, submitted_at__lt=end)
        .values("review_status")
        .annotate(n=Count("id"))
    )
    counts = {status: 0 for status in ReviewStatus.values}
    counts.update({row["review_status"]: row["n"] for row in rows})
    return counts


def _quality(contractor: User, lines: list[Line]) -> list[dict[str, Any]]:
    tiers = {line.details.get("project"): line for line in lines if line.kind in (EntryKind.BONUS, EntryKind.PENALTY)}
    rows = []
    for estimate in QualityEstimate.objects.filter(worker=contractor).select_related("project").order_by("project"):
        tier = tiers.get(estimate.project_id)
        rows.append(
            {
                "project": estimate.project.name,
                "gold_total": estimate.gold_total,
                "lower": estimate.lower,
                "upper": estimate.upper,
                "tier": tier.memo if tier else _("No tier applied this period."),
            }
        )
    return rows


def statement_build(*, contractor: User, period: PayPeriod) -> Statement:
    """The statement of one contractor for one period (provisional while the period is open)."""
    currency = pay_currency()
    entries = list(LedgerEntry.objects.filter(contractor=contractor, period=period).order_by("created_at", "id"))
    labels = dict(EntryKind.choices)
    order: dict[str, int] = {str(kind): i for i, kind in enumerate(LINE_ORDER)}
    lines = sorted(
        (
            Line(
                kind=e.kind,
                kind_label=str(labels.get(e.kind, e.kind)),
                memo=e.memo,
                amount=Money(e.amount_minor, e.currency),
                created_at=e.created_at,
                details=e.details or {},
            )
            for e in entries
        ),
        key=lambda line: (order.get(line.kind, 99), line.created_at),
    )
    totals: dict[str, Money] = {}
    for line in lines:
        totals[line.kind] = totals.get(line.kind, Money(0, line.amount.currency)) + line.amount
    zero = Money(0, currency)
    earned = sum((m for k, m in totals.items() if k in EARNED_KINDS or k == EntryKind.REVERSAL), zero)
    paid_out = sum((m for k, m in totals.items() if k in MONEY_OUT_KINDS), zero)
    seconds, excluded = _seconds(contractor, period)
    topup = next((line for line in lines if line.kind == EntryKind.TOPUP), None)
    return Statement(
        contractor=contractor,
        period=period,
        currency=currency,
        is_final=period.status == PeriodStatus.CLOSED,
        seconds=seconds,
        excluded_seconds=excluded,
        answers=_answers(contractor, period),
        quality=_quality(contractor, lines),
        lines=lines,
        totals=totals,
        earned=earned,
        paid_out=paid_out,
        net=earned + paid_out,
        check=wage_check_for(contractor=contractor, period=period),
        topup_details=topup.details if topup else {},
    )


def statement_periods(*, contractor: User) -> list[PayPeriod]:
    """The periods in which the contractor has ledger entries or paid time, newest first."""
    with_entries = PayPeriod.objects.filter(entries__contractor=contractor)
    periods = set(with_entries)
    for period in PayPeriod.objects.filter(status=PeriodStatus.OPEN):
        start, end = period_bounds(period)
        if ActivitySpan.objects.filter(worker=contractor, started_at__gte=start, started_at__lt=end).exists():
            periods.add(period)
    return sorted(periods, key=lambda p: p.start, reverse=True)


@dataclass(frozen=True)
class Week:
    period: PayPeriod
    earned: Money
    effective_hourly: Decimal | None  # minor units an hour, after top-up
    floor_hourly: Decimal | None  # minor units an hour, the close's floor


@dataclass
class Earnings:
    currency: str
    balance: Money
    accrual: Money  # the open period's pay so far (provisional)
    open_period: PayPeriod | None
    weeks: list[Week]

    @property
    def exponent(self) -> int:
        return exponent(self.currency)


def earnings_overview(*, contractor: User, weeks: int = 12) -> Earnings:
    """Balance, the current period's accrual, and the last ``weeks`` closed periods for the chart."""
    currency = pay_currency()
    zero = Money(0, currency)
    total = LedgerEntry.objects.filter(contractor=contractor, currency=currency).aggregate(s=Sum("amount_minor"))["s"]
    balance = Money(int(total or 0), currency)
    open_period = PayPeriod.objects.filter(status=PeriodStatus.OPEN).order_by("-start").first()
    accrual = zero
    if open_period is not None:
        earned = LedgerEntry.objects.filter(
            Q(kind__in=list(EARNED_KINDS)) | Q(kind=EntryKind.REVERSAL),
            contractor=contractor,
            period=open_period,
            currency=currency,
        ).aggregate(s=Sum("amount_minor"))["s"]
        accrual = Money(int(earned or 0), currency)
    closed = list(PayPeriod.objects.filter(status=PeriodStatus.CLOSED).order_by("-start")[:weeks])
    sums = {
        row["period"]: int(row["s"] or 0)
        for row in LedgerEntry.objects.filter(
            Q(kind__in=list(EARNED_KINDS)) | Q(kind=EntryKind.REVERSAL),
            contractor=contractor,
            period__in=closed,
            currency=currency,
        )
        .values("period")
        .annotate(s=Sum("amount_minor"))
    }
    checks = {c.period_id: c for c in WageCheck.objects.filter(contractor=contractor, period__in=closed)}
    series = []
    for period in reversed(closed):
        check = checks.get(period.pk)
        series.append(
            Week(
                period=period,
                earned=Money(sums.get(period.pk, 0), currency),
                effective_hourly=getattr(check, "effective_hourly_after_minor", None),
                floor_hourly=getattr(check, "floor_hourly_minor", None),
            )
        )
    return Earnings(currency=currency, balance=balance, accrual=accrual, open_period=open_period, weeks=series)
