"""A small in-process cache with per-entry lifetimes, LRU eviction and single-flight fills.

Playback's caches (parsed playlists, rewritten playlists) and the edge's playlist cache
are this one class: a dict, so a hit costs a hash and a comparison of the clock. A
cold key asked for by 64 players at once is filled once; the others await that fill.
No locks are needed: it is used from one event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ExpiringCache(Generic[K, V]):
    """Values kept until their own deadline, at most ``max_entries`` and ``max_weight`` in all."""

    def __init__(
        self,
        *,
        max_entries: int,
        max_weight: int | None = None,
        weigh: Callable[[V], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: OrderedDict[K, tuple[float, V, int]] = OrderedDict()
        self._pending: dict[K, asyncio.Future[V]] = {}
        self._max_entries = max_entries
        self._max_weight = max_weight
        self._weigh = weigh
        self._weight = 0
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        """The live value of ``key``, or None; an expired one is dropped."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: K, value: V, max_age: float) -> None:
        """Keep ``value`` for ``max_age`` seconds (nothing is kept for 0 or less)."""
        if key in self._entries:
            self._drop(key)
        if max_age <= 0:
            return
        weight = self._weigh(value) if self._weigh is not None else 0
        self._entries[key] = (self._clock() + max_age, value, weight)
        self._weight += weight
        while len(self._entries) > self._max_entries or (
            self._max_weight is not None and self._weight > self._max_weight and len(self._entries) > 1
        ):
            self._drop(next(iter(self._entries)))

    def discard(self, key: K) -> None:
        if key in self._entries:
            self._drop(key)

    async def get_or_fill(self, key: K, fill: Callable[[], Awaitable[tuple[V, float]]]) -> V:
        """The cached value, or the result of one ``fill()`` (value, max_age) shared by all who wait.

        A failed fill is not cached: each waiter sees the error, and the next call tries again.
        """
        found = self.get(key)
        if found is not None:
            return found
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            value, max_age = await fill()
        except BaseException as exc:
            if isinstance(exc, Exception):
                future.set_exception(exc)
                future.exception()  # retrieved here: no "never retrieved" warning when nobody waited
            else:
                future.cancel()
            raise
        else:
            self.put(key, value, max_age)
            future.set_result(value)
            return value
        finally:
            del self._pending[key]

    def _drop(self, key: K) -> None:
        _, _, weight = self._entries.pop(key)
        self._weight -= weight
