"""Pay rates and quality tiers: what each kind of paid time and work earns (rules 1 and 3).

Every rate the close uses is decided here, in one place:

- **Piece rate**: each approved answer earns its project's ``piece_rate_minor``.
- **Task time**: active seconds on a project's tasks earn its ``hourly_rate_minor``.
- **Instruction reading**: the project's own hourly rate (the instructions belong to it); a
  piece-rate-only project (hourly rate 0) pays its reading time at the contractor's floor.
- **Qualification attempts**: a test belongs to a skill, not a project, so it pays the highest
  hourly rate among the open projects that require the skill, because that is the work the
  test opens; where no open project has an hourly rate, the contractor's floor (the higher of
  the statutory and the policy floor).
- **Quality tiers**: see ``tier_for``.

All amounts are in the organisation's one pay currency, ``FAIRTASK_PAY_CURRENCY``; a rate in
any other currency is refused when it is set. Amounts round up to the minor unit, in the
contractor's favour.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, localcontext

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from payments.models import QualityTier, TierKind
from payments.money import CONTRACTOR_ROUNDING, currency_check, exponent, to_minor_units
from tasks.models import Project, ProjectStatus
from workforce.audit import audit_record
from workforce.models import User

SECONDS_PER_HOUR = 3600
# Enough digits that a rate times seconds over 3600 is exact before the one rounding step.
_PRECISION = 80
# The largest rate a PositiveIntegerField holds; a larger one is refused with a message, not a crash.
_MAX_RATE_MINOR = 2_147_483_647


def pay_currency() -> str:
    """The one currency every project pays in and every floor is converted to."""
    return currency_check(settings.FAIRTASK_PAY_CURRENCY)


# Setting a project's pay -----------------------------------------------------------------------


def _rate(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({field: _("Give the rate as a whole number of minor units, e.g. 1500 for 15.00.")})
    if value < 0:
        raise ValidationError({field: _("A rate cannot be negative.")})
    if value > _MAX_RATE_MINOR:
        raise ValidationError({field: _("This rate is too large; check the number of digits.")})
    return value


@transaction.atomic
def project_pay_set(
    *, project: Project, actor: User, currency: str, piece_rate_minor: int, hourly_rate_minor: int
) -> Project:
    """Set a project's pay: its currency must be the pay currency, both rates whole minor units ≥ 0.

    Any problem raises ``ValidationError`` naming the field and changes nothing; a change is
    audited with the old and new values.
    """
    if not actor.is_operations:
        raise PermissionDenied(_("Only an operations manager can set pay."))
    errors: dict[str, str] = {}
    wanted = pay_currency()
    try:
        code = currency_check(currency)
    except (TypeError, ValueError) as exc:
        errors["currency"] = str(exc)
    else:
        if code != wanted:
            errors["currency"] = _(
                "Pay is in %(pay)s for the whole organisation, so a project cannot pay in %(code)s; "
                "give its rates in %(pay)s."
            ) % {"pay": wanted, "code": code}
    rates: dict[str, int] = {}
    for field, value in (("piece_rate_minor", piece_rate_minor), ("hourly_rate_minor", hourly_rate_minor)):
        try:
            rates[field] = _rate(field, value)
        except ValidationError as exc:
            errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    locked = Project.objects.select_for_update().get(pk=project.pk)
    before = {
        "currency": locked.currency,
        "piece_rate_minor": locked.piece_rate_minor,
        "hourly_rate_minor": locked.hourly_rate_minor,
    }
    locked.currency = wanted
    locked.piece_rate_minor = rates["piece_rate_minor"]
    locked.hourly_rate_minor = rates["hourly_rate_minor"]
    after = {
        "currency": locked.currency,
        "piece_rate_minor": locked.piece_rate_minor,
        "hourly_rate_minor": locked.hourly_rate_minor,
    }
    if after != before:
        locked.save(update_fields=["currency", "piece_rate_minor", "hourly_rate_minor"])
        audit_record(actor=actor, action="project.pay_set", obj=locked, summary={"before": before, "after": after})
    return locked


# Amounts ---------------------------------------------------------------------------------------


def time_minor(rate_minor: Decimal | int, seconds: int, currency: str) -> int:
    """Pay for ``seconds`` at ``rate_minor`` minor units an hour, rounded up to a whole minor unit.

    The product is exact (80 digits) and rounds once, in ``to_minor_units``; a rate given in
    minor units (a converted floor may have a fraction) is scaled back to major units first.
    """
    if seconds <= 0 or rate_minor <= 0:
        return 0
    if isinstance(rate_minor, int):
        # Whole minor units an hour: integer ceiling division is exact and fast.
        return -(-rate_minor * seconds // SECONDS_PER_HOUR)
    with localcontext(prec=_PRECISION):
        major = (rate_minor * seconds / SECONDS_PER_HOUR).scaleb(-exponent(currency))
    return to_minor_units(major, currency)


def per_hour_minor(rate_major: Decimal, currency: str) -> Decimal:
    """A rate in major units an hour (a floor, 12.71) as minor units an hour, exactly (1271)."""
    with localcontext(prec=_PRECISION):
        return rate_major.scaleb(exponent(currency))


# Rates for qualification and instruction time -------------------------------------------------


@dataclass(frozen=True)
class TimeRate:
    """An hourly rate in minor units of the pay currency, or ``None`` for "the contractor's floor"."""

    rate_minor: int | None
    source: str  # "project" (the project's own), "open-project" (the best open one), "floor"
    project_id: int | None = None

    @property
    def is_floor(self) -> bool:
        return self.rate_minor is None


FLOOR_RATE = TimeRate(None, "floor")


def instruction_rate(project: Project) -> TimeRate:
    """Reading a project's instructions pays the project's hourly rate; a piece-only project, the floor."""
    if project.hourly_rate_minor > 0:
        return TimeRate(project.hourly_rate_minor, "project", project.pk)
    return FLOOR_RATE


def qualification_rates(projects: Iterable[Project]) -> dict[int, TimeRate]:
    """Per skill id: the highest hourly rate among open projects requiring it (ties: lowest project id).

    A skill missing from the result pays qualification time at the contractor's floor. Only
    projects in the pay currency count; any other one cannot be compared (and is an exception
    of the close for whoever worked on it).
    """
    currency = pay_currency()
    best: dict[int, TimeRate] = {}
    for project in sorted(projects, key=lambda p: p.pk):
        if project.status != ProjectStatus.OPEN or project.hourly_rate_minor <= 0 or project.currency != currency:
            continue
        current = best.get(project.required_skill_id)
        if current is None or project.hourly_rate_minor > (current.rate_minor or 0):
            best[project.required_skill_id] = TimeRate(project.hourly_rate_minor, "open-project", project.pk)
    return best


def qualification_rate(skill_id: int, rates: dict[int, TimeRate]) -> TimeRate:
    return rates.get(skill_id, FLOOR_RATE)


# Quality tiers ---------------------------------------------------------------------------------


def tier_for(tiers: Iterable[QualityTier], *, lower: Decimal, upper: Decimal) -> QualityTier | None:
    """The tier a quality interval earns on a project, or ``None`` (rule 3).

    A bonus tier applies when the interval's LOWER bound is above its threshold: the
    contractor is good even in the least flattering reading of the evidence; of several, the
    highest threshold passed wins. A penalty tier applies only when the UPPER bound is below
    its threshold: even the most generous reading falls short; of several, the lowest
    threshold missed (the harshest finding the evidence supports) wins. An interval with no
    evidence ([0, 1]) earns neither. If a misconfiguration lets both apply, the bonus wins:
    doubt goes to the contractor.
    """
    bonus: QualityTier | None = None
    penalty: QualityTier | None = None
    for tier in tiers:
        if tier.kind == TierKind.BONUS and lower > tier.threshold:
            if bonus is None or tier.threshold > bonus.threshold:
                bonus = tier
        elif (
            tier.kind == TierKind.PENALTY
            and upper < tier.threshold
            and (penalty is None or tier.threshold < penalty.threshold)
        ):
            penalty = tier
    return bonus or penalty


def tier_amount_minor(tier: QualityTier, piece_minor: int) -> int:
    """The signed bonus (positive) or penalty (negative) on ``piece_minor`` of piece earnings, rounded towards +∞.

    So a bonus rounds up and a penalty rounds towards zero: the odd fraction stays with the
    contractor either way.
    """
    with localcontext(prec=_PRECISION):
        exact = Decimal(piece_minor) * (tier.multiplier - 1)
    return int(exact.to_integral_value(rounding=CONTRACTOR_ROUNDING))
