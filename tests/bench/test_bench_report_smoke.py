"""`make bench-report` keeps working: a tiny run builds its data, makes the CSV, copies with psql, and
ends with its summary line. Not a timed test; its scratch database is named per run and dropped afterwards.
"""

from __future__ import annotations

import re

import pytest

from tests.bench.conftest import bench_run

LAST_LINE = re.compile(
    r"^bench-report: rows=(\d+) report_s=(\d+\.\d\d) copy_s=(\d+\.\d\d) ratio=(\d+\.\d\d) peak_rss_mb=(\d+)$"
)


@pytest.mark.django_db
def test_a_tiny_bench_report_run_ends_with_the_summary_line(scratch_url: str) -> None:
    stdout = bench_run("bench_report", timeout=300, BENCH_SCALE="0.001", BENCH_DATABASE_URL=scratch_url)
    last = stdout.strip().splitlines()[-1]
    match = LAST_LINE.match(last)
    assert match, last
    rows, report_s, copy_s, ratio, peak_rss_mb = match.groups()
    assert int(rows) == 100
    assert float(report_s) >= 0 and float(copy_s) > 0 and float(ratio) >= 0
    assert 0 < int(peak_rss_mb) < 300
