"""What the benchmarks' smoke tests share: a scratch database URL, and running a benchmark to its last line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent.parent


def database_url(name: str) -> str:
    """A URL for database ``name`` on the test database's server, with the test database's credentials."""
    db = connection.settings_dict
    password = f":{quote(str(db['PASSWORD']), safe='')}" if db["PASSWORD"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    host = quote(str(db["HOST"] or ""), safe="")
    return f"postgres://{quote(str(db['USER']), safe='')}{password}@{host}{port}/{quote(name, safe='')}"


@pytest.fixture
def scratch_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database URL for a database no one else uses (named per test module and process); dropped afterwards."""
    name = f"fairtask_{request.module.__name__.rsplit('.', 1)[-1]}_{os.getpid()}"[:63]
    yield database_url(name)
    db = connection.settings_dict
    maintenance = psycopg.conninfo.make_conninfo(
        dbname="postgres",
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=str(db["PORT"]) if db["PORT"] else None,
    )
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def bench_run(module: str, *, timeout: float, **env: str) -> str:
    """Run ``python -m tests.bench.<module>`` with ``env`` added; its stdout, after checking it exited 0.

    The output is read as bytes and decoded, so a progress line's carriage returns stay as they are.
    """
    result = subprocess.run(
        [sys.executable, "-m", f"tests.bench.{module}"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    stdout, stderr = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0, stdout + stderr
    return stdout
