"""Work for the close's tests: contractors in a jurisdiction, and their answers, tasks, readings and tests.

Rows are written directly in the state the tasks services leave them (an assignment
submitted, an answer reviewed, a span of active time), at the times a test names, so a test
reads as "2 hours on Tuesday, 10 answers approved" and the close has exactly that to pay.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.management import call_command

from payments.models import EntryKind, FxRate, LedgerEntry, PayPeriod, QualityTier
from tasks.models import (
    ActivityKind,
    ActivitySpan,
    Answer,
    Assignment,
    AssignmentStatus,
    InstructionRead,
    InstructionVersion,
    Project,
    QualificationAttempt,
    QualificationTest,
    QualityEstimate,
    RejectionCode,
    ReviewStatus,
)
from tests.tasks.factories import project as make_project
from tests.tasks.factories import tasks as make_tasks
from tests.workforce.factories import SkillFactory, UserFactory
from workforce.models import ContractorProfile, ContractorState, Skill, User

D = datetime.date
UTC = datetime.UTC
# A week that is over: Monday 2026-11-09 to Sunday 2026-11-15 (UTC), and the week after it.
WEEK = D(2026, 11, 9)
NEXT_WEEK = D(2026, 11, 16)


def this_monday() -> datetime.date:
    """The Monday starting the pay week (UTC) that holds today: a period that is not over yet."""
    today = datetime.datetime.now(UTC).date()
    return today - datetime.timedelta(days=today.weekday())


def at(day: datetime.date, hour: int = 12, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def floors_loaded() -> None:
    """The reviewed wage floors (migration 0003); a transactional test elsewhere may have emptied them."""
    call_command("loaddata", "wage_floors", verbosity=0)


def week(start: datetime.date = WEEK) -> PayPeriod:
    period, _created = PayPeriod.objects.get_or_create(
        start=start, defaults={"end": start + datetime.timedelta(days=7), "timezone": "UTC"}
    )
    return period


def person(
    *,
    country: str = "US",
    region: str = "US-CA",
    zone: str = "America/Los_Angeles",
    email: str | None = None,
) -> User:
    """An active contractor whose wage-floor jurisdiction is ``region`` (or ``country`` without one)."""
    user = UserFactory.create(**({"email": email} if email else {}))
    ContractorProfile.objects.create(
        user=user,
        state=ContractorState.ACTIVE,
        legal_name="Test Person",
        display_name=user.email.split("@")[0],
        country=country,
        region=region,
        timezone=zone,
        languages=["en"],
    )
    return user


def piece_project(**fields: object) -> Project:
    """A project paid by the piece only (no hourly rate): the floor's top-up does the rest."""
    return make_project(**{"piece_rate_minor": 5, "hourly_rate_minor": 0, **fields})


def task_time(
    worker: User,
    project: Project,
    *,
    started: datetime.datetime,
    seconds: int,
    review: str | None = ReviewStatus.APPROVED,
    reviewed: datetime.datetime | None = None,
) -> Assignment:
    """One task: ``seconds`` of active time from ``started``, then an answer in ``review`` (None: no answer)."""
    task = make_tasks(project, 1)[0]
    assignment = Assignment.objects.create(
        task=task,
        worker=worker,
        status=AssignmentStatus.SUBMITTED,
        leased_at=started,
        expires_at=started + datetime.timedelta(seconds=max(seconds, 600)),
        submitted_at=started + datetime.timedelta(seconds=seconds),
    )
    if seconds:
        ActivitySpan.objects.create(
            worker=worker,
            kind=ActivityKind.TASK,
            project=project,
            assignment=assignment,
            started_at=started,
            last_beat_at=started + datetime.timedelta(seconds=seconds),
            active_seconds=seconds,
        )
    if review is not None:
        rejected = review == ReviewStatus.REJECTED
        Answer.objects.create(
            assignment=assignment,
            task=task,
            worker=worker,
            value="cat",
            submitted_at=started + datetime.timedelta(seconds=seconds),
            review_status=review,
            reviewed_at=None
            if review == ReviewStatus.PENDING
            else (reviewed or started + datetime.timedelta(seconds=seconds + 60)),
            rejection_code=RejectionCode.WRONG if rejected else "",
            review_message="Not the animal in the picture." if rejected else "",
        )
    return assignment


def answers(
    worker: User, project: Project, count: int, *, on: datetime.datetime, review: str = ReviewStatus.APPROVED
) -> None:
    """``count`` answers reviewed at ``on``, with no time of their own (the time is in other spans)."""
    for _ in range(count):
        task_time(worker, project, started=on, seconds=0, review=review, reviewed=on)


def reading(worker: User, project: Project, *, started: datetime.datetime, seconds: int) -> ActivitySpan:
    version, _created = InstructionVersion.objects.get_or_create(project=project, version=1, defaults={"body": "Hi."})
    read, _created = InstructionRead.objects.get_or_create(worker=worker, instruction=version)
    return ActivitySpan.objects.create(
        worker=worker,
        kind=ActivityKind.INSTRUCTION,
        project=project,
        instruction_read=read,
        started_at=started,
        last_beat_at=started + datetime.timedelta(seconds=seconds),
        active_seconds=seconds,
    )


def qualification_time(worker: User, skill: Skill, *, started: datetime.datetime, seconds: int) -> ActivitySpan:
    test, _created = QualificationTest.objects.get_or_create(skill=skill, defaults={"title": f"{skill.name} test"})
    attempt = QualificationAttempt.objects.create(
        test=test, worker=worker, started_at=started, finished_at=started + datetime.timedelta(seconds=seconds)
    )
    return ActivitySpan.objects.create(
        worker=worker,
        kind=ActivityKind.QUALIFICATION,
        attempt=attempt,
        started_at=started,
        last_beat_at=started + datetime.timedelta(seconds=seconds),
        active_seconds=seconds,
    )


def skill(slug: str = "text-classification") -> Skill:
    return SkillFactory.create(slug=slug)


def estimate(worker: User, project: Project, lower: str, upper: str, gold_total: int = 20) -> QualityEstimate:
    return QualityEstimate.objects.create(
        worker=worker, project=project, gold_total=gold_total, lower=Decimal(lower), upper=Decimal(upper)
    )


def tier(project: Project, kind: str, threshold: str, multiplier: str) -> QualityTier:
    return QualityTier.objects.create(
        project=project,
        kind=kind,
        threshold=Decimal(threshold),
        multiplier=Decimal(multiplier),
        note="Ten per cent more for reliably accurate work." if kind == "bonus" else "Less for inaccurate work.",
    )


def fx(base: str, day: datetime.date, rate: str, quote: str = "USD") -> FxRate:
    return FxRate.objects.create(date=day, base=base, quote=quote, rate=Decimal(rate), source="test")


def lines(contractor: User, period: PayPeriod | None = None) -> dict[str, int]:
    """The contractor's close entries by kind (summed), e.g. {"piece": 50, "topup": 3330}."""
    entries = LedgerEntry.objects.filter(contractor=contractor)
    if period is not None:
        entries = entries.filter(period=period)
    found: dict[str, int] = {}
    for kind, amount in entries.values_list("kind", "amount_minor"):
        found[kind] = found.get(kind, 0) + amount
    return found


def entry(contractor: User, kind: str) -> LedgerEntry:
    return LedgerEntry.objects.get(contractor=contractor, kind=kind)


__all__ = ["EntryKind"]
