"""The edge's cache of API-token resolutions: short, bounded by the session's expiry, dropped on revocation."""

from __future__ import annotations

import asyncio

from edge.api_tokens import CACHE_SECONDS, EXPIRY_MARGIN_SECONDS, ResolutionCache, cache_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_resolution_is_reused_for_the_cache_bound_and_not_after() -> None:
    clock = Clock()
    cache = ResolutionCache(clock=clock)
    cache.put("k", "jwt", "token-1", valid_for=300)
    clock.now += CACHE_SECONDS - 0.1
    found = cache.get("k")
    assert found is not None and found.session_token == "jwt"
    clock.now += 0.2
    assert cache.get("k") is None


def test_the_cache_bound_is_at_most_thirty_seconds() -> None:
    assert 0 < CACHE_SECONDS <= 30


def test_a_session_about_to_expire_is_never_reused_past_its_margin() -> None:
    clock = Clock()
    cache = ResolutionCache(clock=clock)
    cache.put("short", "jwt", "token-1", valid_for=EXPIRY_MARGIN_SECONDS + 2)
    clock.now += 2.5
    assert cache.get("short") is None
    cache.put("spent", "jwt", "token-1", valid_for=EXPIRY_MARGIN_SECONDS)
    assert cache.get("spent") is None


def test_revoking_a_token_drops_all_its_resolutions_and_only_those() -> None:
    cache = ResolutionCache(clock=Clock())
    cache.put("a", "jwt-a", "token-1", valid_for=300)
    cache.put("b", "jwt-b", "token-2", valid_for=300)
    cache.forget_token("token-1")
    assert cache.get("a") is None
    assert cache.get("b") is not None


def test_entries_are_keyed_by_the_secrets_hash_not_the_secret() -> None:
    key = cache_key("mdt_" + "x" * 43)
    assert len(key) == 64 and "mdt_" not in key


async def test_requests_arriving_together_with_a_fresh_token_resolve_it_once() -> None:
    cache = ResolutionCache(clock=Clock())
    asked = 0
    release = asyncio.Event()

    async def fetch() -> tuple[str, str, float]:
        nonlocal asked
        asked += 1
        await release.wait()
        return "jwt", "token-1", 300.0

    waiting = [asyncio.create_task(cache.session_for("k", fetch)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == ["jwt"] * 5
    assert asked == 1
    assert await cache.session_for("k", fetch) == "jwt" and asked == 1


async def test_a_refused_resolution_fails_every_waiting_request_and_is_not_remembered() -> None:
    cache = ResolutionCache(clock=Clock())
    release = asyncio.Event()

    async def refuse() -> tuple[str, str, float]:
        await release.wait()
        raise PermissionError("revoked")

    waiting = [asyncio.create_task(cache.session_for("k", refuse)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, PermissionError) for r in results)
    assert cache.get("k") is None


async def test_when_the_asking_request_goes_away_a_waiting_one_asks_again() -> None:
    cache = ResolutionCache(clock=Clock())
    calls: list[asyncio.Event] = []

    async def fetch() -> tuple[str, str, float]:
        gate = asyncio.Event()
        calls.append(gate)
        await gate.wait()
        return "jwt", "token-1", 300.0

    first = asyncio.create_task(cache.session_for("k", fetch))
    await asyncio.sleep(0)
    second = asyncio.create_task(cache.session_for("k", fetch))
    await asyncio.sleep(0)
    first.cancel()
    for _ in range(20):  # a few turns of the loop: the cancellation reaches the waiter, which asks again
        await asyncio.sleep(0)
    assert len(calls) == 2
    calls[1].set()
    assert await second == "jwt"
    assert first.cancelled()
