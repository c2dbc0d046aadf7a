"""What every audit check shares: the scope it looks at, the findings it returns, and small helpers."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from payments.models import PayPeriod
from payments.money import Money
from workforce.models import User


@dataclass(frozen=True)
class Scope:
    """What one run looks at: these closed periods (newest first), as of ``now``."""

    periods: list[PayPeriod]
    now: datetime.datetime


@dataclass(frozen=True)
class Draft:
    """A finding as a check reports it; the run turns it into a new or an updated ``Finding``."""

    check: str
    severity: str
    title: str
    message: str
    fingerprint: str
    objects: list[dict[str, Any]] = field(default_factory=list)
    period_id: int | None = None


@dataclass(frozen=True)
class Check:
    code: str
    title: str  # what it verifies, in a sentence (the README's table and the findings filter)
    run: Callable[[Scope], list[Draft]]


def ref(kind: str, pk: Any, label: str = "") -> dict[str, Any]:
    """One object a finding is about: ``{type, id, label}``."""
    return {"type": kind, "id": pk, "label": label or f"{kind} #{pk}"}


def person_ref(user_id: int, emails: dict[int, str] | None = None) -> dict[str, Any]:
    return ref("workforce.user", user_id, (emails or {}).get(user_id, f"contractor #{user_id}"))


def period_ref(period: PayPeriod) -> dict[str, Any]:
    return ref("payments.payperiod", period.pk, str(period))


def emails_of(user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return dict(User.objects.filter(pk__in=user_ids).values_list("pk", "email"))


def money(minor: int | None, currency: str) -> str:
    return Money(int(minor or 0), currency).format()
