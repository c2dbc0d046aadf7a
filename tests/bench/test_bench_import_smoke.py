"""`make bench-import` keeps working: a 1% run against the test database ends with its summary line."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from tasks.models import Project, Task
from tests.bench.conftest import bench_run, database_url

pytestmark = pytest.mark.django_db(transaction=True)

LAST_LINE = re.compile(r"^bench-import: rows=(\d+) seconds=\d+\.\d+ rows_per_s=\d+ peak_rss_mb=\d+$")


def test_a_small_bench_import_run_ends_with_the_summary_line_and_cleans_up() -> None:
    stdout = bench_run(
        "bench_import",
        timeout=300,
        BENCH_SCALE="0.01",
        DATABASE_URL=database_url(str(connection.settings_dict["NAME"])),
        DJANGO_SETTINGS_MODULE="workforce.settings.test",
    )
    last = stdout.strip().splitlines()[-1]
    match = LAST_LINE.match(last)
    assert match, last
    assert match.group(1) == "1000"
    assert "\r" in stdout and "rows/s" in stdout  # the command's progress line went by
    assert not Project.objects.filter(slug__startswith="bench-import-").exists()
    assert Task.objects.count() == 0
