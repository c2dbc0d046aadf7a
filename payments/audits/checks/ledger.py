"""Money checks per closed period: the ledger agrees with the statements, and nobody is under the floor."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext as _

from payments.audits.checks.base import Draft, Scope, emails_of, money, period_ref, person_ref, ref
from payments.models import PayPeriod, WageCheck
from payments.selectors import close_exceptions_open

LEDGER_CODE = "ledger_statement"
FLOOR_CODE = "floor_after_topup"

# Earnings for the floor, as the close counts them: every earning kind but the top-up and the
# overtime premium, with penalties included (payments/services/close/pricing.py).
_EARNINGS = ("piece", "hourly", "qualification", "instruction", "bonus", "penalty")

# Per contractor, the close's entries of a period by bucket. A close entry is found by its key
# (``close:<period>:<contractor>:…``, wherever a retry posted it), a restored hour by the period
# it was posted into, and a reversal counts in the bucket of the entry it reverses.
_SUMS_SQL = f"""
SELECT e.contractor_id,
       coalesce(sum(e.amount_minor) FILTER (WHERE coalesce(r.kind, e.kind) IN {_EARNINGS}), 0),
       coalesce(sum(e.amount_minor) FILTER (WHERE coalesce(r.kind, e.kind) = 'topup'), 0),
       coalesce(sum(e.amount_minor) FILTER (WHERE coalesce(r.kind, e.kind) = 'overtime'), 0)
FROM payments_ledgerentry e
LEFT JOIN payments_ledgerentry r ON r.id = e.reverses_id
WHERE e.key LIKE %(prefix)s OR r.key LIKE %(prefix)s OR (e.key LIKE 'restored:%%' AND e.period_id = %(period)s)
GROUP BY 1
"""  # noqa: S608 - _EARNINGS is a constant tuple of kind names


def wage_checks(period: PayPeriod) -> list[Any] | None:
    """The close's floor comparisons of the period (``WageCheck``), or None where there are none: the
    model does not exist yet, or the period was closed before it did. The checks then read the
    close's own top-up lines instead."""
    rows = list(WageCheck.objects.filter(period=period))
    return rows or None


def ledger_sums(period: PayPeriod) -> dict[int, tuple[int, int, int]]:
    """{contractor: (earnings, top-up, overtime)} of the period's close, from the ledger itself."""
    with connection.cursor() as cursor:
        cursor.execute(_SUMS_SQL, {"prefix": f"close:{period.pk}:%", "period": period.pk})
        return {c: (int(e), int(t), int(o)) for c, e, t, o in cursor.fetchall()}


def _lines(period: PayPeriod, what: str) -> dict[int, tuple[int, int, dict[str, Any]]]:
    """{contractor: (entry id, amount, details)} of the close's ``topup`` or ``overtime`` lines."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT contractor_id, id, amount_minor, details FROM payments_ledgerentry WHERE key LIKE %s",
            [f"close:{period.pk}:%:{what}"],
        )
        found: dict[int, tuple[int, int, dict[str, Any]]] = {}
        for c, pk, amount, details in cursor.fetchall():
            # Django has psycopg hand jsonb over as text (JSONField decodes it), so decode it here too.
            parsed = json.loads(details) if isinstance(details, str | bytes) else details
            found[c] = (pk, int(amount), parsed if isinstance(parsed, dict) else {})
        return found


def _mismatch(period: PayPeriod, c: int, what: str, recorded: int, ledger: int, source: str, emails: Any) -> Draft:
    currency = settings.FAIRTASK_PAY_CURRENCY
    return Draft(
        check=LEDGER_CODE,
        severity="critical",
        title=_("Ledger and statement disagree"),
        message=_(
            "For %(who)s in the week %(period)s, the %(source)s records %(what)s of %(recorded)s, but the ledger's "
            "entries add up to %(ledger)s (a difference of %(diff)s)."
        )
        % {
            "who": emails.get(c, f"contractor #{c}"),
            "period": period,
            "source": source,
            "what": what,
            "recorded": money(recorded, currency),
            "ledger": money(ledger, currency),
            "diff": money(ledger - recorded, currency),
        },
        fingerprint=f"{LEDGER_CODE}:{period.pk}:{c}:{what}",
        objects=[person_ref(c, emails), period_ref(period)],
        period_id=period.pk,
    )


def ledger_statement_check(scope: Scope) -> list[Draft]:
    """Per closed period and contractor, the ledger's earnings, top-up and overtime equal the statement's."""
    drafts: list[Draft] = []
    for period in scope.periods:
        sums = ledger_sums(period)
        rows = wage_checks(period)
        if rows is not None:
            recorded = {
                r.contractor_id: (
                    ("earnings", getattr(r, "earnings_minor", None)),
                    ("top-up", getattr(r, "topup_minor", None)),
                    ("overtime", getattr(r, "overtime_minor", None)),
                )
                for r in rows
                if getattr(r, "status", "complete") == "complete"
            }
            source = _("close's floor comparison")
        else:
            recorded = {}
            for c, (_pk, amount, details) in _lines(period, "topup").items():
                recorded[c] = (("earnings", details.get("earnings_minor")), ("top-up", amount), ("overtime", None))
            source = _("top-up line")
            for c, (_pk, amount, _details) in _lines(period, "overtime").items():
                earned = recorded.get(c, (("earnings", None), ("top-up", None), ("overtime", None)))
                recorded[c] = (earned[0], earned[1], ("overtime", amount))
        emails = emails_of(set(recorded))
        for c, figures in sorted(recorded.items()):
            ledger = sums.get(c, (0, 0, 0))
            for index, (what, value) in enumerate(figures):
                if value is None:
                    continue
                if int(value) != ledger[index]:
                    drafts.append(_mismatch(period, c, what, int(value), ledger[index], source, emails))
    return drafts


def _floor_shortfall(period: PayPeriod, c: int, after: int, seconds: int, floor: Decimal, emails: Any) -> Draft:
    currency = settings.FAIRTASK_PAY_CURRENCY
    hours = Decimal(seconds) / 3600
    effective = Decimal(after * 3600) / seconds if seconds else Decimal(0)
    return Draft(
        check=FLOOR_CODE,
        severity="critical",
        title=_("Paid under the wage floor"),
        message=_(
            "%(who)s was paid %(paid)s for %(hours)s paid hours in the week %(period)s, an effective %(eff)s minor "
            "units an hour after the top-up, under the floor of %(floor)s minor units an hour."
        )
        % {
            "who": emails.get(c, f"contractor #{c}"),
            "paid": money(after, currency),
            "hours": f"{hours:.2f}",
            "period": period,
            "eff": f"{effective:.2f}",
            "floor": f"{floor:.2f}",
        },
        fingerprint=f"{FLOOR_CODE}:{period.pk}:{c}",
        objects=[person_ref(c, emails), period_ref(period)],
        period_id=period.pk,
    )


def _pending(period: PayPeriod, c: int, problem: str, emails: Any) -> Draft:
    return Draft(
        check=FLOOR_CODE,
        severity="warning",
        title=_("Floor comparison pending"),
        message=_("Floor comparison pending for %(who)s in the week %(period)s: %(problem)s")
        % {"who": emails.get(c, f"contractor #{c}"), "period": period, "problem": problem or _("no reason given.")},
        fingerprint=f"{FLOOR_CODE}:pending:{period.pk}:{c}",
        objects=[person_ref(c, emails), period_ref(period)],
        period_id=period.pk,
    )


def floor_after_topup_check(scope: Scope) -> list[Draft]:
    """After the top-up, (earnings + top-up) x 3600 / paid seconds is at least the floor, for everyone."""
    drafts: list[Draft] = []
    for period in scope.periods:
        rows = wage_checks(period)
        if rows is not None:
            emails = emails_of({r.contractor_id for r in rows})
            for r in rows:
                c = r.contractor_id
                if getattr(r, "status", "complete") != "complete":
                    drafts.append(_pending(period, c, str(getattr(r, "problem", "")), emails))
                    continue
                seconds = int(r.paid_seconds or 0)
                after = int(r.earnings_minor or 0) + int(r.topup_minor or 0)
                floor = Decimal(str(r.floor_hourly_minor or 0))
                if seconds and (Decimal(after * 3600) < floor * seconds or not getattr(r, "is_compliant", True)):
                    drafts.append(_floor_shortfall(period, c, after, seconds, floor, emails))
            continue
        # Without the close's floor comparison: each top-up line's own arithmetic, and the
        # exceptions whose top-up still waits.
        topups = _lines(period, "topup")
        exceptions = close_exceptions_open(period=period)
        emails = emails_of(set(topups) | {int(e["contractor"]) for e in exceptions})
        for c, (pk, amount, details) in sorted(topups.items()):
            seconds = int(details.get("paid_seconds") or 0)
            after = int(details.get("earnings_minor") or 0) + amount
            if after < int(details.get("required_minor") or 0):
                floor = Decimal(str(details.get("floor_hourly_minor") or 0))
                draft = _floor_shortfall(period, c, after, seconds, floor, emails)
                drafts.append(Draft(**{**draft.__dict__, "objects": [*draft.objects, ref("payments.ledgerentry", pk)]}))
        for exception in exceptions:
            drafts.append(_pending(period, int(exception["contractor"]), str(exception.get("message", "")), emails))
    return drafts
