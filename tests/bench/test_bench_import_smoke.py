"""`make bench-import` keeps working: a 1% run against the test database ends with its summary line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from tasks.models import Project, Task

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parent.parent.parent
LAST_LINE = re.compile(r"^bench-import: rows=(\d+) seconds=\d+\.\d+ rows_per_s=\d+ peak_rss_mb=\d+$")


def _test_database_url() -> str:
    db = connection.settings_dict
    password = f":{quote(str(db['PASSWORD']), safe='')}" if db["PASSWORD"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    host = quote(str(db["HOST"] or ""), safe="")
    return f"postgres://{quote(str(db['USER']), safe='')}{password}@{host}{port}/{quote(str(db['NAME']), safe='')}"


def test_a_small_bench_import_run_ends_with_the_summary_line_and_cleans_up() -> None:
    env = {**os.environ, "BENCH_SCALE": "0.01", "DATABASE_URL": _test_database_url()}
    env["DJANGO_SETTINGS_MODULE"] = "workforce.settings.test"
    result = subprocess.run(
        [sys.executable, "-m", "tests.bench.bench_import"],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    stdout = result.stdout.decode()  # bytes, so the progress line's \r is not turned into \n
    assert result.returncode == 0, result.stderr.decode()
    last = stdout.strip().splitlines()[-1]
    match = LAST_LINE.match(last)
    assert match, last
    assert match.group(1) == "1000"
    assert "\r" in stdout and "rows/s" in stdout  # the command's progress line went by
    assert not Project.objects.filter(slug__startswith="bench-import-").exists()
    assert Task.objects.count() == 0
