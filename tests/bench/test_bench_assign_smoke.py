"""`make bench-assign` keeps working: a 1% run ends with its summary line and no duplicates.

Not a timed test: the figures on a shared CI machine mean nothing. It proves the benchmark
still sets up, serves both sides with gunicorn, drives them, stops them, and finds every
claim answered exactly once. The benchmark drops and recreates its own scratch database,
named here per run so that two suites on one server never share it, and dropped afterwards.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.bench.conftest import bench_run

LAST_LINE = re.compile(
    r"^bench-assign: fairtask_rps=(\d+) raw_rps=(\d+) ratio=(\d+\.\d\d) p99_ms=(\d+) duplicates=(\d+)$"
)
SIDE_LINE = re.compile(r"^(fairtask|raw): cycles=(\d+) .* errors=(\d+) .* duplicates=(\d+)$")


def test_a_small_bench_assign_run_ends_with_the_summary_line_and_no_duplicates(scratch_url: str) -> None:
    stdout = bench_run("bench_assign", timeout=240, BENCH_SCALE="0.01", BENCH_DATABASE_URL=scratch_url)
    lines = stdout.strip().splitlines()
    match = LAST_LINE.match(lines[-1])
    assert match, lines[-1]
    fairtask_rps, raw_rps, _ratio, _p99, duplicates = match.groups()
    assert int(duplicates) == 0
    assert int(fairtask_rps) > 0 and int(raw_rps) > 0
    sides = {m.group(1): m for line in lines if (m := SIDE_LINE.match(line))}
    assert set(sides) == {"fairtask", "raw"}, stdout
    for side in sides.values():
        assert int(side.group(2)) > 0, side.group(0)  # cycles completed
        assert side.group(3) == "0", stdout  # no failed claim or submit
        assert side.group(4) == "0", side.group(0)
    # Both gunicorn process groups (each master and its workers) are gone.
    stopped = [line for line in lines if line.startswith("servers: stopped gunicorn process groups ")]
    assert stopped, stdout
    groups = [int(pid) for pid in stopped[0].rsplit("groups ", 1)[1].split()]
    assert len(groups) == 2
    for group in groups:
        with pytest.raises(ProcessLookupError):
            os.killpg(group, 0)
