"""`make bench-close` keeps working: a tiny run ends with its summary line, and every number in it is a number.

Not a timed test: it proves the benchmark still loads its data, times the raw aggregate and the
close, and finds one close with no key twice. It uses a scratch database of its own, named per
run and dropped afterwards.
"""

from __future__ import annotations

import os
import re
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
LAST_LINE = re.compile(
    r"^bench-close: contractors=(\d+) records=(\d+) close_s=(\d+\.\d\d) raw_s=(\d+\.\d\d) "
    r"ratio=(\d+\.\d\d) peak_rss_mb=(\d+)$"
)


@pytest.fixture
def scratch_url() -> Iterator[str]:
    """A database URL on the test server, for a database no one else uses; dropped afterwards."""
    db = connection.settings_dict
    name = f"fairtask_bench_close_smoke_{os.getpid()}"
    password = f":{quote(str(db['PASSWORD']), safe='')}" if db["PASSWORD"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    host = quote(str(db["HOST"] or ""), safe="")
    yield f"postgres://{quote(str(db['USER']), safe='')}{password}@{host}{port}/{name}"
    maintenance = psycopg.conninfo.make_conninfo(
        dbname="postgres",
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=str(db["PORT"]) if db["PORT"] else None,
    )
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_a_tiny_bench_close_run_ends_with_the_summary_line(scratch_url: str) -> None:
    env = {**os.environ, "BENCH_SCALE": "0.001", "BENCH_DATABASE_URL": scratch_url}
    result = subprocess.run(
        [sys.executable, "-m", "tests.bench.bench_close"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    match = LAST_LINE.match(last)
    assert match, last
    contractors, records, close_s, raw_s, ratio, peak_rss_mb = match.groups()
    assert (int(contractors), int(records)) == (100, 10_000)
    assert float(close_s) > 0 and float(raw_s) >= 0 and float(ratio) > 0
    assert 0 < int(peak_rss_mb) < 500
