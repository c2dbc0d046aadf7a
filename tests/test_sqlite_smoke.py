"""The embedded default behind ``make run``: SQLite under FAIRTASK_VAR_DIR, no services needed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from workforce.demo import CONTRACTORS, STAFF

REPO = Path(__file__).resolve().parent.parent


def _clean_env(var_dir: Path) -> dict[str, str]:
    """Only what ``make run`` needs: no DATABASE_URL, no CELERY_BROKER_URL, no inherited settings."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "workforce.settings.base",
        "FAIRTASK_VAR_DIR": str(var_dir),
    }


def _manage(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get_when_up(url: str, server: subprocess.Popen[bytes], log: Path, *, timeout: float = 30) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise AssertionError(f"runserver exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"runserver did not answer within {timeout} s:\n{log.read_text()}") from None
            time.sleep(0.2)


def test_make_run_defaults_migrate_seed_twice_and_serve_the_login_page_on_sqlite(tmp_path):
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    env = _clean_env(var_dir)

    _manage("migrate", "--noinput", env=env)
    assert (var_dir / "fairtask.sqlite3").is_file()
    first = _manage("seed_demo", env=env)
    # Every demo login plus the one demo project.
    assert f"Demo data ready ({len(STAFF) + len(CONTRACTORS) + 1} new accounts and projects)" in first
    second = _manage("seed_demo", env=env)
    assert "Demo data ready (0 new accounts and projects)" in second

    port = _free_port()
    log = tmp_path / "runserver.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, str(REPO / "manage.py"), "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        status, body = _get_when_up(f"http://127.0.0.1:{port}/accounts/login/", server, log)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
    assert status == 200, body
    assert 'name="password"' in body
