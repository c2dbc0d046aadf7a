"""The earnings page's chart: effective hourly pay per week against the wage floor (inline SVG)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.utils.html import format_html
from django.utils.safestring import SafeString

from tasks.charts import ACCENT, BAD, _frame, _n, _next_id, x_label, y_grid


def hourly_against_floor(
    *, weeks: Sequence[tuple[str, Decimal | None, Decimal | None]], unit: str, title: str, desc: str
) -> SafeString:
    """A bar per week (effective hourly after top-up) and a dashed mark at that week's floor."""
    chart_id = _next_id("hourly")
    width, height = 640, 220
    left, right, top, bottom = 56, 8, 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _label, a, f in weeks for v in (a, f) if v is not None]
    peak = max(values, default=Decimal(1)) * Decimal("1.15") or Decimal(1)
    labels = [f"{peak * i / 4:.2f}" for i in range(5)]
    body = y_grid(left=left, right=width - right, top=top, plot_h=plot_h, labels=labels)
    slot = plot_w / max(1, len(weeks))
    bar_w = max(2.0, slot * 0.6)
    for i, (label, actual, floor) in enumerate(weeks):
        x = left + slot * i + (slot - bar_w) / 2
        if actual is not None:
            h = float(plot_h * actual / peak)
            body.append(
                format_html(
                    '<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{c}"><title>{label}: {v} {u}</title></rect>',
                    x=_n(x),
                    y=_n(top + plot_h - h),
                    w=_n(bar_w),
                    h=_n(h),
                    c=ACCENT,
                    label=label,
                    v=f"{actual:.2f}",
                    u=unit,
                )
            )
        if floor is not None:
            y = top + plot_h - float(plot_h * floor / peak)
            body.append(
                format_html(
                    '<line x1="{x1}" x2="{x2}" y1="{y}" y2="{y}" stroke="{c}" stroke-width="3" stroke-dasharray="4 2">'
                    "<title>{label}: floor {v} {u}</title></line>",
                    x1=_n(x - 3),
                    x2=_n(x + bar_w + 3),
                    y=_n(y),
                    c=BAD,
                    label=label,
                    v=f"{floor:.2f}",
                    u=unit,
                )
            )
        body.append(x_label(centre=x + bar_w / 2, height=height, label=label))
    return _frame(chart_id, width, height, title, desc, body, "chart-bars")
