"""``manage.py import_tasks PROJECT FILE``: import a file of tasks now, with a progress line.

The same service as the portal and the API, run synchronously: all-or-nothing, and on a
rejected file it lists the problems and exits with status 1.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from tasks.models import ImportStatus, Project
from tasks.services.imports import ImportProgress, import_create, import_run
from workforce.models import Role, User


class Command(BaseCommand):
    help = "Import a .jsonl, .json or .csv file of tasks into a project (by slug or id), all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="The project's slug or id.")
        parser.add_argument("file", help="The file to import (.jsonl, .json or .csv).")
        parser.add_argument(
            "--actor",
            default="",
            help="Email of the operations manager the import is recorded under (default: the first one).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        project = self._project(options["project"])
        actor = self._actor(options["actor"])
        path = Path(options["file"])
        started = time.monotonic()
        try:
            job = import_create(project=project, path=path, file_name=path.name, actor=actor)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items())) from exc

        def show(p: ImportProgress) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            self.stdout.write(
                f"\r{p.rows_done:>12,} rows  {p.percent:>3}%  {p.rows_done / elapsed:>10,.0f} rows/s", ending=""
            )
            self.stdout.flush()

        job = import_run(job_id=job.pk, progress=show)
        elapsed = time.monotonic() - started
        self.stdout.write("")
        if job.status != ImportStatus.DONE:
            self.stderr.write(f"The file {path.name} was rejected; nothing was imported. Problems:")
            for p in job.errors:
                where = f"row {p['row']}" if p["row"] is not None else "file"
                self.stderr.write(f"  {where}, field {p['field']}: {p['message']}")
            if len(job.errors) >= 100:
                self.stderr.write("  (only the first 100 problems are listed)")
            raise CommandError(f"Import {job.pk} failed with {len(job.errors)} problem(s).")
        rate = job.rows_imported / elapsed if elapsed else 0.0
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {job.rows_imported:,} tasks from {path.name} into {project.slug} "
                f"(batch {job.batch_id}, import {job.pk}) in {elapsed:.2f} s: {rate:,.0f} rows/s."
            )
        )

    def _project(self, ref: str) -> Project:
        lookup = Q(slug=ref) | (Q(pk=int(ref)) if ref.isdigit() else Q())
        project = Project.objects.filter(lookup).first()
        if project is None:
            raise CommandError(f"No project has the slug or id {ref!r}.")
        return project

    def _actor(self, email: str) -> User:
        staff = User.objects.filter(is_active=True).filter(Q(role=Role.OPERATIONS) | Q(is_superuser=True))
        actor = staff.filter(email__iexact=email).first() if email else staff.order_by("pk").first()
        if actor is None:
            raise CommandError(
                f"{email} is not an active operations manager." if email else "Create an operations manager first."
            )
        return actor
