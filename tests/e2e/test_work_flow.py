"""A day of crowd work, driven through the portal in a real browser, with a real Celery worker.

A contractor opens Work, takes the paid qualification test and passes, reads the
instructions, then labels tasks with the keyboard alone (number keys choose, Enter submits)
and watches their paid time grow. An operations manager signs in with a TOTP code, imports a
file with one bad row (sees the row, the field and the message; nothing is imported), fixes
it, imports it again while watching the progress bar, and reads the project's dashboard.

Only the starting point is made without the UI: the contractor (active), the project with
three tasks, its qualification test and its instructions, and the manager. The imports run
in a ``celery worker`` subprocess against the test database, as in production. Heartbeats
come every second instead of every 15, so that the time shown visibly grows within the test.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.fixtures import Settings

from tasks.models import (
    ActivityKind,
    ActivitySpan,
    Answer,
    Batch,
    ImportJob,
    ImportStatus,
    InstructionRead,
    InstructionVersion,
    Project,
    QualificationAttempt,
    QualificationQuestion,
    QualificationTest,
    Task,
)
from tasks.templatetags.worktime import duration
from tests.celery_worker import Worker
from tests.e2e.conftest import DESKTOP_VIEWPORT, PHONE_VIEWPORT, NewPage, pass_mfa, sign_in
from tests.tasks import factories
from tests.workforce.factories import PASSWORD, SkillFactory
from workforce.models import Decision, DecisionKind, User

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TASK_SCREENSHOT = Path("/tmp/fairtask-work-task-390px.png")
HOME_SCREENSHOT = Path("/tmp/fairtask-work-home-390px.png")
# The Celery job and the page's once-a-second poll: seconds, not minutes, when all is well.
IMPORT_TIMEOUT_MS = 20_000

CHOICES = ["cat", "dog", "bird"]
# What each task says, and the label a careful contractor gives it.
TASKS = {
    "A tabby cat is asleep on the warm windowsill.": "cat",
    "The dog drops a stick at my feet and barks until I throw it.": "dog",
    "A robin pulls a worm out of the wet lawn.": "bird",
}
# The qualification questions with their gold answers, and what the contractor answers: one slip.
QUESTIONS = [
    ("It purrs when you stroke it.", "cat", "cat"),
    ("It barks at the postman every morning.", "dog", "dog"),
    ("It sings from the hedge at dawn.", "bird", "bird"),
    ("It fetches the ball and wags its tail.", "dog", "cat"),
]
INSTRUCTIONS = "Pick the animal the text is about: cat, dog or bird. Use the number keys, then Enter."

# Six new tasks, the fourth with a misspelt field.
NEW_ROWS = [
    {"id": "s-101", "text": "Two kittens chase a ribbon across the floor."},
    {"id": "s-102", "text": "The puppy sleeps in its basket."},
    {"id": "s-103", "text": "A heron stands still in the shallow water."},
    {"id": "s-104", "txt": "A sheepdog rounds up the flock."},
    {"id": "s-105", "text": "The cat watches the goldfish bowl."},
    {"id": "s-106", "text": "Swallows gather on the telephone wire."},
]
BAD_ROW = 4
FIXED_ROWS = [{("text" if key == "txt" else key): value for key, value in row.items()} for row in NEW_ROWS]


def seconds_shown(text: str) -> int:
    """The seconds a duration on the page stands for (“40 s”, “3 min 07 s”, “2 min”, “1 h 05 min”)."""
    patterns = {
        r"(\d+) s": lambda m: int(m[1]),
        r"(\d+) min (\d+) s": lambda m: 60 * int(m[1]) + int(m[2]),
        r"(\d+) min": lambda m: 60 * int(m[1]),
        r"(\d+) h (\d+) min": lambda m: 3600 * int(m[1]) + 60 * int(m[2]),
    }
    for pattern, value in patterns.items():
        match = re.fullmatch(pattern, text.strip())
        if match:
            return value(match)
    raise AssertionError(f"Not a duration: {text!r}")


def wait_for_paid_time(page: Page) -> int:
    """Wait until the page's heartbeats have credited at least one second, and return what it shows."""
    shown = page.locator("#active-time")
    expect(shown).to_have_text(re.compile(r"^([1-9]\d* s|\d+ min \d+ s)$"))
    return seconds_shown(shown.inner_text())


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def animal_project(transactional_db: None) -> Project:
    """An open project with three tasks, instructions, and a paid qualification test for its skill."""
    skill = SkillFactory.create(slug="text-classification", name="Text classification")
    project = factories.project(name="Animal sightings", required_skill=skill, answer_schema={"choices": CHOICES})
    batch = Batch.objects.create(project=project, name="first sightings")
    Task.objects.bulk_create(Task(project=project, batch=batch, data={"text": text}) for text in TASKS)
    InstructionVersion.objects.create(project=project, version=1, body=INSTRUCTIONS)
    test = QualificationTest.objects.create(
        skill=skill, title="Animals: the basics", answer_schema={"choices": CHOICES}, pass_mark=Decimal("0.700")
    )
    for position, (text, gold, _given) in enumerate(QUESTIONS):
        QualificationQuestion.objects.create(test=test, data={"text": text}, answer=gold, position=position)
    return project


def test_a_contractor_qualifies_and_labels_by_keyboard_and_a_manager_imports_and_reads_the_dashboard(
    new_page: NewPage,
    settings: Settings,
    tmp_path: Path,
    ops_manager: User,
    animal_project: Project,
    celery_worker: Worker,
) -> None:
    settings.FAIRTASK_HEARTBEAT_SECONDS = 1
    settings.FAIRTASK_UPLOAD_DIR = tmp_path / "uploads"
    contractor = factories.worker(ops=ops_manager, email="tess.tasker@example.com")

    # 1. The contractor signs in and opens Work: the project needs the qualification test first.
    page = new_page()
    sign_in(page, email=contractor.email, password=PASSWORD)
    page.get_by_role("link", name="Work", exact=True).click()
    expect(page.get_by_role("heading", name="Work", level=1)).to_be_visible()
    row = page.locator(f"li[data-project='{animal_project.pk}']")
    expect(row).to_contain_text("Animal sightings")
    expect(row.get_by_role("button", name="Work on this")).to_have_count(0)

    # 2. The paid qualification test: its time is credited while the page is open.
    row.get_by_role("link", name="Take the paid qualification test").click()
    expect(page.get_by_role("heading", name="Animals: the basics")).to_be_visible()
    expect(page.get_by_text("Pass mark: 70% of the questions right.")).to_be_visible()
    page.get_by_role("button", name="Start the test").click()
    for number, (text, _gold, given) in enumerate(QUESTIONS, start=1):
        question = page.locator(f"#question-{number}")
        expect(question).to_contain_text(text)
        question.get_by_label(given, exact=True).check()
    test_seconds = wait_for_paid_time(page)
    page.get_by_role("button", name="Finish the test").click()

    # The result is a decision with the score and the pass mark.
    expect(page.get_by_role("heading", name="Qualification result: passed")).to_be_visible()
    expect(page.locator("dd.reason")).to_have_text(
        "You passed “Animals: the basics” with 3 of 4 correct (0.750; the pass mark is 0.700)."
    )
    expect(page.get_by_text("Score: 0.750")).to_be_visible()
    expect(page.get_by_text("Pass mark: 0.700")).to_be_visible()

    # 3. The instructions: reading them is paid too, and confirming them opens the project.
    page.get_by_role("link", name="Work", exact=True).click()
    row.get_by_role("link", name="Read the instructions (paid)").click()
    expect(page.locator("article.document")).to_contain_text(INSTRUCTIONS)
    wait_for_paid_time(page)
    page.get_by_role("button", name="I have read these instructions").click()
    expect(page.get_by_role("status")).to_contain_text("Thank you; you can start working on “Animal sightings”.")
    expect(row).to_contain_text("Ready")
    today_before = seconds_shown(page.locator("#time-today").inner_text())
    assert today_before >= test_seconds > 0

    # 4. Work, with the keyboard only: a number key picks the answer, Enter submits and opens the next task.
    page.get_by_role("button", name="Start working").click()
    answered: dict[str, str] = {}
    for number in range(1, len(TASKS) + 1):
        expect(page).to_have_url(re.compile(r"/work/assignments/\d+/$"))
        text = page.locator(".task-text").inner_text()
        label = TASKS[text]
        active = page.locator("#active-time")
        if number == 1:
            # The time on this task grows while the page is open, beat by beat.
            expect(active).to_have_text(re.compile(r"^\d+ s$"))
            at_first = active.inner_text()
            expect(active).not_to_have_text(at_first)
            first_shown = seconds_shown(active.inner_text())
            assert first_shown > seconds_shown(at_first)
            first_assignment = int(re.findall(r"\d+", page.url)[-1])
            page.set_viewport_size(PHONE_VIEWPORT)
            page.screenshot(path=str(TASK_SCREENSHOT), full_page=True)
            page.set_viewport_size(DESKTOP_VIEWPORT)
        else:
            expect(active).to_have_text(re.compile(r" s$"))  # the page's script runs: the keys work
        page.keyboard.press(str(CHOICES.index(label) + 1))
        expect(page.get_by_role("radio", name=label)).to_be_checked()
        expect(page.get_by_role("radio", checked=True)).to_have_count(1)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        answered[text] = label

    # After the last task there is nothing left, and Work shows more paid time today than before.
    expect(page.get_by_role("heading", name="Work", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Answer saved.")
    expect(page.get_by_role("status")).to_contain_text("No tasks are waiting for you right now; try again later.")
    today_after = seconds_shown(page.locator("#time-today").inner_text())
    assert today_after > today_before
    assert seconds_shown(row.locator(".time-today").inner_text()) > 0
    page.set_viewport_size(PHONE_VIEWPORT)
    page.screenshot(path=str(HOME_SCREENSHOT), full_page=True)

    # The stored rows: a passed, paid attempt; a confirmed, paid read; three answers with paid time.
    attempt = QualificationAttempt.objects.get(worker=contractor)
    assert (attempt.is_passed, attempt.correct, attempt.total, attempt.score) == (True, 3, 4, Decimal("0.750"))
    assert attempt.decision == Decision.objects.get(subject=contractor, kind=DecisionKind.QUALIFICATION)
    assert attempt.spans.get().active_seconds >= test_seconds
    read = InstructionRead.objects.get(worker=contractor)
    assert read.confirmed_at is not None
    assert read.spans.get().active_seconds > 0
    answers = Answer.objects.filter(worker=contractor).select_related("task")
    assert {a.task.data["text"]: a.value for a in answers} == answered == TASKS
    first_span = ActivitySpan.objects.get(assignment_id=first_assignment)
    assert first_span.kind == ActivityKind.TASK
    assert first_span.active_seconds >= first_shown > 0

    # 5. The manager signs in with a TOTP code and opens the project's imports.
    manager = new_page()
    sign_in(manager, email=ops_manager.email, password=PASSWORD)
    pass_mfa(manager)
    manager.get_by_role("link", name="Projects", exact=True).click()
    manager.get_by_role("link", name="Import tasks · Animal sightings").click()
    expect(manager.get_by_role("heading", name="Import tasks into Animal sightings")).to_be_visible()
    tasks_before = Task.objects.filter(project=animal_project).count()

    # 6. A file with a bad row: the worker rejects it, the page names the row, the field and the problem.
    manager.get_by_label("Task file").set_input_files(write_jsonl(tmp_path / "sightings.jsonl", NEW_ROWS))
    manager.get_by_role("button", name="Upload and import").click()
    expect(manager).to_have_url(re.compile(r"/ops/imports/\d+/$"))
    rejected = int(re.findall(r"\d+", manager.url)[-1])
    celery_worker.wait_for(
        ImportJob.objects.filter(pk=rejected, status=ImportStatus.FAILED).first, what="the import to be rejected"
    )
    expect(manager.get_by_role("alert")).to_contain_text(
        "The file was rejected and nothing was imported.", timeout=IMPORT_TIMEOUT_MS
    )
    expect(manager.locator("#import-status-text")).to_have_text("Failed; nothing imported")
    problems = manager.locator("#import-errors tbody tr")
    expect(problems).to_have_count(1)
    expect(problems.locator("td")).to_have_text(
        [str(BAD_ROW), "txt", "Unknown field; allowed: gold_answer, id, image_url, meta, text."]
    )
    assert Task.objects.filter(project=animal_project).count() == tasks_before
    assert Batch.objects.filter(project=animal_project).count() == 1

    # 7. The fixed file, uploaded while the worker is busy: the page waits at 0%, then fills to 100%.
    manager.get_by_role("link", name="Imports into Animal sightings").click()
    with celery_worker.paused():
        manager.get_by_label("Task file").set_input_files(write_jsonl(tmp_path / "sightings.jsonl", FIXED_ROWS))
        manager.get_by_role("button", name="Upload and import").click()
        expect(manager).to_have_url(re.compile(r"/ops/imports/\d+/$"))
        bar = manager.locator("progress#import-bar")
        expect(bar).to_have_attribute("value", "0")
        expect(manager.locator("#import-status-text")).to_have_text("Waiting")
        expect(manager.locator("#import-progress-text")).to_have_text("0% · 0 rows checked.")
    expect(manager.locator("#import-progress-text")).to_have_text(
        f"100% · {len(FIXED_ROWS)} tasks imported.", timeout=IMPORT_TIMEOUT_MS
    )
    expect(bar).to_have_attribute("value", "100")
    expect(manager.locator("#import-status-text")).to_have_text("Imported")
    expect(manager.get_by_text("The tasks are in the batch “sightings.jsonl”")).to_be_visible()
    expect(manager.get_by_role("alert")).to_have_count(0)
    imported = ImportJob.objects.get(pk=int(re.findall(r"\d+", manager.url)[-1]))
    assert (imported.status, imported.rows_imported) == (ImportStatus.DONE, len(FIXED_ROWS))
    assert Task.objects.filter(project=animal_project).count() == tasks_before + len(FIXED_ROWS)
    assert sorted(Task.objects.filter(batch=imported.batch).values_list("external_id", flat=True)) == [
        row["id"] for row in FIXED_ROWS
    ]

    # 8. The dashboard: the contractor's three answers in the last hour, against nine wanted.
    manager.get_by_role("link", name="Projects", exact=True).click()
    manager.get_by_role("link", name="Animal sightings", exact=True).click()
    expect(manager.get_by_role("heading", name="Animal sightings", level=1)).to_be_visible()
    expect(manager.locator("#stat-rate")).to_have_text("3")
    expect(manager.locator("#stat-completion")).to_have_text("33.3%")
    expect(manager.get_by_text("3 of 9 answers")).to_be_visible()
    expect(manager.locator("#stat-eta")).to_have_text("about 2 h 00 min")  # six left at three an hour
    expect(manager.locator("#stat-active")).to_have_text("1")
    worker_row = manager.locator(f"tr#worker-{contractor.pk}")
    expect(worker_row.locator("td").nth(0)).to_have_text("tess.tasker")
    expect(worker_row.locator("td").nth(1)).to_have_text("3")
    paid_on_project = sum(ActivitySpan.objects.filter(project=animal_project).values_list("active_seconds", flat=True))
    assert paid_on_project > 0
    expect(worker_row.locator("td").nth(2)).to_have_text(duration(paid_on_project))
