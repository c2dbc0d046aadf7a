"""``manage.py load_fx_rates FILE``: load a CSV of FX rates, all or nothing, with a progress line.

The header is ``date,base,quote,rate`` with an optional ``source``; each row means
1 base = rate quote on that date. A rate already stored for the same date and pair is
replaced. On a rejected file it lists the problems (row, field, message), changes nothing
and exits with status 1.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from payments.services.fx import MAX_PROBLEMS, FxFileRejected, fx_rates_load
from workforce.models import Role, User


class Command(BaseCommand):
    help = "Load FX rates from a CSV file (date,base,quote,rate[,source]); all rows or none."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The CSV file to load.")
        parser.add_argument(
            "--actor",
            default="",
            help="Email of the operations manager the load is recorded under (default: recorded as the system).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        actor = self._actor(options["actor"])
        started = time.monotonic()

        def show(rows_done: int) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            self.stdout.write(f"\r{rows_done:>12,} rows  {rows_done / elapsed:>10,.0f} rows/s", ending="")
            self.stdout.flush()

        try:
            with path.open(encoding="utf-8-sig", newline="") as stream:
                result = fx_rates_load(stream=stream, file_name=path.name, actor=actor, progress=show)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
        except FxFileRejected as exc:
            self.stdout.write("")
            self.stderr.write(f"The file {path.name} was rejected; no rate was changed. Problems:")
            for problem in exc.problems:
                self.stderr.write(f"  {problem}")
            if len(exc.problems) >= MAX_PROBLEMS:
                self.stderr.write(f"  (only the first {MAX_PROBLEMS} problems are listed)")
            raise CommandError(f"Loading {path.name} failed with {len(exc.problems)} problem(s).") from exc
        elapsed = time.monotonic() - started
        self.stdout.write("")
        loaded = result.created + result.updated + result.unchanged
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {loaded:,} FX rates from {path.name} in {elapsed:.2f} s: "
                f"{result.created:,} new, {result.updated:,} updated, {result.unchanged:,} unchanged."
            )
        )

    def _actor(self, email: str) -> User | None:
        if not email:
            return None
        staff = User.objects.filter(is_active=True).filter(Q(role=Role.OPERATIONS) | Q(is_superuser=True))
        actor = staff.filter(email__iexact=email).first()
        if actor is None:
            raise CommandError(f"{email} is not an active operations manager.")
        return actor
