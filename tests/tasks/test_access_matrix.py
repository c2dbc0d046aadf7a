"""Who may read and change what: each tasks URL (portal and ``tasks:api:*``) for each role.

``ACCESS`` is the policy in one table, as in ``tests/workforce/test_access_matrix.py``. Every
URL the resolver knows in the ``tasks`` and ``tasks:api`` namespaces must have a row, so a page
added without a decision about who may see it fails the first test here. A row may be
repeated for another object with ``name@variant`` (a draft project, say). Statuses are exact:
a 200 where a 404 is due is a leak, and a 403 where the policy says 404 tells a contractor
that another contractor's record exists.

To add a URL: one ``ACCESS`` row (``.at(pk="project")`` names the ``TasksWorld`` object each
path parameter points at) and, if it can change data (``writes=True``), one ``WRITES`` entry
with a request that succeeds for its writer and must change nothing for everyone else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.test import Client
from django.urls import reverse

from tests.tasks.access import A_SECRETS, TasksWorld, build_tasks_world, tasks_db_state
from tests.workforce.access import ROLES, Route, project_routes

pytestmark = pytest.mark.django_db

LOGIN = "login"  # 302 to the sign-in page, with ?next= pointing back
ROUTES = {route.name: route for route in [*project_routes("tasks"), *project_routes("tasks:api")]}
# A project that is not open: no contractor page or API answer may name it.
DRAFT_NAME = "Unannounced draft project"

Expect = int | str


@dataclass(frozen=True)
class Access:
    anonymous: Expect
    contractor_a: Expect  # the owner of the object in the URL
    contractor_b: Expect  # another contractor
    ops: Expect
    auditor: Expect
    superuser: Expect
    writes: bool = False  # a POST here can change data (its request is in WRITES)
    objects: tuple[tuple[str, str], ...] = ()  # (path parameter, TasksWorld attribute)

    def at(self, **objects: str) -> Access:
        return replace(self, objects=tuple(objects.items()))

    def for_role(self, role: str) -> Expect:
        expected: Expect = getattr(self, role)
        return expected


# Contractor pages without another person's object in the URL: each contractor sees their own.
CONTRACTOR_PAGE = Access(LOGIN, 200, 200, 403, 403, 403)
# POST-only contractor endpoints: a GET is 405 for contractors, 403 for staff.
CONTRACTOR_POST_ONLY = Access(LOGIN, 405, 405, 403, 403, 403, writes=True)
# Pages for operations and auditors; contractors get 403 whatever the object.
STAFF_PAGE = Access(LOGIN, 403, 403, 200, 200, 200)
# POST-only operations endpoints: a GET is 405 for those allowed to POST, 403 for the rest.
OPS_POST_ONLY = Access(LOGIN, 403, 403, 405, 403, 405, writes=True)
# API: anonymous requests get 403; the method check comes after authentication.
API_READ = Access(403, 200, 200, 200, 200, 200)
API_STAFF_READ = Access(403, 403, 403, 200, 200, 200)
API_POST_ONLY = Access(403, 405, 405, 405, 405, 405, writes=True)

ACCESS: dict[str, Access] = {
    # Contractor portal
    "tasks:work-home": CONTRACTOR_PAGE,
    "tasks:work-next": CONTRACTOR_POST_ONLY,
    "tasks:heartbeat": CONTRACTOR_POST_ONLY,
    "tasks:assignment": Access(LOGIN, 200, 404, 403, 403, 403, writes=True).at(pk="assignment"),
    "tasks:instructions": replace(CONTRACTOR_PAGE, writes=True).at(project_id="project"),
    "tasks:instructions@draft": Access(LOGIN, 404, 404, 403, 403, 403).at(project_id="draft_project"),
    "tasks:qualification": replace(CONTRACTOR_PAGE, writes=True).at(test_id="test"),
    "tasks:my-quality": CONTRACTOR_PAGE,
    # Operations portal
    "tasks:review-queue": STAFF_PAGE,
    "tasks:review-answer": OPS_POST_ONLY.at(pk="answer"),
    "tasks:assignment-fraud": OPS_POST_ONLY.at(pk="answered"),
    "tasks:project-list": STAFF_PAGE,
    "tasks:project-dashboard": STAFF_PAGE.at(pk="project"),
    "tasks:import-list": replace(STAFF_PAGE, writes=True).at(pk="project"),
    "tasks:project-export-jsonl": STAFF_PAGE.at(pk="project"),
    "tasks:project-export-csv": STAFF_PAGE.at(pk="project"),
    "tasks:import-detail": STAFF_PAGE.at(pk="import_job"),
    "tasks:import-status": STAFF_PAGE.at(pk="import_job"),
    # REST API
    "tasks:api:project-list": API_READ,
    "tasks:api:project-detail": API_READ.at(pk="project"),
    "tasks:api:project-detail@draft": Access(403, 404, 404, 200, 200, 200).at(pk="draft_project"),
    "tasks:api:batch-list": API_STAFF_READ.at(pk="project"),
    "tasks:api:next-task": API_POST_ONLY,
    "tasks:api:submit": API_POST_ONLY.at(pk="assignment"),
    "tasks:api:heartbeat": API_POST_ONLY,
    "tasks:api:review": API_POST_ONLY.at(pk="answer"),
    "tasks:api:import-create": API_POST_ONLY.at(pk="project"),
    "tasks:api:import-detail": API_STAFF_READ.at(pk="import_job"),
    "tasks:api:export-jsonl": API_STAFF_READ.at(pk="project"),
    "tasks:api:export-csv": API_STAFF_READ.at(pk="project"),
}


def _route(key: str) -> Route:
    return ROUTES[key.split("@")[0]]


@dataclass(frozen=True)
class Write:
    """A POST that succeeds for ``writer`` and must change nothing for every role in ``refused``."""

    payload: Callable[[TasksWorld], dict[str, Any]]
    writer: str
    success: int  # the writer's status: 302 for a portal form, the API's status otherwise
    refused: dict[str, Expect]
    body: Literal["form", "json"] = "form"  # a form is sent multipart, so it can carry a file
    objects: dict[str, str] = field(default_factory=dict)  # as Access.at; defaults to the ACCESS row's


CONTRACTOR_ONLY: dict[str, Expect] = {"ops": 403, "auditor": 403, "superuser": 403, "anonymous": LOGIN}
OWNER_ONLY: dict[str, Expect] = {**CONTRACTOR_ONLY, "contractor_b": 404}
OPS_ONLY: dict[str, Expect] = {"contractor_a": 403, "contractor_b": 403, "auditor": 403, "anonymous": LOGIN}
API_CONTRACTOR_ONLY: dict[str, Expect] = {"ops": 403, "auditor": 403, "superuser": 403, "anonymous": 403}
API_OWNER_ONLY: dict[str, Expect] = {**API_CONTRACTOR_ONLY, "contractor_b": 404}
API_OPS_ONLY: dict[str, Expect] = {"contractor_a": 403, "contractor_b": 403, "auditor": 403, "anonymous": 403}


def _task_file() -> SimpleUploadedFile:
    return SimpleUploadedFile("tasks.jsonl", b'{"text": "a new item"}\n', content_type="application/x-ndjson")


def _qualification_answers(w: TasksWorld) -> dict[str, Any]:
    return {f"q{question.pk}": "cat" for question in w.test.questions.all()}


def _heartbeats(name: str, refused: dict[str, Expect], body: Literal["form", "json"]) -> dict[str, Write]:
    """A heartbeat for each kind of A's paid time: B sending it for A's object gets 404."""
    return {
        f"{name}@task": Write(lambda w: {"kind": "task", "id": w.assignment.pk}, "contractor_a", 200, refused, body),
        f"{name}@qualification": Write(
            lambda w: {"kind": "qualification", "id": w.attempt.pk}, "contractor_a", 200, refused, body
        ),
        f"{name}@instruction": Write(
            lambda w: {"kind": "instruction", "id": w.instruction_read.pk}, "contractor_a", 200, refused, body
        ),
    }


WRITES: dict[str, Write] = {
    # Contractor portal. B taking B's own next task or opening B's own attempt is not refused.
    "tasks:work-next": Write(lambda w: {"project": w.other_project.pk}, "contractor_a", 302, CONTRACTOR_ONLY),
    **_heartbeats("tasks:heartbeat", OWNER_ONLY, "json"),
    "tasks:assignment": Write(
        lambda w: {"answer": "A second answer.", "then": "stop"}, "contractor_a", 302, OWNER_ONLY
    ),
    "tasks:instructions": Write(lambda w: {}, "contractor_a", 302, CONTRACTOR_ONLY),
    "tasks:qualification": Write(_qualification_answers, "contractor_a", 302, CONTRACTOR_ONLY),
    # Operations portal
    "tasks:review-answer": Write(lambda w: {"verdict": "approve"}, "ops", 302, OPS_ONLY),
    "tasks:assignment-fraud": Write(lambda w: {"reason": "Copied from another worker."}, "ops", 302, OPS_ONLY),
    "tasks:import-list": Write(lambda w: {"file": _task_file()}, "ops", 302, OPS_ONLY),
    # REST API
    "tasks:api:next-task": Write(
        lambda w: {"project": w.other_project.pk}, "contractor_a", 200, API_CONTRACTOR_ONLY, "json"
    ),
    "tasks:api:submit": Write(lambda w: {"answer": "A second answer."}, "contractor_a", 201, API_OWNER_ONLY, "json"),
    **_heartbeats("tasks:api:heartbeat", API_OWNER_ONLY, "json"),
    "tasks:api:review": Write(lambda w: {"verdict": "approve"}, "ops", 200, API_OPS_ONLY, "json"),
    "tasks:api:import-create": Write(lambda w: {"file": _task_file()}, "ops", 202, API_OPS_ONLY),
}

REFUSALS = sorted((key, role) for key, write in WRITES.items() for role in write.refused)


@pytest.fixture(scope="module")
def shared_world(django_db_setup: None, django_db_blocker: Any) -> Iterator[TasksWorld]:
    """The world is built once, in a transaction rolled back after the module's last test.

    Each test runs inside it in a savepoint of its own (pytest-django's ``db``), so every test
    starts from the same rows; building the world per test would make the matrix three times slower.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_tasks_world()
        transaction.set_rollback(True)


@pytest.fixture
def world(shared_world: TasksWorld, db: None, settings: Any, tmp_path: Path) -> TasksWorld:
    settings.FAIRTASK_UPLOAD_DIR = tmp_path / "uploads"
    return shared_world


def _read_url(world: TasksWorld, key: str) -> str:
    return world.url(_route(key), dict(ACCESS[key].objects))


def _write_url(world: TasksWorld, key: str) -> str:
    return world.url(_route(key), WRITES[key].objects or dict(ACCESS[_route(key).name].objects))


def _body(response: HttpResponseBase) -> str:
    if isinstance(response, StreamingHttpResponse):
        return b"".join(response.streaming_content).decode()  # type: ignore[arg-type]
    assert isinstance(response, HttpResponse)
    return response.content.decode()


def _send(client: Client, write: Write, url: str, world: TasksWorld) -> HttpResponseBase:
    data = write.payload(world)
    if write.body == "json":
        return client.post(url, json.dumps(data), content_type="application/json")
    return client.post(url, data)


def _assert_status(response: HttpResponseBase, expected: Expect, url: str, role: str) -> None:
    where = f"{role} at {url}"
    if expected == LOGIN:
        assert response.status_code == 302, f"{where}: expected a redirect to sign in, got {response.status_code}"
        assert response["Location"].startswith(reverse("account_login") + "?next="), where
    else:
        assert response.status_code == expected, f"{where}: expected {expected}, got {response.status_code}"


# The policy table itself ------------------------------------------------------------------


def test_every_tasks_url_has_an_entry_in_the_access_table() -> None:
    assert len(ROUTES) >= 16, "the resolver walk found too few URLs; is it still walking the includes?"
    assert any(name.startswith("tasks:api:") for name in ROUTES), "the tasks:api namespace was not walked"
    covered = {key.split("@")[0] for key in ACCESS}
    assert set(ROUTES) - covered == set(), "add these URLs to ACCESS with the status each role must get"
    assert covered - set(ROUTES) == set(), "these ACCESS rows name URLs that no longer exist"
    for key, access in ACCESS.items():
        assert set(dict(access.objects)) == set(_route(key).parameters), f"{key}: .at() must name each path parameter"


def test_every_write_endpoint_has_a_request_that_every_other_role_is_refused() -> None:
    declared = {name for name, access in ACCESS.items() if access.writes}
    api_writes = {route.name for route in ROUTES.values() if route.api_write_methods}
    assert api_writes <= declared, "an API view with post/put/patch/delete must be marked writes=True"
    assert {key.split("@")[0] for key in WRITES} == declared, (
        "each writes=True URL needs a WRITES entry (and only those)"
    )
    for key, write in WRITES.items():
        assert write.writer not in write.refused, key
        assert write.refused["auditor"] == 403, f"{key}: an auditor must always get 403"
        assert set(write.refused) | {write.writer} >= {"anonymous", "auditor", "ops", "contractor_a"}, key
        if write.writer == "ops":
            assert {"contractor_a", "contractor_b"} <= set(write.refused), f"{key}: contractors must be refused"
        if _route(key).is_api:
            assert "post" in _route(key).api_write_methods, key


# Reading: every URL for every role --------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", sorted(ACCESS))
def test_each_role_gets_exactly_the_status_the_policy_gives_it(world: TasksWorld, key: str, role: str) -> None:
    url = _read_url(world, key)
    response = world.client(role).get(url)
    _assert_status(response, ACCESS[key].for_role(role), url, role)
    if role.startswith("contractor") and response.status_code == 200:
        body = _body(response)
        assert DRAFT_NAME not in body, f"{role} saw a project that is not open at {url}"
        if role == "contractor_b":
            assert [s for s in A_SECRETS if s in body] == [], f"contractor B read contractor A's data at {url}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", sorted(key for key, access in ACCESS.items() if not access.writes))
def test_a_read_only_url_changes_nothing_when_posted_to(world: TasksWorld, key: str, role: str) -> None:
    url = _read_url(world, key)
    before = tasks_db_state()
    payload = {"verdict": "approve", "answer": "cat", "reason": "x", "start": "1", "project": world.other_project.pk}
    response = world.client(role).post(url, payload)
    assert response.status_code in (200, 302, 403, 404, 405), f"{role} at {url}: {response.status_code}"
    assert tasks_db_state() == before, f"a POST by {role} to {url} changed data"


# Writing: the allowed role succeeds, everyone else is refused and nothing changes --------


@pytest.mark.parametrize("key", sorted(WRITES))
def test_the_allowed_role_changes_data_with_the_same_request(world: TasksWorld, key: str) -> None:
    """The control run: without it, a refused request that changes nothing would prove nothing."""
    write = WRITES[key]
    before = tasks_db_state()
    response = _send(world.client(write.writer), write, _write_url(world, key), world)
    assert response.status_code == write.success, _body(response)[:500]
    assert tasks_db_state() != before


@pytest.mark.parametrize(("key", "role"), REFUSALS)
def test_a_refused_role_gets_its_status_and_changes_nothing(world: TasksWorld, key: str, role: str) -> None:
    """Auditors always get 403; contractors get 403 on operations endpoints and 404 on another's object."""
    write = WRITES[key]
    url = _write_url(world, key)
    before = tasks_db_state()
    response = _send(world.client(role), write, url, world)
    _assert_status(response, write.refused[role], url, role)
    assert tasks_db_state() == before, f"a refused {key} by {role} changed data"


@pytest.mark.parametrize("url_name", ["tasks:work-next", "tasks:api:next-task"])
def test_asking_for_work_on_a_draft_project_is_404_and_never_names_it(world: TasksWorld, url_name: str) -> None:
    client = world.client("contractor_a")
    before = tasks_db_state()
    write = replace(WRITES[url_name], payload=lambda w: {"project": w.draft_project.pk})
    response = _send(client, write, reverse(url_name), world)
    assert response.status_code == 404
    assert DRAFT_NAME not in _body(response) + _body(client.get(reverse("tasks:work-home")))
    assert tasks_db_state() == before
