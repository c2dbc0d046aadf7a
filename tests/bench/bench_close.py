"""``make bench-close``: the weekly close of 100,000 contractors against a raw SQL aggregate, in one run.

1. Recreate a dedicated database (``BENCH_DATABASE_URL``, default
   ``postgres://postgres@/fairtask_bench_close``), migrate it, and load with COPY (not timed):
   100,000 contractors (times ``BENCH_SCALE``) in US-CA, US-TX, GB and DE-BE, 20 projects
   (half of them piece-rate only, so many contractors need a wage-floor top-up; five with
   quality tiers and estimates), and 10,000,000 work and time records: per contractor 50
   answers (85 % approved, 10 % rejected, 5 % waiting) and 50 activity spans (task time; for
   one in ten, who joined a project that week, an instruction read; for another one in ten a
   qualification attempt), spread over one past week.
2. Time a raw SQL aggregate of the same records: per contractor, the paid seconds and the
   earnings (approved answers at the piece rate plus seconds at the hourly rate).
3. Time ``manage.py close_period`` on that week in a child process (its peak RSS comes from
   ``os.wait4``), then check the ledger: one close, no key twice, every contractor paid.

The last line is::

    bench-close: contractors=N records=N close_s=S raw_s=S ratio=R peak_rss_mb=M

Targets (DESIGN.md): ratio at most 3, peak RSS under 500 MB. The scratch database is left in
place for inspection and recreated by the next run.
"""

from __future__ import annotations

import datetime
import io
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[2]
FULL_CONTRACTORS = 100_000
ANSWERS_EACH = 50
SPANS_EACH = 50  # task spans; for one in ten an instruction read, for another one in ten a qualification attempt
PROJECTS = 20
TIERED_PROJECTS = 5
OVERLAP = 5
# (country, region, time zone, share in per mille); the rest (a few) have no jurisdiction yet.
PLACES = [
    ("US", "US-CA", "America/Los_Angeles", 400),
    ("US", "US-TX", "America/Chicago", 200),
    ("GB", "", "Europe/London", 200),
    ("DE", "DE-BE", "Europe/Berlin", 199),
]
FX = {"GBP": "1.2650000000", "EUR": "1.0840000000"}  # 1 unit in USD on the period's last day
COPY_BUFFER_ROWS = 20_000
TAB = "\t"


def _scale() -> float:
    raw = os.environ.get("BENCH_SCALE", "") or "1"
    try:
        value = float(raw)
    except ValueError:
        sys.exit(f"BENCH_SCALE must be a number such as 0.1 (got {raw!r}).")
    if not 0 < value <= 10:
        sys.exit(f"BENCH_SCALE must be above 0 and at most 10 (got {raw!r}).")
    return value


@dataclass(frozen=True)
class Plan:
    database_url: str
    contractors: int
    period_start: datetime.date

    @classmethod
    def from_env(cls, today: datetime.date | None = None) -> Plan:
        today = today or datetime.datetime.now(datetime.UTC).date()
        # The Monday-to-Sunday week that ended at least a week ago: over, whatever day it is today.
        this_monday = today - datetime.timedelta(days=today.weekday())
        return cls(
            database_url=os.environ.get("BENCH_DATABASE_URL", "") or "postgres://postgres@/fairtask_bench_close",
            contractors=max(20, round(FULL_CONTRACTORS * _scale())),
            period_start=this_monday - datetime.timedelta(weeks=2),
        )

    @property
    def records(self) -> int:
        return self.contractors * (ANSWERS_EACH + SPANS_EACH)

    @property
    def period_end(self) -> datetime.date:
        return self.period_start + datetime.timedelta(days=7)

    @property
    def dbname(self) -> str:
        return str(psycopg.conninfo.conninfo_to_dict(self.database_url)["dbname"])

    def maintenance_url(self) -> str:
        return psycopg.conninfo.make_conninfo(self.database_url, dbname="postgres")


def _env(plan: Plan) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "FAIRTASK_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="workforce.settings.bench",
        DATABASE_URL=plan.database_url,
        PYTHONPATH=str(REPO),
        PYTHONDONTWRITEBYTECODE="1",
        FAIRTASK_PAY_CURRENCY="USD",
        FAIRTASK_PAY_TIMEZONE="UTC",
        FAIRTASK_PAY_WEEK_START="0",
        PYTHONWARNINGS="ignore:No directory at",
    )
    return env


# --- setup -------------------------------------------------------------------------------


def database_recreate(plan: Plan) -> None:
    with psycopg.connect(plan.maintenance_url(), autocommit=True) as conn:
        name = sql.Identifier(plan.dbname)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def database_migrate(plan: Plan) -> None:
    subprocess.run(
        [sys.executable, str(REPO / "manage.py"), "migrate", "--noinput", "-v", "0"],
        cwd=REPO,
        env=_env(plan),
        check=True,
        timeout=900,
    )


def _copy(conn: psycopg.Connection[Any], table: str, columns: str, rows: Iterator[str]) -> int:
    """COPY tab-separated text lines into ``table``, in buffers of a few thousand lines."""
    count = 0
    with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        buffer = io.StringIO()
        for line in rows:
            buffer.write(line)
            count += 1
            if count % COPY_BUFFER_ROWS == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    return count


def _ts(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S+00")


@dataclass(frozen=True)
class Seeded:
    first_user_id: int
    contractors: int
    records: int


def data_seed(plan: Plan) -> Seeded:
    """Everything the close reads, written with COPY; ids are assigned here so rows can point at each other."""
    rng = random.Random(5)
    start = datetime.datetime.combine(plan.period_start, datetime.time(), tzinfo=datetime.UTC)
    before = _ts(start - datetime.timedelta(days=1))
    n = plan.contractors
    with psycopg.connect(plan.database_url) as conn:
        # No foreign-key triggers while loading: every id below is generated consistently, and
        # millions of deferred checks would queue up in memory until the commit.
        conn.execute("SET session_replication_role = replica")
        skill_id = conn.execute(
            "INSERT INTO workforce_skill (slug, name) VALUES ('text-classification', 'Text classification') "
            "RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
        ops_id = conn.execute(
            "INSERT INTO workforce_user (password, is_superuser, first_name, last_name, is_staff, is_active, "
            "date_joined, email, role) VALUES ('!', false, '', '', true, true, now(), 'bench-ops@fairtask.invalid', "
            "'operations') RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
        projects = []
        for p in range(PROJECTS):
            piece = 3 + p % 10
            hourly = 0 if p % 2 else 900 + 50 * p
            row = conn.execute(
                "INSERT INTO tasks_project (name, slug, template, answer_schema, overlap, gold_rate, min_quality, "
                "lease_seconds, currency, piece_rate_minor, hourly_rate_minor, is_sensitive, exposure_daily_seconds, "
                "exposure_break_after_seconds, exposure_break_seconds, status, created_at, required_skill_id) "
                "VALUES (%s, %s, 'single_choice', '{\"choices\": [\"cat\", \"dog\"]}', %s, 0, 0, 600, 'USD', %s, "
                "%s, false, 14400, 3600, 900, 'open', %s, %s) RETURNING id",
                [f"Bench project {p}", f"bench-{p}", OVERLAP, piece, hourly, before, skill_id],
            ).fetchone()
            projects.append(row[0])  # type: ignore[index]
        for p in range(TIERED_PROJECTS):
            conn.execute(
                "INSERT INTO payments_qualitytier (project_id, kind, threshold, multiplier, note, created_at) VALUES "
                "(%s, 'bonus', 0.8, 1.1, 'Ten per cent more for reliably accurate work.', now()), "
                "(%s, 'penalty', 0.5, 0.95, 'Five per cent less for clearly inaccurate work.', now())",
                [projects[p], projects[p]],
            )
        batches = [
            conn.execute(
                "INSERT INTO tasks_batch (name, priority, created_at, project_id) VALUES ('bench', 0, %s, %s) "
                "RETURNING id",
                [before, pid],
            ).fetchone()[0]  # type: ignore[index]
            for pid in projects
        ]
        instructions = [
            conn.execute(
                "INSERT INTO tasks_instructionversion (version, body, published_at, project_id) "
                "VALUES (1, 'Label the animal.', %s, %s) RETURNING id",
                [before, pid],
            ).fetchone()[0]  # type: ignore[index]
            for pid in projects
        ]
        test_id = conn.execute(
            "INSERT INTO tasks_qualificationtest (title, template, answer_schema, pass_mark, skill_id) "
            "VALUES ('Bench test', 'single_choice', '{}', 0.8, %s) RETURNING id",
            [skill_id],
        ).fetchone()[0]  # type: ignore[index]
        for currency, rate in FX.items():
            conn.execute(
                "INSERT INTO payments_fxrate (date, base, quote, rate, source) VALUES (%s, %s, 'USD', %s, 'bench')",
                [plan.period_end - datetime.timedelta(days=1), currency, rate],
            )

        first_user = ops_id + 1
        users = range(first_user, first_user + n)
        _copy(
            conn,
            "workforce_user",
            "id, password, is_superuser, first_name, last_name, is_staff, is_active, date_joined, email, role",
            (f"{u}\t!\tf\t\t\tf\tt\t{before}\tc{u}@bench.invalid\tcontractor\n" for u in users),
        )

        def place(i: int) -> tuple[str, str, str]:
            share = (i * 7919) % 1000
            for country, region, zone, per_mille in PLACES:
                if share < per_mille:
                    return country, region, zone
                share -= per_mille
            return "", "", "UTC"

        _copy(
            conn,
            "workforce_contractorprofile",
            "id, user_id, state, state_changed_at, legal_name, display_name, country, region, timezone, languages, "
            "created_at",
            (
                f'{i + 1}\t{u}\tactive\t{before}\tBench {i}\tbench{i}\t{TAB.join(place(i))}\t["en"]\t{before}\n'
                for i, u in enumerate(users)
            ),
        )
        # Each project's contractors share its tasks, OVERLAP answers per task, never one task twice each.
        per_project = [0] * PROJECTS
        for i in range(n):
            per_project[i % PROJECTS] += 1
        task_counts = [max(ANSWERS_EACH + 1, -(-c * ANSWERS_EACH // OVERLAP)) for c in per_project]
        task_base = []
        next_task = 1
        for count in task_counts:
            task_base.append(next_task)
            next_task += count
        _copy(
            conn,
            "tasks_task",
            "id, external_id, data, is_gold, priority, overlap, filled, created_at, batch_id, project_id",
            (
                f'{task_base[p] + t}\tb{p}-{t}\t{{"text": "item {t}"}}\tf\t0\t{OVERLAP}\t0\t{before}\t'
                f"{batches[p]}\t{projects[p]}\n"
                for p in range(PROJECTS)
                for t in range(task_counts[p])
            ),
        )
        _copy(
            conn,
            "tasks_instructionread",
            "id, started_at, confirmed_at, instruction_id, worker_id",
            (f"{i + 1}\t{_ts(start)}\t{_ts(start)}\t{instructions[i % PROJECTS]}\t{u}\n" for i, u in enumerate(users)),
        )
        attempts = [i for i in range(n) if i % 10 == 3]
        _copy(
            conn,
            "tasks_qualificationattempt",
            "id, started_at, finished_at, answers, correct, total, score, is_passed, test_id, worker_id",
            (
                f"{k + 1}\t{_ts(start)}\t{_ts(start)}\t{{}}\t4\t4\t1\tt\t{test_id}\t{first_user + i}\n"
                for k, i in enumerate(attempts)
            ),
        )
        attempt_of = {i: k + 1 for k, i in enumerate(attempts)}

        # Assignments and answers: contractor i works on project i % PROJECTS, on 50 of its tasks.
        def work() -> Iterator[tuple[int, int, int, int, datetime.datetime]]:
            seen = [0] * PROJECTS
            for i, u in enumerate(users):
                p = i % PROJECTS
                local = seen[p]
                seen[p] += 1
                for j in range(ANSWERS_EACH):
                    a = i * ANSWERS_EACH + j + 1
                    task = task_base[p] + (local * ANSWERS_EACH + j) % task_counts[p]
                    at = start + datetime.timedelta(seconds=(j * 11_987 + i * 37) % (7 * 86_400 - 600))
                    yield a, u, p, task, at

        _copy(
            conn,
            "tasks_assignment",
            "id, status, leased_at, expires_at, submitted_at, worker_id, task_id",
            (
                f"{a}\tsubmitted\t{_ts(at)}\t{_ts(at + datetime.timedelta(minutes=10))}\t"
                f"{_ts(at + datetime.timedelta(minutes=2))}\t{u}\t{task}\n"
                for a, u, _p, task, at in work()
            ),
        )

        def answer_rows() -> Iterator[str]:
            for a, u, _p, task, at in work():
                roll = a % 20
                submitted = at + datetime.timedelta(minutes=2)
                if roll < 17:  # approved within the week
                    status, reviewed, code, message = "approved", _ts(submitted + datetime.timedelta(minutes=5)), "", ""
                    reviewer = str(ops_id)
                elif roll < 19:
                    status, reviewed, code, message = "rejected", _ts(submitted), "wrong", "Not the animal shown."
                    reviewer = str(ops_id)
                else:
                    status, reviewed, code, message, reviewer = "pending", "\\N", "", "", "\\N"
                yield (
                    f'{a}\t"cat"\t{_ts(submitted)}\t{status}\t{reviewed}\t{code}\t{message}\t\\N\t{reviewer}\t'
                    f"{u}\t{a}\t{task}\n"
                )

        _copy(
            conn,
            "tasks_answer",
            "id, value, submitted_at, review_status, reviewed_at, rejection_code, review_message, decision_id, "
            "reviewed_by_id, worker_id, assignment_id, task_id",
            answer_rows(),
        )

        def span_rows() -> Iterator[str]:
            for a, u, p, _task, at in work():  # one span per assignment: the span's id is the answer's
                i = (a - 1) // ANSWERS_EACH
                j = (a - 1) % ANSWERS_EACH
                seconds = 40 + (a * 7) % 200
                end = _ts(at + datetime.timedelta(seconds=seconds))
                if j == 0 and i % 10 == 7:  # one in ten joined the project this week and read its instructions
                    yield f"{a}\tinstruction\t{_ts(at)}\t{end}\t{seconds}\t{u}\t\\N\t{i + 1}\t{projects[p]}\t\\N\n"
                elif j == 1 and i in attempt_of:
                    yield f"{a}\tqualification\t{_ts(at)}\t{end}\t{seconds}\t{u}\t\\N\t\\N\t\\N\t{attempt_of[i]}\n"
                else:
                    yield f"{a}\ttask\t{_ts(at)}\t{end}\t{seconds}\t{u}\t{a}\t\\N\t{projects[p]}\t\\N\n"

        _copy(
            conn,
            "tasks_activityspan",
            "id, kind, started_at, last_beat_at, active_seconds, worker_id, assignment_id, instruction_read_id, "
            "project_id, attempt_id",
            span_rows(),
        )
        tiered = set(range(TIERED_PROJECTS))
        _copy(
            conn,
            "tasks_qualityestimate",
            "gold_correct, gold_total, accuracy, lower, upper, consensus_accuracy, computed_at, project_id, worker_id, "
            "block_decision_id, is_block_waived",
            (
                "{c}\t20\t{acc}\t{lo}\t{hi}\t\\N\t{t}\t{p}\t{u}\t\\N\tf\n".format(
                    c=round(20 * q),
                    acc=f"{q:.4f}",
                    lo=f"{max(0.0, q - 0.15):.4f}",
                    hi=f"{min(1.0, q + 0.1):.4f}",
                    t=before,
                    p=projects[i % PROJECTS],
                    u=u,
                )
                for i, u in enumerate(users)
                if i % PROJECTS in tiered
                for q in (rng.choice((0.3, 0.6, 0.75, 0.95, 1.0)),)
            ),
        )
        for table in (
            "workforce_user",
            "workforce_contractorprofile",
            "tasks_task",
            "tasks_instructionread",
            "tasks_qualificationattempt",
            "tasks_assignment",
            "tasks_answer",
            "tasks_activityspan",
        ):
            conn.execute(
                sql.SQL("SELECT setval(pg_get_serial_sequence({t}, 'id'), (SELECT max(id) FROM {i}))").format(
                    t=sql.Literal(table), i=sql.Identifier(table)
                )
            )
    with psycopg.connect(plan.database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        # Write out the load's dirty pages now, so neither timed run shares the disk with a checkpoint.
        conn.execute("CHECKPOINT")
    return Seeded(first_user_id=first_user, contractors=n, records=n * (ANSWERS_EACH + SPANS_EACH))


# --- the two timed runs ---------------------------------------------------------------------


RAW_SQL = """
WITH window_spans AS (
    SELECT s.worker_id, sum(s.active_seconds) AS seconds,
           sum(s.active_seconds * p.hourly_rate_minor) AS time_minor_x3600
    FROM tasks_activityspan s LEFT JOIN tasks_project p ON p.id = s.project_id
    WHERE s.started_at >= %(start)s AND s.started_at < %(end)s
    GROUP BY s.worker_id
), window_answers AS (
    SELECT a.worker_id, sum(p.piece_rate_minor) AS piece_minor
    FROM tasks_answer a JOIN tasks_task t ON t.id = a.task_id JOIN tasks_project p ON p.id = t.project_id
    WHERE a.review_status IN ('approved', 'auto_approved') AND a.reviewed_at >= %(start)s AND a.reviewed_at < %(end)s
    GROUP BY a.worker_id
)
SELECT coalesce(s.worker_id, a.worker_id), coalesce(s.seconds, 0),
       coalesce(a.piece_minor, 0) + ceil(coalesce(s.time_minor_x3600, 0) / 3600.0)
FROM window_spans s FULL JOIN window_answers a ON a.worker_id = s.worker_id
"""


def raw_aggregate(plan: Plan) -> tuple[float, int]:
    """The baseline: the same records summed per contractor by one hand-written query."""
    start = datetime.datetime.combine(plan.period_start, datetime.time(), tzinfo=datetime.UTC)
    params = {"start": start, "end": start + datetime.timedelta(days=7)}
    with psycopg.connect(plan.database_url) as conn:
        conn.execute("SET work_mem = '64MB'")  # what the close sets for its own aggregate, for a fair race
        conn.execute(RAW_SQL, params).fetchall()  # warm the cache, as the close's run will find it
        started = time.perf_counter()
        rows = conn.execute(RAW_SQL, params).fetchall()
        seconds = time.perf_counter() - started
    return seconds, len(rows)


def close_run(plan: Plan) -> tuple[float, float]:
    """``manage.py close_period`` in a child process: wall time and the child's own peak RSS in MB."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, str(REPO / "manage.py"), "close_period", plan.period_start.isoformat(), "--quiet"],
        cwd=REPO,
        env=_env(plan),
    )
    _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"close_period exited with {code}")
    return seconds, usage.ru_maxrss / 1024


def ledger_check(plan: Plan, seeded: Seeded) -> dict[str, int]:
    """One close, no key twice, and every contractor with a jurisdiction paid at least something."""
    with psycopg.connect(plan.database_url) as conn:
        entries, keys, paid = conn.execute(
            "SELECT count(*), count(DISTINCT key), count(DISTINCT contractor_id) FROM payments_ledgerentry"
        ).fetchone()  # type: ignore[misc]
        status, exceptions = conn.execute(
            "SELECT r.status, jsonb_array_length(r.exceptions) FROM payments_closerun r "
            "JOIN payments_payperiod p ON p.id = r.period_id WHERE p.start = %s",
            [plan.period_start],
        ).fetchone()  # type: ignore[misc]
        topups = conn.execute("SELECT count(*) FROM payments_ledgerentry WHERE kind = 'topup'").fetchone()[0]  # type: ignore[index]
    if entries != keys:
        raise SystemExit(f"{entries - keys} ledger keys appear more than once.")
    if status != "done" or paid != seeded.contractors:
        raise SystemExit(f"The close ended {status} and paid {paid} of {seeded.contractors} contractors.")
    return {"entries": entries, "topups": topups, "exceptions": exceptions}


def main() -> int:
    plan = Plan.from_env()
    print(
        f"bench-close: {plan.contractors:,} contractors, {plan.records:,} records, week of {plan.period_start}, "
        f"database {plan.database_url}",
        flush=True,
    )
    database_recreate(plan)
    database_migrate(plan)
    started = time.perf_counter()
    seeded = data_seed(plan)
    print(f"  loaded with COPY in {time.perf_counter() - started:.1f} s (not timed)", flush=True)
    raw_s, raw_rows = raw_aggregate(plan)
    print(f"  raw aggregate: {raw_rows:,} contractors in {raw_s:.2f} s", flush=True)
    close_s, peak_rss_mb = close_run(plan)
    checked = ledger_check(plan, seeded)
    print(
        f"  close: {checked['entries']:,} ledger entries ({checked['topups']:,} top-ups), "
        f"{checked['exceptions']} exceptions, in {close_s:.2f} s",
        flush=True,
    )
    print(
        f"bench-close: contractors={seeded.contractors} records={seeded.records} close_s={close_s:.2f} "
        f"raw_s={raw_s:.2f} ratio={close_s / raw_s:.2f} peak_rss_mb={peak_rss_mb:.0f}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
