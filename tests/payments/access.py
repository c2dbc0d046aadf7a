"""Who may open the close pages: the routes of the weekly close and a small world for them.

Only the close's own routes are listed here (the payouts pages have their own tests), so a
close page added without a decision about who may see it fails ``test_close_access``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.test import Client
from django.urls import reverse

from payments.models import CloseRun, PayPeriod
from payments.services.close import period_close
from tasks.models import Project
from tests.payments.work import at, person, piece_project, task_time, week
from tests.workforce.factories import staff_user
from workforce.models import Role, User

LOGIN = "login"  # 302 to the sign-in page

CLOSE_ROUTES = (
    "payments:pay-period-list",
    "payments:pay-period-detail",
    "payments:pay-period-close",
    "payments:pay-period-retry",
    "payments:close-run-status",
    "payments:project-pay",
)


@dataclass
class CloseWorld:
    users: dict[str, User]
    period: PayPeriod  # closed, with one open exception
    open_period: PayPeriod  # over, not closed yet
    run: CloseRun
    project: Project

    def client(self, role: str) -> Client:
        client = Client()
        if role != "anonymous":
            client.force_login(self.users[role])
        return client

    def url(self, name: str) -> str:
        target = {
            "payments:pay-period-list": None,
            "payments:pay-period-detail": self.period.pk,
            "payments:pay-period-close": self.open_period.pk,
            "payments:pay-period-retry": self.period.pk,
            "payments:close-run-status": self.run.pk,
            "payments:project-pay": self.project.pk,
        }[name]
        return reverse(name, kwargs={"pk": target} if target is not None else None)


def build_close_world() -> CloseWorld:
    worker = person(email="owner-ada@example.com")
    stranger = person(country="", region="", email="nowhere-nel@example.com")
    p = piece_project()
    for someone in (worker, stranger):
        task_time(someone, p, started=at(date(2026, 11, 3)), seconds=1800)
    closed = week(date(2026, 11, 2))
    run = period_close(period=closed, job="test")
    return CloseWorld(
        users={
            "contractor": worker,
            "ops": staff_user(Role.OPERATIONS),
            "auditor": staff_user(Role.AUDITOR),
            "superuser": staff_user(Role.OPERATIONS, is_superuser=True, is_staff=True),
        },
        period=closed,
        open_period=week(date(2026, 11, 9)),
        run=run,
        project=p,
    )
