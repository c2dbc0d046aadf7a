"""Who reaches which payout URL: every payout route has a row, and every write is refused to the wrong role.

Contractor A owns the payout in the world; contractor B is another contractor. Operations
managers act, auditors read and are refused every change, contractors never see the run pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from payments.payouts.bank import bank_file_create
from payments.payouts.models import BankFile, Payout, PayoutRun, PayoutState
from payments.payouts.runs import payout_run_execute, payout_run_start
from tests.payments.payouts import bank_contractor, earn, periods
from tests.workforce.access import project_routes
from tests.workforce.factories import contractor, staff_user
from workforce.celery import app as celery_app
from workforce.models import Role, User

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "contractor_a", "contractor_b", "ops", "auditor")
LOGIN = 302  # anonymous: to the login page

# GET status per role: anonymous, contractor A, contractor B, ops, auditor.
GET: dict[str, tuple[int, int, int, int, int]] = {
    "payments:payout-stripe-webhook": (405, 405, 405, 405, 405),
    "payments:payout-list": (LOGIN, 200, 200, 403, 403),
    "payments:payout-setup": (LOGIN, 200, 200, 403, 403),
    "payments:payout-setup-return": (LOGIN, 302, 302, 403, 403),
    "payments:payout-setup-refresh": (LOGIN, 302, 302, 403, 403),
    "payments:payout-detail": (LOGIN, 200, 404, 200, 200),
    "payments:payout-confirm": (LOGIN, 403, 403, 405, 403),
    "payments:payout-run-list": (LOGIN, 403, 403, 200, 200),
    "payments:payout-run-detail": (LOGIN, 403, 403, 200, 200),
    "payments:payout-run-status": (LOGIN, 403, 403, 200, 200),
    "payments:payout-run-resume": (LOGIN, 403, 403, 405, 403),
    "payments:payout-run-bank-file": (LOGIN, 403, 403, 405, 403),
    "payments:payout-bank-file": (LOGIN, 403, 403, 200, 200),
}


@dataclass
class World:
    users: dict[str, User]
    run: PayoutRun
    payout: Payout  # contractor A's, submitted in a bank file
    bank_file: BankFile

    def client(self, role: str) -> Client:
        client = Client()
        if role != "anonymous":
            client.force_login(self.users[role])
        return client

    def url(self, name: str) -> str:
        pk = {
            "payments:payout-detail": self.payout.pk,
            "payments:payout-confirm": self.payout.pk,
            "payments:payout-bank-file": self.bank_file.pk,
        }.get(name, self.run.pk)
        return reverse(name, args=[pk] if "<int:pk>" in _routes()[name] else None)


def _routes() -> dict[str, str]:
    return {r.name: r.pattern for r in project_routes("payments") if r.name.startswith("payments:payout")}


@pytest.fixture
def world(settings: Any) -> World:
    settings.FAIRTASK_PAYOUT_MINIMUM_MINOR = 1000
    settings.STRIPE_SECRET_KEY = ""  # no test here may reach Stripe
    closed, _ = periods()
    ops = staff_user(Role.OPERATIONS)
    a = bank_contractor()
    earn(a, closed, 5000)
    run = payout_run_execute(run_id=payout_run_start(actor=ops, currency="USD").pk)
    bank_file = bank_file_create(run=run, actor=ops)
    users = {
        "contractor_a": a,
        "contractor_b": contractor("active").user,
        "ops": ops,
        "auditor": staff_user(Role.AUDITOR),
    }
    return World(users, run, Payout.objects.get(contractor=a), bank_file)


def test_every_payout_url_has_a_row_in_the_access_table():
    assert set(_routes()) == set(GET)


@pytest.mark.parametrize("name", sorted(GET))
def test_each_role_gets_the_status_the_table_gives_it(world, name):
    for role, expected in zip(ROLES, GET[name], strict=True):
        response = world.client(role).get(world.url(name))
        assert response.status_code == expected, f"{role} GET {name}: {response.status_code}"
        if role == "anonymous" and expected == LOGIN:
            assert response["Location"].startswith(reverse("account_login"))
        if role == "contractor_b" and response.status_code == 200:
            assert world.users["contractor_a"].email not in response.content.decode()


# (url name, form data, the role whose request succeeds, its status)
WRITES = [
    ("payments:payout-run-list", {"currency": "USD"}, "ops", 302),
    ("payments:payout-run-resume", {}, "ops", 302),
    ("payments:payout-confirm", {"outcome": "paid"}, "ops", 302),
    ("payments:payout-run-bank-file", {}, "ops", 302),
]


def _state() -> tuple[Any, ...]:
    return (
        PayoutRun.objects.count(),
        tuple(PayoutRun.objects.order_by("id").values_list("status", flat=True)),
        tuple(Payout.objects.order_by("id").values_list("state", flat=True)),
        BankFile.objects.count(),
    )


@pytest.mark.parametrize(("name", "data", "writer", "status"), WRITES)
def test_a_write_is_refused_to_every_other_role_and_changes_nothing(
    world, name, data, writer, status, django_capture_on_commit_callbacks
):
    before = _state()
    for role in ROLES:
        if role == writer:
            continue
        response = world.client(role).post(world.url(name), data)
        assert response.status_code in (302, 403), f"{role} POST {name}: {response.status_code}"
        if role != "anonymous":
            assert response.status_code == 403, f"{role} POST {name}"
        assert _state() == before, f"a POST by {role} to {name} changed something"


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Run enqueued jobs in this process (tests/payments/test_payout_worker.py uses a real worker)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=True)
    yield
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=before)


def test_an_operations_manager_starts_a_run_and_its_job_runs_after_the_commit(
    world, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = world.client("ops").post(reverse("payments:payout-run-list"), {"currency": "usd"})
    run = PayoutRun.objects.latest("id")
    assert response.status_code == 302 and response["Location"] == reverse("payments:payout-run-detail", args=[run.pk])
    assert len(callbacks) == 1
    run.refresh_from_db()
    assert (run.currency, run.status, run.started_by) == ("USD", "done", world.users["ops"])


def test_the_start_form_names_a_bad_currency_and_starts_nothing(world):
    before = PayoutRun.objects.count()
    response = world.client("ops").post(reverse("payments:payout-run-list"), {"currency": "XYZ"})
    assert response.status_code == 400
    assert "ISO 4217" in " ".join(response.context["form"].errors["currency"])
    assert PayoutRun.objects.count() == before


def test_the_run_page_and_its_status_show_progress(world):
    client = world.client("auditor")
    page = client.get(reverse("payments:payout-run-detail", args=[world.run.pk])).content.decode()
    assert "<progress" in page and "Start payout run" not in page and "Resume run" not in page
    status = client.get(reverse("payments:payout-run-status", args=[world.run.pk])).json()
    assert status["is_finished"] and status["percent"] == 100
    assert status["counts"] == {"pending": 0, "submitted": 1, "paid": 0, "failed": 0}
    assert world.payout.state == PayoutState.SUBMITTED
