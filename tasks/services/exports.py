"""Answer export for operations managers: every answered task with its answers and consensus, streamed.

Gold tasks are left out entirely, and gold answers are never read here: an export that
reached a contractor must not teach them which items are gold or what their answers are.
Workers appear as stable pseudonyms, never by email or name.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import groupby
from typing import Any

from django.utils.crypto import salted_hmac

from tasks.models import Answer, Project, ReviewStatus

EXPORT_CHUNK = 2000
CSV_HEADER = (
    "task_id",
    "external_id",
    "text",
    "image_url",
    "meta",
    "worker",
    "answer",
    "review_status",
    "submitted_at",
    "consensus_label",
    "consensus_confidence",
)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def worker_pseudonym(worker_id: int) -> str:
    """A stable id for a worker that reveals nothing about them (keyed on the SECRET_KEY)."""
    return "w-" + salted_hmac("tasks.exports.worker", str(worker_id)).hexdigest()[:16]


def _label_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def consensus_for(project: Project) -> dict[int, tuple[Any, float]]:
    """{task_id: (label, confidence)} for the project's answered non-gold tasks.

    Where the project has a Dawid-Skene consensus (overlap ≥ 3, see ``tasks/services/quality``)
    its label and posterior confidence win; other tasks get a majority vote over answers not
    rejected in review, with confidence = the winning label's share (a tie goes to the first).
    """
    from tasks.services.quality import consensus_for as dawid_skene

    result: dict[int, tuple[Any, float]] = {}
    votes = (
        Answer.objects.filter(task__project=project, task__is_gold=False)
        .exclude(review_status=ReviewStatus.REJECTED)
        .order_by("task_id", "submitted_at", "id")
        .values_list("task_id", "value")
        .iterator(chunk_size=EXPORT_CHUNK)
    )
    for task_id, answers in groupby(votes, key=lambda v: v[0]):
        counts: Counter[str] = Counter()
        first: dict[str, Any] = {}
        for _task, value in answers:
            key = _label_key(value)
            counts[key] += 1
            first.setdefault(key, value)
        total = sum(counts.values())
        # Counter.most_common keeps first-seen order among equal counts.
        key, n = counts.most_common(1)[0]
        result[task_id] = (first[key], round(n / total, 4))
    for task_id, (label, confidence) in dawid_skene(project).items():
        result[task_id] = (label, float(confidence))
    return result


def _answered_tasks(project: Project) -> Iterator[dict[str, Any]]:
    """One dict per answered non-gold task, in task order, answers in submission order."""
    rows = (
        Answer.objects.filter(task__project=project, task__is_gold=False)
        .order_by("task_id", "submitted_at", "id")
        .values_list(
            "task_id", "task__external_id", "task__data", "worker_id", "value", "review_status", "submitted_at"
        )
        .iterator(chunk_size=EXPORT_CHUNK)
    )
    for task_id, group in groupby(rows, key=lambda r: r[0]):
        answers = list(group)
        _id, external_id, data, *_rest = answers[0]
        yield {
            "task_id": task_id,
            "external_id": external_id,
            "data": data,
            "answers": [
                {
                    "worker": worker_pseudonym(worker_id),
                    "value": value,
                    "review_status": review_status,
                    "submitted_at": _iso(submitted_at),
                }
                for _t, _e, _d, worker_id, value, review_status, submitted_at in answers
            ],
        }


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def export_jsonl(*, project: Project) -> Iterator[str]:
    """One JSON object per answered task and line: data, answers and the consensus label."""
    consensus = consensus_for(project)
    for task in _answered_tasks(project):
        label, confidence = consensus.get(task["task_id"], (None, None))
        task["consensus"] = {"label": label, "confidence": confidence}
        yield json.dumps(task, ensure_ascii=False, separators=(",", ":")) + "\n"


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    """Text as it is, anything else as JSON; a would-be formula gets a leading apostrophe."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else _label_key(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv_lines(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)


def export_csv(*, project: Project) -> Iterator[str]:
    """One row per answer (the task's columns repeated), with the task's consensus label on each.

    A multi-label value is JSON, as on import. JSONL is the exact form; in CSV a cell a
    spreadsheet would run as a formula starts with an apostrophe.
    """
    consensus = consensus_for(project)

    def rows() -> Iterator[list[Any]]:
        yield list(CSV_HEADER)
        for task in _answered_tasks(project):
            label, confidence = consensus.get(task["task_id"], (None, None))
            data = task["data"]
            for answer in task["answers"]:
                yield [
                    task["task_id"],
                    _cell(task["external_id"]),
                    _cell(data.get("text")),
                    _cell(data.get("image_url")),
                    _cell(data.get("meta")),
                    answer["worker"],
                    _cell(answer["value"]),
                    answer["review_status"],
                    answer["submitted_at"],
                    _cell(label),
                    "" if confidence is None else f"{confidence:.4f}",
                ]

    return _csv_lines(rows())
