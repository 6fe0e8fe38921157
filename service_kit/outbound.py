"""Outbound HTTP to URLs a tenant chose (an LMS's key set, token and login URLs, Zoom): public addresses only.

A registration names URLs the services then fetch from inside the network, so an
administrator (or a forged dynamic registration) could point them at the cloud's
metadata endpoint, a database port or an admin panel: server-side request forgery.
Outside development, every connection these clients open must reach a public address:

- host names are resolved by :class:`PublicOnlyResolver`, which keeps only public
  addresses, so a name that resolves to 10.0.0.5 or 169.254.169.254 connects nowhere;
- IP literals skip resolution in aiohttp, so the first request and every redirect's
  target are checked by trace hooks (aiohttp announces each hop before following it);
- bodies are read up to a cap, and the session's timeout bounds the whole exchange.

In development and tests the LMS and Zoom stand-ins run on this machine, so the policy
is "any address" there; the https-only rule for platform URLs is the registration's.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]


class NotPublicAddress(aiohttp.ClientError):
    """The URL's host is, or resolves only to, an address the policy refuses."""


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public internet (not private, loopback, link-local, reserved or multicast).

    IPv4-mapped IPv6 addresses (``::ffff:10.0.0.1``) are judged by the IPv4 address they carry.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def any_address(address: IPAddress) -> bool:
    """The development policy: the stand-ins live on this machine."""
    return True


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class PublicOnlyResolver(AbstractResolver):
    """A resolver that returns only the addresses ``policy`` accepts, and refuses a host with none."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        kept = [r for r in results if self._policy(ipaddress.ip_address(r["host"]))]
        if not kept:
            raise NotPublicAddress(f"{host} resolves to no public address")
        return kept

    async def close(self) -> None:
        await self._inner.close()


def _request_start_check(policy: AddressPolicy) -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()

    async def on_request_start(session: aiohttp.ClientSession, context: SimpleNamespace, params: Any) -> None:
        address = _literal(params.url.host or "")
        if address is not None and not policy(address):
            raise NotPublicAddress(f"{params.url.host} is not a public address")

    async def on_request_redirect(session: aiohttp.ClientSession, context: SimpleNamespace, params: Any) -> None:
        target = params.url.join(URL(params.response.headers.get("Location", "")))
        address = _literal(target.host or "")
        if address is not None and not policy(address):
            raise NotPublicAddress(f"a redirect to {target.host}, which is not a public address")

    trace.on_request_start.append(on_request_start)
    trace.on_request_redirect.append(on_request_redirect)
    return trace


def client_session(
    *, timeout: aiohttp.ClientTimeout, headers: dict[str, str], policy: AddressPolicy
) -> aiohttp.ClientSession:
    """An aiohttp session that connects only to addresses ``policy`` accepts, redirects included."""
    return aiohttp.ClientSession(
        timeout=timeout,
        headers=headers,
        connector=aiohttp.TCPConnector(resolver=PublicOnlyResolver(policy)),
        trace_configs=[_request_start_check(policy)],
    )


def policy_for(production: bool) -> AddressPolicy:
    """Public addresses only in production; any address in development and tests."""
    return is_public if production else any_address


async def read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The body, or :class:`ResponseTooLarge` past ``max_bytes`` (read no further than one byte over)."""
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > max_bytes:
            raise ResponseTooLarge(f"the answer is larger than {max_bytes} bytes")
    return bytes(body)


class ResponseTooLarge(aiohttp.ClientError):
    """An answer longer than the caller will read."""
