"""The import progress page in a real browser: the bar moves as the job works, then the result shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from tasks.models import ImportJob, ImportStatus
from tasks.services.imports import import_create, import_run
from tests.e2e.conftest import NewPage
from tests.tasks.factories import project
from workforce.models import User

pytestmark = pytest.mark.browser


def _signed_in(new_page: NewPage, live_server: LiveServer, user: User, *, phone: bool = True) -> Page:
    """A page whose browser carries a session for ``user`` (the sign-in flow has its own tests)."""
    client = Client()
    client.force_login(user)
    page = new_page(phone=phone)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return page


def test_the_progress_bar_follows_the_job_and_the_page_shows_the_result(
    new_page, live_server, ops_manager, tmp_path, settings
):
    settings.FAIRTASK_UPLOAD_DIR = tmp_path / "uploads"
    p = project()
    path = Path(tmp_path / "animals.jsonl")
    path.write_text("".join(f'{{"text": "item {i}"}}\n' for i in range(2500)))
    job = import_create(project=p, path=path, file_name=path.name, actor=ops_manager)
    page = _signed_in(new_page, live_server, ops_manager)
    page.goto(f"/ops/imports/{job.pk}/")
    bar = page.locator("progress#import-bar")
    expect(bar).to_have_attribute("value", "0")
    expect(page.get_by_text("Waiting", exact=True)).to_be_visible()

    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING, rows_done=1000, bytes_done=job.size_bytes * 2 // 5
    )
    expect(bar).to_have_attribute("value", "40")
    expect(page.locator("#import-progress-text")).to_have_text(re.compile(r"^40% · 1,000 rows checked\.$"))
    expect(page.locator("#import-status-text")).to_have_text("Running")

    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.PENDING)
    import_run(job_id=job.pk)
    expect(page.locator("#import-progress-text")).to_have_text("100% · 2,500 tasks imported.")
    expect(bar).to_have_attribute("value", "100")
    expect(page.get_by_text("Imported", exact=True)).to_be_visible()
