"""``make bench-report``: the fair-wage CSV of bench-close's week against ``psql \\copy`` of the same rows.

1. Use bench-close's database (``BENCH_DATABASE_URL``, default
   ``postgres://postgres@/fairtask_bench_close``) if its week is closed with a wage check per
   contractor; otherwise build it as bench-close does (recreate, migrate, COPY the data, close).
2. Run ``manage.py fair_wage_report`` (the portal's CSV writer) in a child process; its peak
   RSS comes from ``os.wait4`` and its time is what the command measures around the report
   (checkpoint, every row, the file and its hash), without the interpreter's and Django's
   start-up, a constant second or two that psql has no counterpart for.
3. Time ``psql -c "\\copy (<the same query>) TO 'file' CSV"`` in the same run.

The last line is::

    bench-report: rows=N report_s=S copy_s=S ratio=R peak_rss_mb=M

Targets (DESIGN.md): ratio (report_s / copy_s) at most 1.5, peak RSS under 300 MB.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from tests.bench.bench_close import REPO, Plan, _env, close_run, data_seed, database_migrate, database_recreate


def _ready(plan: Plan) -> bool:
    """Whether the database holds bench-close's week, closed, with one wage check per contractor."""
    try:
        with psycopg.connect(plan.database_url) as conn:
            row = conn.execute(
                "SELECT p.status, (SELECT count(*) FROM payments_wagecheck w WHERE w.period_id = p.id), "
                "(SELECT count(*) FROM workforce_user WHERE role = 'contractor') "
                "FROM payments_payperiod p WHERE p.start = %s",
                [plan.period_start],
            ).fetchone()
    except psycopg.Error:
        return False
    return bool(row and row[0] == "closed" and row[1] == row[2] == plan.contractors)


def _manage(plan: Plan, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args],
        cwd=REPO,
        env=_env(plan),
        check=True,
        capture_output=True,
        text=True,
        timeout=3600,
    )


def report_run(plan: Plan, target: Path) -> tuple[float, float, str]:
    child = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "manage.py"),
            "fair_wage_report",
            plan.period_start.isoformat(),
            "--output",
            str(target),
        ],
        cwd=REPO,
        env=_env(plan),
        stdout=subprocess.PIPE,
        text=True,
    )
    out = child.stdout.read() if child.stdout else ""
    _pid, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"fair_wage_report failed: {out}")
    said = dict(part.split("=", 1) for part in out.split())
    return float(said["seconds"]), usage.ru_maxrss / 1024, out.strip()


def copy_run(plan: Plan, query: str, target: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["psql", "-X", "-q", plan.database_url, "-c", f"\\copy ({query}) TO '{target}' CSV"],
        check=True,
        timeout=3600,
    )
    return time.perf_counter() - started


def main() -> int:
    plan = Plan.from_env()
    print(f"bench-report: {plan.contractors:,} contractors, week of {plan.period_start}, {plan.database_url}")
    if _ready(plan):
        print("  reusing bench-close's closed week", flush=True)
    else:
        database_recreate(plan)
        database_migrate(plan)
        seeded = data_seed(plan)
        close_s, _rss = close_run(plan)
        print(f"  built: {seeded.records:,} records, closed in {close_s:.1f} s (not timed)", flush=True)
    query = _manage(plan, "fair_wage_report", plan.period_start.isoformat(), "--sql").stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as folder:
        report_file, copy_file = Path(folder) / "report.csv", Path(folder) / "copy.csv"
        copy_run(plan, query, copy_file)  # warm the cache, as the report will find it
        report_run(plan, report_file)
        report_s, peak_rss_mb, said = report_run(plan, report_file)
        copy_s = copy_run(plan, query, copy_file)
        with copy_file.open() as handle:
            rows = sum(1 for _line in handle)
        print(f"  report: {said}; copy: {rows:,} rows, {copy_file.stat().st_size:,} bytes", flush=True)
    print(
        f"bench-report: rows={rows} report_s={report_s:.2f} copy_s={copy_s:.2f} ratio={report_s / copy_s:.2f} "
        f"peak_rss_mb={peak_rss_mb:.0f}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
