"""The assignment engine under real concurrency on PostgreSQL.

Sixteen threads, each with its own database connection, play sixteen contractors who take
and submit tasks as fast as they can until the engine says there is nothing left for them.
The main test (overlap 1 and 3) proves the claim is safe with the engine as it is; the
control runs take the guards away one at a time and show the race they stop. Collisions
are counted by wrapping ``_claim`` in a pass-through counter: the real claim still runs,
and each constraint refusal it meets is counted on its way to the engine's retry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import Count, F

from tasks.models import Answer, Assignment, Project, Task
from tasks.services import work
from tasks.services.work import WorkRefused, assignment_submit, next_task
from tests.tasks.factories import project, tasks, worker
from tests.workforce.factories import staff_user
from workforce.models import User

THREADS = 16
TASKS = 1000
CONTROL_TASKS = 200

ClaimFn = Callable[..., Assignment | None]


@dataclass
class Run:
    """What the threads saw: tasks handed out, claims a constraint refused, retries."""

    assignments: int = 0
    collisions: int = 0
    busy: int = 0
    errors: list[BaseException] = field(default_factory=list)
    guard: threading.Lock = field(default_factory=threading.Lock)


def _counting(claim: ClaimFn, run: Run) -> ClaimFn:
    """Pass every call through unchanged, counting the claims a database constraint refused."""

    def counted(*args: Any, **kwargs: Any) -> Assignment | None:
        try:
            return claim(*args, **kwargs)
        except IntegrityError:
            with run.guard:
                run.collisions += 1
            raise

    return counted


def _drain(workers: list[User], run: Run) -> Run:
    """Each thread loops next_task → submit until it is told there are no tasks for it."""
    start = threading.Barrier(len(workers))

    def contractor(w: User) -> None:
        try:
            start.wait()
            while True:
                try:
                    assignment = next_task(worker=w)
                except WorkRefused as refusal:
                    if refusal.code == "no_tasks":
                        return
                    if refusal.code != "busy":
                        raise
                    with run.guard:
                        run.busy += 1  # "try again in a moment": so the contractor does
                    continue
                with run.guard:
                    run.assignments += 1
                assignment_submit(assignment_id=assignment.pk, worker=w, value="cat")
        except BaseException as exc:
            run.errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=contractor, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a contractor thread never finished"
    return run


def _setup(overlap: int, count: int) -> tuple[Project, list[User]]:
    ops = staff_user()
    p = project(overlap=overlap)
    tasks(p, count)
    return p, [worker(ops=ops) for _ in range(THREADS)]


def _over_assigned(overlap: int) -> int:
    return Task.objects.annotate(n=Count("assignments")).filter(n__gt=overlap).count()


def _report(label: str, overlap: int, run: Run) -> None:
    print(
        f"\n{label} overlap={overlap}: assignments={run.assignments} collisions={run.collisions} "
        f"busy_retries={run.busy} over_assigned={_over_assigned(overlap)}"
    )


@pytest.mark.parametrize("overlap", [1, 3])
@pytest.mark.django_db(transaction=True)
def test_sixteen_contractors_at_once_never_over_assign_and_never_lose_a_task(overlap, monkeypatch):
    """The engine as it is; the counter around the real ``_claim`` only watches."""
    _p, workers = _setup(overlap, TASKS)
    run = Run()
    monkeypatch.setattr(work, "_claim", _counting(work._claim, run))
    _drain(workers, run)
    _report("locked", overlap, run)

    assert run.errors == []
    assert run.assignments == Assignment.objects.count() == TASKS * overlap
    assert _over_assigned(overlap) == 0
    assert not Assignment.objects.values("task", "worker").annotate(n=Count("id")).filter(n__gt=1).exists()
    answers = Task.objects.annotate(n=Count("answers"))
    assert answers.exclude(n=overlap).count() == 0, "every task ends with exactly `overlap` answers"
    assert Answer.objects.count() == TASKS * overlap
    assert Task.objects.annotate(n=Count("assignments")).exclude(filled=F("n")).count() == 0
    # SKIP LOCKED alone keeps claims apart: the constraints never had to refuse one.
    assert run.collisions == 0


@pytest.mark.parametrize("overlap", [1, 3])
@pytest.mark.django_db(transaction=True)
def test_without_the_lock_claims_collide_and_the_constraints_refuse_every_extra_one(overlap, monkeypatch):
    """Control run: the claim query without ``FOR UPDATE SKIP LOCKED``.

    Every thread now reads the same first open task; all of them insert an assignment and
    bump ``filled``, and the database check ``filled <= overlap`` refuses each bump past the
    overlap (the engine catches the IntegrityError and looks again). The collisions counted
    here are exactly those refusals: the race is real, and the constraint is what stops it
    when the lock is missing. The end state is still correct.
    """
    _p, workers = _setup(overlap, CONTROL_TASKS)
    run = Run()
    monkeypatch.setattr(work, "_CLAIM_LOCK", "")  # the claim without FOR UPDATE SKIP LOCKED
    monkeypatch.setattr(work, "_claim", _counting(work._claim, run))
    _drain(workers, run)
    _report("no lock", overlap, run)

    assert run.errors == []
    assert run.collisions > 0, "without the lock, concurrent claims must pick the same rows"
    assert _over_assigned(overlap) == 0
    assert Answer.objects.count() == CONTROL_TASKS * overlap
    assert Task.objects.annotate(n=Count("assignments")).exclude(filled=F("n")).count() == 0


@pytest.fixture
def without_the_overlap_constraint(transactional_db: None) -> Iterator[None]:
    """Drop ``task_filled_within_overlap`` for one test and put it back, valid, afterwards."""
    (constraint,) = [c for c in Task._meta.constraints if c.name == "task_filled_within_overlap"]
    with connection.schema_editor() as editor:
        editor.remove_constraint(Task, constraint)
    try:
        yield
    finally:
        # The over-assigned rows this test made would fail the check; they are flushed next.
        Task.objects.filter(filled__gt=F("overlap")).update(filled=F("overlap"))
        with connection.schema_editor() as editor:
            editor.add_constraint(Task, constraint)


@pytest.mark.django_db(transaction=True)
def test_without_the_lock_and_the_constraint_tasks_are_over_assigned(without_the_overlap_constraint, monkeypatch):
    """Control run with both guards gone: the race the engine's design exists to prevent.

    Threads that read the same open task all get it, so tasks end with more assignments
    than their overlap. This is what the lock and the check constraint each stop.
    """
    overlap = 1
    _p, workers = _setup(overlap, CONTROL_TASKS)
    run = Run()
    monkeypatch.setattr(work, "_CLAIM_LOCK", "")  # the claim without FOR UPDATE SKIP LOCKED
    monkeypatch.setattr(work, "_claim", _counting(work._claim, run))
    _drain(workers, run)
    _report("no lock, no constraint", overlap, run)

    assert run.errors == []
    assert _over_assigned(overlap) > 0
    assert Task.objects.filter(filled__gt=F("overlap")).exists()


@pytest.mark.django_db(transaction=True)
def test_a_task_someone_else_is_claiming_right_now_is_not_reported_as_no_tasks():
    """SKIP LOCKED passes over a row another transaction holds; that is not "nothing left".

    A second connection holds the only task's row lock, as a claim in flight does for a few
    milliseconds. The worker is told to try again in a moment, and then gets the task.
    """
    ops = staff_user()
    p = project(overlap=3)
    (task,) = tasks(p, 1)
    w = worker(ops=ops)
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        try:
            with transaction.atomic():
                Task.objects.select_for_update().get(pk=task.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        with pytest.raises(WorkRefused) as exc:
            next_task(worker=w)
        assert exc.value.code == "busy"
        assert "try again" in exc.value.message
    finally:
        release.set()
        holder.join(timeout=30)
    assert next_task(worker=w).task_id == task.pk
