"""Test subjects: generated valid national ids and the dataset GUIDs the consent tests use."""

from __future__ import annotations

from datetime import UTC, datetime

from consent.pseudonyms import taiwan_check_digit
from consent.registry import ConsentRegistry
from schemas.consent import Channel, EventKind, EventRequest

DATASET = "dg.TEST/0b0e7c1e-1d8a-4c59-9a43-3c1f7c0c0001"
OTHER_DATASET = "dg.TEST/0b0e7c1e-1d8a-4c59-9a43-3c1f7c0c0002"
T0 = datetime(2019, 1, 1, tzinfo=UTC)


def national_id(n: int, letter: str = "A", gender: str = "1") -> str:
    """The n-th valid national id (letter, gender digit, 7 digits of n, check digit)."""
    prefix = f"{letter}{gender}{n:07d}"
    return prefix + taiwan_check_digit(prefix)


def opt_out(registry: ConsentRegistry, n: int, when: datetime) -> None:
    """The n-th test person opts out of every dataset, effective ``when`` (a paper form)."""
    registry.append(
        [
            EventRequest(
                subject=registry.pseudonymiser.subject(national_id(n)),
                kind=EventKind.OPTED_OUT,
                effective_at=when,
                channel=Channel.PAPER,
                actor="test",
            )
        ]
    )
