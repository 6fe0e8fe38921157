"""Webhook events in batches: many concurrent RecordZoomEvent calls, one INSERT, one commit.

Zoom may send a thousand joins in a second when a lecture starts. Each RPC hands its
event to :class:`EventBatcher` and waits; the batcher collects what arrives within a few
milliseconds (or up to a batch size), writes it with one multi-row ``INSERT ... ON
CONFLICT DO NOTHING``, commits, and only then releases every waiter, so no event is
acknowledged before it is durable. If the database fails, every waiter of the batch
gets the error (Zoom is answered 5xx and delivers again). Joins and leaves are
published for live watchers after the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from attendance_svc import domain, errors, store

log = logging.getLogger(__name__)

Publisher = Callable[[Sequence[domain.EventToStore]], Awaitable[None]]


class EventBatcher:
    """Group concurrent event writes; ``record`` returns True when the event was a duplicate."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        max_events: int,
        max_wait_seconds: float,
        reconcile_delay_seconds: int,
        publish: Publisher | None = None,
    ) -> None:
        self._sessions = sessions
        self._max_events = max_events
        self._max_wait = max_wait_seconds
        self._reconcile_delay = reconcile_delay_seconds
        self._publish = publish
        self._queue: asyncio.Queue[tuple[domain.EventToStore, asyncio.Future[bool]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._writers = asyncio.Semaphore(4)
        self._inflight: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-batcher")

    async def record(self, item: domain.EventToStore) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    async def close(self) -> None:
        """Write what is queued, then stop (called after the gRPC server has drained)."""
        await self._queue.join()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            deadline = time.monotonic() + self._max_wait
            while len(batch) < self._max_events:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            # Several writers at once: while one batch commits, the next one collects.
            await self._writers.acquire()
            task = asyncio.create_task(self._write(batch))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _write(self, batch: list[tuple[domain.EventToStore, asyncio.Future[bool]]]) -> None:
        try:
            items = [item for item, _ in batch]
            try:
                async with self._sessions() as session, session.begin():
                    inserted = await store.insert_events(session, items, reconcile_delay_seconds=self._reconcile_delay)
            except (SQLAlchemyError, OSError) as exc:
                log.warning("event batch not stored", extra={"events": len(batch), "error": str(exc)[:300]})
                failure = errors.StoreUnavailable("the event could not be stored now: deliver it again")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(failure)
                return
            claimed: set[str] = set()
            for item, future in batch:
                first = item.key in inserted and item.key not in claimed
                claimed.add(item.key)
                if not future.done():
                    future.set_result(not first)
            if self._publish is not None:
                fresh = list({item.key: item for item in items if item.key in inserted}.values())
                try:
                    await self._publish(fresh)
                except Exception:  # live views are best effort; the events are stored
                    log.warning("presence not published", exc_info=True)
        finally:
            self._writers.release()
            for _ in batch:
                self._queue.task_done()
