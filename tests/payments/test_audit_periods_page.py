"""The auditor's periods pages: decisions per week by outcome, charts that fit a phone, and the week's report form."""

from __future__ import annotations

import datetime
import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from payments.audits.selectors import decision_outcomes
from payments.models import PayPeriod, PeriodStatus
from tests.payments.factories import PayPeriodFactory
from tests.payments.work import NEXT_WEEK, WEEK, at
from tests.workforce.factories import UserFactory, staff_user
from workforce.models import Decision, DecisionKind, Role, User

pytestmark = pytest.mark.django_db


def closed(start: datetime.date) -> PayPeriod:
    return PayPeriodFactory.create(
        start=start, status=PeriodStatus.CLOSED, closed_at=at(start + datetime.timedelta(days=8), 3)
    )


def decide(subject: User, kind: str, outcome: str, when: datetime.datetime, *, by: User | None = None) -> Decision:
    return Decision.objects.create(
        subject=subject,
        kind=kind,
        outcome=outcome,
        reason="Because the test says so.",
        is_automated=by is None,
        decided_by=by,
        decided_at=when,
    )


def auditor_client() -> Client:
    client = Client()
    client.force_login(staff_user(Role.AUDITOR))
    return client


@pytest.fixture
def two_weeks_of_decisions() -> tuple[PayPeriod, PayPeriod]:
    """Two closed weeks with decisions in each, and some just outside them."""
    first, second = closed(WEEK), closed(NEXT_WEEK)
    ops, person = staff_user(Role.OPERATIONS), UserFactory.create()
    tuesday = WEEK + datetime.timedelta(days=1)
    decide(person, DecisionKind.REVIEW, "rejected", at(tuesday, 9), by=ops)
    decide(person, DecisionKind.REVIEW, "rejected", at(WEEK + datetime.timedelta(days=6), 23, 59), by=ops)
    decide(person, DecisionKind.QUALIFICATION, "passed", at(tuesday, 10))
    decide(person, DecisionKind.QUALIFICATION, "failed", at(NEXT_WEEK, 0))  # the second week's first minute
    decide(person, DecisionKind.APPEAL, "overturned", at(NEXT_WEEK + datetime.timedelta(days=2), 15), by=ops)
    decide(person, DecisionKind.FRAUD, "time_excluded", at(WEEK - datetime.timedelta(days=1), 12), by=ops)  # before
    decide(person, DecisionKind.PAUSE, "paused", at(NEXT_WEEK + datetime.timedelta(days=7), 9), by=ops)  # open week
    return first, second


def test_decisions_are_counted_per_closed_week_by_kind_and_outcome(two_weeks_of_decisions):
    first, second = two_weeks_of_decisions
    assert decision_outcomes(periods=[second, first]) == [
        (first, {("qualification", "passed"): 1, ("review", "rejected"): 2}),
        (second, {("appeal", "overturned"): 1, ("qualification", "failed"): 1}),
    ]


def test_the_periods_page_charts_decisions_per_week_with_a_legend_and_the_numbers(two_weeks_of_decisions):
    first, second = two_weeks_of_decisions
    page = auditor_client().get(reverse("payments:audit-period-list")).content.decode()

    figure = re.search(r'<figure class="chart-box"[^>]*id="decisions-chart">(.*?)</figure>', page, re.S)
    assert figure, "the decisions chart is drawn in its own scrolling box"
    chart = figure.group(1)
    assert "<title" in chart and "Decisions per week by outcome</title>" in chart
    # One segment per week and outcome, each naming its count (hover and screen readers).
    segments = re.findall(r"<rect [^>]*><title>([^<]+)</title></rect>", chart)
    assert segments == [
        "11-09 · Qualification result: passed: 1 decisions",
        "11-09 · Review of submitted work: rejected: 2 decisions",
        "11-16 · Appeal outcome: overturned: 1 decisions",
        "11-16 · Qualification result: failed: 1 decisions",
    ]
    for label in (
        "Appeal outcome: overturned",
        "Qualification result: failed",
        "Qualification result: passed",
        "Review of submitted work: rejected",
    ):
        assert f"</svg> {label}</span>" in chart  # the legend, in words next to each colour
    assert "Fraud finding" not in page.split('id="decisions-chart"')[1].split('id="decisions"')[0]
    # The text alternative: every number of the chart in a table.
    table = re.search(r'<table class="compact" id="decisions-weekly">(.*?)</table>', page, re.S)
    assert table
    rows = [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", table.group(1))
    ]
    assert [r for r in rows if r] == [
        [str(first), "Qualification result: passed", "1"],
        [str(first), "Review of submitted work: rejected", "2"],
        [str(second), "Appeal outcome: overturned", "1"],
        [str(second), "Qualification result: failed", "1"],
    ]
    assert "5 decisions in these weeks" in table.group(1)


class ChartBoxes(HTMLParser):
    """For each chart SVG on a page, whether it sits inside a ``<figure class="chart-box">``."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[bool] = []
        self.charts: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "figure":
            self.figures.append("chart-box" in classes)
        elif tag == "svg" and "chart" in classes:
            self.charts.append((" ".join(classes), any(self.figures)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self.figures.pop()


def test_every_chart_on_the_periods_page_scrolls_in_its_own_box_so_the_page_fits_a_phone(two_weeks_of_decisions):
    page = auditor_client().get(reverse("payments:audit-period-list")).content.decode()
    parser = ChartBoxes()
    parser.feed(page)
    # topups, late payouts, rejections, decisions, appeals (no paid hours yet: no hourly chart)
    assert len(parser.charts) == 5
    assert all(boxed for _classes, boxed in parser.charts), parser.charts
    assert "tasks/dashboard.css" in page  # .chart-box scrolls sideways; .chart-bars keeps labels readable


def test_the_period_page_links_to_the_report_form_with_the_week_already_chosen():
    period = closed(WEEK)
    closed(NEXT_WEEK)
    client = auditor_client()
    page = client.get(reverse("payments:audit-period-detail", args=[period.pk])).content.decode()
    link = f"{reverse('payments:report-list')}?period={period.pk}"
    assert f'href="{link}"' in page

    form = client.get(link).content.decode()

    selected = re.findall(r'<option value="(\d+)"[^>]*\bselected\b', form)
    assert selected == [str(period.pk)]


@pytest.mark.parametrize("value", ["", "abc", "-1", "999999"])
def test_a_report_form_link_without_a_closed_week_chooses_nothing(value):
    closed(WEEK)
    response = auditor_client().get(f"{reverse('payments:report-list')}?period={value}")
    assert response.status_code == 200
    assert not re.findall(r'<option value="\d+"[^>]*\bselected\b', response.content.decode())
