"""The lti service's ties to the outside: platforms over HTTP, and Redis.

Platforms (the LMS) are reached with one aiohttp ClientSession made at start, the same
client code whether the other end is Canvas, Moodle or the test suite's platform:
key sets, the OAuth 2 token endpoint (client credentials with a signed JWT assertion),
Names and Roles (paged by ``Link: rel="next"``), Assignment and Grade Services and
dynamic registration, each with its media type. Vendor failures become this
service's errors here: no answer or a 5xx is PlatformUnavailable (retry later), a 4xx
is PlatformRefused with the platform's own words, so the administrator sees them.

Redis holds what must outlive one request but not a restart's worth of time: login
states and nonces (single use, short TTL), platform key sets, access tokens, rosters,
deep-linking launches and registration invitations. Nothing here logs a token, a
secret or a claim set.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

import aiohttp
from redis.asyncio import Redis

from lti_svc import domain, errors
from service_kit import outbound

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 8 * 1024 * 1024
"""The largest answer read from a platform (a roster page of 1000 members is well under 1 MiB)."""
MAX_ROSTER_PAGES = 500
"""A platform whose next links never end is cut off rather than followed forever."""
MAX_ERROR_TEXT = 300
TOKEN_EXPIRY_MARGIN_SECONDS = 30


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


class Platforms:
    """HTTP to platforms; one session for the process, closed at stop."""

    def __init__(self, timeout_seconds: float, policy: outbound.AddressPolicy = outbound.any_address) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._policy = policy
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = outbound.client_session(
                timeout=self._timeout, headers={"User-Agent": "lecture-media-lti/1"}, policy=self._policy
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        accept: str = "application/json",
        bearer: str | None = None,
        json_body: Any = None,
        content_type: str | None = None,
        form: Mapping[str, str] | None = None,
    ) -> tuple[Any, Mapping[str, str]]:
        """One call; the parsed JSON answer (None when empty) and the headers."""
        headers = {"Accept": accept}
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        data: Any = None
        if json_body is not None:
            headers["Content-Type"] = content_type or "application/json"
            data = json.dumps(json_body).encode()
        elif form is not None:
            data = aiohttp.FormData(dict(form))
        try:
            async with self._client().request(method, url, headers=headers, data=data) as response:
                body = await outbound.read_capped(response, MAX_RESPONSE_BYTES)
                answer_headers = dict(response.headers)
                status = response.status
        except outbound.NotPublicAddress as exc:
            raise errors.PlatformRefused(
                f"the {what} URL ({url}) leads to an address that is not public ({exc}): only public addresses"
                " are called"
            ) from None
        except outbound.ResponseTooLarge:
            raise errors.PlatformRefused(
                f"the platform's answer to the {what} request is over {MAX_RESPONSE_BYTES} bytes"
            ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("platform unreachable", extra={"what": what, "url": url, "error": type(exc).__name__})
            raise errors.PlatformUnavailable(f"the platform did not answer the {what} request ({url})") from None
        if status >= 500:
            raise errors.PlatformUnavailable(f"the platform failed the {what} request with HTTP {status}; retry later")
        if status >= 400:
            text = body.decode(errors="replace")[:MAX_ERROR_TEXT]
            raise errors.PlatformRefused(f"the platform refused the {what} request (HTTP {status}): {text}")
        if not body.strip():
            return None, answer_headers
        try:
            return json.loads(body), answer_headers
        except ValueError:
            raise errors.PlatformRefused(f"the platform's answer to the {what} request is not JSON") from None

    async def fetch_small_json(self, url: str, max_bytes: int) -> tuple[int, Any]:
        """GET a small JSON document without raising: (status, parsed or None); status 0 when nothing answered.

        For probing (discovery): a missing document is an answer, not a failure. Bodies
        over ``max_bytes`` and redirects are not followed or read.
        """
        try:
            async with self._client().get(url, headers={"Accept": "application/json"}, allow_redirects=False) as answer:
                status = answer.status
                body = await outbound.read_capped(answer, max_bytes) if status == 200 else b""
        except outbound.ResponseTooLarge:
            return 200, None
        except (aiohttp.ClientError, TimeoutError):
            return 0, None
        if status != 200:
            return status, None
        try:
            return status, json.loads(body)
        except ValueError:
            return status, None


class KeySets:
    """Platform JSON Web Key Sets, cached in Redis and fetched again once when a kid is new."""

    def __init__(self, platforms: Platforms, redis: Redis[bytes], cache_seconds: int) -> None:
        self._platforms = platforms
        self._redis = redis
        self._cache_seconds = cache_seconds

    async def _fetch(self, url: str, cache_key: str) -> list[dict[str, Any]]:
        document, _ = await self._platforms.request("GET", url, what="key set (JWKS)")
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            raise errors.PlatformRefused(f"the platform's key set at {url} has no keys list: check key_set_url")
        usable = [k for k in keys if isinstance(k, dict)]
        await self._redis.set(cache_key, json.dumps(usable), ex=self._cache_seconds)
        return usable

    async def verified_claims(self, url: str, kid: str | None, token: str) -> dict[str, Any]:
        """The id_token's claims, its signature checked with the platform key it names (``kid``).

        The cached key set is tried first. The set is fetched again, once, when it lacks
        the named key (the platform rotated to a new kid), or when a token without kid does
        not verify with the cached set's only key (the platform replaced a key it never
        named). Raises InvalidLaunch: ``LAUNCH_NO_KID``, ``LAUNCH_UNKNOWN_KEY``,
        ``LAUNCH_BAD_SIGNATURE``.
        """
        cache_key = f"lti:jwks:{_digest(url)}"
        cached = await self._redis.get(cache_key)
        if cached is not None:
            key = domain.select_jwk(json.loads(cached), kid)
            if key is not None:
                try:
                    return domain.verify_signature(token, key)
                except errors.InvalidLaunch:
                    if kid is not None:
                        raise
        keys = await self._fetch(url, cache_key)
        key = domain.select_jwk(keys, kid)
        if key is None:
            raise domain.no_platform_key(keys, kid)
        return domain.verify_signature(token, key)


class LoginStates:
    """Login state and nonce in Redis: written by the login, taken (GETDEL) by the launch, once."""

    def __init__(self, redis: Redis[bytes], ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    async def remember(self, login: domain.LoginState) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(f"lti:state:{login.state}", login.dumps(), ex=self._ttl)
            pipe.set(f"lti:nonce:{login.nonce}", login.config_id, ex=self._ttl)
            await pipe.execute()

    async def take_state(self, state: str) -> domain.LoginState | None:
        raw = await self._redis.getdel(f"lti:state:{state}")
        return domain.LoginState.loads(raw) if raw is not None else None

    async def take_nonce(self, nonce: str) -> bool:
        """True the first time a nonce this tool issued is used; False for unknown or used ones."""
        return bool(await self._redis.delete(f"lti:nonce:{nonce}"))


class LaunchContexts:
    """Deep-linking launches kept until the instructor has picked (LTI_LAUNCH_TTL_SECONDS)."""

    def __init__(self, redis: Redis[bytes], ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    async def remember(self, context: domain.DeepLinkingContext) -> None:
        await self._redis.set(f"lti:dl:{context.launch_id}", context.dumps(), ex=self._ttl)

    async def get(self, launch_id: str) -> domain.DeepLinkingContext | None:
        raw = await self._redis.get(f"lti:dl:{launch_id}")
        return domain.DeepLinkingContext.loads(raw) if raw is not None else None

    async def forget(self, launch_id: str) -> None:
        await self._redis.delete(f"lti:dl:{launch_id}")


class Invitations:
    """Dynamic-registration invitations: an organization behind an unguessable token, used once."""

    def __init__(self, redis: Redis[bytes], ttl_seconds: int) -> None:
        self._redis = redis
        self.ttl_seconds = ttl_seconds

    async def create(self, token: str, organization_id: str) -> None:
        await self._redis.set(f"lti:invite:{_digest(token)}", organization_id, ex=self.ttl_seconds)

    async def peek(self, token: str) -> str | None:
        raw = await self._redis.get(f"lti:invite:{_digest(token)}")
        return raw.decode() if isinstance(raw, bytes) else raw

    async def use(self, token: str) -> None:
        await self._redis.delete(f"lti:invite:{_digest(token)}")


Signer = Callable[[dict[str, Any]], Awaitable[str]]
"""Signs claims with the tool's current key (see :class:`lti_svc.keys.ToolKeyring`)."""


class ServiceTokens:
    """OAuth 2 access tokens for LTI Advantage calls, per registration and scope set, cached until near expiry."""

    def __init__(self, platforms: Platforms, redis: Redis[bytes], sign: Signer, assertion_ttl: int) -> None:
        self._platforms = platforms
        self._redis = redis
        self._sign = sign
        self._assertion_ttl = assertion_ttl

    async def token(self, registration: domain.Registration, scopes: Sequence[str], *, now: int) -> str:
        if not registration.auth_token_url:
            raise errors.ServiceNotOffered(
                "the registration has no auth_token_url: add the platform's token endpoint to use rosters and grades"
            )
        cache_key = f"lti:token:{registration.config_id}:{_digest(*sorted(scopes))}"
        cached = await self._redis.get(cache_key)
        if cached is not None:
            return cached.decode() if isinstance(cached, bytes) else str(cached)
        assertion = await self._sign(domain.client_assertion_claims(registration, now=now, ttl=self._assertion_ttl))
        answer, _ = await self._platforms.request(
            "POST",
            registration.auth_token_url,
            what="access token",
            form=domain.token_request_form(assertion, scopes),
        )
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise errors.PlatformRefused("the platform's token endpoint answered without an access_token")
        expires_in = answer.get("expires_in")
        lifetime = int(expires_in) if isinstance(expires_in, int | float) else 3600
        if lifetime > TOKEN_EXPIRY_MARGIN_SECONDS:
            await self._redis.set(cache_key, token, ex=lifetime - TOKEN_EXPIRY_MARGIN_SECONDS)
        return token


class Rosters:
    """Names and Roles Provisioning: the whole roster, every page, cached for a while."""

    def __init__(self, platforms: Platforms, redis: Redis[bytes], cache_seconds: int) -> None:
        self._platforms = platforms
        self._redis = redis
        self._cache_seconds = cache_seconds

    async def members(self, memberships_url: str, token: Callable[[], Awaitable[str]]) -> list[domain.Member]:
        cache_key = f"lti:roster:{_digest(memberships_url)}"
        cached = await self._redis.get(cache_key)
        if cached is not None:
            return [domain.Member(**{**m, "roles": tuple(m["roles"])}) for m in json.loads(cached)]
        bearer = await token()
        members: list[domain.Member] = []
        url: str | None = memberships_url
        pages = 0
        while url is not None and pages < MAX_ROSTER_PAGES:
            document, headers = await self._platforms.request(
                "GET", url, what="course roster (NRPS)", accept=domain.MEDIA_TYPE_MEMBERSHIPS, bearer=bearer
            )
            members.extend(domain.parse_members(document))
            url = domain.next_link(headers.get("Link"))
            pages += 1
        await self._redis.set(cache_key, json.dumps([asdict(m) for m in members]), ex=self._cache_seconds)
        return members


class Gradebook:
    """Assignment and Grade Services: line items and scores, with their media types."""

    def __init__(self, platforms: Platforms) -> None:
        self._platforms = platforms

    async def find_line_item(self, lineitems_url: str, resource_id: str, bearer: str) -> str | None:
        """The URL of the line item tagged with ``resource_id``, when an earlier attempt made it."""
        separator = "&" if "?" in lineitems_url else "?"
        document, _ = await self._platforms.request(
            "GET",
            f"{lineitems_url}{separator}resource_id={resource_id}",
            what="line items (AGS)",
            accept=domain.MEDIA_TYPE_LINE_ITEMS,
            bearer=bearer,
        )
        for item in document if isinstance(document, list) else ():
            if isinstance(item, dict) and item.get("resourceId") == resource_id and isinstance(item.get("id"), str):
                return str(item["id"])
        return None

    async def create_line_item(self, lineitems_url: str, document: dict[str, Any], bearer: str) -> str:
        answer, _ = await self._platforms.request(
            "POST",
            lineitems_url,
            what="new line item (AGS)",
            accept=domain.MEDIA_TYPE_LINE_ITEM,
            bearer=bearer,
            json_body=document,
            content_type=domain.MEDIA_TYPE_LINE_ITEM,
        )
        url = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(url, str) or not url:
            raise errors.PlatformRefused("the platform created the line item but did not say its URL (id)")
        return url

    async def post_score(self, line_item_url: str, document: dict[str, Any], bearer: str) -> None:
        await self._platforms.request(
            "POST",
            domain.scores_url(line_item_url),
            what="score (AGS)",
            bearer=bearer,
            json_body=document,
            content_type=domain.MEDIA_TYPE_SCORE,
        )


class Registrar:
    """LTI Dynamic Registration: read the platform's configuration, register the tool with it."""

    def __init__(self, platforms: Platforms) -> None:
        self._platforms = platforms

    async def configuration(self, url: str) -> Any:
        document, _ = await self._platforms.request("GET", url, what="openid-configuration")
        return document

    async def register(self, endpoint: str, document: dict[str, Any], registration_token: str) -> Any:
        answer, _ = await self._platforms.request(
            "POST",
            endpoint,
            what="tool registration",
            bearer=registration_token or None,
            json_body=document,
        )
        return answer


MAX_DISCOVERY_BYTES = 256 * 1024
"""An OpenID configuration or key set is a few kB; a bigger answer is not one, and is not read."""


class EndpointFinder:
    """Finds a platform's key set, login and token URLs from its issuer alone.

    The order and the known values are :mod:`lti_svc.domain.platform_endpoints`; this
    class only fetches. Every attempt that finds nothing is reported in words
    ("GET https://lms.example.edu/.well-known/openid-configuration answered HTTP 404"), so
    the administrator's 400 says what was tried.
    """

    def __init__(self, platforms: Platforms) -> None:
        self._platforms = platforms

    async def find(self, issuer: str, client_id: str) -> tuple[domain.FoundEndpoints | None, list[str]]:
        """The endpoints found and the attempts that failed; (None, attempts) when nothing answered."""
        known = domain.known_shared_issuer(issuer, client_id)
        if known is not None:
            return known, []
        tried: list[str] = []
        url = domain.discovery_url(issuer)
        status, document = await self._platforms.fetch_small_json(url, MAX_DISCOVERY_BYTES)
        found = domain.read_discovery_document(document, issuer) if status == 200 else None
        if found is not None:
            return found, tried
        tried.append(_attempt(url, status, "an OpenID configuration for this issuer"))
        for probe in domain.site_probes(issuer):
            key_set_url = probe.endpoints.key_set_url
            status, document = await self._platforms.fetch_small_json(key_set_url, MAX_DISCOVERY_BYTES)
            if status == 200 and domain.is_key_set(document):
                log.info("platform endpoints found", extra={"platform": probe.platform})
                return probe.endpoints, tried
            tried.append(_attempt(key_set_url, status, f"a {probe.platform} key set"))
        return None, tried


def _attempt(url: str, status: int, wanted: str) -> str:
    if status == 0:
        return f"GET {url} did not answer"
    if status != 200:
        return f"GET {url} answered HTTP {status}"
    return f"GET {url} is not {wanted}"
