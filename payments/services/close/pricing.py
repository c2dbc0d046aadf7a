"""Pricing one contractor's period: ledger lines in the close's order (rules 1, 2 and 3).

Piece, hourly, instruction, qualification and restored time first; then the quality bonus or
penalty; then the wage-floor top-up over ALL paid time, computed after penalties so quality
never takes pay under the floor; then, if the policy is on, the overtime premium. Each line
carries its arithmetic in ``details`` (JSON text) and a memo the contractor reads, and a
deterministic key (``close:<period>:<contractor>:<what>[:<project or skill>]``, ``restored:<id>``).

This runs once per contractor, 100,000 times in a large close, so the arithmetic stays in
integers and exact fractions and the common lines write their JSON directly; the rates
themselves are decided in ``payments/services/rates.py``.
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from payments.models import EntryKind, QualityTier, TierKind
from payments.money import Money, exponent
from payments.services.close.floors import DayFloor, FloorBook, FloorProblem
from payments.services.close.work import Window, Work
from payments.services.rates import (
    SECONDS_PER_HOUR,
    TimeRate,
    instruction_rate,
    qualification_rate,
    qualification_rates,
    tier_amount_minor,
    tier_for,
    time_minor,
)
from tasks.models import Project
from workforce.models import Skill

OVERTIME_AFTER_SECONDS = 40 * SECONDS_PER_HOUR
# Kinds whose sum is "earnings" for the floor: everything but the top-up itself and overtime,
# with penalties included, so that quality never takes pay under the floor (rule 3).
FLOOR_EARNING_KINDS = frozenset(
    {
        EntryKind.PIECE,
        EntryKind.HOURLY,
        EntryKind.QUALIFICATION,
        EntryKind.INSTRUCTION,
        EntryKind.BONUS,
        EntryKind.PENALTY,
    }
)
_ENCODER = json.JSONEncoder(separators=(",", ":"))

# Memos the contractor reads on their statement, translated once per run rather than once per line.
MEMOS = {
    "foreign": _("Project “%(p)s” has its rates in %(c)s, but pay is in %(pay)s; set its pay in %(pay)s."),
    "piece": _("%(n)d approved answers on “%(p)s” at %(r)s each."),
    "hourly": _("%(h)s hours of task time on “%(p)s” at %(r)s an hour."),
    "reading": _("%(h)s hours reading the instructions of “%(p)s” at its hourly rate of %(r)s."),
    "reading_floor": _(
        "%(h)s hours reading the instructions of “%(p)s”, a piece-rate project, at your floor of %(r)s."
    ),
    "testing": _(
        "%(h)s hours on the “%(s)s” qualification test at %(r)s, the best hourly rate of an open project that "
        "needs this skill."
    ),
    "testing_floor": _("%(h)s hours on the “%(s)s” qualification test at your floor of %(r)s."),
    "restored": _(
        "%(h)s hours of task time on “%(p)s” that a fraud finding had excluded; the finding was overturned, so the "
        "time is paid now at %(r)s an hour."
    ),
    "bonus": _(
        "Quality bonus on “%(p)s”: %(pct)s%% of %(piece)s piece earnings, because the lower bound of your quality "
        "interval [%(lo)s, %(hi)s] is above %(t)s."
    ),
    "penalty": _(
        "Quality penalty on “%(p)s”: %(pct)s%% of %(piece)s piece earnings, because even the upper bound of your "
        "quality interval [%(lo)s, %(hi)s] is below %(t)s. It never takes your pay under the wage floor."
    ),
    "topup": _(
        "Wage-floor top-up: %(h)s paid hours earned %(e)s, an effective %(eff)s an hour, under the %(which)s floor "
        "of %(f)s an hour for %(j)s; %(d)s was due."
    ),
    "overtime": _("Overtime premium: %(o)s hours over 40 in the week at half your regular rate of %(r)s an hour."),
}


@dataclass(frozen=True, slots=True)
class Line:
    kind: str
    amount_minor: int
    key: str
    memo: str
    details: str  # JSON text
    source_type: str = ""
    source_id: int | None = None


@dataclass(frozen=True, slots=True)
class Check:
    """The contractor's floor comparison as the close records it (``WageCheck``); JSON fields as text."""

    jurisdiction: str
    task_seconds: int
    qualification_seconds: int
    instruction_seconds: int
    excluded_seconds: int
    paid_seconds: int
    tasks_paid: int
    earnings_minor: int
    topup_minor: int = 0
    overtime_minor: int = 0
    required_minor: int | None = None
    floor_hourly_minor: str | None = None
    statutory: str | None = None
    policy: str | None = None
    fx: str | None = None
    effective_before: str | None = None
    effective_after: str | None = None
    is_compliant: bool = False
    problem: str = ""


@dataclass
class Outcome:
    lines: list[Line] = field(default_factory=list)
    exclusions: list[tuple[int, int, int]] = field(default_factory=list)  # (fraud mark, project, seconds)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (code, message)
    check: Check | None = None


@dataclass(frozen=True)
class Estimate:
    lower: Decimal
    upper: Decimal
    gold_total: int
    computed_at: datetime.datetime


_POWERS = [10**n for n in range(9)]


def _fixed(numerator: int, denominator: int, places: int, *, up: bool = False) -> str:
    """``numerator / denominator`` as text with ``places`` decimals, half up (or always up), from integers."""
    unit = _POWERS[places]
    scaled = numerator * unit
    whole = -(-scaled // denominator) if up else (2 * scaled + denominator) // (2 * denominator)
    sign = ""
    if whole < 0:
        sign, whole = "-", -whole
    if not places:
        return f"{sign}{whole}"
    return f"{sign}{whole // unit}.{whole % unit:0{places}d}"


def _hours(seconds: int) -> str:
    """Hours to two places, half up, as a statement shows them."""
    hundredths = (seconds * 100 + 1800) // 3600
    return f"{hundredths // 100}.{hundredths % 100:02d}"


@dataclass(frozen=True)
class _Project:
    """What pricing needs of a project, worked out once per run."""

    pk: int
    name: str
    piece_minor: int
    hourly_minor: int
    is_payable: bool  # its rates are in the pay currency
    reading: TimeRate
    piece_text: str
    hourly_text: str


class Pricer:
    """The reference data of one run (projects, tiers, rates, floors) and the pricing of a contractor."""

    def __init__(self, window: Window, *, attempt_skills: dict[int, int]) -> None:
        self.window = window
        self.currency = cur = window.currency
        self.places = exponent(cur)
        self.prefix = f"close:{window.period_id}:"
        self._money: dict[int, str] = {}
        self._floor_texts: dict[Decimal, str] = {}
        # Keyed by id(): DayFloors live in the FloorBook's cache for the whole run, so ids are stable.
        self._floor_jsons: dict[int, str] = {}
        self._fx_jsons: dict[tuple[int, ...], str] = {}
        self._json_texts: dict[str, str] = {}
        self._refs: dict[tuple[int, ...], tuple[str | None, str | None, str]] = {}
        self.projects = {
            p.pk: _Project(
                p.pk,
                p.name,
                p.piece_rate_minor,
                p.hourly_rate_minor,
                p.currency == cur,
                instruction_rate(p),
                self.money(p.piece_rate_minor) if p.currency == cur else "",
                self.money(p.hourly_rate_minor) if p.currency == cur else "",
            )
            for p in Project.objects.all()
        }
        self.project_currency = dict(Project.objects.values_list("pk", "currency"))
        self.tiers: dict[int, list[QualityTier]] = defaultdict(list)
        for tier in QualityTier.objects.all():
            self.tiers[tier.project_id].append(tier)
        self.qualification = qualification_rates(Project.objects.all())
        self.attempt_skills = attempt_skills
        self.skills = dict(Skill.objects.filter(pk__in=set(attempt_skills.values())).values_list("pk", "name"))
        self.floors = FloorBook(currency=cur, fx_day=window.last_day)
        self.overtime = settings.FAIRTASK_OVERTIME_PREMIUM
        self.memo = {name: str(text) for name, text in MEMOS.items()}
        approved_from = _ENCODER.encode(window.approved_from.isoformat() if window.approved_from else None)
        self._piece_window = f',"approved_from":{approved_from},"approved_before":"{window.end_at.isoformat()}"'

    def money(self, minor: int) -> str:
        text = self._money.get(minor)
        if text is None:
            text = Money(minor, self.currency).format()
            if len(self._money) < 10_000:  # rates and common amounts; not every top-up
                self._money[minor] = text
        return text

    def _rate_text(self, rate_minor: Decimal) -> str:
        """A converted floor as the contractor reads it, rounded up to the minor unit."""
        return Money.from_decimal(rate_minor.scaleb(-self.places), self.currency).format()

    # Lines ----------------------------------------------------------------------------------

    def contractor(
        self,
        c: int,
        *,
        jurisdiction: str,
        work: Work,
        estimates: dict[int, Estimate],
        posted: dict[str, tuple[str, int]] | None = None,
    ) -> Outcome:
        """Every line the close owes contractor ``c`` for the period, and what stops the rest.

        A problem (no jurisdiction, no floor, no FX rate, a project paying in another currency)
        never blocks what can be paid: earnings lines are posted, and the top-up and overtime
        premium (and time priced at the floor) wait for a retry. ``posted`` holds the lines
        already in the ledger under their keys (a retry): the floor counts what was posted.
        """
        out = Outcome()
        projects = self.projects
        # Paid seconds by local day and by what they were spent on.
        by_day: dict[datetime.date | None, int] = {}
        task: dict[int, int] = {}
        reading: dict[int, int] = {}
        testing: dict[int, int] = {}
        foreign: set[int] = set()
        kinds = {"task": 0, "instruction": 0, "qualification": 0}
        for kind, project_id, attempt_id, on, seconds in work.spans:
            by_day[on] = by_day.get(on, 0) + seconds
            kinds[kind] += seconds
            if kind == "qualification":
                if attempt_id is not None:
                    skill_id = self.attempt_skills[attempt_id]
                    testing[skill_id] = testing.get(skill_id, 0) + seconds
            elif project_id is not None:
                if not projects[project_id].is_payable:
                    foreign.add(project_id)
                bucket = task if kind == "task" else reading
                bucket[project_id] = bucket.get(project_id, 0) + seconds
        excluded: dict[int, int] = {}
        for mark, project_id, on, seconds in work.fraud:
            by_day[on] -= seconds
            task[project_id] -= seconds
            excluded[project_id] = excluded.get(project_id, 0) + seconds
            out.exclusions.append((mark, project_id, seconds))
        restored = sum(r[3] for r in work.restored)
        excluded_seconds = sum(excluded.values())
        if restored:
            by_day[None] = by_day.get(None, 0) + restored
        for project_id, _count in work.answers:
            if not projects[project_id].is_payable:
                foreign.add(project_id)
        for project_id in sorted(foreign):
            out.problems.append(
                (
                    "foreign_currency",
                    self.memo["foreign"]
                    % {"p": projects[project_id].name, "c": self.project_currency[project_id], "pay": self.currency},
                )
            )
        last = self.window.last_day
        days: dict[datetime.date, int] = {}
        for on, seconds in by_day.items():
            if seconds:
                days[on or last] = days.get(on or last, 0) + seconds
        paid_seconds = sum(days.values())
        try:
            floor_days = [(self.floors.day(jurisdiction, on), seconds) for on, seconds in sorted(days.items())]
        except FloorProblem as problem:
            floor_days = []
            out.problems.append((problem.code, problem.message))
        # Time priced "at the floor" uses the highest floor of the period, in the contractor's favour.
        floor = max((f for f, _s in floor_days), key=lambda f: f.rate_minor) if floor_days else None

        pieces = self._piece(c, out, work, foreign)
        self._hourly(c, out, task, excluded, foreign)
        self._reading(c, out, reading, foreign, floor)
        self._testing(c, out, testing, floor)
        self._restored(out, work, foreign, floor)
        if estimates:
            self._quality(c, out, pieces, estimates)
        earnings = self._earnings(out.lines, posted)
        # Restored time was task time of an earlier week, paid (and counted as paid time) now.
        time_and_work = (
            jurisdiction,
            kinds["task"] - excluded_seconds + restored,
            kinds["qualification"],
            kinds["instruction"],
            excluded_seconds,
            paid_seconds,
            sum(count for project_id, count in work.answers if project_id not in foreign),
            earnings,
        )
        if out.problems or paid_seconds <= 0:
            # Without a known floor (or with a project's pay in doubt) the top-up and the overtime
            # premium wait for a retry of the close; the earnings above are owed either way.
            why = " ".join(message for _code, message in out.problems)
            out.check = Check(*time_and_work, required_minor=None if why else 0, is_compliant=not why, problem=why)
            return out
        topup, due, floor_hourly = self._topup(c, out, jurisdiction, floor_days, paid_seconds, earnings)
        overtime = 0
        if self.overtime and paid_seconds > OVERTIME_AFTER_SECONDS:
            overtime = self._overtime(c, out, paid_seconds, earnings + topup)
        statutory, policy, fx = self._refs_json(floor_days)
        # Built once, not with dataclasses.replace: at 10^5 contractors its field lookups add up.
        out.check = Check(
            *time_and_work,
            topup,
            overtime,
            due,
            floor_hourly,
            statutory,
            policy,
            fx,
            _fixed(earnings * SECONDS_PER_HOUR, paid_seconds, 4),
            _fixed((earnings + topup) * SECONDS_PER_HOUR, paid_seconds, 4),
            earnings + topup >= due,
        )
        return out

    def _refs_json(self, floor_days: list[tuple[DayFloor, int]]) -> tuple[str | None, str | None, str]:
        """The statutory and policy floors (local currency, rows, sources, dates) and FX rates a check cites."""
        key = tuple(id(f) for f, _s in floor_days)
        found = self._refs.get(key)
        if found is None:
            cited = []
            for which in ("statutory", "policy"):
                rows = list({q["row"]: q for f, _s in floor_days if (q := f.summary[which]) is not None}.values())
                cited.append(
                    _ENCODER.encode(
                        {
                            "rate": " / ".join(
                                str(Money.from_decimal(Decimal(q["hourly_rate"]), q["currency"]).to_decimal())
                                for q in rows
                            ),
                            "currency": " / ".join(sorted({q["currency"] for q in rows})),
                            "rows": rows,
                        }
                    )
                    if rows
                    else None
                )
            rates = list({q["base"]: q for f, _s in floor_days for q in f.fx_summaries}.values())
            fx = _ENCODER.encode(
                {
                    "rate": " / ".join(q["rate"] for q in rates) or "1",
                    "date": " / ".join(q["rate_date"] for q in rates),
                    "rates": rates,
                }
            )
            found = self._refs[key] = (cited[0], cited[1], fx)
        return found

    def _timed(self, seconds: int, rate: TimeRate, floor: DayFloor | None) -> tuple[int, str, str] | None:
        """(amount, rate as text, rate source) for time at ``rate``; None while the floor is unknown."""
        if rate.rate_minor is not None:
            return time_minor(rate.rate_minor, seconds, self.currency), self.money(rate.rate_minor), rate.source
        if floor is None:
            return None
        num, den = floor.ratio  # the floor in minor units an hour, as an exact fraction: round up once
        return -(-num * seconds // (den * SECONDS_PER_HOUR)), self._floor_text(floor), "floor"

    def _floor_text(self, floor: DayFloor) -> str:
        text = self._floor_texts.get(floor.rate_minor)
        if text is None:
            text = self._floor_texts[floor.rate_minor] = self._rate_text(floor.rate_minor)
        return text

    def _floor_json(self, floor: DayFloor) -> str:
        """The floor's summary as the inside of a JSON object, written once per floor and day."""
        text = self._floor_jsons.get(id(floor))
        if text is None:
            text = self._floor_jsons[id(floor)] = _ENCODER.encode(floor.summary)[1:-1]
        return text

    def _fx_json(self, floor_days: list[tuple[DayFloor, int]]) -> str:
        key = tuple(id(f) for f, _s in floor_days)
        text = self._fx_jsons.get(key)
        if text is None:
            rates = {q["base"]: q for f, _s in floor_days for q in f.fx_summaries}
            text = self._fx_jsons[key] = _ENCODER.encode(list(rates.values()))
        return text

    def _json_text(self, value: str) -> str:
        text = self._json_texts.get(value)
        if text is None:
            text = self._json_texts[value] = _ENCODER.encode(value)
        return text

    def _piece(self, c: int, out: Outcome, work: Work, foreign: set[int]) -> dict[int, int]:
        pieces: dict[int, int] = {}
        for project_id, count in work.answers:
            project = self.projects[project_id]
            if project_id in foreign or project.piece_minor <= 0:
                continue
            amount = pieces[project_id] = count * project.piece_minor
            out.lines.append(
                Line(
                    EntryKind.PIECE,
                    amount,
                    f"{self.prefix}{c}:piece:{project_id}",
                    self.memo["piece"] % {"n": count, "p": project.name, "r": project.piece_text},
                    f'{{"project":{project_id},"answers":{count},"piece_rate_minor":{project.piece_minor}'
                    f"{self._piece_window}}}",
                    "tasks.project",
                    project_id,
                )
            )
        return pieces

    def _hourly(self, c: int, out: Outcome, task: dict[int, int], excluded: dict[int, int], foreign: set[int]) -> None:
        for project_id, seconds in task.items():
            project = self.projects[project_id]
            if project_id in foreign or seconds <= 0 or project.hourly_minor <= 0:
                continue
            fraud = f',"fraud_excluded_seconds":{excluded[project_id]}' if project_id in excluded else ""
            out.lines.append(
                Line(
                    EntryKind.HOURLY,
                    time_minor(project.hourly_minor, seconds, self.currency),
                    f"{self.prefix}{c}:hourly:{project_id}",
                    self.memo["hourly"] % {"h": _hours(seconds), "p": project.name, "r": project.hourly_text},
                    f'{{"project":{project_id},"seconds":{seconds},"hourly_rate_minor":{project.hourly_minor}{fraud}}}',
                    "tasks.project",
                    project_id,
                )
            )

    def _reading(
        self, c: int, out: Outcome, reading: dict[int, int], foreign: set[int], floor: DayFloor | None
    ) -> None:
        for project_id, seconds in reading.items():
            project = self.projects[project_id]
            if project_id in foreign:
                continue
            priced = self._timed(seconds, project.reading, floor)
            if priced is None or priced[0] <= 0:
                continue
            amount, rate_text, source = priced
            memo = self.memo["reading"] if source == "project" else self.memo["reading_floor"]
            out.lines.append(
                Line(
                    EntryKind.INSTRUCTION,
                    amount,
                    f"{self.prefix}{c}:instruction:{project_id}",
                    memo % {"h": _hours(seconds), "p": project.name, "r": rate_text},
                    f'{{"project":{project_id},"seconds":{seconds},"hourly_rate":"{rate_text}",'
                    f'"rate_source":"{source}"}}',
                    "tasks.project",
                    project_id,
                )
            )

    def _testing(self, c: int, out: Outcome, testing: dict[int, int], floor: DayFloor | None) -> None:
        for skill_id, seconds in testing.items():
            rate = qualification_rate(skill_id, self.qualification)
            priced = self._timed(seconds, rate, floor)
            if priced is None or priced[0] <= 0:
                continue
            amount, rate_text, source = priced
            memo = self.memo["testing_floor"] if source == "floor" else self.memo["testing"]
            out.lines.append(
                Line(
                    EntryKind.QUALIFICATION,
                    amount,
                    f"{self.prefix}{c}:qualification:{skill_id}",
                    memo % {"h": _hours(seconds), "s": self.skills.get(skill_id, str(skill_id)), "r": rate_text},
                    _ENCODER.encode(
                        {
                            "skill": skill_id,
                            "seconds": seconds,
                            "hourly_rate": rate_text,
                            "rate_source": source,
                            "rate_project": rate.project_id,
                        }
                    ),
                    "workforce.skill",
                    skill_id,
                )
            )

    def _restored(self, out: Outcome, work: Work, foreign: set[int], floor: DayFloor | None) -> None:
        for exclusion, project_id, period_id, seconds in work.restored:
            project = self.projects[project_id]
            if project_id in foreign:
                continue
            rate = TimeRate(project.hourly_minor or None, "project", project_id)
            priced = self._timed(seconds, rate, floor)
            if priced is None or priced[0] <= 0:
                continue
            amount, rate_text, source = priced
            out.lines.append(
                Line(
                    EntryKind.HOURLY,
                    amount,
                    f"restored:{exclusion}",
                    self.memo["restored"] % {"h": _hours(seconds), "p": project.name, "r": rate_text},
                    _ENCODER.encode(
                        {
                            "project": project_id,
                            "seconds": seconds,
                            "hourly_rate": rate_text,
                            "rate_source": source,
                            "excluded_in_period": period_id,
                        }
                    ),
                    "payments.fraudexclusion",
                    exclusion,
                )
            )

    def _quality(self, c: int, out: Outcome, pieces: dict[int, int], estimates: dict[int, Estimate]) -> None:
        for project_id, piece in pieces.items():
            estimate = estimates.get(project_id)
            tiers = self.tiers.get(project_id)
            if not tiers or estimate is None:
                continue
            tier = tier_for(tiers, lower=estimate.lower, upper=estimate.upper)
            if tier is None:
                continue
            amount = tier_amount_minor(tier, piece)
            if amount == 0:
                continue
            percent = abs((tier.multiplier - 1) * 100).normalize()
            values = {
                "p": self.projects[project_id].name,
                "pct": f"{percent:f}",
                "piece": self.money(piece),
                "lo": estimate.lower,
                "hi": estimate.upper,
                "t": tier.threshold,
            }
            memo = self.memo["bonus"] if tier.kind == TierKind.BONUS else self.memo["penalty"]
            details = {
                "project": project_id,
                "tier": tier.pk,
                "threshold": str(tier.threshold),
                "multiplier": str(tier.multiplier),
                "bound_used": "lower" if tier.kind == TierKind.BONUS else "upper",
                "lower": str(estimate.lower),
                "upper": str(estimate.upper),
                "gold_total": estimate.gold_total,
                "estimated_at": estimate.computed_at.isoformat(),
                "piece_minor": piece,
                "note": tier.note,
            }
            out.lines.append(
                Line(
                    tier.kind,
                    amount,
                    f"{self.prefix}{c}:{tier.kind}:{project_id}",
                    memo % values,
                    _ENCODER.encode(details),
                    "payments.qualitytier",
                    tier.pk,
                )
            )

    @staticmethod
    def _earnings(lines: list[Line], posted: dict[str, tuple[str, int]] | None) -> int:
        """Earnings for the floor: what is already posted under a key counts as posted, the rest as computed."""
        if not posted:
            return sum(line.amount_minor for line in lines if line.kind in FLOOR_EARNING_KINDS)
        amounts = {line.key: (line.kind, line.amount_minor) for line in lines}
        amounts.update(posted)
        return sum(amount for kind, amount in amounts.values() if kind in FLOOR_EARNING_KINDS)

    def _topup(
        self,
        c: int,
        out: Outcome,
        jurisdiction: str,
        floor_days: list[tuple[DayFloor, int]],
        paid_seconds: int,
        earnings: int,
    ) -> tuple[int, int, str]:
        """Post the top-up ``max(0, floor * hours - earnings)``, rounded up.

        Returns (top-up, 0 if none; the amount due, floor * hours rounded up; the hours-weighted
        floor in minor units an hour, four places), for the close's ``WageCheck`` either way.
        """
        # The amount due, exactly: sum over days of (floor per hour, an exact fraction) * seconds / 3600.
        floor = floor_days[0][0]
        if len(floor_days) == 1:
            num, den = floor.ratio
            seconds = floor_days[0][1]
            due_num, due_den = num * seconds, den * SECONDS_PER_HOUR
        else:
            exact = sum((Fraction(*f.ratio) * s for f, s in floor_days), Fraction(0)) / SECONDS_PER_HOUR
            due_num, due_den = exact.numerator, exact.denominator
        due = -(-due_num // due_den)
        topup = due - earnings
        if len(floor_days) == 1:  # the common week: one floor, so its own figures say it all
            floor_hourly = floor.summary["hourly_minor"]
        else:
            floor_hourly = _fixed(due_num * SECONDS_PER_HOUR, due_den * paid_seconds, 4)
        if topup <= 0:
            return 0, due, floor_hourly
        cur, places = self.currency, self.places
        unit = _POWERS[places]
        if len(floor_days) == 1:
            floor_text = self._floor_text(floor)
        else:
            floor_text = f"{_fixed(due_num * SECONDS_PER_HOUR, due_den * paid_seconds * unit, places, up=True)} {cur}"
        # The floor rows and FX rates are the same for everyone in a jurisdiction: their JSON is
        # written once per run and only each contractor's figures are filled in around it.
        floors = ",".join(f'{{"seconds":{s},{self._floor_json(f)}}}' for f, s in floor_days)
        details = (
            f'{{"jurisdiction":{self._json_text(jurisdiction)},"paid_seconds":{paid_seconds},'
            f'"hours":"{_fixed(paid_seconds, SECONDS_PER_HOUR, 4)}","earnings_minor":{earnings},'
            f'"effective_hourly_minor":"{_fixed(earnings * SECONDS_PER_HOUR, paid_seconds, 4)}",'
            f'"floor_hourly_minor":"{floor_hourly}","required_exact_minor":"{_fixed(due_num, due_den, 4)}",'
            f'"required_minor":{due},"topup_minor":{topup},"currency":"{cur}","floors":[{floors}],'
            f'"fx":{self._fx_json(floor_days)}}}'
        )
        values = {
            "h": _hours(paid_seconds),
            "e": self.money(earnings),
            "eff": f"{_fixed(earnings * SECONDS_PER_HOUR, paid_seconds * unit, places)} {cur}",
            "which": floor.applied
            if len(floor_days) == 1
            else " and ".join(sorted({f.applied for f, _ in floor_days})),
            "f": floor_text,
            "j": jurisdiction,
            "d": self.money(due),
        }
        out.lines.append(Line(EntryKind.TOPUP, topup, f"{self.prefix}{c}:topup", self.memo["topup"] % values, details))
        return topup, due, floor_hourly

    def _overtime(self, c: int, out: Outcome, paid_seconds: int, regular: int) -> int:
        """Half the regular rate (straight-time earnings incl. any top-up, over hours) for each hour over 40."""
        over = paid_seconds - OVERTIME_AFTER_SECONDS
        premium = -(-regular * over // (2 * paid_seconds))
        if premium <= 0:
            return 0
        rate_text = _fixed(regular * SECONDS_PER_HOUR, paid_seconds * 10**self.places, self.places, up=True)
        details: dict[str, Any] = {
            "paid_seconds": paid_seconds,
            "seconds_over_40_hours": over,
            "regular_earnings_minor": regular,
            "regular_hourly_minor": _fixed(regular * SECONDS_PER_HOUR, paid_seconds, 4),
            "premium_factor": "0.5",
        }
        out.lines.append(
            Line(
                EntryKind.OVERTIME,
                premium,
                f"{self.prefix}{c}:overtime",
                self.memo["overtime"] % {"o": _hours(over), "r": f"{rate_text} {self.currency}"},
                _ENCODER.encode(details),
            )
        )
        return premium
