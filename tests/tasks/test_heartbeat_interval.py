"""The heartbeat interval is a setting that reaches the work pages, and paid time reads as people read it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from tasks.templatetags.worktime import duration
from tests.tasks.factories import project, tasks, worker

REPO = Path(__file__).resolve().parent.parent.parent


@pytest.mark.django_db
def test_the_task_page_beats_at_the_configured_interval(ops, login, settings):
    settings.FAIRTASK_HEARTBEAT_SECONDS = 7
    tasks(project(), 1)
    client = login(worker(ops=ops))
    page = client.get(client.post(reverse("tasks:work-next"))["Location"])
    assert page.status_code == 200
    assert 'data-heartbeat-seconds="7"' in page.content.decode()


def test_a_heartbeat_no_faster_than_the_idle_gap_stops_start_up():
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "FAIRTASK_IDLE_GAP_SECONDS": "60",
        "FAIRTASK_HEARTBEAT_SECONDS": "60",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import workforce.settings.base"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "FAIRTASK_HEARTBEAT_SECONDS (60) must be shorter than FAIRTASK_IDLE_GAP_SECONDS (60)" in result.stderr


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "0 min"), (0, "0 min"), (1, "1 s"), (59, "59 s"), (60, "1 min"), (599, "9 min"), (3900, "1 h 05 min")],
)
def test_paid_time_under_a_minute_shows_its_seconds_rather_than_nothing(seconds, shown):
    assert duration(seconds) == shown
