"""Group commit: requests queued while a batch is being written share the next transaction, each caller gets
its own event or its own refusal, and a concurrent retry of one idempotency key never writes twice."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from consent.errors import ConsentError
from consent.group_commit import GroupCommitter
from consent.registry import ConsentRegistry, EnrolmentInput
from schemas.consent import Category, ConsentEvent, EventKind, EventRequest
from tests.consent.subjects import DATASET, T0, national_id


class HeldRegistry:
    """Wraps a registry: the first append waits until released, and every batch's size is recorded."""

    def __init__(self, registry: ConsentRegistry) -> None:
        self.registry = registry
        self.inside = threading.Event()
        self.release = threading.Event()
        self.batches: list[int] = []

    def __getattr__(self, name: str) -> Any:  # the checkpoint policy and the rest of the registry
        return getattr(self.registry, name)

    def append(self, requests: Sequence[EventRequest], keys: Sequence[str | None]) -> list[ConsentEvent]:
        if not self.batches:
            self.inside.set()
            self.release.wait(30)
        self.batches.append(len(requests))
        return self.registry.append(requests, keys)


def _subjects(registry: ConsentRegistry, count: int) -> list[str]:
    subjects = [registry.pseudonymiser.subject(national_id(n)) for n in range(1, count + 1)]
    registry.enrol([EnrolmentInput(s, DATASET, "NTU", Category.C, T0) for s in subjects])
    return subjects


def _run_held(
    registry: ConsentRegistry, first: EventRequest, queued: list[tuple[EventRequest, str | None]]
) -> tuple[HeldRegistry, list[Any]]:
    """The first request's batch is held inside its write until every other request has queued behind it."""
    held = HeldRegistry(registry)
    committer = GroupCommitter(held)  # type: ignore[arg-type]

    async def scenario() -> list[Any]:
        lead = asyncio.ensure_future(committer.append(first, "lead"))
        await asyncio.to_thread(held.inside.wait, 30)
        rest = [asyncio.ensure_future(committer.append(r, k)) for r, k in queued]
        await asyncio.sleep(0)  # every request is queued now: the loop ran each task up to its await
        assert len(committer._queue) == len(queued)
        held.release.set()
        return list(await asyncio.gather(lead, *rest, return_exceptions=True))

    return held, asyncio.run(scenario())


def test_requests_queued_during_a_commit_share_the_next_transaction(registry: ConsentRegistry) -> None:
    subjects = _subjects(registry, 6)
    queued: list[tuple[EventRequest, str | None]] = [
        (EventRequest(subject=s, kind=EventKind.OPTED_OUT), f"k{i}") for i, s in enumerate(subjects[1:])
    ]
    held, results = _run_held(registry, EventRequest(subject=subjects[0], kind=EventKind.NOTICE_SENT), queued)
    assert held.batches == [1, 5]
    assert all(isinstance(r, ConsentEvent) for r in results)
    assert [r.subject for r in results] == subjects
    assert registry.verify().ok


def test_a_refused_request_fails_alone_and_its_batch_is_still_written(registry: ConsentRegistry) -> None:
    subjects = _subjects(registry, 3)
    stranger = registry.pseudonymiser.subject(national_id(99))
    queued: list[tuple[EventRequest, str | None]] = [
        (EventRequest(subject=subjects[1], kind=EventKind.OPTED_OUT), None),
        (EventRequest(subject=stranger, kind=EventKind.OPTED_OUT), None),
        (EventRequest(subject=subjects[2], kind=EventKind.OPTED_OUT), None),
    ]
    _held, results = _run_held(registry, EventRequest(subject=subjects[0], kind=EventKind.NOTICE_SENT), queued)
    assert isinstance(results[2], ConsentError) and "not enrolled" in str(results[2])
    assert [type(r) for r in (results[0], results[1], results[3])] == [ConsentEvent] * 3
    assert sum(len(registry.events_of(s)) for s in subjects) == 3


def test_a_concurrent_retry_of_one_key_returns_the_one_stored_event(registry: ConsentRegistry) -> None:
    subjects = _subjects(registry, 2)
    again = EventRequest(subject=subjects[1], kind=EventKind.OPTED_OUT)
    queued: list[tuple[EventRequest, str | None]] = [(again, "same"), (again, "same")]
    held, results = _run_held(registry, EventRequest(subject=subjects[0], kind=EventKind.NOTICE_SENT), queued)
    assert held.batches == [1, 1, 1]  # the retry waits for the batch holding its key, then finds the event
    assert results[1].event_id == results[2].event_id
    assert len(registry.events_of(subjects[1])) == 1


def test_a_retry_with_different_content_is_refused(registry: ConsentRegistry) -> None:
    subjects = _subjects(registry, 2)
    queued: list[tuple[EventRequest, str | None]] = [
        (EventRequest(subject=subjects[1], kind=EventKind.OPTED_OUT), "same"),
        (EventRequest(subject=subjects[1], kind=EventKind.NOTICE_SENT), "same"),
    ]
    _held, results = _run_held(registry, EventRequest(subject=subjects[0], kind=EventKind.NOTICE_SENT), queued)
    assert isinstance(results[1], ConsentEvent)
    with pytest.raises(ConsentError, match="already used"):
        raise results[2]


def test_requests_arriving_while_the_writer_lingers_after_a_commit_join_its_next_batch(
    registry: ConsentRegistry,
) -> None:
    """After a commit the writer waits (here up to a minute) for the batch to fill, and goes on as soon
    as it is full: the answered clients' next requests share a transaction with those already queued."""
    subjects = _subjects(registry, 4)
    held = HeldRegistry(registry)
    committer = GroupCommitter(held, max_batch=3, linger=60)  # type: ignore[arg-type]

    async def scenario() -> list[ConsentEvent]:
        lead = asyncio.ensure_future(committer.append(EventRequest(subject=subjects[0], kind="notice_sent"), None))
        await asyncio.to_thread(held.inside.wait, 30)
        queued = asyncio.ensure_future(committer.append(EventRequest(subject=subjects[1], kind="opted_out"), None))
        await asyncio.sleep(0)
        held.release.set()
        first = await lead  # committed and answered; the writer now lingers with one request waiting
        late = [committer.append(EventRequest(subject=s, kind="opted_out"), None) for s in subjects[2:]]
        return [first, *await asyncio.gather(queued, *late)]

    events = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert held.batches == [1, 3]
    assert [e.subject for e in events] == subjects and registry.verify().ok


def test_a_request_that_finds_the_writer_idle_is_written_at_once_despite_the_linger(
    registry: ConsentRegistry,
) -> None:
    subjects = _subjects(registry, 2)
    held = HeldRegistry(registry)
    held.release.set()
    committer = GroupCommitter(held, linger=60)  # type: ignore[arg-type]

    async def one_after_another() -> list[ConsentEvent]:
        # Each append must finish long before the minute-long linger could have ended.
        return [
            await asyncio.wait_for(committer.append(EventRequest(subject=s, kind="opted_out"), None), 20)
            for s in subjects
        ]

    events = asyncio.run(one_after_another())
    assert held.batches == [1, 1] and [e.seq for e in events] == [1, 1]


def test_the_committer_makes_a_checkpoint_once_the_policy_says_one_is_due(registry: ConsentRegistry) -> None:
    registry.checkpoint_every_events, registry.checkpoint_every_minutes = 3, 0
    subjects = _subjects(registry, 3)
    committer = GroupCommitter(registry)

    async def scenario() -> None:
        for s in subjects:
            await committer.append(EventRequest(subject=s, kind=EventKind.NOTICE_SENT, effective_at=T0), None)
            await asyncio.sleep(1.1)  # the committer asks at most once a second
        for _ in range(100):  # the checkpoint is made off the write path: wait for it (bounded)
            if registry.latest_checkpoint() is not None:
                break
            await asyncio.sleep(0.05)

    asyncio.run(scenario())
    made = registry.latest_checkpoint()
    assert made is not None and made.max_event_id == 3 and made.signature_ok()
