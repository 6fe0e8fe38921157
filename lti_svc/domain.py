"""LTI 1.3 rules as plain functions: registrations, login state, launch checks, roles,
deep linking, Names and Roles, grades, tool-key rotation and dynamic registration.

Nothing here does I/O: the servicer fetches keys, reads Redis and PostgreSQL and calls
platforms, then hands the facts to these functions, so every check of a launch is a
plain call in a test. Times are whole seconds since the epoch, passed in (``now``).

Claims this tool does not know are ignored, never errors: platforms add their own
(Canvas, Moodle and D2L all do), and LTI says tools must tolerate them.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import jwt
from jwt.algorithms import RSAAlgorithm

from lti_svc import errors
from service_kit.auth import (
    ADMINISTRATOR,
    CONTENT_DEVELOPER,
    INSTRUCTOR,
    LEARNER,
    MENTOR,
    TEACHING_ASSISTANT,
    SessionClaims,
)
from service_kit.errors import ValidationErrors

# ---- names from the LTI 1.3 / Advantage specifications ------------------------------------------

LTI_VERSION = "1.3.0"
_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
CLAIM_MESSAGE_TYPE = _CLAIM + "message_type"
CLAIM_VERSION = _CLAIM + "version"
CLAIM_DEPLOYMENT_ID = _CLAIM + "deployment_id"
CLAIM_TARGET_LINK_URI = _CLAIM + "target_link_uri"
CLAIM_RESOURCE_LINK = _CLAIM + "resource_link"
CLAIM_ROLES = _CLAIM + "roles"
CLAIM_CONTEXT = _CLAIM + "context"
CLAIM_CUSTOM = _CLAIM + "custom"
CLAIM_DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
CLAIM_DL_CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
CLAIM_DL_DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
CLAIM_DL_MSG = "https://purl.imsglobal.org/spec/lti-dl/claim/msg"
CLAIM_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
CLAIM_AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"

RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"
MESSAGE_TYPES = (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST)

SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCOPE_AGS_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_AGS_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_AGS_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_AGS_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
TOOL_SCOPES = (SCOPE_AGS_LINEITEM, SCOPE_AGS_LINEITEM_READONLY, SCOPE_AGS_RESULT_READONLY, SCOPE_AGS_SCORE, SCOPE_NRPS)

MEDIA_TYPE_LINE_ITEM = "application/vnd.ims.lis.v2.lineitem+json"
MEDIA_TYPE_LINE_ITEMS = "application/vnd.ims.lis.v2.lineitemcontainer+json"
MEDIA_TYPE_SCORE = "application/vnd.ims.lis.v1.score+json"
MEDIA_TYPE_MEMBERSHIPS = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"

SIGNING_ALGORITHM = "RS256"
"""The only algorithm accepted from platforms: ``none`` and HMAC (which a public key would key) are refused."""

SERVICE_ROLE = "Service"
"""Role of session JWTs that services mint for themselves; an LTI launch never maps to it."""

_MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
_INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
_SYSTEM = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"
_SHORT_NAMES = {
    "Instructor": INSTRUCTOR,
    "Learner": LEARNER,
    "Administrator": ADMINISTRATOR,
    "TeachingAssistant": TEACHING_ASSISTANT,
    "ContentDeveloper": CONTENT_DEVELOPER,
    "Mentor": MENTOR,
}
_ADMIN_INSTITUTION_ROLES = frozenset({"Administrator", "SysAdmin", "AccountAdmin"})


# ---- roles ------------------------------------------------------------------------------------


def map_roles(uris: Iterable[str]) -> frozenset[str]:
    """LTI role URIs to the session's short names.

    Course roles come from membership roles (``membership#Instructor``), their sub-roles
    (``membership/Instructor#TeachingAssistant`` is a TeachingAssistant; other sub-roles
    count as their parent) and the deprecated bare names LTI 1.3 still allows. Institution
    and system roles grant Administrator only: being faculty somewhere does not make
    anyone staff of this course. Unknown roles are ignored.
    """
    short: set[str] = set()
    for uri in uris:
        if uri in _SHORT_NAMES:
            short.add(_SHORT_NAMES[uri])
        elif uri.startswith(_MEMBERSHIP + "#"):
            name = uri[len(_MEMBERSHIP) + 1 :]
            if name in _SHORT_NAMES:
                short.add(_SHORT_NAMES[name])
        elif uri.startswith(_MEMBERSHIP + "/"):
            parent, _, sub = uri[len(_MEMBERSHIP) + 1 :].partition("#")
            if sub in _SHORT_NAMES and sub == TEACHING_ASSISTANT:
                short.add(TEACHING_ASSISTANT)
            elif parent in _SHORT_NAMES:
                short.add(_SHORT_NAMES[parent])
        elif uri.startswith((_INSTITUTION, _SYSTEM)) and uri.rpartition("#")[2] in _ADMIN_INSTITUTION_ROLES:
            short.add(ADMINISTRATOR)
    return frozenset(short)


# ---- registrations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    """One platform registration as the launch checks need it."""

    config_id: str
    organization_id: str
    issuer: str
    client_id: str
    deployment_ids: tuple[str, ...]
    key_set_url: str
    auth_login_url: str
    auth_token_url: str


CONFIG_URL_FIELDS = ("key_set_url", "auth_login_url", "auth_token_url")
UPDATABLE_FIELDS = frozenset(
    {"issuer", "client_id", "deployment_ids", "key_set_url", "auth_login_url", "auth_token_url", "zoom_account_id"}
)


def check_url(value: str, *, allow_http: bool) -> str | None:
    """What is wrong with a platform URL, or None. Plain http only outside production."""
    parts = urlsplit(value)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.netloc:
        return f"must be an {' or '.join(schemes)} URL, e.g. https://lms.example.edu/..."
    if parts.fragment:
        return "must not have a #fragment"
    return None


def validate_config(fields: Mapping[str, Any], *, allow_http: bool, required: Iterable[str]) -> None:
    """Check the registration fields given; ``required`` names those that must be present."""
    problems = ValidationErrors()
    for name in required:
        value = fields.get(name)
        if not value:
            problems.add(name, "is required")
    for name in ("issuer", "client_id"):
        value = fields.get(name)
        if value and (len(value) > 1000 or value != value.strip()):
            problems.add(name, "must be at most 1000 characters without surrounding spaces")
    issuer = fields.get("issuer")
    if issuer:
        parts = urlsplit(issuer)
        if parts.scheme not in (("https", "http") if allow_http else ("https",)) or not parts.netloc:
            problems.add("issuer", "must be the platform's issuer URL exactly as its id_tokens carry it (iss)")
    for name in CONFIG_URL_FIELDS:
        value = fields.get(name)
        if value:
            problem = check_url(value, allow_http=allow_http)
            if problem:
                problems.add(name, problem)
    deployments = fields.get("deployment_ids")
    if deployments is not None:
        seen: set[str] = set()
        for index, deployment in enumerate(deployments):
            if not deployment or deployment != deployment.strip() or len(deployment) > 255:
                problems.add(f"deployment_ids[{index}]", "must be a non-empty id of at most 255 characters")
            elif deployment in seen:
                problems.add(f"deployment_ids[{index}]", f"repeats {deployment!r}")
            seen.add(deployment)
    zoom = {name: fields.get(name) for name in ("zoom_api_key", "zoom_api_secret")}
    if any(zoom.values()) and not all(zoom.values()):
        problems.add(
            "zoom_api_secret" if zoom["zoom_api_key"] else "zoom_api_key", "give both zoom_api_key and zoom_api_secret"
        )
    if any(zoom.values()) and not fields.get("zoom_account_id"):
        problems.add("zoom_account_id", "is required with Zoom credentials (Server-to-Server OAuth app's account id)")
    problems.raise_if_any("the platform registration has invalid fields")


def require_administrator(caller: SessionClaims, organization_id: str) -> str:
    """The organization an administrator may manage: their own (another's is refused)."""
    if not caller.is_administrator:
        raise errors.NotAdministrator(
            "only an organization's administrators manage LTI registrations: launch as an administrator"
        )
    if organization_id and organization_id != caller.organization_id:
        raise errors.NotAdministrator("administrators manage the LTI registrations of their own organization only")
    return caller.organization_id


def require_service_caller(caller: SessionClaims, organization_id: str) -> None:
    """Secrets go to services only: a session minted by a service, for the same organization.

    Services share JWT_SECRET_KEY and mint a short-lived session JWT with the ``Service``
    role for the organization they act for; launches never map to that role, and the
    edge does not route GetZoomCredentials, so no user's token can open the secrets.
    """
    if SERVICE_ROLE not in caller.roles:
        raise errors.NotServiceCaller("Zoom credentials are given to services only, never to a user's session")
    if caller.organization_id != organization_id:
        raise errors.NotServiceCaller("the service's session is for another organization than the one asked for")


def require_course_staff(caller: SessionClaims, course_id: str) -> None:
    """Roster and grades: staff of this course, an administrator, or a service of the organization."""
    if SERVICE_ROLE in caller.roles or caller.is_administrator:
        return
    if caller.manages_course and caller.course_id == course_id:
        return
    raise errors.NotCourseStaff("only the course's instructors and assistants may read its roster or send grades")


# ---- OIDC login -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginState:
    """What a login leaves in Redis under its state, for the launch that follows."""

    state: str
    nonce: str
    config_id: str
    issuer: str
    client_id: str
    target_link_uri: str
    storage_target: str
    login_params: dict[str, str] = field(default_factory=dict)

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | bytes) -> LoginState:
        data = json.loads(text)
        return cls(**data)


def new_secret_token() -> str:
    """128+ bits of randomness, URL-safe: states, nonces, launch ids, invitations."""
    return secrets.token_urlsafe(24)


def check_target_link_uri(uri: str, public_base_url: str) -> None:
    """Only this tool's own pages may be launched into: anything else would be an open redirect."""
    target, base = urlsplit(uri), urlsplit(public_base_url)
    if (target.scheme, target.netloc) != (base.scheme, base.netloc):
        raise errors.InvalidLogin(
            f"target_link_uri {uri!r} is not on this tool ({public_base_url}): set the placement's target link URI"
            f" to {public_base_url}/lti/launch"
        )


def validate_login(iss: str, login_hint: str, target_link_uri: str) -> None:
    problems = ValidationErrors()
    for name, value in (("iss", iss), ("login_hint", login_hint), ("target_link_uri", target_link_uri)):
        if not value:
            problems.add(name, "is required in the platform's login initiation")
    if problems.violations:
        detail = "; ".join(f"{v.field} {v.description}" for v in problems.violations)
        raise errors.InvalidLogin(f"the login request is incomplete: {detail}", violations=tuple(problems.violations))


def authorization_redirect(
    registration: Registration,
    *,
    redirect_uri: str,
    login_hint: str,
    lti_message_hint: str,
    state: str,
    nonce: str,
) -> str:
    """The platform's authorization URL with the OIDC parameters LTI 1.3 prescribes."""
    params = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": registration.client_id,
        "redirect_uri": redirect_uri,
        "login_hint": login_hint,
        "state": state,
        "nonce": nonce,
    }
    if lti_message_hint:
        params["lti_message_hint"] = lti_message_hint
    parts = urlsplit(registration.auth_login_url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# ---- id_token: signature ------------------------------------------------------------------------


@dataclass(frozen=True)
class UnverifiedToken:
    """Header and claims read before the signature is checked: only to find the registration and key."""

    kid: str | None
    issuer: str
    audiences: tuple[str, ...]
    azp: str | None


def _refuse(reason: str, message: str) -> errors.InvalidLaunch:
    return errors.InvalidLaunch(message, reason=f"LAUNCH_{reason}")


def _malformed(reason: str, message: str) -> errors.MalformedLaunch:
    return errors.MalformedLaunch(message, reason=f"LAUNCH_{reason}")


def read_unverified(token: str) -> UnverifiedToken:
    """Header and routing claims of an id_token; refuses any algorithm but RS256 up front."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _refuse("NOT_A_JWT", "the id_token is not a JWT: the platform must post a signed id_token") from None
    if header.get("alg") != SIGNING_ALGORITHM:
        raise _refuse(
            "WRONG_ALGORITHM",
            f"the id_token is signed with {header.get('alg')!r}: LTI 1.3 requires RS256 (none and HMAC are refused)",
        )
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise _refuse("NO_ISSUER", "the id_token has no iss claim")
    aud = claims.get("aud")
    audiences = (
        (aud,) if isinstance(aud, str) else tuple(a for a in aud if isinstance(a, str)) if isinstance(aud, list) else ()
    )
    azp = claims.get("azp")
    kid = header.get("kid")
    return UnverifiedToken(
        kid=kid if isinstance(kid, str) else None,
        issuer=issuer,
        audiences=audiences,
        azp=azp if isinstance(azp, str) else None,
    )


def client_id_of(token: UnverifiedToken) -> str | None:
    """The client id a token is for: azp when present, else its only audience."""
    if token.azp:
        return token.azp
    return token.audiences[0] if len(token.audiences) == 1 else None


def select_jwk(keys: Sequence[Mapping[str, Any]], kid: str | None) -> Mapping[str, Any] | None:
    """The platform key for ``kid``; without a kid, the set's only RSA signing key."""
    usable = [k for k in keys if k.get("kty") == "RSA" and k.get("use", "sig") == "sig"]
    if kid is None:
        return usable[0] if len(usable) == 1 else None
    return next((k for k in usable if k.get("kid") == kid), None)


def verify_signature(token: str, jwk: Mapping[str, Any]) -> dict[str, Any]:
    """The claims of a token whose RS256 signature the platform key verifies.

    Only the signature is checked here; times, issuer and audience are checked by
    :func:`check_launch_claims` so each failure gets its own words.
    """
    try:
        key = RSAAlgorithm.from_jwk(json.dumps(dict(jwk)))
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,  # type: ignore[arg-type]
            algorithms=[SIGNING_ALGORITHM],
            options={
                "verify_aud": False,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_iss": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise _refuse(
            "BAD_SIGNATURE", "the id_token's signature does not match the platform's key: check key_set_url"
        ) from None
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        raise _refuse("BAD_SIGNATURE", "the id_token cannot be verified with the platform's key set") from None
    return claims


# ---- id_token: claims -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    """What a verified launch says, in this tool's terms."""

    registration: Registration
    message_type: str
    user_id: str
    name: str
    given_name: str
    family_name: str
    email: str
    roles: frozenset[str]
    course_id: str
    course_title: str
    course_label: str
    deployment_id: str
    target_link_uri: str
    resource_link_id: str
    custom: dict[str, str]
    nonce: str
    deep_linking: DeepLinkingRequest | None
    nrps_url: str
    ags_lineitems_url: str
    ags_scopes: tuple[str, ...]


@dataclass(frozen=True)
class DeepLinkingRequest:
    """The platform's deep-linking settings, kept until the instructor has picked."""

    return_url: str
    accept_types: tuple[str, ...]
    accept_presentation_document_targets: tuple[str, ...]
    accept_multiple: bool
    auto_create: bool
    title: str
    text: str
    data: str | None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def check_launch_claims(claims: Mapping[str, Any], registration: Registration, *, now: int, skew: int) -> Launch:
    """Every LTI 1.3 check of a signature-verified id_token but nonce and state (see :func:`check_nonce`).

    Order: trust first (issuer, audience, times, deployment), then shape (version,
    message type, required claims), so a forged or stale token is refused as such.
    """
    if claims.get("iss") != registration.issuer:
        raise _refuse("WRONG_ISSUER", f"the id_token's iss is not {registration.issuer!r}, the registered issuer")
    aud = claims.get("aud")
    audiences = (
        [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []
    )
    if registration.client_id not in audiences:
        raise _refuse("WRONG_AUDIENCE", f"the id_token is not addressed to client_id {registration.client_id!r} (aud)")
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != registration.client_id:
        raise _refuse(
            "WRONG_AUDIENCE",
            f"the id_token has several audiences and its azp is not client_id {registration.client_id!r}",
        )
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise _refuse("NO_TIMES", "the id_token lacks exp or iat")
    if exp + skew < now:
        raise _refuse("EXPIRED", "the id_token has expired: launch again, and check the platform's clock")
    if iat - skew > now:
        raise _refuse("ISSUED_IN_FUTURE", "the id_token is issued in the future: check the platform's clock")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise _refuse("NO_NONCE", "the id_token has no nonce")
    deployment_id = claims.get(CLAIM_DEPLOYMENT_ID)
    if not isinstance(deployment_id, str) or not deployment_id:
        raise _refuse("NO_DEPLOYMENT", "the id_token has no deployment_id claim")
    if deployment_id not in registration.deployment_ids:
        raise _refuse(
            "UNKNOWN_DEPLOYMENT",
            f"deployment {deployment_id!r} is not registered for this platform: add it to the registration's"
            " deployment_ids",
        )
    if claims.get(CLAIM_VERSION) != LTI_VERSION:
        raise _malformed(
            "WRONG_VERSION", f"the launch is LTI version {claims.get(CLAIM_VERSION)!r}; this tool speaks 1.3.0"
        )
    message_type = claims.get(CLAIM_MESSAGE_TYPE)
    if message_type not in MESSAGE_TYPES:
        raise _malformed(
            "UNSUPPORTED_MESSAGE_TYPE",
            f"message type {message_type!r} is not supported: use {' or '.join(MESSAGE_TYPES)}",
        )
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise _malformed("NO_USER", "the launch has no sub: anonymous launches are not supported")
    target = claims.get(CLAIM_TARGET_LINK_URI)
    if not isinstance(target, str) or not target:
        raise _malformed("NO_TARGET_LINK_URI", "the launch has no target_link_uri claim")
    roles = claims.get(CLAIM_ROLES)
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise _malformed("NO_ROLES", "the launch's roles claim must be a list of role URIs")
    context = claims.get(CLAIM_CONTEXT)
    if not isinstance(context, dict) or not isinstance(context.get("id"), str) or not context["id"]:
        raise _malformed("NO_CONTEXT", "the launch has no context (course): place the tool inside a course")
    resource_link_id = ""
    deep_linking: DeepLinkingRequest | None = None
    if message_type == RESOURCE_LINK_REQUEST:
        link = claims.get(CLAIM_RESOURCE_LINK)
        if not isinstance(link, dict) or not isinstance(link.get("id"), str) or not link["id"]:
            raise _malformed("NO_RESOURCE_LINK", "a resource link launch needs a resource_link claim with an id")
        resource_link_id = link["id"]
    else:
        deep_linking = _deep_linking_settings(claims.get(CLAIM_DL_SETTINGS))
    custom_claim = claims.get(CLAIM_CUSTOM)
    custom = (
        {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in custom_claim.items()}
        if isinstance(custom_claim, dict)
        else {}
    )
    nrps = claims.get(CLAIM_NRPS)
    ags = claims.get(CLAIM_AGS)
    ags_scopes = ags.get("scope") if isinstance(ags, dict) else None
    return Launch(
        registration=registration,
        message_type=message_type,
        user_id=sub,
        name=_text(claims.get("name")),
        given_name=_text(claims.get("given_name")),
        family_name=_text(claims.get("family_name")),
        email=_text(claims.get("email")),
        roles=map_roles(roles),
        course_id=context["id"],
        course_title=_text(context.get("title")),
        course_label=_text(context.get("label")),
        deployment_id=deployment_id,
        target_link_uri=target,
        resource_link_id=resource_link_id,
        custom=custom,
        nonce=nonce,
        deep_linking=deep_linking,
        nrps_url=_text(nrps.get("context_memberships_url")) if isinstance(nrps, dict) else "",
        ags_lineitems_url=_text(ags.get("lineitems")) if isinstance(ags, dict) else "",
        ags_scopes=tuple(s for s in ags_scopes if isinstance(s, str)) if isinstance(ags_scopes, list) else (),
    )


def _deep_linking_settings(value: Any) -> DeepLinkingRequest:
    if not isinstance(value, dict) or not isinstance(value.get("deep_link_return_url"), str):
        raise _malformed(
            "NO_DEEP_LINKING_SETTINGS", "a deep-linking launch needs deep_linking_settings with deep_link_return_url"
        )

    def strings(name: str) -> tuple[str, ...]:
        items = value.get(name)
        return tuple(i for i in items if isinstance(i, str)) if isinstance(items, list) else ()

    data = value.get("data")
    return DeepLinkingRequest(
        return_url=value["deep_link_return_url"],
        accept_types=strings("accept_types"),
        accept_presentation_document_targets=strings("accept_presentation_document_targets"),
        accept_multiple=value.get("accept_multiple") is True,
        auto_create=value.get("auto_create") is True,
        title=_text(value.get("title")),
        text=_text(value.get("text")),
        data=data if isinstance(data, str) else None,
    )


def check_state_matches(login: LoginState | None, launch: Launch, *, state: str) -> None:
    """The browser flow: the state came from our login for this registration, and its nonce is the token's."""
    if login is None:
        raise _refuse(
            "UNKNOWN_STATE",
            "the launch's state is unknown, used already or expired: start the launch again from the course",
        )
    if login.state != state or login.config_id != launch.registration.config_id:
        raise _refuse("UNKNOWN_STATE", "the launch's state belongs to another login: start the launch again")
    if login.nonce != launch.nonce:
        raise _refuse("NONCE_MISMATCH", "the id_token's nonce is not the one this login sent: start the launch again")
    if login.target_link_uri and login.target_link_uri != launch.target_link_uri:
        raise _refuse(
            "TARGET_MISMATCH", "the id_token's target_link_uri differs from the one the login was started for"
        )


def check_nonce_fresh(was_unused: bool) -> None:
    """A nonce works once: the second launch with it is a replay."""
    if not was_unused:
        raise _refuse(
            "NONCE_REUSED",
            "the id_token's nonce is unknown or used already (a replayed launch): start the launch again",
        )


# ---- deep linking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeepLinkingContext:
    """A deep-linking launch kept (in Redis) until the instructor has picked."""

    launch_id: str
    config_id: str
    organization_id: str
    client_id: str
    issuer: str
    deployment_id: str
    user_id: str
    course_id: str
    settings: DeepLinkingRequest

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | bytes) -> DeepLinkingContext:
        data = json.loads(text)
        settings = data.pop("settings")
        for name in ("accept_types", "accept_presentation_document_targets"):
            settings[name] = tuple(settings[name])
        return cls(settings=DeepLinkingRequest(**settings), **data)


@dataclass(frozen=True)
class PickedItem:
    """One item the instructor picked."""

    kind: str
    """``ltiResourceLink`` or ``link``."""
    title: str
    text: str
    url: str
    video_id: str
    live_session_id: str
    custom: dict[str, str]


def content_items(items: Sequence[PickedItem], settings: DeepLinkingRequest, launch_url: str) -> list[dict[str, Any]]:
    """Content items as LTI Deep Linking 2.0 writes them, checked against what the platform accepts."""
    if len(items) > 1 and not settings.accept_multiple:
        raise errors.InvalidDeepLinkingItems("the platform accepts one item here: pick a single video or session")
    out: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if settings.accept_types and item.kind not in settings.accept_types:
            raise errors.InvalidDeepLinkingItems(
                f"items[{index}]: the platform does not accept {item.kind!r} items here"
                f" (it accepts {', '.join(settings.accept_types)})"
            )
        entry: dict[str, Any] = {"type": item.kind}
        if item.title:
            entry["title"] = item.title
        if item.text:
            entry["text"] = item.text
        if item.kind == "ltiResourceLink":
            custom = dict(item.custom)
            if item.video_id:
                custom["video_id"] = item.video_id
            if item.live_session_id:
                custom["live_session_id"] = item.live_session_id
            if not (item.video_id or item.live_session_id):
                raise errors.InvalidDeepLinkingItems(f"items[{index}]: pick a video or a live session")
            entry["url"] = launch_url
            entry["custom"] = custom
        elif item.kind == "link":
            if check_url(item.url, allow_http=True):
                raise errors.InvalidDeepLinkingItems(f"items[{index}].url: must be an http(s) URL")
            entry["url"] = item.url
        else:
            raise errors.InvalidDeepLinkingItems(f"items[{index}]: choose a resource link or a link")
        out.append(entry)
    return out


def deep_linking_response_claims(
    context: DeepLinkingContext, items: list[dict[str, Any]], *, message: str, now: int, ttl: int
) -> dict[str, Any]:
    """The LtiDeepLinkingResponse claims: from the tool (iss = client id) to the platform (aud = issuer).

    The request's opaque ``data`` is echoed unchanged when it came, as the spec requires.
    """
    claims: dict[str, Any] = {
        "iss": context.client_id,
        "aud": context.issuer,
        "iat": now,
        "exp": now + ttl,
        "nonce": new_secret_token(),
        CLAIM_MESSAGE_TYPE: DEEP_LINKING_RESPONSE,
        CLAIM_VERSION: LTI_VERSION,
        CLAIM_DEPLOYMENT_ID: context.deployment_id,
        CLAIM_DL_CONTENT_ITEMS: items,
    }
    if context.settings.data is not None:
        claims[CLAIM_DL_DATA] = context.settings.data
    if message:
        claims[CLAIM_DL_MSG] = message
    return claims


# ---- service access tokens (client credentials with a JWT assertion) ----------------------------


def client_assertion_claims(registration: Registration, *, now: int, ttl: int) -> dict[str, Any]:
    """The tool's signed assertion for the platform's token endpoint (RFC 7523, as LTI uses it)."""
    return {
        "iss": registration.client_id,
        "sub": registration.client_id,
        "aud": registration.auth_token_url,
        "iat": now,
        "exp": now + ttl,
        "jti": new_secret_token(),
    }


def token_request_form(assertion: str, scopes: Sequence[str]) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
        "scope": " ".join(scopes),
    }


# ---- Names and Roles ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One roster entry; roles in short names, status Active / Inactive / Deleted."""

    user_id: str
    name: str
    given_name: str
    family_name: str
    email: str
    roles: tuple[str, ...]
    status: str


def parse_members(container: Any) -> list[Member]:
    """Members of one membership container page; entries without a user id are skipped."""
    members = container.get("members") if isinstance(container, dict) else None
    out: list[Member] = []
    for entry in members if isinstance(members, list) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("user_id"), str):
            continue
        roles = entry.get("roles")
        status = _text(entry.get("status")) or "Active"
        out.append(
            Member(
                user_id=entry["user_id"],
                name=_text(entry.get("name")),
                given_name=_text(entry.get("given_name")),
                family_name=_text(entry.get("family_name")),
                email=_text(entry.get("email")),
                roles=tuple(sorted(map_roles(r for r in roles if isinstance(r, str))))
                if isinstance(roles, list)
                else (),
                status=status if status in ("Active", "Inactive", "Deleted") else "Active",
            )
        )
    return out


_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")


def next_link(header: str | None) -> str | None:
    """The ``rel="next"`` target of an HTTP Link header (RFC 8288), as NRPS pages its roster."""
    if not header:
        return None
    for match in _LINK.finditer(header):
        params = match.group(2)
        rels = re.findall(r';\s*rel\s*=\s*"?([^";]+)"?', params)
        if any("next" in rel.split() for rel in rels):
            return match.group(1)
    return None


def encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_offset(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        kind, _, number = text.partition(":")
        value = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise errors.InvalidPageToken("page_token is not one this service issued: start from the first page") from None
    if kind != "o" or value < 0:
        raise errors.InvalidPageToken("page_token is not one this service issued: start from the first page")
    return value


def page_size(requested: int, *, default: int, maximum: int) -> int:
    if requested < 0:
        raise errors.InvalidPageToken("page_size must not be negative")
    return min(requested or default, maximum)


# ---- Assignment and Grade Services ------------------------------------------------------------------


ACTIVITY_PROGRESS = ("Initialized", "Started", "InProgress", "Submitted", "Completed")
GRADING_PROGRESS = ("FullyGraded", "Pending", "PendingManual", "Failed", "NotReady")


def line_item_document(*, label: str, score_maximum: float, resource_id: str, tag: str) -> dict[str, Any]:
    """A new line item (AGS lineitem media type); resourceId lets us find it again after a retry."""
    if not label.strip():
        raise errors.InvalidScore("label is required: the gradebook column needs a title")
    if score_maximum <= 0:
        raise errors.InvalidScore("score_maximum must be positive")
    return {"label": label.strip(), "scoreMaximum": score_maximum, "resourceId": resource_id, "tag": tag}


def scores_url(line_item_url: str) -> str:
    """The scores endpoint of a line item: ``/scores`` appended to its path, its query kept."""
    parts = urlsplit(line_item_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/scores", parts.query, ""))


def iso_timestamp(moment: datetime) -> str:
    """ISO 8601 with milliseconds and an offset, as AGS asks for score timestamps."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def score_document(
    *,
    user_id: str,
    score_given: float | None,
    score_maximum: float,
    comment: str,
    activity_progress: str,
    grading_progress: str,
    timestamp: datetime,
) -> dict[str, Any]:
    """One score (AGS score media type). A score needs both numbers, or neither (progress only)."""
    if not user_id:
        raise errors.InvalidScore("user_id is required for every score")
    if activity_progress not in ACTIVITY_PROGRESS or grading_progress not in GRADING_PROGRESS:
        raise errors.InvalidScore("activity_progress and grading_progress must be set")
    document: dict[str, Any] = {
        "userId": user_id,
        "activityProgress": activity_progress,
        "gradingProgress": grading_progress,
        "timestamp": iso_timestamp(timestamp),
    }
    if score_given is not None:
        if score_maximum <= 0 or score_given < 0:
            raise errors.InvalidScore(f"the score of {user_id} needs score_given >= 0 and score_maximum > 0")
        document["scoreGiven"] = score_given
        document["scoreMaximum"] = score_maximum
    if comment:
        document["comment"] = comment
    return document


# ---- the tool's keys --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolKey:
    """When one of the tool's RSA keys was made and when it starts (started) signing."""

    kid: str
    activates_at: int


@dataclass(frozen=True)
class RotationPolicy:
    period_seconds: int
    """How long a key signs before its successor takes over (LTI_KEY_ROTATION_DAYS)."""
    publish_lead_seconds: int
    """How long a key is published before it signs, so platforms' JWKS caches know it."""
    token_ttl_seconds: int
    """Lifetime of the tool's JWTs: a retired key stays published this long after its successor starts."""


@dataclass(frozen=True)
class RotationPlan:
    create_activating_at: int | None
    """Make a new key that starts signing then (None: nothing to make)."""
    delete: tuple[str, ...]
    """Keys whose every token has expired: unpublish them."""


def signing_key(keys: Sequence[ToolKey], now: int) -> ToolKey | None:
    """The newest key already active: published keys that are not active yet never sign."""
    active = [k for k in keys if k.activates_at <= now]
    return max(active, key=lambda k: k.activates_at) if active else None


def plan_rotation(keys: Sequence[ToolKey], now: int, policy: RotationPolicy) -> RotationPlan:
    """What rotation owes now.

    The very first key signs at once (no platform can have cached an older set). Later
    ones are created ``publish_lead_seconds`` before they take over, so they are in the
    JWKS before any token names them; a predecessor stays published until its last
    token has expired.
    """
    ordered = sorted(keys, key=lambda k: k.activates_at)
    current = signing_key(ordered, now)
    create: int | None = None
    if current is None and not ordered:
        create = now
    elif current is not None and not any(k.activates_at > current.activates_at for k in ordered):
        due = current.activates_at + policy.period_seconds
        if now >= due - policy.publish_lead_seconds:
            create = max(due, now + policy.publish_lead_seconds)
    delete = tuple(
        older.kid
        for older, newer in itertools.pairwise(ordered)
        if newer.activates_at <= now and now >= newer.activates_at + policy.token_ttl_seconds
    )
    return RotationPlan(create, delete)


# ---- dynamic registration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlatformConfiguration:
    """The parts of a platform's OpenID configuration that registration needs."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    product_family_code: str
    scopes: tuple[str, ...]


def read_platform_configuration(document: Any, configuration_url: str, *, allow_http: bool) -> PlatformConfiguration:
    """Check a platform's openid-configuration as LTI Dynamic Registration requires.

    The issuer must be the configuration URL's own origin-and-path prefix, so a page
    cannot point the tool at one server's configuration claiming another's issuer.
    """
    if not isinstance(document, dict):
        raise errors.RegistrationRefused("the platform's openid-configuration is not a JSON object")
    missing = [
        name
        for name in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")
        if not isinstance(document.get(name), str) or not document[name]
    ]
    if missing:
        raise errors.RegistrationRefused(f"the platform's openid-configuration lacks {', '.join(missing)}")
    issuer: str = document["issuer"]
    if not configuration_url.startswith(issuer.rstrip("/")) or origin_of(issuer) != origin_of(configuration_url):
        raise errors.RegistrationRefused(
            f"the openid-configuration's issuer {issuer!r} does not match its URL {configuration_url!r}"
        )
    for name in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint"):
        problem = check_url(document[name], allow_http=allow_http)
        if problem:
            raise errors.RegistrationRefused(f"the platform's {name} {problem}")
    algorithms = document.get("id_token_signing_alg_values_supported")
    if isinstance(algorithms, list) and SIGNING_ALGORITHM not in algorithms:
        raise errors.RegistrationRefused("the platform does not sign id_tokens with RS256")
    platform = document.get(PLATFORM_CONFIGURATION)
    family = _text(platform.get("product_family_code")) if isinstance(platform, dict) else ""
    scopes = document.get("scopes_supported")
    return PlatformConfiguration(
        issuer=issuer,
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks_uri=document["jwks_uri"],
        registration_endpoint=document["registration_endpoint"],
        product_family_code=family,
        scopes=tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else (),
    )


def tool_registration_document(
    platform: PlatformConfiguration, public_base_url: str, *, tool_name: str
) -> dict[str, Any]:
    """The tool's OpenID client registration with its LTI tool configuration."""
    wanted = [s for s in TOOL_SCOPES if s in platform.scopes] if platform.scopes else list(TOOL_SCOPES)
    launch = f"{public_base_url}/lti/launch"
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": f"{public_base_url}/lti/login",
        "redirect_uris": [launch],
        "client_name": tool_name,
        "jwks_uri": f"{public_base_url}/.well-known/jwks.json",
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(wanted),
        TOOL_CONFIGURATION: {
            "domain": urlsplit(public_base_url).netloc,
            "target_link_uri": launch,
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": [{"type": DEEP_LINKING_REQUEST, "target_link_uri": launch, "label": f"Add {tool_name} media"}],
            "description": "Lecture videos and live Zoom sessions for the course",
        },
    }


def read_registration_answer(answer: Any) -> tuple[str, str]:
    """The client id and (when the platform made one) deployment id the platform assigned."""
    if not isinstance(answer, dict) or not isinstance(answer.get("client_id"), str) or not answer["client_id"]:
        raise errors.RegistrationRefused("the platform's registration answer has no client_id")
    tool = answer.get(TOOL_CONFIGURATION)
    deployment = _text(tool.get("deployment_id")) if isinstance(tool, dict) else ""
    return answer["client_id"], deployment
