"""``make bench-import``: a 100,000-row JSONL file through ``manage.py import_tasks``.

Generates the file in a temporary directory (``BENCH_SCALE``, a fraction, shrinks it), makes
a project in the database at ``DATABASE_URL`` (default ``postgres://postgres@/fairtask``;
migrated first), runs the command as a child process and measures its wall time and peak
RSS (``os.wait4`` gives that child's own rusage). It checks that every row was imported,
removes the bench project again (``BENCH_KEEP=1`` keeps it), and prints as its last line:

    bench-import: rows=N seconds=S rows_per_s=N peak_rss_mb=M

Targets (issue 4): at least 5,000 rows/s, peak RSS under 300 MB.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FULL_ROWS = 100_000
GOLD_EVERY = 50  # one row in 50 carries a gold answer, as a real import would
CHOICES = ["cat", "dog", "bird"]
WORDS = [
    "the",
    "a",
    "quick",
    "brown",
    "lazy",
    "small",
    "big",
    "cat",
    "dog",
    "bird",
    "sits",
    "runs",
    "flies",
    "sleeps",
    "on",
    "under",
    "near",
    "mat",
    "tree",
    "house",
]


def _scale() -> float:
    raw = os.environ.get("BENCH_SCALE", "1")
    try:
        scale = float(raw)
    except ValueError:
        sys.exit(f"BENCH_SCALE must be a number such as 0.01 (got {raw!r}).")
    if not 0 < scale <= 10:
        sys.exit(f"BENCH_SCALE must be above 0 and at most 10 (got {raw!r}).")
    return scale


def write_jsonl(path: Path, rows: int) -> None:
    rng = random.Random(4)  # the same file every run
    with path.open("w", encoding="utf-8") as f:
        for i in range(rows):
            row: dict[str, object] = {
                "id": f"bench-{i}",
                "text": " ".join(rng.choices(WORDS, k=14)),
                "meta": {"source": "bench", "n": i},
            }
            if i % GOLD_EVERY == 0:
                row["gold_answer"] = rng.choice(CHOICES)
            f.write(json.dumps(row) + "\n")


def _child_env(upload_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", "postgres://postgres@/fairtask")
    env.setdefault("DJANGO_SETTINGS_MODULE", "workforce.settings.base")
    env["DEBUG"] = "false"  # DEBUG keeps every query's SQL in memory, which would skew peak RSS
    env["FAIRTASK_UPLOAD_DIR"] = str(upload_dir)
    env.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
    env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    return env


def _setup_django(env: dict[str, str]) -> None:
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DEBUG", "FAIRTASK_UPLOAD_DIR")})
    os.environ.setdefault("SECRET_KEY", env["SECRET_KEY"])
    sys.path.insert(0, str(REPO))
    import django

    django.setup()


def _make_project() -> tuple[int, str]:
    from tasks.models import Project, ProjectStatus, TaskTemplate
    from workforce.models import Role, Skill, User

    skill, _ = Skill.objects.get_or_create(slug="text-classification", defaults={"name": "Text classification"})
    User.objects.get_or_create(email="bench-import@fairtask.invalid", defaults={"role": Role.OPERATIONS})
    slug = f"bench-import-{uuid.uuid4().hex[:8]}"
    project = Project.objects.create(
        name=f"Bench import {slug[-8:]}",
        slug=slug,
        required_skill=skill,
        template=TaskTemplate.SINGLE_CHOICE,
        answer_schema={"choices": CHOICES},
        overlap=3,
        status=ProjectStatus.OPEN,
    )
    return project.pk, slug


def _imported(project_id: int) -> int:
    from tasks.models import Task

    return Task.objects.filter(project_id=project_id).count()


def _remove_project(project_id: int) -> None:
    """Raw deletes: the ORM's collector would walk 100k tasks' relations one query at a time."""
    from django.db import connection, transaction

    from tasks.models import Batch, GoldAnswer, ImportJob, Project, Task

    tables = {m: m._meta.db_table for m in (Batch, GoldAnswer, ImportJob, Project, Task)}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {tables[GoldAnswer]} WHERE task_id IN (SELECT id FROM {tables[Task]} WHERE project_id = %s)",
            [project_id],
        )
        cursor.execute(f"DELETE FROM {tables[ImportJob]} WHERE project_id = %s", [project_id])
        cursor.execute(f"DELETE FROM {tables[Task]} WHERE project_id = %s", [project_id])
        cursor.execute(f"DELETE FROM {tables[Batch]} WHERE project_id = %s", [project_id])
        cursor.execute(f"DELETE FROM {tables[Project]} WHERE id = %s", [project_id])


def main() -> int:
    rows = max(1, round(FULL_ROWS * _scale()))
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        tmp_path = Path(tmp)
        data = tmp_path / "bench.jsonl"
        write_jsonl(data, rows)
        env = _child_env(tmp_path / "uploads")
        manage = [sys.executable, str(REPO / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=REPO, env=env, check=True)
        _setup_django(env)
        from django.db import connection

        project_id, slug = _make_project()
        connection.close()
        size_mb = data.stat().st_size / 1e6
        print(f"Importing {rows:,} rows ({size_mb:.1f} MB) into {slug} at {env['DATABASE_URL']}", flush=True)
        started = time.perf_counter()
        child = subprocess.Popen(
            [*manage, "import_tasks", slug, str(data), "--actor", "bench-import@fairtask.invalid"], cwd=REPO, env=env
        )
        _pid, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        try:
            if child.returncode != 0:
                print(f"import_tasks exited with {child.returncode}", file=sys.stderr)
                return 1
            imported = _imported(project_id)
            if imported != rows:
                print(f"Expected {rows} tasks, found {imported}.", file=sys.stderr)
                return 1
        finally:
            if os.environ.get("BENCH_KEEP") != "1":
                _remove_project(project_id)
    peak_rss_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    print(
        f"bench-import: rows={rows} seconds={seconds:.2f} rows_per_s={rows / seconds:.0f} "
        f"peak_rss_mb={peak_rss_mb:.0f}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
