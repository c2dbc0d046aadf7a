"""`make bench-report` keeps working: a tiny run builds its data, makes the CSV, copies with psql, and
ends with its summary line. Not a timed test; its scratch database is named per run and dropped afterwards.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.bench.test_bench_close_smoke import REPO, scratch_url

LAST_LINE = re.compile(
    r"^bench-report: rows=(\d+) report_s=(\d+\.\d\d) copy_s=(\d+\.\d\d) ratio=(\d+\.\d\d) peak_rss_mb=(\d+)$"
)

__all__ = ["scratch_url"]  # the fixture, shared with bench-close's smoke test


@pytest.mark.django_db
def test_a_tiny_bench_report_run_ends_with_the_summary_line(scratch_url: str) -> None:
    env = {**os.environ, "BENCH_SCALE": "0.001", "BENCH_DATABASE_URL": scratch_url}
    result = subprocess.run(
        [sys.executable, "-m", "tests.bench.bench_report"],
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
    rows, report_s, copy_s, ratio, peak_rss_mb = match.groups()
    assert int(rows) == 100
    assert float(report_s) >= 0 and float(copy_s) > 0 and float(ratio) >= 0
    assert 0 < int(peak_rss_mb) < 300
