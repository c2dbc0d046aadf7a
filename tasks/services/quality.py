"""Quality per contractor and project (rule 3: quality pay never punishes noise).

Accuracy on gold tasks is a point estimate with a 95% Wilson score interval; where a project
asks for three or more answers per task, a Dawid-Skene consensus (crowd-kit) labels each
task and each worker's agreement with it is stored as ``consensus_accuracy``. Bonuses read
the lower bound, penalties and the engine's minimum read the upper bound, so a handful of
unlucky answers can neither earn a penalty nor be mistaken for proof of bad work.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Q
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from tasks.models import Answer, Project, QualityEstimate, ReviewStatus, TaskTemplate
from workforce.audit import audit_record
from workforce.models import Decision, DecisionKind, User
from workforce.services import decision_record
from workforce.signals import decision_overturned

Z_95 = Decimal("1.96")
PLACES = Decimal("0.0001")
# A consensus needs at least this many answers to the task; rule 3 applies it where overlap ≥ 3.
CONSENSUS_MIN_ANSWERS = 3
CONSENSUS_TEMPLATES = (TaskTemplate.SINGLE_CHOICE, TaskTemplate.MULTI_LABEL)
DS_ITERATIONS = 100


def wilson_interval(correct: int, total: int, z: Decimal | float = Z_95) -> tuple[Decimal, Decimal]:
    """The Wilson score interval for ``correct`` successes out of ``total``, to four places.

    No answers means no evidence: the interval is the whole range [0, 1]. Both bounds are
    rounded up at the fourth place, the contractor's side: the lower bound feeds bonuses and
    the upper bound feeds penalties, and a higher number is the kinder one for both.
    """
    if total < 0 or correct < 0 or correct > total:
        raise ValueError(f"Need 0 ≤ correct ≤ total, got {correct}/{total}.")
    if total == 0:
        return Decimal(0), Decimal(1)
    with localcontext() as ctx:
        ctx.prec = 28
        z = Decimal(str(z))
        n = Decimal(total)
        p = Decimal(correct) / n
        z2 = z * z
        denominator = 1 + z2 / n
        centre = p + z2 / (2 * n)
        margin = z * (p * (1 - p) / n + z2 / (4 * n * n)).sqrt()
        low = max(Decimal(0), (centre - margin) / denominator)
        high = min(Decimal(1), (centre + margin) / denominator)
    return low.quantize(PLACES, rounding=ROUND_CEILING), high.quantize(PLACES, rounding=ROUND_CEILING)


def _ratio(numerator: int, denominator: int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class GoldScore:
    correct: int
    total: int


def gold_scores(*, project: Project | None = None) -> dict[tuple[int, int], GoldScore]:
    """Gold accuracy per (worker id, project id), for every worker with any answer in the project.

    An answer is correct when its stored value equals the GoldAnswer's; both were put in
    canonical form by ``check_answer`` (multi-label sets in the order of the choices), so
    the comparison is plain JSON equality, done by the database in one grouped query.
    """
    answers = Answer.objects.all()
    if project is not None:
        answers = answers.filter(task__project=project)
    rows = (
        answers.values("worker_id", "task__project_id")
        .annotate(
            gold_total=Count("pk", filter=Q(task__is_gold=True)),
            gold_correct=Count("pk", filter=Q(task__is_gold=True, value=F("task__gold__answer"))),
        )
        .order_by()
    )
    return {
        (row["worker_id"], row["task__project_id"]): GoldScore(row["gold_correct"], row["gold_total"]) for row in rows
    }


@dataclass
class Consensus:
    """The consensus label and its confidence per task, and each worker's (agreed, compared) counts."""

    labels: dict[int, tuple[Any, Decimal]]
    agreement: dict[int, tuple[int, int]]


def _consensus_answers(project: Project) -> dict[int, list[tuple[int, Any]]]:
    """Answers to ordinary (non-gold) tasks that have enough answers for a consensus."""
    by_task: dict[int, list[tuple[int, Any]]] = defaultdict(list)
    # A rejected answer was judged wrong by a reviewer, so it does not vote (exports agree).
    rows = (
        Answer.objects.filter(task__project=project, task__is_gold=False)
        .exclude(review_status=ReviewStatus.REJECTED)
        .values_list("task_id", "worker_id", "value")
    )
    for task_id, worker_id, value in rows.iterator(chunk_size=5000):
        by_task[task_id].append((worker_id, value))
    return {task_id: votes for task_id, votes in by_task.items() if len(votes) >= CONSENSUS_MIN_ANSWERS}


def _dawid_skene(by_task: dict[int, list[tuple[int, Any]]]) -> dict[int, tuple[Any, Decimal]]:
    # Imported here: pandas and crowd-kit take about a second to import, which no web request should pay.
    import pandas as pd
    from crowdkit.aggregation import DawidSkene

    frame = pd.DataFrame(
        [(task_id, worker_id, str(value)) for task_id, votes in by_task.items() for worker_id, value in votes],
        columns=["task", "worker", "label"],
    )
    model = DawidSkene(n_iter=DS_ITERATIONS).fit(frame)
    probas, labels = model.probas_, model.labels_
    assert probas is not None and labels is not None  # set by fit()
    result: dict[int, tuple[Any, Decimal]] = {}
    for task_id, label in labels.items():
        confidence = Decimal(str(float(probas.at[task_id, label]))).quantize(PLACES, rounding=ROUND_HALF_UP)
        result[int(task_id)] = (label, min(Decimal(1), max(Decimal(0), confidence)))
    return result


def _label_majority(by_task: dict[int, list[tuple[int, Any]]], choices: list[str]) -> dict[int, tuple[Any, Decimal]]:
    """Multi-label: a label is in the consensus when more than half the answers include it.

    The confidence is the share of answers that gave exactly the consensus set.
    """
    result: dict[int, tuple[Any, Decimal]] = {}
    for task_id, votes in by_task.items():
        counts = Counter(label for _worker, value in votes for label in value)
        chosen = [c for c in choices if counts[c] * 2 > len(votes)]
        exact = sum(1 for _worker, value in votes if list(value) == chosen)
        result[task_id] = (chosen, _ratio(exact, len(votes)) or Decimal(0))
    return result


def project_consensus(*, project: Project) -> Consensus:
    """Consensus for a project with overlap ≥ 3: Dawid-Skene for single choice, per-label majority
    for multi-label, none for free text (or a smaller overlap)."""
    if project.overlap < CONSENSUS_MIN_ANSWERS or project.template not in CONSENSUS_TEMPLATES:
        return Consensus(labels={}, agreement={})
    by_task = _consensus_answers(project)
    if not by_task:
        return Consensus(labels={}, agreement={})
    if project.template == TaskTemplate.SINGLE_CHOICE:
        labels = _dawid_skene(by_task)
    else:
        labels = _label_majority(by_task, project.choices)
    agreed: Counter[int] = Counter()
    compared: Counter[int] = Counter()
    for task_id, votes in by_task.items():
        label = labels[task_id][0]
        for worker_id, value in votes:
            compared[worker_id] += 1
            agreed[worker_id] += int(value == label)
    return Consensus(labels=labels, agreement={w: (agreed[w], compared[w]) for w in compared})


def consensus_for(project: Project) -> dict[int, tuple[Any, Decimal]]:
    """The consensus label and its confidence (0 to 1) per task id; the one exports should use.

    Empty for projects whose overlap is below 3 and for free-text projects: with fewer
    than three answers, or answers that cannot be compared, there is no consensus to report.
    """
    return project_consensus(project=project).labels


@dataclass(frozen=True)
class QualityRecomputeResult:
    estimates: int
    projects: int
    consensus_projects: int
    blocked: int


def _decide_block(estimate: QualityEstimate, project: Project, now: Any) -> None:
    """Record the automated decision when a worker starts or stops being kept from a project (rule 4).

    Blocks use the upper bound only (rule 3), so noise alone never blocks anyone; the contractor
    can appeal, and a human who overturns the block waives the minimum for them on this project.
    """
    is_below = bool(estimate.gold_total) and estimate.upper < project.min_quality
    numbers = {
        "project": project.name,
        "gold_correct": estimate.gold_correct,
        "gold_total": estimate.gold_total,
        "lower": str(estimate.lower),
        "upper": str(estimate.upper),
        "minimum": str(project.min_quality),
    }
    if is_below and estimate.block_decision_id is None and not estimate.is_block_waived:
        estimate.block_decision = decision_record(
            subject=User.objects.get(pk=estimate.worker_id),
            kind=DecisionKind.QUALITY,
            outcome="blocked",
            reason=_(
                "You answered %(c)d of %(n)d check questions on “%(p)s” correctly. Even the most "
                "favourable estimate of your accuracy (%(u)s) is below the project's minimum of %(m)s, "
                "so you get no new tasks there for now. Your other projects are not affected, all time "
                "you worked stays paid, and you can appeal if you think the check answers are wrong."
            )
            % {
                "c": estimate.gold_correct,
                "n": estimate.gold_total,
                "p": project.name,
                "u": estimate.upper,
                "m": project.min_quality,
            },
            data=numbers,
            decided_by=None,
            is_automated=True,
        )
    elif not is_below and estimate.block_decision_id is not None:
        decision_record(
            subject=User.objects.get(pk=estimate.worker_id),
            kind=DecisionKind.QUALITY,
            outcome="unblocked",
            reason=_(
                "Your accuracy estimate on “%(p)s” is back within the project's minimum; you can take its tasks again."
            )
            % {"p": project.name},
            data=numbers,
            decided_by=None,
            is_automated=True,
        )
        estimate.block_decision = None


@receiver(decision_overturned)
def _waive_overturned_block(sender: Any, decision: Decision, actor: User, **kwargs: Any) -> None:
    """A human overturned a quality block on appeal: the minimum no longer applies to that worker there."""
    for estimate in QualityEstimate.objects.select_for_update().filter(block_decision=decision):
        estimate.is_block_waived = True
        estimate.block_decision = None
        estimate.save(update_fields=["is_block_waived", "block_decision"])
        audit_record(actor=actor, action="quality.block_waived", obj=estimate, summary={"decision": decision.pk})


def quality_recompute(*, project: Project | None = None) -> QualityRecomputeResult:
    """Upsert a QualityEstimate for every (worker, project) pair with answers, and audit a summary.

    The reads and the Dawid-Skene fit happen before the transaction, so no row stays locked
    while the model runs; the writes and their audit event commit together or not at all.
    Running it twice gives the same rows, never duplicates (one row per worker and project).
    """
    now = timezone.now()
    scores = gold_scores(project=project)
    project_ids = {project_id for _worker, project_id in scores}
    projects = {p.pk: p for p in Project.objects.filter(pk__in=project_ids)}
    agreement: dict[int, dict[int, tuple[int, int]]] = {}
    for p in projects.values():
        if p.overlap >= CONSENSUS_MIN_ANSWERS and p.template in CONSENSUS_TEMPLATES:
            agreement[p.pk] = project_consensus(project=p).agreement
    estimates = []
    blocked = 0
    for (worker_id, project_id), score in sorted(scores.items()):
        lower, upper = wilson_interval(score.correct, score.total)
        agreed, compared = agreement.get(project_id, {}).get(worker_id, (0, 0))
        estimates.append(
            QualityEstimate(
                worker_id=worker_id,
                project_id=project_id,
                gold_correct=score.correct,
                gold_total=score.total,
                accuracy=_ratio(score.correct, score.total),
                lower=lower,
                upper=upper,
                consensus_accuracy=_ratio(agreed, compared),
                computed_at=now,
            )
        )
        if score.total and upper < projects[project_id].min_quality:
            blocked += 1
    with transaction.atomic():
        previous = {
            (e.worker_id, e.project_id): e
            for e in QualityEstimate.objects.select_for_update().filter(project_id__in=project_ids)
        }
        for estimate in estimates:
            before = previous.get((estimate.worker_id, estimate.project_id))
            estimate.block_decision_id = before.block_decision_id if before else None
            estimate.is_block_waived = before.is_block_waived if before else False
            _decide_block(estimate, projects[estimate.project_id], now)
        QualityEstimate.objects.bulk_create(
            estimates,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["worker", "project"],
            update_fields=[
                "gold_correct",
                "gold_total",
                "accuracy",
                "lower",
                "upper",
                "consensus_accuracy",
                "computed_at",
                "block_decision",
            ],
        )
        result = QualityRecomputeResult(
            estimates=len(estimates), projects=len(projects), consensus_projects=len(agreement), blocked=blocked
        )
        audit_record(
            actor=None,
            action="quality.recompute",
            obj=project,
            summary={
                "estimates": result.estimates,
                "projects": result.projects,
                "consensus_projects": result.consensus_projects,
                "blocked": result.blocked,
            },
        )
    return result
