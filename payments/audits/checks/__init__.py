"""The registered audit checks, in the order a run performs them. Each returns its findings as drafts.

Public API: ``CHECKS`` (the registry), ``check_titles()``, ``Check``, ``Draft``, ``Scope``.
"""

from __future__ import annotations

from payments.audits.checks.base import Check, Draft, Scope
from payments.audits.checks.ledger import FLOOR_CODE, LEDGER_CODE, floor_after_topup_check, ledger_statement_check
from payments.audits.checks.payouts import CODE as PAYOUT_CODE
from payments.audits.checks.payouts import payout_provider_check
from payments.audits.checks.people import (
    APPEAL_CODE,
    CHAIN_CODE,
    HUMAN_CODE,
    REASON_CODE,
    appeal_overdue_check,
    audit_chain_check,
    decision_human_check,
    decision_reason_check,
)
from payments.audits.checks.timeliness import CODE as ON_TIME_CODE
from payments.audits.checks.timeliness import pay_on_time_check
from payments.audits.checks.work import CODE as UNPAID_CODE
from payments.audits.checks.work import unpaid_time_check

CHECKS: list[Check] = [
    Check(LEDGER_CODE, "The ledger's earnings, top-up and overtime equal each statement.", ledger_statement_check),
    Check(FLOOR_CODE, "After the top-up, nobody is paid under the wage floor.", floor_after_topup_check),
    Check(UNPAID_CODE, "No active time is unpaid without a human fraud decision.", unpaid_time_check),
    Check(REASON_CODE, "Every decision about a person has a reason.", decision_reason_check),
    Check(HUMAN_CODE, "Every pause, offboarding and fraud finding was made by a person.", decision_human_check),
    Check(APPEAL_CODE, "No open appeal is past its due date.", appeal_overdue_check),
    Check(CHAIN_CODE, "The audit log's hash chain is intact.", audit_chain_check),
    Check(PAYOUT_CODE, "Payouts agree with the provider's records and the stored bank files.", payout_provider_check),
    Check(ON_TIME_CODE, "Every week that is over is closed, and every payout arrives in time.", pay_on_time_check),
]


def check_titles() -> dict[str, str]:
    return {check.code: check.title for check in CHECKS}


__all__ = ["CHECKS", "Check", "Draft", "Scope", "check_titles"]
