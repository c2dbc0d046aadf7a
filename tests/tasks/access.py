"""A small world of work for the tasks access matrix: two contractors, staff, and A's records.

Contractor A owns the objects the URLs point at: a live lease, a submitted answer waiting for
review, an open qualification attempt and a confirmed instruction read. Contractor B is an
active, qualified contractor with records of their own, so a 404 for B is the object rule
at work and not B being unable to work at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tasks.models import (
    ActivitySpan,
    Answer,
    Assignment,
    Batch,
    FraudMark,
    ImportJob,
    ImportStatus,
    InstructionRead,
    InstructionVersion,
    Project,
    ProjectStatus,
    QualificationAttempt,
    QualificationQuestion,
    QualificationTest,
    QualityEstimate,
    Task,
    TaskTemplate,
)
from tasks.services import people
from tasks.services.work import assignment_submit, next_task
from tests.tasks.factories import project as make_project
from tests.tasks.factories import tasks as make_tasks
from tests.tasks.factories import worker as make_worker
from tests.workforce.access import Route
from tests.workforce.factories import SkillFactory, staff_user
from workforce.models import AuditEvent, Decision, Role, User

# Text that only contractor A's records contain. Contractor B must never see any of it.
A_SECRETS = ("owner-ada@example.com", "PRIVATE-ANSWER-ADA")


@dataclass
class TasksWorld:
    users: dict[str, User]
    project: Project  # open; A and B read v1 of its instructions, then v2 was published
    other_project: Project  # open, with tasks nobody has taken yet
    draft_project: Project  # not open: contractors must not see it
    assignment: Assignment  # A's live lease on ``project``
    answered: Assignment  # A's submitted assignment on ``project``
    answer: Answer  # A's answer, waiting for review
    test: QualificationTest
    attempt: QualificationAttempt  # A's open attempt at ``test``
    instruction_read: InstructionRead  # A's confirmed read of ``project``'s v1
    import_job: ImportJob  # a finished import into ``project``

    def client(self, role: str) -> Client:
        client = Client()
        if role != "anonymous":
            client.force_login(self.users[role])
        return client

    def url(self, route: Route, at: dict[str, str]) -> str:
        """``at`` maps each path parameter to the name of the world's object it points at."""
        missing = set(route.parameters) - set(at)
        assert not missing, f"{route.name}: say which object {sorted(missing)} point(s) at, e.g. .at(pk='project')"
        kwargs = {name: self._pk(attribute) for name, attribute in at.items()}
        return reverse(route.name, kwargs=kwargs or None)

    def _pk(self, attribute: str) -> int:
        obj = getattr(self, attribute)
        assert isinstance(obj, Model), attribute
        assert isinstance(obj.pk, int)
        return obj.pk


def build_tasks_world() -> TasksWorld:
    decider = staff_user(Role.OPERATIONS)
    user_a = make_worker(ops=decider, email="owner-ada@example.com")
    user_b = make_worker(ops=decider, email="other-bea@example.com")

    project = make_project(template=TaskTemplate.FREE_TEXT, answer_schema={"max_length": 200})
    make_tasks(project, 3)
    first = InstructionVersion.objects.create(project=project, version=1, body="Describe the item in a sentence.")
    reads = {}
    for user in (user_a, user_b):
        read = people.instruction_read_start(worker=user, instruction=first)
        reads[user.pk] = people.instruction_read_confirm(worker=user, read_id=read.pk)
    answered = next_task(worker=user_a, project=project)
    answer = assignment_submit(assignment_id=answered.pk, worker=user_a, value="PRIVATE-ANSWER-ADA").answer
    assignment = next_task(worker=user_a, project=project)
    # B works too, so B's pages have something of B's own on them.
    b_assignment = next_task(worker=user_b, project=project)
    assignment_submit(assignment_id=b_assignment.pk, worker=user_b, value="Bea's answer.")
    InstructionVersion.objects.create(project=project, version=2, body="Describe the item in two sentences.")

    other_project = make_project()
    make_tasks(other_project, 3)
    draft_project = make_project(status=ProjectStatus.DRAFT, name="Unannounced draft project")
    make_tasks(draft_project, 1)
    InstructionVersion.objects.create(project=draft_project, version=1, body="Draft instructions.")

    test = QualificationTest.objects.create(
        skill=SkillFactory.create(slug="image-tagging"),
        title="Image tagging test",
        answer_schema={"choices": ["cat", "dog"]},
        pass_mark="0.5",
    )
    for position in range(2):
        QualificationQuestion.objects.create(test=test, data={"text": f"q{position}"}, answer="cat", position=position)
    attempt = people.attempt_start(worker=user_a, test=test)

    import_job = ImportJob.objects.create(
        project=project,
        file_path="/nonexistent/tasks.jsonl",
        file_name="tasks.jsonl",
        file_format="jsonl",
        size_bytes=100,
        status=ImportStatus.DONE,
        rows_done=3,
        rows_imported=3,
        bytes_done=100,
        created_by=decider,
        finished_at=timezone.now(),
    )
    return TasksWorld(
        users={
            "contractor_a": user_a,
            "contractor_b": user_b,
            "ops": staff_user(Role.OPERATIONS),
            "auditor": staff_user(Role.AUDITOR),
            "superuser": staff_user(Role.OPERATIONS, is_superuser=True, is_staff=True),
        },
        project=project,
        other_project=other_project,
        draft_project=draft_project,
        assignment=assignment,
        answered=answered,
        answer=answer,
        test=test,
        attempt=attempt,
        instruction_read=reads[user_a.pk],
        import_job=import_job,
    )


def tasks_db_state() -> dict[str, Any]:
    """Everything a write in the tasks app could change, to compare before and after a refused request."""
    return {
        "projects": list(Project.objects.order_by("pk").values_list("pk", "status", "name")),
        "batches": Batch.objects.count(),
        "tasks": list(Task.objects.order_by("pk").values_list("pk", "filled")),
        "assignments": list(Assignment.objects.order_by("pk").values_list("pk", "status", "submitted_at")),
        "answers": list(Answer.objects.order_by("pk").values_list("pk", "value", "review_status", "reviewed_by_id")),
        "spans": list(ActivitySpan.objects.order_by("pk").values_list("pk", "active_seconds", "last_beat_at")),
        "instruction_reads": list(InstructionRead.objects.order_by("pk").values_list("pk", "confirmed_at")),
        "attempts": list(QualificationAttempt.objects.order_by("pk").values_list("pk", "finished_at", "is_passed")),
        "fraud_marks": list(FraudMark.objects.order_by("pk").values_list("pk", "is_active")),
        "quality": list(QualityEstimate.objects.order_by("pk").values_list("pk", "lower", "upper")),
        "imports": list(ImportJob.objects.order_by("pk").values_list("pk", "status")),
        "decisions": Decision.objects.count(),
        "audit_events": AuditEvent.objects.count(),
    }
