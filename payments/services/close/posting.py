"""Posting a chunk's lines: one COPY into a staging table, one ``INSERT … ON CONFLICT (key) DO NOTHING``.

The unique ledger key is what makes a second, resumed or concurrent close post nothing twice:
the database keeps the first entry under each key and skips the rest. The append-only
trigger stays on; nothing here updates or deletes a ledger row (rule 5).
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

from django.db import connection

from payments.services.close.pricing import Check, Line

JOB = "payments.close"


def _json_default(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date):  # datetimes too
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# One encoder for the whole run: ``json.dumps`` with options would build a new one per line.
_ENCODER = json.JSONEncoder(default=_json_default, separators=(",", ":"))


def details_json(details: dict[str, Any]) -> str:
    """Decimals as exact strings and dates in ISO form, as ``DjangoJSONEncoder`` stores them."""
    return _ENCODER.encode(details)


STAGE_SQL = """
CREATE TEMP TABLE IF NOT EXISTS payments_close_stage (
    contractor_id bigint, kind varchar(20), amount_minor bigint, currency varchar(3), source_type varchar(100),
    source_id bigint, memo text, details jsonb, key varchar(200)
) ON COMMIT DELETE ROWS
"""
POST_SQL = """
INSERT INTO payments_ledgerentry (contractor_id, kind, amount_minor, currency, period_id, source_type, source_id,
                                  memo, details, created_at, created_by_job, key)
SELECT contractor_id, kind, amount_minor, currency, %(period)s, source_type, source_id, memo, details, now(),
       %(job)s, key
FROM payments_close_stage
ON CONFLICT (key) DO NOTHING
"""


def lines_post(period_id: int, lines: list[tuple[int, Line]], currency: str) -> int:
    """Append a chunk's lines in one COPY and one insert; a key already in the ledger is skipped.

    Must run inside the chunk's transaction (the staging table empties itself at commit).
    Returns the number of entries actually posted.
    """
    if not lines:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(STAGE_SQL)
        raw: Any = cursor.cursor
        with raw.copy(
            "COPY payments_close_stage (contractor_id, kind, amount_minor, currency, source_type, source_id, memo, "
            "details, key) FROM STDIN"
        ) as copy:
            for contractor, line in lines:
                copy.write_row(
                    (
                        contractor,
                        line.kind,
                        line.amount_minor,
                        currency,
                        line.source_type,
                        line.source_id,
                        line.memo,
                        line.details,
                        line.key,
                    )
                )
        cursor.execute(POST_SQL, {"period": period_id, "job": JOB})
        return int(cursor.rowcount)


CHECK_STAGE_SQL = """
CREATE TEMP TABLE IF NOT EXISTS payments_wagecheck_stage (
    contractor_id bigint, jurisdiction varchar(10), task_seconds bigint, qualification_seconds bigint,
    instruction_seconds bigint, excluded_seconds bigint, paid_seconds bigint, tasks_paid integer,
    earnings_minor bigint, topup_minor bigint, overtime_minor bigint, required_minor bigint,
    floor_hourly_minor numeric(20, 4), statutory jsonb, policy jsonb, fx jsonb,
    effective_hourly_before_minor numeric(20, 4), effective_hourly_after_minor numeric(20, 4),
    is_compliant boolean, problem text
) ON COMMIT DELETE ROWS
"""
CHECK_COLUMNS = (
    "contractor_id, jurisdiction, task_seconds, qualification_seconds, instruction_seconds, excluded_seconds, "
    "paid_seconds, tasks_paid, earnings_minor, topup_minor, overtime_minor, required_minor, floor_hourly_minor, "
    "statutory, policy, fx, effective_hourly_before_minor, effective_hourly_after_minor, is_compliant, problem"
)
_CHECK_UPDATED = [c.strip() for c in CHECK_COLUMNS.split(",")][1:]
# A resumed or retried close prices the contractor again: the row then says what the ledger now holds.
# Column names are the constants above, never input.
CHECK_POST_SQL = f"""
INSERT INTO payments_wagecheck (period_id, currency, status, updated_at, {CHECK_COLUMNS})
SELECT %(period)s, %(currency)s, CASE WHEN problem = '' THEN 'complete' ELSE 'pending' END, now(), {CHECK_COLUMNS}
FROM payments_wagecheck_stage
ON CONFLICT (period_id, contractor_id) DO UPDATE SET
    currency = EXCLUDED.currency, status = EXCLUDED.status, updated_at = EXCLUDED.updated_at,
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _CHECK_UPDATED)}
"""  # noqa: S608


def checks_post(period_id: int, checks: list[tuple[int, Check]], currency: str) -> None:
    """Record every priced contractor's floor comparison (``WageCheck``): one COPY and one upsert.

    Must run inside the chunk's transaction, with the chunk's ledger entries.
    """
    if not checks:
        return
    with connection.cursor() as cursor:
        cursor.execute(CHECK_STAGE_SQL)
        # Empty at every commit, but a caller's transaction (a test) may stage two closes in one.
        cursor.execute("TRUNCATE payments_wagecheck_stage")
        raw: Any = cursor.cursor
        with raw.copy(f"COPY payments_wagecheck_stage ({CHECK_COLUMNS}) FROM STDIN") as copy:
            for contractor, k in checks:
                copy.write_row(
                    (
                        contractor,
                        k.jurisdiction,
                        k.task_seconds,
                        k.qualification_seconds,
                        k.instruction_seconds,
                        k.excluded_seconds,
                        k.paid_seconds,
                        k.tasks_paid,
                        k.earnings_minor,
                        k.topup_minor,
                        k.overtime_minor,
                        k.required_minor,
                        k.floor_hourly_minor,
                        k.statutory,
                        k.policy,
                        k.fx,
                        k.effective_before,
                        k.effective_after,
                        k.is_compliant,
                        k.problem,
                    )
                )
        cursor.execute(CHECK_POST_SQL, {"period": period_id, "currency": currency})
