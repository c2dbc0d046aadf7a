"""Quality: Wilson intervals on gold, Dawid-Skene consensus, the recompute job and the engine's use of it."""

from __future__ import annotations

import math
import sys
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tasks.jobs import quality_recompute_job
from tasks.models import GoldAnswer, QualityEstimate, TaskTemplate
from tasks.services.quality import consensus_for, gold_scores, quality_recompute, wilson_interval
from tasks.services.work import WorkRefused, next_task
from tests.tasks.answers import answer
from tests.tasks.factories import project, tasks, worker
from workforce.models import AuditEvent

pytestmark = pytest.mark.django_db


def _float_wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = k / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - margin) / (1 + z * z / n), (centre + margin) / (1 + z * z / n)


# Wilson interval ------------------------------------------------------------------------


def test_eight_of_ten_gives_the_textbook_wilson_interval_rounded_up_at_four_places():
    low, high = wilson_interval(8, 10)
    # Exactly 0.490158… and 0.943318…; both bounds round up, the contractor's side.
    assert (low, high) == (Decimal("0.4902"), Decimal("0.9434"))
    exact_low, exact_high = _float_wilson(8, 10)
    assert abs(float(low) - exact_low) < 1e-4 and abs(float(high) - exact_high) < 1e-4


def test_the_interval_matches_the_formula_for_many_counts():
    for n in (1, 3, 7, 20, 100, 1000):
        for k in {0, 1, n // 2, n - 1, n}:
            low, high = wilson_interval(k, n)
            exact_low, exact_high = _float_wilson(k, n)
            assert -1e-12 <= float(low) - max(0.0, exact_low) < 1e-4 + 1e-12
            assert -1e-12 <= float(high) - min(1.0, exact_high) < 1e-4 + 1e-12
            assert low <= high


def test_no_answers_means_no_evidence_and_the_whole_range():
    assert wilson_interval(0, 0) == (Decimal(0), Decimal(1))


def test_all_right_reaches_one_and_all_wrong_starts_at_zero():
    assert wilson_interval(10, 10) == (Decimal("0.7225"), Decimal(1))
    assert wilson_interval(0, 10) == (Decimal(0), Decimal("0.2776"))


def test_impossible_counts_are_refused():
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    with pytest.raises(ValueError):
        wilson_interval(-1, 2)


# Gold accuracy ----------------------------------------------------------------------------


def test_gold_accuracy_counts_gold_answers_that_equal_the_gold_answer(ops):
    p = project()
    gold = tasks(p, 3, gold=True)  # the gold answer is "cat"
    ordinary = tasks(p, 2)
    w = worker(ops=ops)
    answer(w, gold[0], "cat")
    answer(w, gold[1], "cat")
    answer(w, gold[2], "dog")
    answer(w, ordinary[0], "dog")
    answer(w, ordinary[1], "cat")
    score = gold_scores(project=p)[(w.pk, p.pk)]
    assert (score.correct, score.total) == (2, 3)


def test_a_multi_label_gold_answer_is_correct_only_with_exactly_the_same_labels(ops):
    p = project(template=TaskTemplate.MULTI_LABEL, answer_schema={"choices": ["red", "green", "blue"]})
    gold = tasks(p, 2)
    for t in gold:
        t.is_gold = True
        t.save(update_fields=["is_gold"])
        GoldAnswer.objects.create(task=t, answer=["red", "blue"])
    w = worker(ops=ops)
    answer(w, gold[0], ["red", "blue"])
    answer(w, gold[1], ["red"])
    score = gold_scores(project=p)[(w.pk, p.pk)]
    assert (score.correct, score.total) == (1, 2)


# Consensus --------------------------------------------------------------------------------


def _crowd(ops, p, truths: list[str], *, good: int, noisy: int):
    items = tasks(p, len(truths))
    wrong = {"cat": "dog", "dog": "bird", "bird": "cat"}
    good_workers = [worker(ops=ops) for _ in range(good)]
    noisy_workers = [worker(ops=ops) for _ in range(noisy)]
    for task, truth in zip(items, truths, strict=True):
        for w in good_workers:
            answer(w, task, truth)
        for w in noisy_workers:
            answer(w, task, wrong[truth])
    return items, good_workers, noisy_workers


def test_dawid_skene_recovers_the_truth_when_three_good_workers_outvote_a_noisy_one(ops):
    p = project(overlap=4)
    truths = ["cat", "dog", "bird", "cat", "dog", "cat"]
    items, good, noisy = _crowd(ops, p, truths, good=3, noisy=1)
    consensus = consensus_for(p)
    assert {task_id: label for task_id, (label, _c) in consensus.items()} == {
        t.pk: truth for t, truth in zip(items, truths, strict=True)
    }
    for _label, confidence in consensus.values():
        assert Decimal(0) < confidence <= Decimal(1)
    quality_recompute(project=p)
    assert {e.worker_id: e.consensus_accuracy for e in QualityEstimate.objects.filter(project=p)} == {
        **{w.pk: Decimal("1.0000") for w in good},
        noisy[0].pk: Decimal("0.0000"),
    }


def test_the_consensus_never_loads_a_language_model(ops):
    p = project(overlap=3)
    _crowd(ops, p, ["cat", "dog"], good=3, noisy=0)
    assert consensus_for(p)
    assert "transformers" not in sys.modules
    assert "torch" not in sys.modules


def test_there_is_no_consensus_below_overlap_three_or_for_free_text(ops):
    pair = project(overlap=2)
    _crowd(ops, pair, ["cat"], good=2, noisy=0)
    assert consensus_for(pair) == {}
    text = project(overlap=3, template=TaskTemplate.FREE_TEXT, answer_schema={})
    t = tasks(text, 1)[0]
    for _ in range(3):
        answer(worker(ops=ops), t, "a cat")
    assert consensus_for(text) == {}
    quality_recompute(project=text)
    assert [e.consensus_accuracy for e in QualityEstimate.objects.filter(project=text)] == [None, None, None]


def test_a_task_with_fewer_than_three_answers_has_no_consensus_yet(ops):
    p = project(overlap=3)
    t = tasks(p, 1)[0]
    answer(worker(ops=ops), t, "cat")
    answer(worker(ops=ops), t, "cat")
    assert consensus_for(p) == {}


def test_multi_label_consensus_keeps_the_labels_most_answers_chose(ops):
    p = project(overlap=3, template=TaskTemplate.MULTI_LABEL, answer_schema={"choices": ["red", "green", "blue"]})
    t = tasks(p, 1)[0]
    answer(worker(ops=ops), t, ["red", "blue"])
    answer(worker(ops=ops), t, ["red", "blue"])
    answer(worker(ops=ops), t, ["red", "green"])
    label, confidence = consensus_for(p)[t.pk]
    assert label == ["red", "blue"]
    assert confidence == Decimal("0.6667")


# Recompute --------------------------------------------------------------------------------


def test_recompute_is_an_upsert_so_a_second_run_keeps_one_row_per_worker_and_project(ops):
    p = project()
    gold = tasks(p, 10, gold=True)
    w = worker(ops=ops)
    for i, t in enumerate(gold[:5]):
        answer(w, t, "cat" if i < 4 else "dog")
    first = quality_recompute()
    assert first.estimates == 1
    e = QualityEstimate.objects.get(worker=w, project=p)
    assert (e.gold_correct, e.gold_total, e.accuracy) == (4, 5, Decimal("0.8000"))
    assert (e.lower, e.upper) == wilson_interval(4, 5)
    for t in gold[5:]:
        answer(w, t, "cat")
    quality_recompute()
    quality_recompute(project=p)
    assert QualityEstimate.objects.filter(worker=w, project=p).count() == 1
    e.refresh_from_db()
    assert (e.gold_correct, e.gold_total) == (9, 10)
    assert (e.lower, e.upper) == (Decimal("0.5959"), Decimal("0.9822"))
    events = AuditEvent.objects.filter(action="quality.recompute").order_by("seq")
    assert events.count() == 3
    last = events.last()
    assert last is not None
    assert last.summary == {"estimates": 1, "projects": 1, "consensus_projects": 0, "blocked": 0}


def test_recompute_takes_the_same_number_of_queries_for_two_workers_or_six(ops):
    p = project(overlap=4)
    gold = tasks(p, 4, gold=True)
    _items, first, _none = _crowd(ops, p, ["cat", "dog"], good=2, noisy=0)
    for w in first:
        answer(w, gold[0], "cat")
    with CaptureQueriesContext(connection) as small:
        quality_recompute(project=p)
    _items, good, noisy = _crowd(ops, p, ["bird", "cat"], good=3, noisy=1)
    for w in [*good, *noisy]:
        answer(w, gold[1], "dog")
    with CaptureQueriesContext(connection) as large:
        quality_recompute(project=p)
    assert QualityEstimate.objects.filter(project=p).count() == 6
    assert len(large.captured_queries) == len(small.captured_queries)


def test_the_engine_blocks_on_the_recomputed_upper_bound_and_never_on_a_few_misses(ops):
    p = project(min_quality=Decimal("0.700"))
    gold = tasks(p, 20, gold=True)
    tasks(p, 3)
    unlucky, poor = worker(ops=ops), worker(ops=ops)
    # One right out of three: 33% looks bad, but the upper bound (79%) is above the minimum.
    for i, t in enumerate(gold[:3]):
        answer(unlucky, t, "cat" if i == 0 else "dog")
    # Three right out of twenty: even the upper bound (36%) is below the minimum.
    for i, t in enumerate(gold):
        answer(poor, t, "cat" if i < 3 else "dog")
    quality_recompute(project=p)
    assert QualityEstimate.objects.get(worker=unlucky).upper == Decimal("0.7924")
    assert next_task(worker=unlucky, project=p).task.project == p
    with pytest.raises(WorkRefused) as refusal:
        next_task(worker=poor, project=p)
    assert refusal.value.code == "quality_below_minimum"
    assert str(QualityEstimate.objects.get(worker=poor).upper) in refusal.value.message


def test_the_recompute_job_runs_the_service_and_is_safe_to_run_twice(ops):
    p = project()
    gold = tasks(p, 2, gold=True)
    w = worker(ops=ops)
    answer(w, gold[0], "cat")
    assert quality_recompute_job.apply(kwargs={"project_id": p.pk}).get() == {
        "estimates": 1,
        "projects": 1,
        "consensus_projects": 0,
        "blocked": 0,
    }
    quality_recompute_job.apply().get()
    assert QualityEstimate.objects.filter(worker=w).count() == 1
    assert quality_recompute_job.acks_late
    entry = settings.CELERY_BEAT_SCHEDULE["quality-recompute-15min"]
    assert entry == {"task": "tasks.jobs.quality_recompute_job", "schedule": 900.0}


def test_falling_below_a_projects_minimum_is_an_appealable_decision_and_an_overturn_waives_it(ops, ops2):
    from tasks.models import Answer as AnswerModel
    from tasks.models import Assignment as AssignmentModel
    from tasks.models import GoldAnswer as GoldModel
    from tasks.models import QualityEstimate as EstimateModel
    from tasks.services.quality import quality_recompute
    from tasks.services.work import WorkRefused, next_task
    from tests.tasks.factories import project, tasks, worker
    from workforce.models import Decision
    from workforce.services import appeal_answer, appeal_file

    p = project(min_quality="0.900", overlap=1)
    gold = tasks(p, 12, gold=True)
    tasks(p, 3)
    w = worker(ops=ops)
    for t in gold:
        a = AssignmentModel.objects.create(task=t, worker=w, expires_at=t.created_at, status="submitted")
        AnswerModel.objects.create(assignment=a, task=t, worker=w, value="dog")  # gold says "cat"
    assert GoldModel.objects.filter(answer="cat").count() == 12
    quality_recompute(project=p)
    block = Decision.objects.get(subject=w, kind="quality", outcome="blocked")
    assert block.is_automated
    assert "0 of 12" in block.reason
    assert block.data["minimum"] == "0.900"
    with pytest.raises(WorkRefused):
        next_task(worker=w, project=p)
    quality_recompute(project=p)  # idempotent: no second decision while the block stands
    assert Decision.objects.filter(subject=w, kind="quality").count() == 1
    appeal = appeal_file(decision=block, appellant=w, message="The check answers were mislabeled.")
    appeal_answer(appeal=appeal, actor=ops2, outcome="overturned", reason="The gold labels were wrong.")
    assert EstimateModel.objects.get(worker=w, project=p).is_block_waived
    assert next_task(worker=w, project=p).task.project_id == p.pk
