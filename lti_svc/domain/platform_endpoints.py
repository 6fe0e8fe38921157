"""Where a platform's key set, login and token endpoints come from when a registration omits them.

Its own module because registering an LMS by its issuer alone (the seed's
``POST /api/v1/lti/config`` body names no endpoint) needs a policy that one reads apart
from the field checks: which LMSs publish fixed values, where OpenID Connect discovery
looks, and which paths a self-hosted LMS serves under its site URL. Each resolved URL
keeps its :class:`EndpointSource`, so an administrator reading the registration can tell
a URL they typed from one the service found.

Order, first hit wins per endpoint:

1. what the administrator gave (``given``);
2. LMSs whose issuer is shared by every customer, or is not a web site that answers
   discovery: Canvas cloud, Blackboard Learn, Schoology (``known_platform``, no network);
3. OpenID Connect Discovery 1.0 §4 at ``{issuer}/.well-known/openid-configuration``, the
   document LTI Dynamic Registration also reads (``discovered``);
4. paths self-hosted LMSs serve under their site URL, each tried by fetching its key
   set: Moodle (``/mod/lti/certs.php``), D2L Brightspace (``/d2l/.well-known/jwks``)
   (``known_platform``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from service_kit.errors import ValidationErrors

ENDPOINT_FIELDS = ("key_set_url", "auth_login_url", "auth_token_url")
"""The platform URLs a registration holds, in the order an administrator fills them in."""

LAUNCH_ENDPOINT_FIELDS = ("key_set_url", "auth_login_url")
"""Without these no launch can be checked; the token URL is needed only for rosters and grades."""

DISCOVERY_PATH = "/.well-known/openid-configuration"
"""OpenID Connect Discovery 1.0 §4: the issuer's configuration, under its own path."""


class EndpointSource(enum.StrEnum):
    """Where one stored endpoint URL came from (stored as this text, shown as the proto enum)."""

    GIVEN = "given"
    DISCOVERED = "discovered"
    KNOWN_PLATFORM = "known_platform"


@dataclass(frozen=True)
class FoundEndpoints:
    """Endpoints found for an issuer, and in words where: a document's URL or an LMS's name."""

    key_set_url: str
    auth_login_url: str
    auth_token_url: str
    source: EndpointSource
    origin: str

    def url(self, name: str) -> str:
        value: str = getattr(self, name)
        return value


@dataclass(frozen=True)
class SiteProbe:
    """A self-hosted LMS's endpoints under its site URL; it is that LMS if ``key_set_url`` answers a key set."""

    platform: str
    endpoints: FoundEndpoints


@dataclass(frozen=True)
class ResolvedEndpoints:
    """The registration's three URLs, each with its source ("" and unset when nothing provides it)."""

    urls: Mapping[str, str]
    sources: Mapping[str, EndpointSource | None]
    origin: str


_CANVAS_CLOUD = {
    # Instructure-hosted Canvas: one issuer per environment for every customer; the
    # endpoints are on Instructure's SSO domain (Canvas "Configuring Canvas in the Tool").
    "https://canvas.instructure.com": "https://sso.canvaslms.com",
    "https://canvas.beta.instructure.com": "https://sso.beta.canvaslms.com",
    "https://canvas.test.instructure.com": "https://sso.test.canvaslms.com",
}
_BLACKBOARD_GATEWAY = "https://developer.blackboard.com/api/v1"
_SCHOOLOGY_SERVICE = "https://lti-service.svc.schoology.com/lti-service"
_SHARED_ISSUERS = {
    # issuer: (key set URL, with {client_id} where the key set is per application; login URL; token URL; origin)
    **{
        issuer: (f"{sso}/api/lti/security/jwks", f"{sso}/api/lti/authorize_redirect", f"{sso}/login/oauth2/token",
                 "Canvas cloud (Instructure-hosted)")
        for issuer, sso in _CANVAS_CLOUD.items()
    },
    "https://blackboard.com": (
        f"{_BLACKBOARD_GATEWAY}/management/applications/{{client_id}}/jwks.json",
        f"{_BLACKBOARD_GATEWAY}/gateway/oidcauth",
        f"{_BLACKBOARD_GATEWAY}/gateway/oauth2/jwttoken",
        "Blackboard Learn",
    ),
    "https://schoology.schoology.com": (
        f"{_SCHOOLOGY_SERVICE}/.well-known/jwks",
        f"{_SCHOOLOGY_SERVICE}/authorize-redirect",
        f"{_SCHOOLOGY_SERVICE}/access-token",
        "Schoology",
    ),
}  # fmt: skip
"""LMSs that use one issuer for every customer, with the endpoints their developer documentation publishes."""
_BRIGHTSPACE_TOKEN_URL = "https://auth.brightspace.com/core/connect/token"
_BRIGHTSPACE_HOST_SUFFIXES = (".brightspace.com", ".desire2learn.com")


def _canonical(issuer: str) -> str:
    return issuer.rstrip("/")


def _known(key_set_url: str, auth_login_url: str, auth_token_url: str, origin: str) -> FoundEndpoints:
    return FoundEndpoints(key_set_url, auth_login_url, auth_token_url, EndpointSource.KNOWN_PLATFORM, origin)


def known_shared_issuer(issuer: str, client_id: str) -> FoundEndpoints | None:
    """Fixed endpoints of LMSs whose issuer is not a site of the customer's own, or None.

    Canvas cloud, Blackboard Learn and Schoology use one issuer for every customer and
    publish their endpoints in their developer documentation; Blackboard's key set is
    per application (the client id). Hosted D2L Brightspace sites (``*.brightspace.com``)
    serve their key set and login under the site and share one token endpoint.
    """
    canonical = _canonical(issuer)
    if canonical in _SHARED_ISSUERS:
        key_set_url, login_url, token_url, origin = _SHARED_ISSUERS[canonical]
        return _known(key_set_url.format(client_id=client_id), login_url, token_url, origin)
    host = urlsplit(canonical).hostname or ""
    return _brightspace(canonical) if host.endswith(_BRIGHTSPACE_HOST_SUFFIXES) else None


def _brightspace(site: str) -> FoundEndpoints:
    return _known(
        f"{site}/d2l/.well-known/jwks",
        f"{site}/d2l/lti/authenticate",
        _BRIGHTSPACE_TOKEN_URL,
        "D2L Brightspace (site URL)",
    )


def discovery_url(issuer: str) -> str:
    """Where OpenID Connect Discovery 1.0 §4 puts the issuer's configuration document."""
    return _canonical(issuer) + DISCOVERY_PATH


def read_discovery_document(document: Any, issuer: str) -> FoundEndpoints | None:
    """The endpoints an openid-configuration names, or None when it is not one for ``issuer``.

    OpenID Connect Discovery 1.0 §4.3: the document's ``issuer`` must equal the issuer it
    was fetched for, or its keys could be another platform's. ``jwks_uri`` and
    ``authorization_endpoint`` are required; ``token_endpoint`` may be absent (rosters
    and grades then need it given).
    """
    if not isinstance(document, dict) or _canonical(str(document.get("issuer", ""))) != _canonical(issuer):
        return None
    jwks_uri, authorization, token = (document.get(k) for k in ("jwks_uri", "authorization_endpoint", "token_endpoint"))
    if not isinstance(jwks_uri, str) or not jwks_uri or not isinstance(authorization, str) or not authorization:
        return None
    return FoundEndpoints(
        key_set_url=jwks_uri,
        auth_login_url=authorization,
        auth_token_url=token if isinstance(token, str) else "",
        source=EndpointSource.DISCOVERED,
        origin=discovery_url(issuer),
    )


def site_probes(issuer: str) -> tuple[SiteProbe, ...]:
    """Self-hosted LMSs whose endpoints live under the issuer (their site URL), in the order to try.

    Moodle's issuer is its ``wwwroot`` and it serves ``/mod/lti/certs.php``,
    ``auth.php`` and ``token.php`` there; a self-hosted D2L site serves
    ``/d2l/.well-known/jwks``.
    """
    site = _canonical(issuer)
    moodle = _known(
        f"{site}/mod/lti/certs.php", f"{site}/mod/lti/auth.php", f"{site}/mod/lti/token.php", "Moodle (site URL)"
    )
    return (SiteProbe("Moodle", moodle), SiteProbe("D2L Brightspace", _brightspace(site)))


def is_key_set(document: Any) -> bool:
    """Whether an answer looks like a JSON Web Key Set (RFC 7517 §5): an object with a ``keys`` list."""
    return isinstance(document, dict) and isinstance(document.get("keys"), list)


def resolve_endpoints(given: Mapping[str, str], found: FoundEndpoints | None) -> ResolvedEndpoints:
    """Each endpoint from what was given, else from what was found; with its source."""
    urls: dict[str, str] = {}
    sources: dict[str, EndpointSource | None] = {}
    used_found = False
    for name in ENDPOINT_FIELDS:
        if given.get(name):
            urls[name], sources[name] = given[name], EndpointSource.GIVEN
        elif found is not None and found.url(name):
            urls[name], sources[name] = found.url(name), found.source
            used_found = True
        else:
            urls[name], sources[name] = "", None
    return ResolvedEndpoints(urls=urls, sources=sources, origin=found.origin if found and used_found else "")


def require_launch_endpoints(resolved: ResolvedEndpoints, issuer: str, tried: list[str]) -> None:
    """Raise a 400 naming each launch endpoint nothing provided; the attempts are said once, in the message.

    Raises:
        service_kit.errors.InvalidArgument: with a field violation per missing URL.
    """
    missing = [name for name in LAUNCH_ENDPOINT_FIELDS if not resolved.urls[name]]
    if not missing:
        return
    problems = ValidationErrors()
    for name in missing:
        problems.add(name, "is required: copy it from the LMS's tool registration page")
    attempts = "; ".join(tried) if tried else "nothing to try"
    token = "" if resolved.urls["auth_token_url"] else " (and auth_token_url, which rosters and grades need)"
    problems.raise_if_any(
        f"the platform's endpoints could not be found from issuer {issuer!r} ({attempts}): give {' and '.join(missing)}"
        f"{token}"
    )
