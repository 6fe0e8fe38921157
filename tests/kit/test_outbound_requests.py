"""Outside development, URLs a tenant chose are fetched only from public addresses, redirects included."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from lti_svc import adapters, errors
from service_kit import outbound

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1::", True),
        ("10.0.0.5", False),
        ("172.16.3.4", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),  # the cloud metadata endpoint
        ("100.64.0.1", False),  # carrier-grade NAT
        ("::1", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.1", False),  # a private IPv4 address dressed as IPv6
        ("224.0.0.1", False),
    ],
)
def test_only_addresses_on_the_public_internet_count_as_public(address: str, public: bool) -> None:
    assert outbound.is_public(ipaddress.ip_address(address)) is public


def only_first_loopback(address: IPAddress) -> bool:
    """A stand-in for "public" in tests: 127.0.0.1 passes, every other address (127.0.0.2 too) does not."""
    return str(address) == "127.0.0.1"


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """A server on 127.0.0.1 with a key set, and a redirect to 127.0.0.2 (an address the test policy refuses)."""

    async def keys(request: web.Request) -> web.Response:
        return web.json_response({"keys": []})

    async def bounce(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.2:{request.url.port}/keys")

    async def huge(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (adapters.MAX_RESPONSE_BYTES + 10), content_type="application/json")

    app = web.Application()
    app.router.add_get("/keys", keys)
    app.router.add_get("/bounce", bounce)
    app.router.add_get("/huge", huge)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", 0).start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_a_platform_url_on_an_allowed_address_is_fetched(site: str) -> None:
    platforms = adapters.Platforms(5, only_first_loopback)
    try:
        document, _ = await platforms.request("GET", f"{site}/keys", what="key set (JWKS)")
    finally:
        await platforms.close()
    assert document == {"keys": []}


async def test_a_redirect_to_a_refused_address_is_not_followed(site: str) -> None:
    platforms = adapters.Platforms(5, only_first_loopback)
    try:
        with pytest.raises(errors.PlatformRefused, match="not public"):
            await platforms.request("GET", f"{site}/bounce", what="key set (JWKS)")
    finally:
        await platforms.close()


async def test_an_ip_literal_and_a_name_that_resolve_to_refused_addresses_are_not_fetched(site: str) -> None:
    port = site.rsplit(":", 1)[1]
    platforms = adapters.Platforms(5, outbound.is_public)
    try:
        for url in (f"http://127.0.0.1:{port}/keys", f"http://localhost:{port}/keys"):
            with pytest.raises(errors.PlatformRefused, match="not public"):
                await platforms.request("GET", url, what="key set (JWKS)")
    finally:
        await platforms.close()


async def test_an_answer_over_the_size_cap_is_refused_not_read(site: str) -> None:
    platforms = adapters.Platforms(5, only_first_loopback)
    try:
        with pytest.raises(errors.PlatformRefused, match="over"):
            await platforms.request("GET", f"{site}/huge", what="roster (NRPS)")
    finally:
        await platforms.close()


async def test_development_reaches_this_machine(site: str) -> None:
    session = outbound.client_session(
        timeout=aiohttp.ClientTimeout(total=5), headers={}, policy=outbound.policy_for(production=False)
    )
    async with session, session.get(f"{site}/keys") as reply:
        assert reply.status == 200
    assert outbound.policy_for(production=True) is outbound.is_public
