"""Hash chains of the consent ledger: event hashes, chain verification and checkpoint hashes.

Pure functions over events; the registry stores what they compute and ``verify`` re-runs them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.consent import Channel, ConsentEvent, EventKind

# The canonical form of a hash payload: sorted keys, no spaces, UTF-8 as is. Never change it: every stored
# hash was computed over these bytes.
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def payload_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 hex of a hash payload (the shape of :meth:`ConsentEvent.hash_payload`: plain JSON values)."""
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()


def event_hash(event: ConsentEvent) -> str:
    """SHA-256 over the canonical JSON of every field but the hash itself (prev_hash included)."""
    return payload_hash(event.hash_payload())


def sealed(event: ConsentEvent) -> ConsentEvent:
    """``event`` with its hash filled in."""
    return event.model_copy(update={"hash": event_hash(event)})


def sealed_from_payload(payload: Mapping[str, Any], effective_at: datetime, recorded_at: datetime) -> ConsentEvent:
    """A new event built once from its hash payload (the plain values :meth:`ConsentEvent.hash_payload`
    gives, instants formatted) and the same two instants as aware UTC datetimes, its hash filled in.

    The write path's way to seal: the payload is hashed as it stands and the event is assembled without a
    second validation or copy (every value already has its model type's form).
    """
    return ConsentEvent.model_construct(
        **{
            **payload,
            "kind": EventKind(payload["kind"]),
            "channel": Channel(payload["channel"]),
            "effective_at": effective_at,
            "recorded_at": recorded_at,
            "hash": payload_hash(payload),
        }
    )


@dataclass(frozen=True)
class ChainBreak:
    subject: str
    event_id: str
    seq: int
    problem: str

    def describe(self) -> str:
        return f"event {self.event_id} (subject {self.subject[:12]}…, seq {self.seq}): {self.problem}"


def verify_chain(events: Iterable[ConsentEvent]) -> ChainBreak | None:
    """The first broken link of one subject's chain (events in seq order), or None when intact."""
    prev_hash = ""
    expected_seq = 1
    for event in events:
        if event.seq != expected_seq:
            return ChainBreak(
                event.subject, event.event_id, event.seq, f"expected seq {expected_seq}: an event is missing"
            )
        if event.prev_hash != prev_hash:
            return ChainBreak(event.subject, event.event_id, event.seq, "prev_hash does not match the previous event")
        if event_hash(event) != event.hash:
            return ChainBreak(event.subject, event.event_id, event.seq, "content does not match its hash (altered)")
        prev_hash = event.hash
        expected_seq += 1
    return None


def checkpoint_hash(heads: Mapping[str, tuple[int, str]], prev_checkpoint_hash: str) -> str:
    """Hash of every chain head (subject -> (seq, hash)) and the previous checkpoint.

    Deleting a whole chain changes this, which per-chain verification alone cannot see.
    """
    digest = hashlib.sha256(prev_checkpoint_hash.encode())
    for subject in sorted(heads):
        seq, head = heads[subject]
        digest.update(f"\n{subject}:{seq}:{head}".encode())
    return digest.hexdigest()
