"""Factories for projects, tasks and qualified workers, built through the real services."""

from __future__ import annotations

from typing import Any

from tasks.models import Batch, GoldAnswer, Project, ProjectStatus, Task, TaskTemplate
from tests.workforce.factories import SkillFactory, contractor, staff_user
from workforce.models import ContractorProfile, User

_counter = iter(range(1, 10_000_000))


def project(**fields: Any) -> Project:
    n = next(_counter)
    defaults: dict[str, Any] = {
        "name": f"Project {n}",
        "slug": f"project-{n}",
        "required_skill": SkillFactory.create(slug="text-classification"),
        "template": TaskTemplate.SINGLE_CHOICE,
        "answer_schema": {"choices": ["cat", "dog", "bird"]},
        "overlap": 1,
        "lease_seconds": 600,
        "status": ProjectStatus.OPEN,
        "hourly_rate_minor": 1500,
        "piece_rate_minor": 5,
    }
    defaults.update(fields)
    return Project.objects.create(**defaults)


def tasks(p: Project, count: int, *, priority: int = 0, gold: bool = False) -> list[Task]:
    batch = Batch.objects.create(project=p, name=f"batch {next(_counter)}", priority=priority)
    created = Task.objects.bulk_create(
        [
            Task(
                project=p,
                batch=batch,
                data={"text": f"item {i}"},
                is_gold=gold,
                priority=priority,
                overlap=2_000_000_000 if gold else p.overlap,
            )
            for i in range(count)
        ]
    )
    if gold:
        GoldAnswer.objects.bulk_create([GoldAnswer(task=t, answer="cat") for t in created])
    return created


def worker(*, ops: User | None = None, **kwargs: Any) -> User:
    """An active contractor with the text-classification skill (no qualification test exists)."""
    profile: ContractorProfile = contractor("active", ops=ops or staff_user(), **kwargs)
    return profile.user
