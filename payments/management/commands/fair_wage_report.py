"""``manage.py fair_wage_report 2026-11-09 --output report.csv``: a fair-wage CSV for scripts and the bench.

Writes the same bytes as the portal's CSV of that closed period and prints its SHA-256;
``--sql`` prints instead the query whose rows the CSV holds (what ``make bench-report`` copies with psql).
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from payments.models import PayPeriod
from payments.reports.builder import _currencies, checkpoint_now, report_params_check, rows_sql
from payments.reports.formats import HashingWriter, csv_write


def _quiet(rows: int, *, live: bool = False) -> None:
    """No progress to record: the command has no report row."""


class Command(BaseCommand):
    help = "Write the fair-wage CSV of a closed pay period (by its first day) and print its SHA-256."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("start", type=datetime.date.fromisoformat, help="The period's first day, YYYY-MM-DD.")
        parser.add_argument("--jurisdiction", default="")
        parser.add_argument("--output", type=Path, help="Where to write the CSV.")
        parser.add_argument("--sql", action="store_true", help="Print the rows query (one line) instead.")

    def handle(self, *args: Any, **options: Any) -> None:
        period = PayPeriod.objects.filter(start=options["start"]).first()
        if period is None:
            raise CommandError(f"No pay period starts on {options['start']}.")
        try:
            params = report_params_check(period=period, jurisdiction=options["jurisdiction"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if options["sql"]:
            sql = rows_sql(params, _currencies(params)) % {
                "period": period.pk,
                "first_day": f"'{period.start.isoformat()}'",
                "last_day": f"'{(period.end - datetime.timedelta(days=1)).isoformat()}'",
                "after": 0,
                "jurisdiction": f"'{params.jurisdiction}'",
                "jurisdiction_like": f"'{params.jurisdiction}-%'",
            }
            self.stdout.write(" ".join(sql.split()))
            return
        if options["output"] is None:
            raise CommandError("Name the file to write with --output.")
        started = time.perf_counter()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            checkpoint = checkpoint_now()
            with options["output"].open("wb") as handle:
                out = HashingWriter(handle)
                made = csv_write(params, checkpoint, out, progress=_quiet)
        seconds = time.perf_counter() - started
        self.stdout.write(f"rows={made.rows} sha256={out.sha256} size={out.size} seconds={seconds:.3f}")
