"""Template helpers for quality and throughput pages: percentages, ETAs and the small interval bar."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import template
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from tasks import charts
from tasks.selectors import QualityRow

register = template.Library()


@register.filter
def percent(value: Decimal | None) -> str:
    """0.9434 → “94.3%”, rounded down; None → “—”."""
    return charts.percent(value)


@register.filter
def eta(value: timedelta | None) -> str:
    """A remaining time as people say it: “about 3 h 20 min”, “about 2 days 4 h”."""
    if value is None:
        return _("no recent work")
    minutes = int(value.total_seconds() // 60)
    if minutes < 1:
        return _("less than a minute")
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("about %(d)d days %(h)d h") % {"d": days, "h": hours}
    if hours:
        return _("about %(h)d h %(m)02d min") % {"h": hours, "m": mins}
    return _("about %(m)d min") % {"m": mins}


@register.simple_tag
def quality_bar(row: QualityRow) -> SafeString:
    e = row.estimate
    return charts.interval_bar(
        lower=e.lower,
        upper=e.upper,
        estimate=e.accuracy,
        minimum=row.project.min_quality,
        label=_("Your quality on %(p)s") % {"p": row.project.name},
    )
