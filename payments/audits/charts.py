"""The auditor periods page's chart of decisions per week, stacked by kind and outcome (inline SVG).

Drawn by ``tasks.charts.stacked_bar_chart``, like every bar chart. Each segment names its
week, kind, outcome and count in its own <title>; the page prints a legend in words and the
same numbers in a table, so nothing depends on telling the colours apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from payments.models import PayPeriod
from tasks.charts import series_colour, stacked_bar_chart
from workforce.models import DecisionKind


def outcome_label(kind: str, outcome: str) -> str:
    """The kind as the Decision model names it, then the outcome: "Review of submitted work: rejected"."""
    name = DecisionKind(kind).label if kind in DecisionKind.values else kind
    return f"{name}: {outcome.replace('_', ' ')}"


@dataclass(frozen=True)
class DecisionsChart:
    svg: SafeString
    legend: list[tuple[str, str]]  # (series label, colour), in stacking order
    rows: list[tuple[PayPeriod, str, int]]  # (week, series label, count): the chart's numbers, none left out
    total: int


def decisions_chart(outcomes: Sequence[tuple[PayPeriod, dict[tuple[str, str], int]]]) -> DecisionsChart:
    """Decisions made in each week (oldest first), stacked by (kind, outcome) in a fixed order."""
    keys = sorted({key for _period, counts in outcomes for key in counts})
    labels = [outcome_label(kind, outcome) for kind, outcome in keys]
    svg = stacked_bar_chart(
        bars=[(f"{period.start:%m-%d}", [counts.get(key, 0) for key in keys]) for period, counts in outcomes],
        series=labels,
        title=_("Decisions per week by outcome"),
        desc=_("Decisions about people made in each week, stacked by kind and outcome; the table gives the counts."),
        unit=_("decisions"),
    )
    rows = [
        (period, label, counts[key])
        for period, counts in outcomes
        for key, label in zip(keys, labels, strict=True)
        if counts.get(key)
    ]
    return DecisionsChart(
        svg=svg,
        legend=[(label, series_colour(i)) for i, label in enumerate(labels)],
        rows=rows,
        total=sum(count for _period, _label, count in rows),
    )
