"""Signed checkpoints: made when due, signed with a key outside the database, exported to a witness that
catches a ledger cut back, and named on the receipts of the events they cover."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from consent.checkpoints import checkpoint_due, write_witness
from consent.interchange import consent_receipt
from consent.registry import ConsentRegistry, EnrolmentInput
from consent.settings import ConsentSettings
from schemas.consent import Category, EventKind, EventRequest
from tests.consent.subjects import DATASET, T0, national_id


def _enrol(registry: ConsentRegistry, n: int) -> str:
    subject = registry.pseudonymiser.subject(national_id(n))
    registry.enrol([EnrolmentInput(subject, DATASET, "NTU", Category.C, T0, (f"case-{n}",))])
    return subject


def _notice(subject: str, days: float = 1) -> EventRequest:
    return EventRequest(subject=subject, kind=EventKind.NOTICE_SENT, effective_at=T0 + timedelta(days=days))


def _cut_tail(registry: ConsentRegistry, after_event_id: int) -> None:
    """What someone with write access to the database file could do: drop the guards, cut the tail."""
    with registry.engine.begin() as conn:
        for trigger in ("consent_events_no_delete", "consent_checkpoints_no_delete"):
            conn.execute(text(f"DROP TRIGGER {trigger}"))
        conn.execute(text("DELETE FROM consent_events WHERE id > :n"), {"n": after_event_id})
        conn.execute(text("DELETE FROM consent_checkpoints WHERE max_event_id > :n"), {"n": after_event_id})


def test_a_checkpoint_is_due_after_n_events_or_m_minutes_and_never_with_nothing_uncovered() -> None:
    now = T0 + timedelta(hours=1)
    assert not checkpoint_due(0, None, now, every_events=10, every_minutes=5)
    assert checkpoint_due(10, now, now, every_events=10, every_minutes=5)
    assert not checkpoint_due(9, now - timedelta(minutes=4), now, every_events=10, every_minutes=5)
    assert checkpoint_due(1, now - timedelta(minutes=5), now, every_events=10, every_minutes=5)
    assert checkpoint_due(1, None, now, every_events=10, every_minutes=5)  # never checkpointed
    assert not checkpoint_due(1, None, now, every_events=10, every_minutes=0)


def test_the_signing_key_lives_outside_the_database_in_a_private_file(settings: ConsentSettings) -> None:
    registry = ConsentRegistry.from_settings(settings)
    registry.engine.dispose()
    key_file = settings.resolved_checkpoint_key_file()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert key_file.parent != Path(settings.resolved_consent_database_url().removeprefix("sqlite:///")).parent


def test_checkpoints_are_signed_and_verify_checks_the_signatures(registry: ConsentRegistry) -> None:
    a = _enrol(registry, 1)
    registry.append([_notice(a)])
    registry.checkpoint()
    (made,) = registry.checkpoints()
    assert made.signature_ok() and made.public_key == registry.signer.public_key  # type: ignore[union-attr]
    assert registry.verify().ok
    with registry.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER consent_checkpoints_no_update"))
        conn.execute(text("UPDATE consent_checkpoints SET created_at = '2020-01-01T00:00:00.000000Z'"))
    result = registry.verify()
    assert not result.ok and "signature does not hold" in " ".join(result.checkpoint_problems)


def test_a_checkpoint_is_made_automatically_once_due(settings: ConsentSettings) -> None:
    policy = {"checkpoint_every_events": 3, "checkpoint_every_minutes": 0}
    registry = ConsentRegistry.from_settings(settings.model_copy(update=policy))
    try:
        subjects = [_enrol(registry, n) for n in range(1, 4)]
        registry.append([_notice(subjects[0]), _notice(subjects[1])])
        assert registry.checkpoint_if_due() is None  # two events uncovered, three make one due
        registry.append([_notice(subjects[2])])
        made = registry.checkpoint_if_due()
        assert made is not None and made.max_event_id == 3 and made.head_count == 3
        assert registry.checkpoint_if_due() is None  # nothing uncovered now
        assert registry.verify().ok
    finally:
        registry.engine.dispose()


def test_a_witness_detects_a_ledger_cut_back_before_its_checkpoint(registry: ConsentRegistry, tmp_path: Path) -> None:
    a, b = _enrol(registry, 1), _enrol(registry, 2)
    registry.append([_notice(a), _notice(b)])
    registry.checkpoint()
    registry.append([EventRequest(subject=b, kind=EventKind.OPTED_OUT, effective_at=T0 + timedelta(days=2))])
    registry.checkpoint()
    witness = tmp_path / "witness.json"
    write_witness(witness, registry.checkpoints()[-1], "2026-12-07T00:00:00Z")
    assert registry.verify(against=[witness]).ok
    _cut_tail(registry, after_event_id=2)  # b's opt-out and the checkpoint covering it are gone
    alone = registry.verify()
    assert alone.ok  # what is left is consistent on its own: only the witness can tell
    result = registry.verify(against=[witness])
    assert not result.ok
    assert "cut back or replaced" in result.checkpoint_problems[0]


def test_an_altered_witness_is_refused(registry: ConsentRegistry, tmp_path: Path) -> None:
    registry.append([_notice(_enrol(registry, 1))])
    registry.checkpoint()
    witness = tmp_path / "witness.json"
    write_witness(witness, registry.checkpoints()[-1], "2026-12-07T00:00:00Z")
    document = json.loads(witness.read_text())
    document["checkpoint"]["max_event_id"] = 0
    witness.write_text(json.dumps(document))
    result = registry.verify(against=[witness])
    assert not result.ok and "signature does not hold" in result.checkpoint_problems[0]


def test_a_receipt_carries_the_checkpoint_that_covers_its_event(
    registry: ConsentRegistry, settings: ConsentSettings
) -> None:
    a = _enrol(registry, 1)
    (event,) = registry.append([_notice(a)])
    assert "ledgerCheckpoint" not in consent_receipt(event, settings, registry.covering_checkpoint(event.event_id))
    registry.checkpoint()
    registry.append([_notice(a, days=2)])
    registry.checkpoint()
    covering = registry.covering_checkpoint(event.event_id)
    assert covering is not None and covering.id == registry.checkpoints()[0].id
    receipt = consent_receipt(event, settings, covering)
    assert receipt["ledgerCheckpoint"]["checkpointHash"] == covering.hash
    assert receipt["ledgerCheckpoint"]["publicKey"] == registry.signer.public_key  # type: ignore[union-attr]
