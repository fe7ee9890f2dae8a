"""Hash chains of the consent ledger: event hashes, chain verification and checkpoint hashes.

Pure functions over events; the registry stores what they compute and ``verify`` re-runs them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from schemas.consent import ConsentEvent


def event_hash(event: ConsentEvent) -> str:
    """SHA-256 over the canonical JSON of every field but the hash itself (prev_hash included)."""
    payload = json.dumps(event.hash_payload(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def sealed(event: ConsentEvent) -> ConsentEvent:
    """``event`` with its hash filled in."""
    return event.model_copy(update={"hash": event_hash(event)})


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
