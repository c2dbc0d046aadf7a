"""“What the system decides about me”: every automated rule, its current thresholds, and the
human review a contractor has against it.

Read from the live settings and the projects the contractor can work on, so the page never
drifts from what the engine and the close actually do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from payments.models import QualityTier
from tasks.models import Project, ProjectStatus, QualificationTest
from workforce.models import User


@dataclass(frozen=True)
class AutomatedRule:
    """One rule: what it decides, the numbers it uses now, and how a person can contest it."""

    key: str
    name: str
    decides: str
    thresholds: list[str] = field(default_factory=list)
    review: str = ""


def _percent(value: Decimal) -> str:
    return f"{value * 100:.1f}%"


def _minutes(seconds: int) -> str:
    return _("%(m)d minutes") % {"m": seconds // 60}


def _projects() -> list[Project]:
    return list(Project.objects.filter(status=ProjectStatus.OPEN).order_by("name", "pk"))


def automated_rules(*, user: User) -> list[AutomatedRule]:
    """The rules that apply to ``user`` (a contractor), with today's thresholds."""
    projects = _projects()
    rules = [
        AutomatedRule(
            key="eligibility",
            name=_("Who may take tasks"),
            decides=_(
                "Each time you ask for a task: whether your account is active, whether you passed the "
                "qualification test for the project's skill, whether you read its current instructions, "
                "and whether your quality on it is above its minimum. A refusal tells you which and why."
            ),
            thresholds=[
                _("“%(p)s”: minimum quality %(q)s (compared with the upper end of your quality interval).")
                % {"p": p.name, "q": _percent(p.min_quality)}
                for p in projects
            ],
            review=_(
                "Being blocked for low quality is a decision about you: it appears under “Decisions”, and "
                "you can appeal it; a person answers. Pausing or offboarding is never automatic."
            ),
        ),
        AutomatedRule(
            key="qualification",
            name=_("Qualification tests"),
            decides=_(
                "Your answers on a test's gold tasks are scored against its pass mark. "
                "Test time is paid whether you pass or fail."
            ),
            thresholds=[
                _("“%(t)s”: pass mark %(m)s.") % {"t": t.title, "m": _percent(t.pass_mark)}
                for t in QualificationTest.objects.order_by("title", "pk")
            ]
            + [
                _("A retake can start %(h)d hours after your last attempt.")
                % {"h": settings.FAIRTASK_QUALIFICATION_COOLDOWN_HOURS}
            ],
            review=_("A failed attempt is a decision with your score and the pass mark; you can appeal it."),
        ),
        AutomatedRule(
            key="caps",
            name=_("Working-time limits"),
            decides=_(
                "New tasks stop when you reach a daily or weekly limit of paid time, and on sensitive "
                "projects when you reach the day's exposure budget or need a break. The refusal says "
                "when you can continue."
            ),
            thresholds=[
                _("At most %(h)d hours a day and %(w)d hours a week (your own time zone; weeks start on Monday).")
                % {"h": settings.FAIRTASK_DAILY_HOUR_CAP, "w": settings.FAIRTASK_WEEKLY_HOUR_CAP}
            ]
            + [
                _("“%(p)s” (sensitive): %(d)s a day; a %(b)s break after %(a)s without one.")
                % {
                    "p": p.name,
                    "d": _minutes(p.exposure_daily_seconds),
                    "b": _minutes(p.exposure_break_seconds),
                    "a": _minutes(p.exposure_break_after_seconds),
                }
                for p in projects
                if p.is_sensitive
            ],
            review=_(
                "These limits protect everyone alike and are not a judgement about you; "
                "they lift by themselves at the time shown."
            ),
        ),
        AutomatedRule(
            key="auto_approval",
            name=_("Review and automatic approval"),
            decides=_(
                "Work nobody has reviewed within %(d)d days is approved automatically. Only a person can "
                "reject work, with a reason code and a message to you; your time on rejected work is still paid."
            )
            % {"d": settings.FAIRTASK_AUTO_APPROVE_DAYS},
            thresholds=[_("Automatic approval after %(d)d days.") % {"d": settings.FAIRTASK_AUTO_APPROVE_DAYS}],
            review=_("A rejection is a decision you can appeal; a different person answers."),
        ),
        AutomatedRule(
            key="quality",
            name=_("Quality estimates and pay tiers"),
            decides=_(
                "Your quality on a project is estimated from gold tasks as an interval (95%%). A bonus uses the "
                "lower end of the interval, a penalty the upper end, so chance alone does not cost you. "
                "Quality never takes your pay for a week under the wage floor."
            ),
            thresholds=_tier_lines(projects),
            review=_("Your estimate and interval are on “My quality”. A quality block is a decision you can appeal."),
        ),
        AutomatedRule(
            key="floor",
            name=_("Wage-floor top-up"),
            decides=_(
                "At each weekly close your earnings are divided by all your paid hours (tasks, tests and "
                "instructions). If that is below the wage floor where you live, or the organisation's own "
                "floor if higher, a top-up brings it up; your statement shows the arithmetic."
            ),
            thresholds=[
                _("Pay is in %(c)s; floors are converted at the dated exchange rate.")
                % {"c": settings.FAIRTASK_PAY_CURRENCY}
            ],
            review=_("It only ever adds pay. If a number on your statement looks wrong, file an appeal."),
        ),
        AutomatedRule(
            key="leases",
            name=_("Task leases"),
            decides=_(
                "A task you take is held for you for the project's lease time; after that it goes back to "
                "the queue. The time you spent on it stays paid."
            ),
            thresholds=[_("“%(p)s”: %(m)s.") % {"p": p.name, "m": _minutes(p.lease_seconds)} for p in projects],
            review=_("Nothing to contest: an expired lease costs you no pay and no standing."),
        ),
    ]
    return rules


def _tier_lines(projects: list[Project]) -> list[str]:
    lines = []
    tiers = (
        QualityTier.objects.filter(project__in=projects)
        .select_related("project")
        .order_by("project__name", "kind", "threshold")
    )
    for tier in tiers:
        if tier.kind == "bonus":
            line = _("“%(p)s”: piece pay times %(m)s when the lower end of your interval is above %(t)s.")
        else:
            line = _("“%(p)s”: piece pay times %(m)s only when the upper end of your interval is below %(t)s.")
        lines.append(line % {"p": tier.project.name, "m": tier.multiplier, "t": _percent(tier.threshold)})
    return lines
