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

from payments.services.close.pricing import Line

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
