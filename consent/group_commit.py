"""Group commit for the API: appends that arrive together are written in one transaction, and each request
is answered only after that transaction has committed.

One commit (one WAL flush, one set of round trips) then serves every request that queued while the previous
batch was being written. Nothing is acknowledged early: a request's future is resolved when its own batch
is durable. Lives on one event loop (a uvicorn worker's); the write itself runs in a thread, one per batch.

It also keeps the ledger checkpointed by policy (:meth:`ConsentRegistry.checkpoint_if_due`): after a batch
(asked at most once a second) and on a timer while the worker lives, so uncovered events age at most
``checkpoint_every_minutes``. A checkpoint is made off the write path, after the batch was answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from consent.errors import ConsentError

_log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from consent.registry import ConsentRegistry
    from schemas.consent import ConsentEvent, EventRequest


@dataclass
class _Pending:
    request: EventRequest
    key: str | None
    future: asyncio.Future[ConsentEvent]
    event: ConsentEvent | None = None
    error: BaseException | None = None


class GroupCommitter:
    """Batches :meth:`ConsentRegistry.append` calls made on one event loop.

    The first request to find no batch in flight starts a writer at once; requests that arrive while it
    writes queue for the next batch. Once a batch has committed, the writer lingers (``linger`` seconds, or
    until ``max_batch`` requests wait) before taking the next one: the clients it has just answered send
    their next request within about that time, and they join the waiting ones instead of forming a small
    batch of their own a moment later (under steady load, batches otherwise split into two alternating
    halves, each paying a whole transaction). A lone request is never delayed. A batch refused as a whole
    (one request fails validation) is re-run one request at a time, so one bad request never fails the
    others.
    """

    def __init__(self, registry: ConsentRegistry, max_batch: int = 64, linger: float = 0.002) -> None:
        self.registry = registry
        self.max_batch = max_batch
        self.linger = linger
        self._queue: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None
        self._full = asyncio.Event()
        self._checkpointing: asyncio.Task[None] | None = None
        self._asked_at = 0.0
        self._timer: asyncio.Task[None] | None = None

    async def append(self, request: EventRequest, key: str | None) -> ConsentEvent:
        pending = _Pending(request, key, asyncio.get_running_loop().create_future())
        self._queue.append(pending)
        if len(self._queue) >= self.max_batch:
            self._full.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        if self._timer is None and (self.registry.checkpoint_every_minutes or self.registry.checkpoint_every_events):
            self._timer = asyncio.create_task(self._tick())
        # shield: a client that disconnects must not cancel a batch other requests are waiting on
        return await asyncio.shield(pending.future)

    async def _drain(self) -> None:
        after_a_batch = False
        while self._queue:
            if after_a_batch and self.linger > 0 and len(self._queue) < self.max_batch:
                self._full.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.linger)
            after_a_batch = True
            batch = self._take()
            await asyncio.to_thread(self._write, batch)
            for p in batch:
                if p.future.done():
                    continue
                if p.error is not None:
                    p.future.set_exception(p.error)
                else:
                    p.future.set_result(p.event)  # type: ignore[arg-type]
            self._checkpoint_soon()

    def _checkpoint_soon(self, every: float = 1.0) -> None:
        """Ask the registry for a checkpoint if due, in a thread, unless one is being asked or was just asked."""
        loop = asyncio.get_running_loop()
        if (self._checkpointing is not None and not self._checkpointing.done()) or loop.time() - self._asked_at < every:
            return
        self._asked_at = loop.time()
        self._checkpointing = asyncio.create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        try:
            await asyncio.to_thread(self.registry.checkpoint_if_due)
        except Exception:  # a failed checkpoint is retried at the next ask; the appends were not affected
            _log.exception("automatic checkpoint failed; it is retried after the next batch")

    async def _tick(self) -> None:
        """While the worker lives: ask every half a minute (or a quarter of the period, if shorter)."""
        minutes = self.registry.checkpoint_every_minutes or 1.0
        period = min(30.0, minutes * 60 / 4)
        while True:
            await asyncio.sleep(period)
            self._checkpoint_soon(every=0.0)

    def _take(self) -> list[_Pending]:
        """Up to ``max_batch`` queued requests, at most one per idempotency key: a concurrent retry of a key
        waits for the next batch, where it finds the stored event instead of racing to insert a second."""
        batch: list[_Pending] = []
        keys: set[str] = set()
        rest: list[_Pending] = []
        for p in self._queue:
            if len(batch) < self.max_batch and (p.key is None or p.key not in keys):
                batch.append(p)
                if p.key is not None:
                    keys.add(p.key)
            else:
                rest.append(p)
        self._queue = rest
        return batch

    def _write(self, batch: list[_Pending]) -> None:
        """In a worker thread: one transaction for the batch (its outcomes recorded on each entry)."""
        try:
            events = self.registry.append([p.request for p in batch], [p.key for p in batch])
        except ConsentError as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            for p in batch:  # find which request was refused; the others are written alone
                try:
                    (p.event,) = self.registry.append([p.request], [p.key])
                except Exception as alone:
                    p.error = alone
            return
        except Exception as exc:
            for p in batch:
                p.error = exc
            return
        for p, event in zip(batch, events, strict=True):
            p.event = event
