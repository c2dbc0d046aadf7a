"""Celery jobs for tasks: thin wrappers around services, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from tasks.models import Project
from tasks.services.imports import import_run, import_uploads_purge
from tasks.services.people import answers_auto_approve
from tasks.services.quality import quality_recompute
from tasks.services.work import leases_release_expired
from workforce.jobs import TRANSIENT_ERRORS


@shared_task(
    name="tasks.jobs.quality_recompute_job",
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=5,
    retry_backoff=True,
)
def quality_recompute_job(project_id: int | None = None) -> dict[str, int]:
    """Recompute quality estimates (all projects, or one); running it twice gives the same rows."""
    project = Project.objects.get(pk=project_id) if project_id is not None else None
    result = quality_recompute(project=project)
    return {
        "estimates": result.estimates,
        "projects": result.projects,
        "consensus_projects": result.consensus_projects,
        "blocked": result.blocked,
    }


@shared_task(
    name="tasks.jobs.import_run_job",
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=5,
    retry_backoff=True,
)
def import_run_job(job_id: int) -> str:
    """Apply one uploaded file of tasks; a rejected file is a final answer, not a retry."""
    return import_run(job_id=job_id).status


@shared_task(
    name="tasks.jobs.leases_release_job",
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=5,
    retry_backoff=True,
)
def leases_release_job() -> int:
    """Free the task slots of expired leases so someone else can take them."""
    return leases_release_expired()


@shared_task(
    name="tasks.jobs.answers_auto_approve_job",
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=5,
    retry_backoff=True,
)
def answers_auto_approve_job() -> int:
    """Approve work nobody reviewed within FAIRTASK_AUTO_APPROVE_DAYS."""
    return answers_auto_approve()


@shared_task(
    name="tasks.jobs.import_uploads_purge_job",
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=5,
    retry_backoff=True,
)
def import_uploads_purge_job() -> int:
    """Delete stored task files of finished imports past FAIRTASK_UPLOAD_RETENTION_DAYS."""
    return import_uploads_purge()
