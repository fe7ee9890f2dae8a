"""Group commit for the API: appends that arrive together are written in one transaction, and each request
is answered only after that transaction has committed.

One commit (one WAL flush, one set of round trips) then serves every request that queued while the previous
batch was being written. Nothing is acknowledged early: a request's future is resolved when its own batch
is durable. Lives on one event loop (a uvicorn worker's); the write itself runs in a thread, one per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from consent.errors import ConsentError

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

    async def append(self, request: EventRequest, key: str | None) -> ConsentEvent:
        pending = _Pending(request, key, asyncio.get_running_loop().create_future())
        self._queue.append(pending)
        if len(self._queue) >= self.max_batch:
            self._full.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
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
