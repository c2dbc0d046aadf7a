"""The tamper-evident audit log: a SHA-256 hash chain over canonical JSON.

Each event's hash covers its own fields and the previous event's hash, so changing,
deleting or reordering any row breaks every hash after it. Writers serialise on one
PostgreSQL advisory lock held until their transaction commits, so concurrent services
still produce a single chain with no gaps and no forks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from workforce.models import AuditChainCheck, AuditEvent, User

GENESIS_HASH = "0" * 64
# An arbitrary constant that names "the audit chain" among PostgreSQL advisory locks.
_CHAIN_LOCK_KEY = 0x46A17_A0D17


def _canonical(event: AuditEvent) -> bytes:
    payload = {
        "seq": event.seq,
        "created_at": event.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "summary": event.summary,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    # SQLite (the embedded default) allows one writer at a time already.


def audit_record(
    *, actor: User | None, action: str, obj: models.Model | None = None, summary: dict[str, Any] | None = None
) -> AuditEvent:
    """Append one event to the chain; must run inside the service's own transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction of the change it records.")
    _lock_chain()
    last = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
    # A JSON round trip fixes the stored form (dates, decimals as strings) before hashing.
    clean_summary = json.loads(json.dumps(summary or {}, cls=DjangoJSONEncoder))
    event = AuditEvent(
        seq=(last["seq"] + 1) if last else 1,
        created_at=timezone.now(),
        actor=actor,
        actor_label=actor.email if actor else "system",
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        summary=clean_summary,
        prev_hash=last["hash"] if last else GENESIS_HASH,
    )
    event.hash = event_hash(event)
    event.save(force_insert=True)
    return event


@dataclass(frozen=True)
class ChainVerification:
    events_checked: int
    is_intact: bool
    first_broken_seq: int | None
    message: str


def _verify(events: Iterable[AuditEvent]) -> ChainVerification:
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    for event in events:
        checked += 1
        if event.seq != expected_seq:
            return ChainVerification(
                checked,
                False,
                expected_seq,
                f"Event #{expected_seq} is missing: the chain jumps to #{event.seq}.",
            )
        if event.prev_hash != prev_hash:
            return ChainVerification(
                checked,
                False,
                event.seq,
                f"Event #{event.seq} does not follow event #{event.seq - 1}: its previous-hash link is wrong.",
            )
        if event_hash(event) != event.hash:
            return ChainVerification(
                checked, False, event.seq, f"Event #{event.seq} was altered: its content no longer matches its hash."
            )
        prev_hash = event.hash
        expected_seq += 1
    return ChainVerification(checked, True, None, f"All {checked} events are intact.")


def audit_chain_verify(*, store: bool = True) -> ChainVerification:
    """Walk the whole chain in order and name the first broken event, if any."""
    result = _verify(AuditEvent.objects.order_by("seq").iterator(chunk_size=2000))
    if store:
        AuditChainCheck.objects.create(
            events_checked=result.events_checked,
            is_intact=result.is_intact,
            first_broken_seq=result.first_broken_seq,
            message=result.message,
        )
    return result
