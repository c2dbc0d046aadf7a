"""`make bench-close` keeps working: a tiny run ends with its summary line, and every number in it is a number.

Not a timed test: it proves the benchmark still loads its data, times the raw aggregate and the
close, and finds one close with no key twice. It uses a scratch database of its own, named per
run and dropped afterwards.
"""

from __future__ import annotations

import re

from tests.bench.conftest import bench_run

LAST_LINE = re.compile(
    r"^bench-close: contractors=(\d+) records=(\d+) close_s=(\d+\.\d\d) raw_s=(\d+\.\d\d) "
    r"ratio=(\d+\.\d\d) peak_rss_mb=(\d+)$"
)


def test_a_tiny_bench_close_run_ends_with_the_summary_line(scratch_url: str) -> None:
    stdout = bench_run("bench_close", timeout=300, BENCH_SCALE="0.001", BENCH_DATABASE_URL=scratch_url)
    last = stdout.strip().splitlines()[-1]
    match = LAST_LINE.match(last)
    assert match, last
    contractors, records, close_s, raw_s, ratio, peak_rss_mb = match.groups()
    assert (int(contractors), int(records)) == (100, 10_000)
    assert float(close_s) > 0 and float(raw_s) >= 0 and float(ratio) > 0
    assert 0 < int(peak_rss_mb) < 500
