"""What a worker may see of a task: the same for the portal and the API, and never a gold answer."""

from __future__ import annotations

from typing import Any

from tasks.models import Assignment, Project

# Only these keys of Task.data reach a worker; ids and flags that could give away a gold task do not.
WORKER_VISIBLE_KEYS = ("text", "image_url", "meta")


def task_for_worker(assignment: Assignment) -> dict[str, Any]:
    task = assignment.task
    project: Project = task.project
    return {
        "assignment": assignment.pk,
        "project": {"id": project.pk, "name": project.name},
        "template": project.template,
        "choices": project.choices,
        "max_length": project.answer_schema.get("max_length"),
        "data": {k: task.data[k] for k in WORKER_VISIBLE_KEYS if k in task.data},
        "expires_at": assignment.expires_at.isoformat(),
        "status": assignment.status,
    }
