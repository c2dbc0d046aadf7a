"""The operations dashboard and the contractor's quality page, driven over HTTP."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tasks.models import QualityEstimate
from tasks.selectors import project_throughput
from tasks.services.quality import quality_recompute
from tests.tasks.answers import answer, span
from tests.tasks.factories import project, tasks, worker

pytestmark = pytest.mark.django_db


def _scenario(ops):
    """10 ordinary tasks wanting 2 answers each (20) and 2 gold tasks; 3 contractors.

    In the last hour: 4 ordinary answers and 1 gold answer. Three hours ago: 3 ordinary
    answers. Thirty hours ago (outside every window): 1 ordinary answer.
    """
    now = timezone.now()
    p = project(overlap=2, min_quality=Decimal("0.700"))
    ordinary = tasks(p, 10)
    gold = tasks(p, 2, gold=True)
    ann, bob, cem = worker(ops=ops), worker(ops=ops), worker(ops=ops)
    recent = [answer(ann, ordinary[i], "cat", at=now - timedelta(minutes=10 + i)) for i in range(3)]
    recent.append(answer(bob, ordinary[0], "dog", at=now - timedelta(minutes=20)))
    answer(bob, gold[0], "cat", at=now - timedelta(minutes=30))
    for i in range(3, 6):
        answer(cem, ordinary[i], "bird", at=now - timedelta(hours=3))
    answer(cem, ordinary[9], "cat", at=now - timedelta(hours=30))
    span(ann, recent[0], seconds=5400, last_beat_at=now - timedelta(minutes=5))
    span(bob, recent[3], seconds=600, last_beat_at=now - timedelta(minutes=14))
    span(cem, recent[0], seconds=900, last_beat_at=now - timedelta(minutes=40))
    return p, (ann, bob, cem), now


def _row(html: str, worker_id: int) -> str:
    found = re.search(rf'<tr id="worker-{worker_id}">(.*?)</tr>', html, re.S)
    assert found is not None
    return found.group(1)


def test_the_dashboard_numbers_match_a_constructed_scenario(ops, login):
    p, _people, _now = _scenario(ops)
    response = login(ops).get(reverse("tasks:project-dashboard", args=[p.pk]))
    assert response.status_code == 200
    t = response.context["throughput"]
    assert t.answers_last_hour == 5  # every answer in the last 60 minutes, gold included
    assert (t.progress.wanted, t.progress.submitted, t.progress.remaining) == (20, 8, 12)
    assert t.progress.percent == Decimal("40.0")
    assert t.eta == timedelta(hours=3)  # 12 answers left at 4 ordinary answers an hour
    assert t.active_contractors == 2  # Ann and Bob beat in the last 15 minutes; Cem 40 minutes ago
    assert sum(h.count for h in t.series) == 8  # the answer from 30 hours ago is outside the chart
    html = response.content.decode()
    assert re.search(r'id="stat-rate"><strong>5</strong>', html)
    assert re.search(r'id="stat-completion"><strong>40.0%</strong>', html)
    assert re.search(r'id="stat-eta"><strong>about 3 h 00 min</strong>', html)
    assert re.search(r'id="stat-active"><strong>2</strong>', html)


def test_the_hourly_series_puts_each_answer_in_its_clock_hour(ops):
    p = project()
    items = tasks(p, 3)
    w = worker(ops=ops)
    now = timezone.now().replace(minute=30, second=0, microsecond=0)
    answer(w, items[0], "cat", at=now - timedelta(minutes=5))
    answer(w, items[1], "cat", at=now - timedelta(minutes=10))
    answer(w, items[2], "cat", at=now - timedelta(hours=2))
    series = project_throughput(project=p, now=now).series
    assert len(series) == 24
    assert series[-1].start == now.replace(minute=0)
    assert [h.count for h in series[-3:]] == [1, 0, 2]


def test_the_eta_says_no_recent_work_when_nobody_answered_in_the_last_hour(ops, login):
    p = project()
    items = tasks(p, 2)
    answer(worker(ops=ops), items[0], "cat", at=timezone.now() - timedelta(hours=2))
    response = login(ops).get(reverse("tasks:project-dashboard", args=[p.pk]))
    assert response.context["throughput"].eta is None
    assert re.search(r'id="stat-eta"><strong>no recent work</strong>', response.content.decode())


def test_each_contractor_row_shows_tasks_active_time_and_quality(ops, login):
    p, (ann, bob, cem), _now = _scenario(ops)
    QualityEstimate.objects.create(
        worker=bob, project=p, gold_correct=8, gold_total=10, accuracy="0.8", lower="0.4902", upper="0.9434"
    )
    response = login(ops).get(reverse("tasks:project-dashboard", args=[p.pk]))
    rows = {r.worker_id: r for r in response.context["table"].rows}
    assert [r.worker_id for r in response.context["table"].rows] == [cem.pk, ann.pk, bob.pk]  # most answers first
    assert (rows[ann.pk].answers, rows[ann.pk].active_seconds) == (3, 5400)
    assert (rows[bob.pk].answers, rows[bob.pk].active_seconds) == (2, 600)
    assert (rows[cem.pk].answers, rows[cem.pk].active_seconds) == (4, 900)
    html = response.content.decode()
    bob_row = _row(html, bob.pk)
    assert "80%" in bob_row and "49% \u2013 94.3%" in bob_row and "ok" in bob_row
    ann_row = _row(html, ann.pk)
    assert "1 h 30 min" in ann_row and "no gold answers yet" in ann_row


def test_the_charts_are_inline_svg_with_text_alternatives_and_nothing_from_a_cdn(ops, login):
    p, _people, _now = _scenario(ops)
    quality_recompute(project=p)
    html = login(ops).get(reverse("tasks:project-dashboard", args=[p.pk])).content.decode()
    assert html.count("<svg") == 2
    for chart in re.findall(r"<svg.*?</svg>", html, re.S):
        labelled = re.search(r'aria-labelledby="(\S+) (\S+)"', chart)
        assert labelled and 'role="img"' in chart
        assert f'<title id="{labelled.group(1)}">' in chart and f'<desc id="{labelled.group(2)}">' in chart
    assert "Answers per hour, last 24 hours" in html and "<caption>Answers per hour, last 24 hours</caption>" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html


def test_a_contractor_cannot_open_the_dashboard_and_an_auditor_can(ops, auditor, login):
    p = project()
    contractor = worker(ops=ops)
    url = reverse("tasks:project-dashboard", args=[p.pk])
    assert login(contractor).get(url).status_code == 403
    assert login(contractor).get(reverse("tasks:project-list")).status_code == 403
    assert login(auditor).get(url).status_code == 200
    assert login(auditor).post(url).status_code == 403
    assert login(ops).get(reverse("tasks:project-dashboard", args=[p.pk + 999])).status_code == 404


def test_the_project_list_shows_completion_and_links_each_dashboard(ops, auditor, login):
    p, _people, _now = _scenario(ops)
    response = login(auditor).get(reverse("tasks:project-list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("tasks:project-dashboard", args=[p.pk]) in html
    assert "40.0%" in html


def test_the_dashboard_takes_the_same_number_of_queries_for_one_contractor_or_many(ops, login):
    p = project(overlap=5)
    items = tasks(p, 5)
    gold = tasks(p, 1, gold=True)
    client = login(ops)
    url = reverse("tasks:project-dashboard", args=[p.pk])

    def work(n: int) -> None:
        for _ in range(n):
            w = worker(ops=ops)
            span(w, answer(w, items[0], "cat"), seconds=60)
            answer(w, gold[0], "cat")
        quality_recompute(project=p)

    work(1)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    work(4)
    with CaptureQueriesContext(connection) as five:
        client.get(url)
    assert len(five.captured_queries) == len(one.captured_queries)


# The contractor's quality page ------------------------------------------------------------


def test_a_contractor_sees_their_interval_and_how_it_is_used(ops, login):
    p = project(name="Street signs", min_quality=Decimal("0.700"))
    gold = tasks(p, 10, gold=True)
    w = worker(ops=ops)
    for i, t in enumerate(gold):
        answer(w, t, "cat" if i < 8 else "dog")
    quality_recompute(project=p)
    response = login(w).get(reverse("tasks:my-quality"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "You answered 8 of 10 gold tasks correctly (80%)" in html
    assert "between <strong>49%</strong> and <strong>94.3%</strong>" in html
    assert "use the lower bound of the interval" in html
    assert "You would only be blocked if even the upper bound (94.3%) fell below its minimum (70%)." in html
    assert "You can appeal any decision about you" in html
    assert 'role="img"' in html  # the small interval bar


def test_a_contractor_below_the_minimum_reads_why_and_that_they_can_appeal(ops, login):
    p = project(min_quality=Decimal("0.700"))
    gold = tasks(p, 20, gold=True)
    w = worker(ops=ops)
    for i, t in enumerate(gold):
        answer(w, t, "cat" if i < 3 else "dog")
    quality_recompute(project=p)
    html = login(w).get(reverse("tasks:my-quality")).content.decode()
    assert "Even the upper bound (36%) is below this project's minimum (70%)." in html
    assert "you can appeal" in html


def test_a_contractor_sees_only_their_own_estimates(ops, login):
    p = project()
    gold = tasks(p, 2, gold=True)
    me, other = worker(ops=ops), worker(ops=ops)
    answer(me, gold[0], "cat")
    answer(other, gold[0], "dog")
    quality_recompute(project=p)
    rows = login(me).get(reverse("tasks:my-quality")).context["rows"]
    assert [r.estimate.worker_id for r in rows] == [me.pk]


def test_staff_are_sent_away_from_the_contractor_quality_page(ops, auditor, login):
    assert login(ops).get(reverse("tasks:my-quality")).status_code == 403
    assert login(auditor).get(reverse("tasks:my-quality")).status_code == 403
