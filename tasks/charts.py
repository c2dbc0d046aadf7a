"""Charts as inline SVG, drawn on the server: no CDN, no JavaScript, readable by screen readers.

Each chart carries a <title> and a <desc> (named by ``aria-labelledby``), and each mark its
own <title>, so hovering or a screen reader gives the number; pages also print the same
numbers in a table. Colours pass WCAG AA on white and meaning never depends on colour alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

ACCENT = "#0b5cad"
MUTED = "#4a4a4a"
GRID = "#d9d9d9"
BAD = "#a4161a"
INTERVAL = "#9cc3ea"

_ids = itertools.count(1)


def _next_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def _n(value: float) -> str:
    return f"{value:.1f}"


def _nice_max(value: int) -> int:
    """The smallest of 1, 2 or 5 times a power of ten at or above ``value``, so the gridlines land on round numbers."""
    if value <= 4:
        return 4
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def _frame(chart_id: str, width: int, height: int, title: str, desc: str, body: Sequence[str], css: str) -> SafeString:
    return format_html(
        '<svg class="chart {css}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'aria-labelledby="{id}-t {id}-d" preserveAspectRatio="xMinYMin meet" '
        'font-family="system-ui, sans-serif" font-size="12">'
        '<title id="{id}-t">{title}</title><desc id="{id}-d">{desc}</desc>{body}</svg>',
        css=css,
        w=width,
        h=height,
        id=chart_id,
        title=title,
        desc=desc,
        body=mark_safe("".join(body)),  # noqa: S308 - every part was built with format_html
    )


# Each passes 3:1 against white (WCAG 1.4.11); past the ninth series the colours repeat.
SERIES_COLOURS = (ACCENT, "#b35806", "#1b7837", "#762a83", BAD, "#0e7c86", MUTED, "#c51b7d", "#7f6000")


def series_colour(index: int) -> str:
    return SERIES_COLOURS[index % len(SERIES_COLOURS)]


def y_grid(*, left: int, right: int, top: int, plot_h: int, labels: Sequence[str]) -> list[str]:
    """Horizontal gridlines from the baseline up, evenly spaced, each with its label on the left."""
    lines: list[str] = []
    steps = len(labels) - 1
    for i, text in enumerate(labels):
        y = top + plot_h - plot_h * i / steps
        lines.append(
            format_html(
                '<line x1="{x1}" x2="{x2}" y1="{y}" y2="{y}" stroke="{c}" stroke-width="1"/>'
                '<text x="{tx}" y="{ty}" text-anchor="end" fill="{m}">{v}</text>',
                x1=left,
                x2=right,
                y=_n(y),
                c=GRID,
                tx=left - 6,
                ty=_n(y + 4),
                m=MUTED,
                v=text,
            )
        )
    return lines


def x_label(*, centre: float, height: int, label: str) -> str:
    """A bar's label under the plot, centred on it."""
    return format_html(
        '<text x="{x}" y="{y}" text-anchor="middle" fill="{m}">{label}</text>',
        x=_n(centre),
        y=height - 8,
        m=MUTED,
        label=label,
    )


def bar_chart(
    *,
    bars: Sequence[tuple[str, int]],
    title: str,
    desc: str,
    unit: str = "",
    label_every: int = 3,
    width: int = 640,
    height: int = 220,
) -> SafeString:
    """Vertical bars, one per (label, value), with a labelled y axis on round numbers."""
    return stacked_bar_chart(
        bars=[(label, [value]) for label, value in bars],
        series=[""],
        title=title,
        desc=desc,
        unit=unit,
        label_every=label_every,
        width=width,
        height=height,
    )


def stacked_bar_chart(
    *,
    bars: Sequence[tuple[str, Sequence[int]]],
    series: Sequence[str],
    title: str,
    desc: str,
    unit: str = "",
    label_every: int = 2,
    width: int = 640,
    height: int = 220,
) -> SafeString:
    """One bar per (label, values), its values stacked from the bottom in the order of ``series``.

    With one unnamed series it is a plain bar chart; each segment's <title> names the series
    when there are several.
    """
    chart_id = _next_id("bar")
    left, right, top, bottom = 40, 8, 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((sum(values) for _label, values in bars), default=0))
    labels = [str(top_value * i // 4) for i in range(5)]
    body = y_grid(left=left, right=width - right, top=top, plot_h=plot_h, labels=labels)
    slot = plot_w / max(1, len(bars))
    bar_w = max(2.0, slot * 0.7)
    stacked = len(series) > 1
    for i, (label, values) in enumerate(bars):
        x = left + slot * i + (slot - bar_w) / 2
        base = float(top + plot_h)
        for index, (name, value) in enumerate(zip(series, values, strict=True)):
            if stacked and not value:
                continue
            h = plot_h * value / top_value
            base -= h
            # A white edge between segments keeps two neighbours apart even where their colours look alike.
            body.append(
                format_html(
                    '<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{c}"{edge}>'
                    "<title>{what}: {value} {unit}</title></rect>",
                    x=_n(x),
                    y=_n(base),
                    w=_n(bar_w),
                    h=_n(h),
                    c=series_colour(index),
                    edge=mark_safe(' stroke="#fff" stroke-width="1"') if stacked else "",
                    what=f"{label} · {name}" if stacked else label,
                    value=value,
                    unit=unit,
                )
            )
        if i % label_every == 0 or i == len(bars) - 1:
            body.append(x_label(centre=x + bar_w / 2, height=height, label=label))
    body.append(
        format_html(
            '<line x1="{l}" x2="{r}" y1="{y}" y2="{y}" stroke="{m}" stroke-width="1"/>',
            l=left,
            r=width - right,
            y=top + plot_h,
            m=MUTED,
        )
    )
    return _frame(chart_id, width, height, title, desc, body, "chart-bars chart-stacked" if stacked else "chart-bars")


@dataclass(frozen=True)
class IntervalMark:
    label: str
    lower: Decimal
    upper: Decimal
    estimate: Decimal | None


def percent(value: Decimal | None) -> str:
    """A 0-1 share as a percentage to one place, rounded down (so 0.6999 never reads as 70%)."""
    if value is None:
        return "—"
    shown = (Decimal(value) * 100).quantize(Decimal("0.1"), rounding=ROUND_FLOOR)
    return f"{shown.normalize():f}%" if shown == shown.to_integral() else f"{shown}%"


def interval_chart(
    *,
    marks: Sequence[IntervalMark],
    title: str,
    desc: str,
    minimum: Decimal | None = None,
    width: int = 640,
    row_height: int = 26,
) -> SafeString:
    """One horizontal line per person from lower to upper bound, a dot at the estimate, and a
    dashed line at the project's minimum: a line wholly left of it means a block."""
    chart_id = _next_id("interval")
    label_w, right, top, bottom = 180, 16, 22, 26
    plot_w = width - label_w - right
    height = top + bottom + row_height * max(1, len(marks))

    def x(value: Decimal) -> float:
        return label_w + plot_w * float(value)

    body: list[str] = []
    for tick in (0, 25, 50, 75, 100):
        tx = label_w + plot_w * tick / 100
        body.append(
            format_html(
                '<line x1="{x}" x2="{x}" y1="{t}" y2="{b}" stroke="{c}"/>'
                '<text x="{x}" y="{ty}" text-anchor="middle" fill="{m}">{tick}%</text>',
                x=_n(tx),
                t=top - 4,
                b=height - bottom,
                c=GRID,
                ty=height - 8,
                m=MUTED,
                tick=tick,
            )
        )
    for i, mark in enumerate(marks):
        cy = top + row_height * i + row_height / 2
        label = mark.label if len(mark.label) <= 26 else mark.label[:25] + "…"
        body.append(
            format_html(
                "<g><title>{full}: {est}, 95% interval {lo} to {hi}</title>"
                '<text x="{lx}" y="{ty}" text-anchor="end" fill="#1a1a1a">{label}</text>'
                '<line x1="{x1}" x2="{x2}" y1="{cy}" y2="{cy}" stroke="{ci}" stroke-width="8" '
                'stroke-linecap="round"/>',
                full=mark.label,
                est=percent(mark.estimate),
                lo=percent(mark.lower),
                hi=percent(mark.upper),
                lx=label_w - 8,
                ty=_n(cy + 4),
                label=label,
                x1=_n(x(mark.lower)),
                x2=_n(x(mark.upper)),
                cy=_n(cy),
                ci=INTERVAL,
            )
        )
        if mark.estimate is not None:
            body.append(
                format_html(
                    '<circle cx="{cx}" cy="{cy}" r="5" fill="{c}" stroke="#fff" stroke-width="1.5"/>',
                    cx=_n(x(mark.estimate)),
                    cy=_n(cy),
                    c=ACCENT,
                )
            )
        body.append(mark_safe("</g>"))
    if minimum is not None and minimum > 0:
        body.append(
            format_html(
                '<line x1="{x}" x2="{x}" y1="{t}" y2="{b}" stroke="{c}" stroke-width="2" '
                'stroke-dasharray="5 3"/><text x="{x}" y="{ty}" text-anchor="middle" fill="{c}">'
                "minimum {m}</text>",
                x=_n(x(minimum)),
                t=top - 6,
                b=height - bottom,
                c=BAD,
                ty=top - 10,
                m=percent(minimum),
            )
        )
    return _frame(chart_id, width, height, title, desc, body, "chart-intervals")


def interval_bar(
    *, lower: Decimal, upper: Decimal, estimate: Decimal | None, minimum: Decimal | None, label: str
) -> SafeString:
    """A small 0-100% bar for one estimate: the interval shaded, the estimate a dot, the minimum a tick."""
    chart_id = _next_id("qbar")
    width, height, pad = 320, 44, 10
    plot_w = width - 2 * pad

    def x(value: Decimal) -> float:
        return pad + plot_w * float(value)

    body = [
        format_html(
            '<rect x="{p}" y="10" width="{w}" height="12" rx="6" fill="#eeeeee" stroke="{g}"/>'
            '<rect x="{x1}" y="10" width="{iw}" height="12" rx="6" fill="{ci}"/>',
            p=pad,
            w=plot_w,
            g=GRID,
            x1=_n(x(lower)),
            iw=_n(max(2.0, x(upper) - x(lower))),
            ci=INTERVAL,
        )
    ]
    if estimate is not None:
        body.append(
            format_html(
                '<circle cx="{cx}" cy="16" r="6" fill="{c}" stroke="#fff" stroke-width="1.5"/>',
                cx=_n(x(estimate)),
                c=ACCENT,
            )
        )
    if minimum is not None and minimum > 0:
        body.append(
            format_html(
                '<line x1="{x}" x2="{x}" y1="5" y2="27" stroke="{c}" stroke-width="2" stroke-dasharray="3 2"/>',
                x=_n(x(minimum)),
                c=BAD,
            )
        )
    for tick in (0, 50, 100):
        body.append(
            format_html(
                '<text x="{x}" y="40" text-anchor="{a}" fill="{m}" font-size="11">{t}%</text>',
                x=_n(pad + plot_w * tick / 100),
                a="start" if tick == 0 else "end" if tick == 100 else "middle",
                m=MUTED,
                t=tick,
            )
        )
    desc = f"Estimate {percent(estimate)}, 95% interval {percent(lower)} to {percent(upper)}" + (
        f", project minimum {percent(minimum)}" if minimum else ""
    )
    return _frame(chart_id, width, height, label, desc, body, "chart-qbar")
