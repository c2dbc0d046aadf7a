"""``make bench-assign``: the assignment engine over HTTP against a raw-SQL claim, in one run.

1. Recreate a dedicated database, migrate it, and load 200,000 open tasks (times BENCH_SCALE)
   with COPY into one open project (overlap 1, no gold, no instructions, not sensitive),
   plus 16 active contractors with the project's skill and a DRF token each. A copy of the
   tasks goes into ``bench_raw_task`` so the two runs never consume each other's tasks.
2. Serve Fairtask with gunicorn (4 sync workers) and drive it with 16 annotators, each
   looping POST /api/v1/next-task/ → POST /api/v1/assignments/<id>/submit/. Stop it.
3. Serve ``tests/bench/raw_claim_app.py`` (bare ``FOR UPDATE SKIP LOCKED``, no rules) the
   same way and drive it the same way. Stop it.
4. Count duplicate assignments in both (overlap is 1, so any task with two is one).

rps counts completed claim → submit cycles per second, i.e. claims whose answer was stored
(the same as claims per second, since every claim is followed by its submit). p99_ms is the
99th percentile of the Fairtask claim (next-task) request alone, rounded up. duplicates adds
both sides' tasks with more than one assignment. Before it, each side prints its cycles,
latencies, errors and stored rows, and the CPU time per cycle of its gunicorn processes, its
PostgreSQL backends and the load generator: unlike rps, that barely moves when something else
is busy on the machine. The last line is::

    bench-assign: fairtask_rps=N raw_rps=N ratio=R p99_ms=N duplicates=N

The scratch database is left in place for inspection and recreated by the next run.

Environment: BENCH_SCALE (fraction, default 1: 200k tasks and 20 s per run, at least 3 s),
BENCH_DATABASE_URL (default postgres://postgres@/fairtask_bench; dropped and recreated).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SETTINGS = "workforce.settings.bench"
ANNOTATORS = 16
GUNICORN_WORKERS = 4
FULL_TASKS = 200_000
FULL_SECONDS = 20.0
MIN_SECONDS = 3.0
WARMUP_CYCLES = 2  # per annotator, before the clock starts: gunicorn workers import and connect lazily
MAX_ERRORS = 200  # a run that keeps failing stops early rather than spinning
ANSWER = "cat"


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
    tasks: int
    seconds: float

    @classmethod
    def from_env(cls) -> Plan:
        scale = _scale()
        return cls(
            database_url=os.environ.get("BENCH_DATABASE_URL", "") or "postgres://postgres@/fairtask_bench",
            # A floor, so that even a tiny run cannot drain the raw side before its clock stops.
            tasks=max(5000, round(FULL_TASKS * scale)),
            seconds=max(MIN_SECONDS, FULL_SECONDS * scale),
        )

    @property
    def dbname(self) -> str:
        return str(psycopg.conninfo.conninfo_to_dict(self.database_url)["dbname"])

    def maintenance_url(self) -> str:
        return psycopg.conninfo.make_conninfo(self.database_url, dbname="postgres")


# --- setup -------------------------------------------------------------------------------


def database_recreate(plan: Plan) -> None:
    with psycopg.connect(plan.maintenance_url(), autocommit=True) as conn:
        name = sql.Identifier(plan.dbname)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def _server_env(plan: Plan) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS,
        DATABASE_URL=plan.database_url,
        BENCH_RAW_DSN=plan.database_url,
        PYTHONPATH=str(REPO),
        PYTHONDONTWRITEBYTECODE="1",
        # WhiteNoise warns per worker that collectstatic has not run; the API serves no static files.
        PYTHONWARNINGS="ignore:No directory at",
    )
    return env


def database_migrate(plan: Plan) -> None:
    subprocess.run(
        [sys.executable, str(REPO / "manage.py"), "migrate", "--noinput", "-v", "0"],
        cwd=REPO,
        env=_server_env(plan),
        check=True,
        timeout=600,
    )


def _django(plan: Plan) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    os.environ["DATABASE_URL"] = plan.database_url
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import django

    django.setup()


@dataclass(frozen=True)
class Seeded:
    project_id: int
    tokens: list[str]
    worker_ids: list[int]


def data_seed(plan: Plan) -> Seeded:
    """The project, its tasks (COPY) and 16 contractors who pass the real ``next_task`` rules.

    Contractors are written directly (not walked through onboarding, which is slow and not
    what is measured), in exactly the state onboarding leaves them: active, with the
    project's skill on the profile; the skill has no qualification test, the project no
    instructions, and nobody has a quality estimate or any time worked yet.
    """
    _django(plan)
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from tasks.models import Batch, Project, ProjectStatus, TaskTemplate
    from workforce.models import ContractorProfile, ContractorState, Role, Skill, User

    now = timezone.now()
    with transaction.atomic():
        skill = Skill.objects.create(slug="text-classification", name="Text classification")
        project = Project.objects.create(
            name="Bench animals",
            slug="bench-animals",
            required_skill=skill,
            template=TaskTemplate.SINGLE_CHOICE,
            answer_schema={"choices": ["cat", "dog", "bird"]},
            overlap=1,
            gold_rate=0,
            min_quality=0,
            lease_seconds=600,
            is_sensitive=False,
            status=ProjectStatus.OPEN,
            hourly_rate_minor=1500,
            piece_rate_minor=5,
        )
        batch = Batch.objects.create(project=project, name="bench", priority=0)
        password = make_password(None)
        users = User.objects.bulk_create(
            [
                User(email=f"annotator{i:02d}@bench.example.com", role=Role.CONTRACTOR, password=password)
                for i in range(ANNOTATORS)
            ]
        )
        profiles = ContractorProfile.objects.bulk_create(
            [
                ContractorProfile(
                    user=u,
                    state=ContractorState.ACTIVE,
                    legal_name=f"Annotator {i}",
                    display_name=f"annotator{i:02d}",
                    country="DE",
                    region="DE-BE",
                    timezone="Europe/Berlin",
                    languages=["en"],
                )
                for i, u in enumerate(users)
            ]
        )
        ContractorProfile.skills.through.objects.bulk_create(
            [ContractorProfile.skills.through(contractorprofile_id=p.pk, skill_id=skill.pk) for p in profiles]
        )
        tokens = [Token.objects.create(user=u).key for u in users]
        with connection.cursor() as cursor:
            pg_cursor: Any = cursor.cursor
            columns = "project_id, batch_id, external_id, data, is_gold, priority, overlap, filled, created_at"
            with pg_cursor.copy(f"COPY tasks_task ({columns}) FROM STDIN") as copy:
                for i in range(plan.tasks):
                    text = json.dumps({"text": f"Bench item {i}: a cat, a dog or a bird?"})
                    copy.write_row((project.pk, batch.pk, f"bench-{i}", text, False, 0, 1, 0, now))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE tasks_task")
    connection.close()
    return Seeded(project_id=project.pk, tokens=tokens, worker_ids=[u.pk for u in users])


RAW_TABLES_SQL = """
CREATE TABLE bench_raw_task (
    id bigint PRIMARY KEY,
    data jsonb NOT NULL,
    priority integer NOT NULL,
    overlap integer NOT NULL,
    filled integer NOT NULL,
    CONSTRAINT bench_raw_filled_within_overlap CHECK (filled <= overlap)
);
INSERT INTO bench_raw_task (id, data, priority, overlap, filled)
    SELECT id, data, priority, overlap, filled FROM tasks_task;
CREATE INDEX bench_raw_open_by_priority ON bench_raw_task (priority DESC, id) WHERE filled < overlap;
CREATE TABLE bench_raw_assignment (
    id bigserial PRIMARY KEY,
    task_id bigint NOT NULL REFERENCES bench_raw_task (id),
    worker_id integer NOT NULL,
    status varchar(10) NOT NULL,
    leased_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    submitted_at timestamptz,
    CONSTRAINT bench_raw_one_per_worker UNIQUE (task_id, worker_id)
);
CREATE TABLE bench_raw_answer (
    id bigserial PRIMARY KEY,
    assignment_id bigint NOT NULL UNIQUE REFERENCES bench_raw_assignment (id),
    task_id bigint NOT NULL REFERENCES bench_raw_task (id),
    worker_id integer NOT NULL,
    value jsonb NOT NULL,
    submitted_at timestamptz NOT NULL
);
"""


def raw_tables_create(plan: Plan) -> None:
    """The baseline's own copy of the tasks, with the same index shape and constraints."""
    with psycopg.connect(plan.database_url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute(RAW_TABLES_SQL)
        conn.execute("VACUUM ANALYZE bench_raw_task")


# --- servers -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, probe: str, server: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode} before serving")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", probe)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer on port {port} within {timeout:.0f} s")


@dataclass(frozen=True)
class Server:
    port: int
    pid: int


@contextmanager
def gunicorn(app: str, probe: str, plan: Plan, log_dir: Path) -> Iterator[Server]:
    """Serve ``app`` with 4 sync workers on a free loopback port; always stop it afterwards."""
    port = _free_port()
    log = log_dir / f"gunicorn-{app.split(':')[0].rsplit('.', 1)[-1]}.log"
    server = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "--workers",
            str(GUNICORN_WORKERS),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--error-logfile",
            str(log),
            "--timeout",
            "30",
            "--graceful-timeout",
            "5",
            app,
        ],
        cwd=REPO,
        env=_server_env(plan),
        start_new_session=True,  # its own process group, so stopping it takes the workers along
    )
    try:
        _wait_listening(port, probe, server)
        yield Server(port, server.pid)
    finally:
        _stop(server)


def _stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the master (it stops its workers), then SIGKILL to the group if anything is left."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)  # workers that outlived their master, if any
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise RuntimeError(f"gunicorn process group {server.pid} is still alive after SIGKILL")


# --- CPU accounting ----------------------------------------------------------------------
# Requests per second depend on whatever else the machine is doing; CPU time per cycle much
# less so. Both are printed; the last line keeps to requests per second as the issue asks.

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        # Fields after the parenthesised command name: state, ppid, …, utime (12th), stime (13th).
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _cpu_seconds(pid: int) -> float | None:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / _TICKS if fields else None


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and int(fields[1]) == pid:
                kids.append(int(entry.name))
    return kids


@dataclass
class CpuMeter:
    """CPU seconds used by the gunicorn master and workers and by their PostgreSQL backends."""

    server_pid: int
    database_url: str
    pids: dict[str, list[int]] = field(default_factory=dict)
    started: dict[int, float] = field(default_factory=dict)

    def start(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            ).fetchall()
        self.pids = {"gunicorn": [self.server_pid, *_children(self.server_pid)], "postgres": [r[0] for r in rows]}
        self.started = {
            pid: cpu for pids in self.pids.values() for pid in pids if (cpu := _cpu_seconds(pid)) is not None
        }

    def stop(self) -> dict[str, float]:
        used = {}
        for group, pids in self.pids.items():
            total = 0.0
            for pid in pids:
                now = _cpu_seconds(pid)
                if now is not None and pid in self.started:
                    total += now - self.started[pid]
            used[group] = total
        return used


# --- load --------------------------------------------------------------------------------


@dataclass
class Annotator:
    """One person's HTTP client: a kept-alive connection and their own credentials."""

    port: int
    headers: dict[str, str]
    claim_path: str
    submit_path: Callable[[int], str]
    conn: http.client.HTTPConnection = field(init=False)

    def __post_init__(self) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        try:
            self.conn.request("POST", path, body=body, headers=self.headers)
            response = self.conn.getresponse()
            payload = response.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()  # the next request reconnects
            raise
        if response.will_close:
            self.conn.close()
        return response.status, payload


@dataclass
class Result:
    name: str
    cycles: int = 0
    seconds: float = 0.0
    claim_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    exhausted: bool = False
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    def cpu_ms_per_cycle(self, group: str) -> float:
        return 1000 * self.cpu_seconds.get(group, 0.0) / self.cycles if self.cycles else 0.0

    @property
    def rps(self) -> float:
        return self.cycles / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        if not self.claim_ms:
            return 0.0
        ordered = sorted(self.claim_ms)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


_CLAIM_BODY = b"{}"
_SUBMIT_BODY = json.dumps({"answer": ANSWER}).encode()


def _cycle(a: Annotator) -> tuple[str, float]:
    """Claim then submit once. Returns ("ok" | "no_tasks" | an error, claim latency in ms)."""
    started = time.perf_counter()
    status, payload = a.post(a.claim_path, _CLAIM_BODY)
    claim_ms = (time.perf_counter() - started) * 1000
    if status == 409 and json.loads(payload).get("code") == "no_tasks":
        return "no_tasks", claim_ms
    if status != 200:
        return f"claim {status}: {payload[:200]!r}", claim_ms
    assignment = int(json.loads(payload)["assignment"])
    status, payload = a.post(a.submit_path(assignment), _SUBMIT_BODY)
    if status != 201:
        return f"submit {status}: {payload[:200]!r}", claim_ms
    return "ok", claim_ms


def drive(name: str, annotators: list[Annotator], seconds: float, max_cycles: int, meter: CpuMeter) -> Result:
    """16 threads, one per annotator, claim → submit until the clock or the tasks run out.

    Every loop is bounded by the deadline and by ``max_cycles`` (the number of tasks).
    """
    result = Result(name)
    guard = threading.Lock()
    ready = threading.Barrier(len(annotators) + 1)
    go = threading.Event()
    stop = threading.Event()
    window: dict[str, float] = {}

    def record_error(message: str) -> None:
        with guard:
            result.errors.append(message)
            if len(result.errors) >= MAX_ERRORS:
                stop.set()

    def run(a: Annotator) -> None:
        try:
            for _ in range(WARMUP_CYCLES):
                outcome, _ms = _cycle(a)
                if outcome != "ok":
                    record_error(f"warm-up {outcome}")
        except Exception as exc:
            record_error(f"warm-up {exc!r}")
        ready.wait(timeout=120)
        go.wait(timeout=120)
        latencies: list[float] = []
        done = 0
        deadline = window["deadline"]
        while not stop.is_set() and time.perf_counter() < deadline:
            try:
                outcome, ms = _cycle(a)
            except Exception as exc:
                record_error(repr(exc))
                continue
            if outcome == "no_tasks":
                with guard:
                    result.exhausted = True
                stop.set()
                break
            latencies.append(ms)
            if outcome != "ok":
                record_error(outcome)
                continue
            done += 1
            with guard:
                result.cycles += 1
                if result.cycles >= max_cycles:
                    stop.set()
        with guard:
            result.claim_ms.extend(latencies)
            window["last"] = max(window.get("last", 0.0), time.perf_counter())

    threads = [
        threading.Thread(target=run, args=(a,), name=f"{name}-{i}", daemon=True) for i, a in enumerate(annotators)
    ]
    for t in threads:
        t.start()
    ready.wait(timeout=120)
    meter.start()
    client_cpu = time.process_time()
    window["start"] = time.perf_counter()
    window["deadline"] = window["start"] + seconds
    go.set()
    for t in threads:
        t.join(timeout=seconds + 60)
    stop.set()
    result.cpu_seconds = {**meter.stop(), "client": time.process_time() - client_cpu}
    if any(t.is_alive() for t in threads):
        record_error("an annotator thread did not finish")
    result.seconds = window.get("last", time.perf_counter()) - window["start"]
    for a in annotators:
        a.conn.close()
    return result


# --- checks ------------------------------------------------------------------------------

DUPLICATES_SQL = "SELECT count(*) FROM (SELECT task_id FROM {} GROUP BY task_id HAVING count(*) > 1) AS d"


@dataclass(frozen=True)
class Stored:
    assignments: int
    answers: int
    duplicates: int


def stored(plan: Plan, assignment_table: str, answer_table: str) -> Stored:
    with psycopg.connect(plan.database_url) as conn:

        def one(query: sql.Composed) -> int:
            row = conn.execute(query).fetchone()
            assert row is not None
            return int(row[0])

        return Stored(
            assignments=one(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(assignment_table))),
            answers=one(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(answer_table))),
            duplicates=one(sql.SQL(DUPLICATES_SQL).format(sql.Identifier(assignment_table))),
        )


def _report(result: Result, db: Stored) -> None:
    print(
        f"{result.name}: cycles={result.cycles} seconds={result.seconds:.1f} rps={result.rps:.1f} "
        f"claim_p50_ms={result.percentile_ms(0.5):.1f} claim_p99_ms={result.percentile_ms(0.99):.1f} "
        f"errors={len(result.errors)} exhausted={result.exhausted} "
        f"assignments={db.assignments} answers={db.answers} duplicates={db.duplicates}",
        flush=True,
    )
    print(
        f"{result.name}: cpu_ms_per_cycle gunicorn={result.cpu_ms_per_cycle('gunicorn'):.2f} "
        f"postgres={result.cpu_ms_per_cycle('postgres'):.2f} client={result.cpu_ms_per_cycle('client'):.2f}",
        flush=True,
    )
    for message in result.errors[:5]:
        print(f"  {result.name} error: {message}", flush=True)


def main() -> int:
    plan = Plan.from_env()
    started = time.perf_counter()
    database_recreate(plan)
    database_migrate(plan)
    seeded = data_seed(plan)
    raw_tables_create(plan)
    print(
        f"bench-assign: {plan.tasks} tasks, {ANNOTATORS} annotators, {GUNICORN_WORKERS} gunicorn workers, "
        f"{plan.seconds:.1f} s per run; setup took {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    groups: list[int] = []
    with tempfile.TemporaryDirectory(prefix="bench-assign-") as tmp:
        log_dir = Path(tmp)
        with gunicorn("workforce.wsgi:application", "/accounts/login/", plan, log_dir) as server:
            fairtask = drive(
                "fairtask",
                [
                    Annotator(
                        server.port,
                        {"Authorization": f"Token {token}", "Content-Type": "application/json"},
                        "/api/v1/next-task/",
                        lambda pk: f"/api/v1/assignments/{pk}/submit/",
                    )
                    for token in seeded.tokens
                ],
                plan.seconds,
                plan.tasks,
                CpuMeter(server.pid, plan.database_url),
            )
            groups.append(server.pid)
        with gunicorn("tests.bench.raw_claim_app:application", "/health/", plan, log_dir) as server:
            raw = drive(
                "raw",
                [
                    Annotator(
                        server.port,
                        {"X-Worker": str(worker_id), "Content-Type": "application/json"},
                        "/claim/",
                        lambda pk: f"/submit/{pk}/",
                    )
                    for worker_id in seeded.worker_ids
                ],
                plan.seconds,
                plan.tasks,
                CpuMeter(server.pid, plan.database_url),
            )
            groups.append(server.pid)
        for log in sorted(log_dir.glob("*.log")):
            text = log.read_text().strip()
            if text:
                print(f"{log.name}:\n{text[-2000:]}", flush=True)
    print(f"servers: stopped gunicorn process groups {' '.join(map(str, groups))}", flush=True)
    fairtask_db = stored(plan, "tasks_assignment", "tasks_answer")
    raw_db = stored(plan, "bench_raw_assignment", "bench_raw_answer")
    _report(fairtask, fairtask_db)
    _report(raw, raw_db)
    ratio = fairtask.rps / raw.rps if raw.rps else 0.0
    p99 = math.ceil(fairtask.percentile_ms(0.99))
    duplicates = fairtask_db.duplicates + raw_db.duplicates
    print(
        f"bench-assign: fairtask_rps={round(fairtask.rps)} raw_rps={round(raw.rps)} "
        f"ratio={ratio:.2f} p99_ms={p99} duplicates={duplicates}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
