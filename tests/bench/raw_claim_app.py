"""The raw baseline for ``bench_assign``: claim and submit with bare SQL, no Django, no rules.

Served by gunicorn exactly like the real app (same workers), it shows what the hardware,
HTTP and PostgreSQL cost on their own, so the benchmark can report Fairtask as a ratio of it.
A claim is one transaction: ``SELECT … FOR UPDATE SKIP LOCKED`` on the first open task,
insert an assignment, bump ``filled``. A submit inserts the answer and closes the
assignment. The worker is named by an ``X-Worker`` header: no authentication, no
eligibility, no caps. Tables come from ``bench_assign.raw_tables_create``.

Each gunicorn worker process opens one psycopg connection, on its first request (after the
fork), and keeps it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

import psycopg

StartResponse = Callable[[str, list[tuple[str, str]]], Any]

CLAIM_SQL = """
SELECT id, data FROM bench_raw_task
WHERE filled < overlap
ORDER BY priority DESC, id
LIMIT 1
FOR UPDATE SKIP LOCKED
"""
ASSIGN_SQL = """
INSERT INTO bench_raw_assignment (task_id, worker_id, status, leased_at, expires_at)
VALUES (%s, %s, 'leased', now(), now() + interval '600 seconds')
RETURNING id, expires_at
"""
FILL_SQL = "UPDATE bench_raw_task SET filled = filled + 1 WHERE id = %s"
ANSWER_SQL = """
INSERT INTO bench_raw_answer (assignment_id, task_id, worker_id, value, submitted_at)
SELECT id, task_id, worker_id, %s, now() FROM bench_raw_assignment
WHERE id = %s AND worker_id = %s AND status = 'leased'
RETURNING id
"""
SUBMITTED_SQL = "UPDATE bench_raw_assignment SET status = 'submitted', submitted_at = now() WHERE id = %s"

_SUBMIT_PATH = re.compile(r"^/submit/(\d+)/$")
_connection: psycopg.Connection[Any] | None = None


def _db() -> psycopg.Connection[Any]:
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(os.environ["BENCH_RAW_DSN"])
    return _connection


def _reply(start_response: StartResponse, status: str, body: dict[str, Any]) -> Iterable[bytes]:
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def _claim(worker_id: int) -> dict[str, Any] | None:
    db = _db()
    with db.transaction(), db.cursor() as cur:
        row = cur.execute(CLAIM_SQL).fetchone()
        if row is None:
            return None
        task_id, data = row
        assignment_id, expires_at = cur.execute(ASSIGN_SQL, (task_id, worker_id)).fetchone()  # type: ignore[misc]
        cur.execute(FILL_SQL, (task_id,))
    return {"assignment": assignment_id, "data": data, "expires_at": expires_at.isoformat()}


def _submit(assignment_id: int, worker_id: int, answer: Any) -> int | None:
    db = _db()
    with db.transaction(), db.cursor() as cur:
        row = cur.execute(ANSWER_SQL, (json.dumps(answer), assignment_id, worker_id)).fetchone()
        if row is None:
            return None
        cur.execute(SUBMITTED_SQL, (assignment_id,))
    return int(row[0])


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if environ.get("REQUEST_METHOD") == "GET" and path == "/health/":
        return _reply(start_response, "200 OK", {"ok": True})
    if environ.get("REQUEST_METHOD") != "POST":
        return _reply(start_response, "405 Method Not Allowed", {"message": "Use POST."})
    worker_id = int(environ.get("HTTP_X_WORKER", "0"))
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    if path == "/claim/":
        claimed = _claim(worker_id)
        if claimed is None:
            return _reply(start_response, "409 Conflict", {"code": "no_tasks", "message": "No tasks left."})
        return _reply(start_response, "200 OK", claimed)
    match = _SUBMIT_PATH.match(path)
    if match:
        answer_id = _submit(int(match.group(1)), worker_id, body.get("answer"))
        if answer_id is None:
            return _reply(start_response, "404 Not Found", {"message": "No such live assignment."})
        return _reply(start_response, "201 Created", {"answer": answer_id})
    return _reply(start_response, "404 Not Found", {"message": "Unknown path."})
