from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tasks.models import Answer, Assignment, InstructionVersion, QualityEstimate, Task
from tasks.services.people import instruction_read_confirm, instruction_read_start
from tasks.services.work import WorkRefused, assignment_submit, leases_release_expired, next_task
from tests.tasks.factories import project, tasks, worker
from tests.workforce.factories import contractor

pytestmark = pytest.mark.django_db


def test_the_highest_priority_task_is_leased_first_with_an_expiry(ops):
    p = project()
    tasks(p, 3, priority=1)
    high = tasks(p, 2, priority=9)
    w = worker(ops=ops)
    a = next_task(worker=w)
    assert a.task_id == high[0].pk
    assert a.expires_at - a.leased_at == timedelta(seconds=p.lease_seconds)
    assert Task.objects.get(pk=a.task_id).filled == 1


def test_a_worker_with_a_live_lease_gets_the_same_task_back(ops):
    p = project()
    tasks(p, 3)
    w = worker(ops=ops)
    assert next_task(worker=w).pk == next_task(worker=w).pk
    assert Assignment.objects.count() == 1


def test_a_worker_never_gets_a_task_they_already_did(ops):
    p = project(overlap=3)
    tasks(p, 2)
    w = worker(ops=ops)
    seen = set()
    for _ in range(2):
        a = next_task(worker=w)
        assignment_submit(assignment_id=a.pk, worker=w, value="cat")
        seen.add(a.task_id)
    assert len(seen) == 2
    with pytest.raises(WorkRefused) as exc:
        next_task(worker=w)
    assert exc.value.code == "no_tasks"


def test_an_inactive_contractor_is_refused_with_the_reason(ops):
    p = project()
    tasks(p, 1)
    applicant = contractor("onboarding")
    with pytest.raises(WorkRefused) as exc:
        next_task(worker=applicant.user)
    assert exc.value.code == "not_active"
    assert "active contractors" in exc.value.message


def test_unread_instructions_are_read_first_and_then_work_starts(ops):
    p = project()
    tasks(p, 1)
    v = InstructionVersion.objects.create(project=p, version=1, body="Label the animal.")
    w = worker(ops=ops)
    with pytest.raises(WorkRefused) as exc:
        next_task(worker=w)
    assert exc.value.code == "instructions_unread"
    read = instruction_read_start(worker=w, instruction=v)
    instruction_read_confirm(worker=w, read_id=read.pk)
    assert next_task(worker=w).task.project == p


def test_quality_blocks_only_when_the_upper_bound_is_below_the_minimum(ops):
    p = project(min_quality="0.700")
    tasks(p, 2)
    w = worker(ops=ops)
    QualityEstimate.objects.create(worker=w, project=p, gold_correct=3, gold_total=5, lower="0.23", upper="0.88")
    assert next_task(worker=w)  # uncertain, so the benefit of the doubt
    Assignment.objects.all().delete()
    Task.objects.update(filled=0)
    QualityEstimate.objects.filter(worker=w).update(gold_correct=10, gold_total=40, lower="0.14", upper="0.40")
    with pytest.raises(WorkRefused) as exc:
        next_task(worker=w)
    assert exc.value.code == "quality_below_minimum"
    assert "0.40" in exc.value.message


def test_submitting_twice_is_idempotent_and_keeps_one_answer(ops):
    p = project()
    tasks(p, 1)
    w = worker(ops=ops)
    a = next_task(worker=w)
    first = assignment_submit(assignment_id=a.pk, worker=w, value="dog")
    second = assignment_submit(assignment_id=a.pk, worker=w, value="dog")
    assert first.created and not second.created
    assert first.answer.pk == second.answer.pk
    assert Answer.objects.count() == 1
    with pytest.raises(ValidationError):
        assignment_submit(assignment_id=a.pk, worker=w, value="cat")
    assert Answer.objects.get().value == "dog"


def test_an_answer_outside_the_schema_is_refused_naming_the_field(ops):
    p = project()
    tasks(p, 1)
    w = worker(ops=ops)
    a = next_task(worker=w)
    with pytest.raises(ValidationError) as exc:
        assignment_submit(assignment_id=a.pk, worker=w, value="horse")
    assert "cat, dog, bird" in exc.value.message_dict["answer"][0]
    assert not Answer.objects.exists()


def test_a_submit_after_the_lease_expired_is_refused_but_the_time_stays_paid(ops):
    from tasks.services.timing import active_seconds, heartbeat_record

    p = project()
    tasks(p, 1)
    w = worker(ops=ops)
    a = next_task(worker=w)
    start = a.leased_at
    for s in range(0, 91, 30):
        heartbeat_record(worker=w, kind="task", target_id=a.pk, at=start + timedelta(seconds=s))
    Assignment.objects.filter(pk=a.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ValidationError) as exc:
        assignment_submit(assignment_id=a.pk, worker=w, value="cat")
    assert "still paid" in exc.value.message_dict["assignment"][0]
    assert not Answer.objects.exists()
    assert active_seconds(worker=w, since=start - timedelta(minutes=1)) == 90


def test_someone_elses_assignment_cannot_be_submitted(ops):
    from django.http import Http404

    p = project()
    tasks(p, 1)
    owner, other = worker(ops=ops), worker(ops=ops)
    a = next_task(worker=owner)
    with pytest.raises(Http404):
        assignment_submit(assignment_id=a.pk, worker=other, value="cat")
    assert not Answer.objects.exists()


def test_expired_leases_are_released_for_someone_else(ops):
    p = project()
    tasks(p, 1)
    first, second = worker(ops=ops), worker(ops=ops)
    a = next_task(worker=first)
    with pytest.raises(WorkRefused):
        next_task(worker=second)
    Assignment.objects.filter(pk=a.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert leases_release_expired() == 1
    assert leases_release_expired() == 0
    assert next_task(worker=second).task_id == a.task_id


def test_the_database_refuses_more_live_assignments_than_the_overlap(ops):
    p = project(overlap=1)
    (task,) = tasks(p, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.filter(pk=task.pk).update(filled=2)


def test_the_database_refuses_the_same_worker_twice_on_a_task(ops):
    p = project(overlap=3)
    (task,) = tasks(p, 1)
    w = worker(ops=ops)
    Assignment.objects.create(task=task, worker=w, expires_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(task=task, worker=w, expires_at=timezone.now())
