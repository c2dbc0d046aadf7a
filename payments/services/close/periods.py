"""Pay periods: weeks that start at midnight on ``FAIRTASK_PAY_WEEK_START`` in ``FAIRTASK_PAY_TIMEZONE``.

Periods are made on demand: ``period_for`` returns the period holding a moment, creating its
week if need be, and ``periods_ensure`` fills every week from the first paid activity up to
now, so no week of work can be left without a period to close (rule 1).
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from payments.models import PayPeriod
from tasks.models import ActivitySpan, Answer, ReviewStatus

# A period counts as over a few minutes after its end, so that a review stamped just before
# midnight has certainly committed before the close reads the week's approvals.
SETTLE = datetime.timedelta(minutes=5)
APPROVED = (ReviewStatus.APPROVED, ReviewStatus.AUTO_APPROVED)


def period_bounds(period: PayPeriod) -> tuple[datetime.datetime, datetime.datetime]:
    """The period's first and first-after instants: midnight of ``start`` and of ``end`` in its time zone."""
    zone = ZoneInfo(period.timezone)
    return (
        datetime.datetime.combine(period.start, datetime.time(), tzinfo=zone),
        datetime.datetime.combine(period.end, datetime.time(), tzinfo=zone),
    )


def period_closes_from(period: PayPeriod) -> datetime.datetime:
    """The first moment the period may be closed."""
    return period_bounds(period)[1] + SETTLE


def period_is_over(period: PayPeriod, *, now: datetime.datetime | None = None) -> bool:
    return (now or timezone.now()) >= period_closes_from(period)


def _week_of(day: datetime.date) -> tuple[datetime.date, datetime.date]:
    start = day - datetime.timedelta(days=(day.weekday() - settings.FAIRTASK_PAY_WEEK_START) % 7)
    return start, start + datetime.timedelta(days=7)


def period_for_day(day: datetime.date) -> PayPeriod:
    """The pay period holding ``day`` (a date in the pay time zone), created if there is none yet."""
    existing = PayPeriod.objects.filter(start__lte=day, end__gt=day).first()
    if existing is not None:
        return existing
    start, end = _week_of(day)
    # Periods made under an earlier week start may overlap this week; the new one fills the gap only.
    before = PayPeriod.objects.filter(start__lt=day, end__gt=start).order_by("-end").first()
    if before is not None:
        start = before.end
    after = PayPeriod.objects.filter(start__gt=day, start__lt=end).order_by("start").first()
    if after is not None:
        end = after.start
    period, _created = PayPeriod.objects.get_or_create(
        start=start, defaults={"end": end, "timezone": settings.FAIRTASK_PAY_TIMEZONE}
    )
    return period


def period_for(moment: datetime.datetime) -> PayPeriod:
    """The pay period holding ``moment``, created (as the week around it) if there is none yet."""
    return period_for_day(moment.astimezone(ZoneInfo(settings.FAIRTASK_PAY_TIMEZONE)).date())


def periods_ensure(*, now: datetime.datetime | None = None) -> list[PayPeriod]:
    """Create every missing week from the first paid activity (or first period) to now; return the new ones."""
    now = now or timezone.now()
    zone = ZoneInfo(settings.FAIRTASK_PAY_TIMEZONE)
    firsts = [
        PayPeriod.objects.aggregate(first=Min("start"))["first"],
        *(
            moment.astimezone(zone).date()
            for moment in (
                ActivitySpan.objects.aggregate(first=Min("started_at"))["first"],
                Answer.objects.filter(review_status__in=APPROVED).aggregate(first=Min("reviewed_at"))["first"],
            )
            if moment is not None
        ),
    ]
    known = [day for day in firsts if day is not None]
    today = now.astimezone(zone).date()
    day = min(known) if known else today
    covered = list(PayPeriod.objects.order_by("start").values_list("start", "end"))
    created: list[PayPeriod] = []
    while day <= today:
        holder = next(((s, e) for s, e in covered if s <= day < e), None)
        if holder is not None:
            day = holder[1]
            continue
        period = period_for_day(day)
        created.append(period)
        covered.append((period.start, period.end))
        day = period.end
    return created
