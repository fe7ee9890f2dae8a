"""Sealing a new event from its hash payload gives the event the model would have built, and the hash that
verification recomputes from the stored fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from consent.ledger import event_hash, payload_hash, sealed, sealed_from_payload
from schemas.consent import Channel, ConsentEvent, EventKind, format_instant

_text = st.none() | st.text(max_size=12)
_instant = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@given(
    kind=st.sampled_from(EventKind),
    channel=st.sampled_from(Channel),
    seq=st.integers(1, 10_000),
    scope_dataset=_text,
    scope_purpose=_text,
    evidence=_text,
    institution=_text,
    actor=st.text(max_size=12),
    prev_hash=st.text("0123456789abcdef", min_size=64, max_size=64) | st.just(""),
    effective_at=_instant,
    lag=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=900)),
)
def test_an_event_sealed_from_its_payload_equals_the_model_built_and_sealed_the_long_way(
    kind: EventKind,
    channel: Channel,
    seq: int,
    scope_dataset: str | None,
    scope_purpose: str | None,
    evidence: str | None,
    institution: str | None,
    actor: str,
    prev_hash: str,
    effective_at: datetime,
    lag: timedelta,
) -> None:
    recorded_at = effective_at + lag
    fields = {
        "event_id": "6f1c1a8e-0000-4000-8000-000000000001",
        "subject": "ab" * 32,
        "seq": seq,
        "scope_dataset": scope_dataset,
        "scope_purpose": scope_purpose,
        "actor": actor,
        "evidence": evidence,
        "institution": institution,
        "prev_hash": prev_hash,
    }
    long_way = sealed(
        ConsentEvent(**fields, kind=kind, channel=channel, effective_at=effective_at, recorded_at=recorded_at)
    )
    payload = {
        **fields,
        "kind": kind.value,
        "channel": channel.value,
        "effective_at": format_instant(effective_at),
        "recorded_at": format_instant(recorded_at),
    }
    event = sealed_from_payload(payload, effective_at, recorded_at)
    assert event == long_way
    assert event.hash_payload() == payload and event_hash(event) == event.hash == payload_hash(payload)
