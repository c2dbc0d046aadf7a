"""``manage.py close_period [DAY]``: close the pay period holding DAY (default: every period that is over).

Runs the same service as the beat job and the operations page, in this process: it starts the
close (or resumes a stopped one) and prints the run's result and its exceptions. A period that
is not over yet is refused (exit status 1) and nothing is written.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from payments.models import CloseRun, PayPeriod
from payments.services.close import period_close, period_for_day, periods_close_due
from workforce.models import Role, User

JOB = "manage.py close_period"


class Command(BaseCommand):
    help = "Close the pay period holding DAY (YYYY-MM-DD), or every period that is over."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("day", nargs="?", default="", help="A day in the period to close, e.g. 2026-11-09.")
        parser.add_argument("--actor", default="", help="Email of the operations manager the close is recorded under.")
        parser.add_argument("--quiet", action="store_true", help="Print only the summary line of each run.")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = self._actor(options["actor"])
        job = "" if actor else JOB
        try:
            if options["day"]:
                runs = [period_close(period=self._period(options["day"]), actor=actor, job=job)]
            else:
                runs = periods_close_due()
        except ValidationError as exc:
            raise CommandError(" ".join(m for ms in exc.message_dict.values() for m in ms)) from exc
        if not runs:
            self.stdout.write("No period is due to be closed.")
        for run in runs:
            self._show(run, quiet=options["quiet"])

    def _period(self, text: str) -> PayPeriod:
        try:
            day = datetime.date.fromisoformat(text)
        except ValueError as exc:
            raise CommandError(f"“{text}” is not a date; write it as YYYY-MM-DD.") from exc
        return period_for_day(day)

    def _actor(self, email: str) -> User | None:
        if not email:
            return None
        user = User.objects.filter(email__iexact=email, role=Role.OPERATIONS).first()
        if user is None:
            raise CommandError(f"No operations manager has the email {email}.")
        return user

    def _show(self, run: CloseRun, *, quiet: bool) -> None:
        took = ((run.finished_at or timezone.now()) - run.started_at).total_seconds()
        line = (
            f"Close of {run.period}: {run.get_status_display()}, {run.done:,} of {run.total:,} contractors, "
            f"{run.entries_posted:,} ledger entries, {len(run.exceptions):,} exceptions, {took:.1f} s."
        )
        self.stdout.write(self.style.SUCCESS(line) if run.status == "done" else line)
        if quiet:
            return
        for exception in run.exceptions[:50]:
            self.stdout.write(f"  contractor {exception['contractor']} ({exception['email']}): {exception['message']}")
        if len(run.exceptions) > 50:
            self.stdout.write(f"  … and {len(run.exceptions) - 50:,} more on the period's close page.")
