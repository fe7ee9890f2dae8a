"""Signed checkpoints of the consent ledger: what is hashed and signed, when one is due, the witness file.

Pure functions and the signing key file; the registry stores checkpoints and ``verify`` re-checks them.
A checkpoint (scheme ``delta-v1``) hashes the previous checkpoint and the head of every chain that moved
since it, so making one costs the events since the last, not the whole ledger. It is signed with an
Ed25519 key kept outside the database, and exported to a witness file an auditor keeps: a ledger cut
back before an exported checkpoint no longer holds it, and a forged one cannot carry its signature.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from consent.pseudonyms import load_or_create_key

DELTA = "delta-v1"  # heads of the chains that moved since the previous checkpoint
HEADS = "heads-v1"  # every chain head (checkpoints made before signing; still verified)
WITNESS_FORMAT = "fairgate-consent-witness/1"


def delta_hash(changed: Mapping[str, tuple[int, str]], prev_hash: str, max_event_id: int) -> str:
    """Hash of the previous checkpoint, the last event id covered and each moved chain's head (sorted)."""
    digest = hashlib.sha256(f"{DELTA}\n{prev_hash}\n{max_event_id}".encode())
    for subject in sorted(changed):
        seq, head = changed[subject]
        digest.update(f"\n{subject}:{seq}:{head}".encode())
    return digest.hexdigest()


def checkpoint_due(
    uncovered_events: int,
    last_checkpoint_at: datetime | None,
    now: datetime,
    every_events: int,
    every_minutes: float,
) -> bool:
    """Whether a checkpoint should be made now: events are uncovered and either there are ``every_events``
    of them or the last checkpoint is ``every_minutes`` old (0 turns either rule off)."""
    if uncovered_events <= 0:
        return False
    if every_events > 0 and uncovered_events >= every_events:
        return True
    if every_minutes > 0:
        return last_checkpoint_at is None or now - last_checkpoint_at >= timedelta(minutes=every_minutes)
    return False


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint as stored and as exported (its database id is not signed: it is only a position)."""

    id: int
    scheme: str
    created_at: str
    max_event_id: int
    head_count: int
    prev_hash: str
    hash: str
    signature: str | None = None
    public_key: str | None = None

    def signed_bytes(self) -> bytes:
        """The bytes the signature covers: every field but the id, the signature and the key."""
        body = {k: v for k, v in asdict(self).items() if k not in ("id", "signature", "public_key")}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def signature_ok(self) -> bool:
        if not self.signature or not self.public_key:
            return False
        try:
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(self.public_key))
            key.verify(bytes.fromhex(self.signature), self.signed_bytes())
        except (InvalidSignature, ValueError):
            return False
        return True

    def receipt_view(self) -> dict[str, Any]:
        """What a consent receipt carries of the checkpoint covering its event."""
        return {
            "checkpointHash": self.hash,
            "checkpointTime": self.created_at,
            "coversEventsUpTo": self.max_event_id,
            "signature": self.signature,
            "publicKey": self.public_key,
            "scheme": self.scheme,
        }


class Signer:
    """Signs checkpoints with the registry's Ed25519 key (the key never leaves this object)."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public_key = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

    def __repr__(self) -> str:
        return f"Signer(public_key={self.public_key[:16]}…)"

    @classmethod
    def from_key_file(cls, path: Path) -> Signer:
        """The key in ``path`` (32 random bytes, hex, mode 0600), created on first use like the pseudonym key."""
        seed = load_or_create_key(path, what="checkpoint signing key")
        return cls(Ed25519PrivateKey.from_private_bytes(seed[:32]))

    def sign(self, checkpoint: Checkpoint) -> Checkpoint:
        from dataclasses import replace

        unsigned = replace(checkpoint, signature=None, public_key=self.public_key)
        return replace(unsigned, signature=self._private.sign(unsigned.signed_bytes()).hex())


class WitnessError(ValueError):
    """A witness file that cannot be read or whose signature does not hold."""


def witness_document(checkpoint: Checkpoint, exported_at: str) -> dict[str, Any]:
    return {"format": WITNESS_FORMAT, "exported_at": exported_at, "checkpoint": asdict(checkpoint)}


def write_witness(path: Path, checkpoint: Checkpoint, exported_at: str) -> None:
    """Write the witness whole (a temporary file renamed into place)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(witness_document(checkpoint, exported_at), indent=2) + "\n")
    tmp.replace(path)


def read_witness(path: Path) -> Checkpoint:
    """The checkpoint a witness file holds, its signature checked."""
    try:
        document = json.loads(path.read_text())
        if document.get("format") != WITNESS_FORMAT:
            raise WitnessError(f"{path}: not a fairgate witness file (format {document.get('format')!r})")
        checkpoint = Checkpoint(**document["checkpoint"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        if isinstance(exc, WitnessError):
            raise
        raise WitnessError(
            f"{path}: cannot read the witness ({exc}); give a file written by `fairgate consent checkpoint --export`"
        ) from exc
    if not checkpoint.signature_ok():
        raise WitnessError(f"{path}: the witness's signature does not hold: the file was altered or is not ours")
    return checkpoint
