"""The manual bank file: pending after the run, submitted by the file, paid or failed only by a person."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from payments.money import Money
from payments.payouts.models import BankFile, Payout, PayoutRun, PayoutState, RunStatus
from payments.payouts.providers.bank_file import file_content
from payments.payouts.runs import payout_run_execute, payout_run_start
from payments.selectors import balance
from tests.payments.payouts import bank_contractor, earn, ledger_payouts, ledger_returns, periods
from workforce.models import AuditEvent, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(settings: Any, ops: User) -> PayoutRun:
    """A finished run with two bank payouts: 1,234.50 USD to Ana and 20.07 USD to Ben."""
    settings.FAIRTASK_PAYOUT_MINIMUM_MINOR = 1000
    closed, _ = periods()
    earn(bank_contractor(holder="Ana Example", reference="DE89370400440532013000"), closed, 123450)
    earn(bank_contractor(holder="Ben O'Neil, Jr.", reference="GB29NWBK60161331926819"), closed, 2007)
    return payout_run_execute(run_id=payout_run_start(actor=ops, currency="USD").pk)


def _payout(holder: str) -> Payout:
    return Payout.objects.get(destination_name=holder)


def test_a_run_leaves_bank_payouts_pending_with_the_money_taken_from_the_balance(run):
    assert run.status == RunStatus.DONE
    ana = _payout("Ana Example")
    assert (ana.state, ana.amount, ana.provider, ana.attempts) == (
        PayoutState.PENDING,
        Money(123450, "USD"),
        "bank_file",
        0,
    )
    assert balance(contractor=ana.contractor) == {"USD": Money(0, "USD")}
    assert [e.key for e in ledger_payouts(ana.contractor)] == [f"payout:{ana.pk}"]


def test_generating_the_file_submits_each_payout_once_and_the_csv_says_exactly_what_to_pay(run, ops, login):
    client = login(ops)
    page = client.get(reverse("payments:payout-run-detail", args=[run.pk])).content.decode()
    assert "2 bank payouts are waiting for a file." in page

    response = client.post(reverse("payments:payout-run-bank-file", args=[run.pk]))

    bank_file = BankFile.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "payments:payout-bank-file", args=[bank_file.pk]
    )
    download = client.get(response["Location"])
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        download["Content-Disposition"] == f'attachment; filename="fairtask-payouts-run{run.pk}-file{bank_file.pk}.csv"'
    )
    ana, ben = _payout("Ana Example"), _payout("Ben O'Neil, Jr.")
    assert download.content.decode() == (
        "name,account_reference,amount,currency,payout_reference\r\n"
        f"Ana Example,DE89370400440532013000,1234.50,USD,FAIRTASK-PAYOUT-{ana.pk}\r\n"
        f'"Ben O\'Neil, Jr.",GB29NWBK60161331926819,20.07,USD,FAIRTASK-PAYOUT-{ben.pk}\r\n'
    )
    assert bank_file.sha256 == hashlib.sha256(download.content).hexdigest() == download["X-Content-SHA256"]
    assert (bank_file.payout_count, bank_file.total) == (2, Money(125457, "USD"))
    for payout in (ana, ben):
        assert (payout.state, payout.bank_file_id) == (PayoutState.SUBMITTED, bank_file.pk)
        assert payout.provider_reference == f"FAIRTASK-PAYOUT-{payout.pk}"
    assert AuditEvent.objects.get(action="payout.bank_file").summary["sha256"] == bank_file.sha256

    again = client.post(reverse("payments:payout-run-bank-file", args=[run.pk]), follow=True)
    assert "no bank payouts waiting for a file" in again.content.decode()
    assert BankFile.objects.count() == 1
    assert client.get(response["Location"]).content == download.content  # the same bytes again


def test_amounts_are_written_with_each_currencys_own_decimals():
    rows = [
        Payout(pk=1, amount_minor=1200, currency="JPY", destination="JP1", destination_name="A"),
        Payout(pk=2, amount_minor=1500, currency="KWD", destination="KW1", destination_name="B"),
        Payout(pk=3, amount_minor=5, currency="EUR", destination="DE1", destination_name="C"),
    ]
    lines = file_content(rows).splitlines()
    assert [line.split(",")[2] for line in lines[1:]] == ["1200", "1.500", "0.05"]


def test_confirming_a_paid_bank_payout_marks_it_paid(run, ops, login):
    client = login(ops)
    client.post(reverse("payments:payout-run-bank-file", args=[run.pk]))
    ana = _payout("Ana Example")
    page = client.get(reverse("payments:payout-detail", args=[ana.pk])).content.decode()
    assert "Confirm what the bank did" in page

    response = client.post(reverse("payments:payout-confirm", args=[ana.pk]), {"outcome": "paid"})

    assert response.status_code == 302
    ana.refresh_from_db()
    assert (ana.state, ana.settled_by) == (PayoutState.PAID, ops)
    assert ana.paid_at is not None
    assert balance(contractor=ana.contractor) == {"USD": Money(0, "USD")}


def test_a_returned_bank_payout_needs_a_reason_then_fails_and_goes_back_to_the_balance(
    run, ops, login, django_capture_on_commit_callbacks
):
    client = login(ops)
    client.post(reverse("payments:payout-run-bank-file", args=[run.pk]))
    ben = _payout("Ben O'Neil, Jr.")

    refused = client.post(reverse("payments:payout-confirm", args=[ben.pk]), {"outcome": "failed"}, follow=True)
    assert "Write why the bank returned it" in refused.content.decode()
    ben.refresh_from_db()
    assert ben.state == PayoutState.SUBMITTED

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("payments:payout-confirm", args=[ben.pk]),
            {"outcome": "failed", "reason": "The account number does not exist."},
        )

    ben.refresh_from_db()
    assert (ben.state, ben.failure_code, ben.settled_by) == (PayoutState.FAILED, "bank_returned", ops)
    [returned] = ledger_returns(ben.contractor)
    assert (returned.amount_minor, returned.created_by) == (2007, ops)
    assert balance(contractor=ben.contractor) == {"USD": Money(2007, "USD")}
    [message] = mail.outbox
    assert message.to == [ben.contractor.email] and "does not exist" in message.body


def test_a_pending_bank_payout_cannot_be_confirmed_before_its_file_exists(run, ops, login):
    ana = _payout("Ana Example")
    response = login(ops).post(reverse("payments:payout-confirm", args=[ana.pk]), {"outcome": "paid"}, follow=True)
    assert "generate the run&#x27;s bank file first" in response.content.decode()
    ana.refresh_from_db()
    assert ana.state == PayoutState.PENDING


@pytest.mark.parametrize("role", ["auditor", "contractor"])
def test_auditors_and_contractors_cannot_generate_files_or_confirm_payouts(run, ops, auditor, login, role):
    login(ops).post(reverse("payments:payout-run-bank-file", args=[run.pk]))
    ana = _payout("Ana Example")
    user = auditor if role == "auditor" else ana.contractor
    client = login(user)

    assert client.post(reverse("payments:payout-confirm", args=[ana.pk]), {"outcome": "paid"}).status_code == 403
    assert client.post(reverse("payments:payout-run-bank-file", args=[run.pk])).status_code == 403
    ana.refresh_from_db()
    assert ana.state == PayoutState.SUBMITTED
    assert BankFile.objects.count() == 1
