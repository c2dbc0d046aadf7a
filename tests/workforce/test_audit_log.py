import itertools
import threading
from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, connections, transaction

from tests.workforce.factories import contractor
from workforce import audit
from workforce.audit import GENESIS_HASH, audit_chain_verify, audit_record
from workforce.models import AuditChainCheck, AuditEvent


def _write_events(count: int) -> None:
    for i in range(count):
        with transaction.atomic():
            audit_record(actor=None, action="test.event", summary={"i": i, "note": "ünïcode"})


@pytest.mark.django_db
def test_every_state_change_writes_a_linked_audit_event(ops):
    profile = contractor("active", ops=ops)
    events = list(AuditEvent.objects.order_by("seq"))
    assert events[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
        assert after.seq == before.seq + 1
    approve = AuditEvent.objects.get(action="contractor.approve")
    assert approve.actor == ops
    assert approve.object_id == str(profile.pk)
    assert approve.summary["to_state"] == "active"


@pytest.mark.django_db
def test_an_untouched_chain_verifies_and_the_command_reports_the_count(capsys):
    _write_events(5)
    call_command("verify_audit_log")
    out = capsys.readouterr().out
    assert "Checked 5 events." in out
    assert AuditChainCheck.objects.get().is_intact


def _tamper_change() -> int:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE workforce_auditevent SET summary = '{\"i\": 99}' WHERE seq = 3")
    return 3


def _tamper_delete() -> int:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM workforce_auditevent WHERE seq = 2")
    return 2


def _tamper_reorder() -> int:
    # Swap the positions of events 2 and 3, keeping every row's own content and hash.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE workforce_auditevent SET seq = 1000 WHERE seq = 2")
        cursor.execute("UPDATE workforce_auditevent SET seq = 2 WHERE seq = 3")
        cursor.execute("UPDATE workforce_auditevent SET seq = 3 WHERE seq = 1000")
    return 2


def _tamper_rehash() -> int:
    # A forger who recomputes the altered row's own hash still breaks the next link.
    event = AuditEvent.objects.get(seq=2)
    event.action = "forged"
    event.hash = audit.event_hash(event)
    AuditEvent.objects.filter(pk=event.pk).update(action="forged", hash=event.hash)
    return 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    "tamper",
    [_tamper_change, _tamper_delete, _tamper_reorder, _tamper_rehash],
    ids=["changed", "deleted", "reordered", "rehashed"],
)
def test_tampering_is_caught_and_the_first_broken_event_is_named(tamper: Callable[[], int]):
    _write_events(5)
    broken_seq = tamper()
    result = audit_chain_verify()
    assert not result.is_intact
    assert result.first_broken_seq == broken_seq
    with pytest.raises(CommandError, match=f"broken at event #{broken_seq}"):
        call_command("verify_audit_log")


WRITERS, PER_WRITER = 16, 10


def _race() -> list[BaseException]:
    """16 threads, each on its own connection, append events at once; returns what they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def write() -> None:
        try:
            start.wait()
            _write_events(PER_WRITER)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write) for _ in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_still_produce_one_valid_chain():
    assert _race() == []
    result = audit_chain_verify(store=False)
    assert result.is_intact, result.message
    assert result.events_checked == WRITERS * PER_WRITER


@pytest.mark.django_db(transaction=True)
def test_without_the_chain_lock_concurrent_writers_collide(monkeypatch):
    """Control run: the same race with the advisory lock removed clashes on the chain head."""
    monkeypatch.setattr(audit, "_lock_chain", lambda: None)
    errors = _race()
    assert errors, "without the lock, writers reading the same head must clash on seq"
    assert all(isinstance(e, IntegrityError) for e in errors)
