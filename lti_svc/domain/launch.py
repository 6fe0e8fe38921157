"""The launch: an id_token's signature, then every LTI 1.3 check of its claims, state and nonce.

Its own module because this is the security boundary of the tool: a reader checks
here, in one place, that a forged, stale or replayed launch is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.algorithms import RSAAlgorithm

from lti_svc import errors
from lti_svc.domain.deep_linking import DeepLinkingRequest
from lti_svc.domain.login import LoginState
from lti_svc.domain.registrations import Registration
from lti_svc.domain.roles import map_roles
from lti_svc.domain.spec import (
    CLAIM_AGS,
    CLAIM_CONTEXT,
    CLAIM_CUSTOM,
    CLAIM_DEPLOYMENT_ID,
    CLAIM_DL_SETTINGS,
    CLAIM_LAUNCH_PRESENTATION,
    CLAIM_MESSAGE_TYPE,
    CLAIM_NRPS,
    CLAIM_RESOURCE_LINK,
    CLAIM_ROLES,
    CLAIM_TARGET_LINK_URI,
    CLAIM_VERSION,
    LTI_VERSION,
    MESSAGE_TYPES,
    RESOURCE_LINK_REQUEST,
    SIGNING_ALGORITHM,
    _text,
)


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


def _signing_keys(keys: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [k for k in keys if k.get("kty") == "RSA" and k.get("use", "sig") == "sig"]


def select_jwk(keys: Sequence[Mapping[str, Any]], kid: str | None) -> Mapping[str, Any] | None:
    """The platform key for ``kid``; without a kid, the set's only RSA signing key.

    ``keys`` is the ``keys`` list of the platform's JWKS (RFC 7517 §5). A token without
    ``kid`` (RFC 7515 §4.1.4) can only be matched when the set leaves no choice; with
    several keys (Canvas publishes its past, present and future key) guessing would mean
    trying each, so None is answered and :func:`no_platform_key` says why.
    """
    usable = _signing_keys(keys)
    if kid is None:
        return usable[0] if len(usable) == 1 else None
    return next((k for k in usable if k.get("kid") == kid), None)


def no_platform_key(keys: Sequence[Mapping[str, Any]], kid: str | None) -> errors.InvalidLaunch:
    """The refusal when :func:`select_jwk` found no key, in words an administrator can act on.

    Reasons: ``LAUNCH_NO_KID`` when the token's header names no key and the set holds
    several (or none); ``LAUNCH_UNKNOWN_KEY`` when the named key is not published.
    """
    count = len(_signing_keys(keys))
    published = f"{count} RSA signing key{'' if count == 1 else 's'}"
    if kid is None:
        return _refuse(
            "NO_KID",
            f"the id_token names no key (its header has no kid) and the platform's key set at key_set_url has"
            f" {published}: the platform must name the key it signs with in the id_token's kid header",
        )
    return _refuse(
        "UNKNOWN_KEY",
        f"the platform's key set at key_set_url has no key {kid!r} (it has {published}): the id_token was signed"
        " with a key the platform does not publish",
    )


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
    locale: str = ""
    """launch_presentation.locale (LTI 1.3 §5.4.4), a BCP 47 tag, for the pages' language; "" when absent."""


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
    if deployment_id is None or deployment_id == "":
        raise _refuse("NO_DEPLOYMENT", "the id_token has no deployment_id claim")
    if not isinstance(deployment_id, str):
        raise _refuse("NO_DEPLOYMENT", _not_text("the id_token's deployment_id", deployment_id, "LTI 1.3 §5.3.3"))
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
    if sub is None or sub == "":
        raise _malformed("NO_USER", "the launch has no sub: anonymous launches are not supported")
    if not isinstance(sub, str):
        raise _malformed("NO_USER", _not_text("the launch's sub", sub, "LTI 1.3 §5.3.6"))
    target = claims.get(CLAIM_TARGET_LINK_URI)
    if not isinstance(target, str) or not target:
        raise _malformed("NO_TARGET_LINK_URI", "the launch has no target_link_uri claim")
    roles = claims.get(CLAIM_ROLES)
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise _malformed("NO_ROLES", "the launch's roles claim must be a list of role URIs")
    context = claims.get(CLAIM_CONTEXT)
    if not isinstance(context, dict) or context.get("id") in (None, ""):
        raise _malformed("NO_CONTEXT", "the launch has no context (course): place the tool inside a course")
    if not isinstance(context["id"], str):
        raise _malformed("NO_CONTEXT", _not_text("the launch's context id", context["id"], "LTI 1.3 §5.4.1"))
    resource_link_id = ""
    deep_linking: DeepLinkingRequest | None = None
    if message_type == RESOURCE_LINK_REQUEST:
        link = claims.get(CLAIM_RESOURCE_LINK)
        if not isinstance(link, dict) or link.get("id") in (None, ""):
            raise _malformed("NO_RESOURCE_LINK", "a resource link launch needs a resource_link claim with an id")
        if not isinstance(link["id"], str):
            raise _malformed("NO_RESOURCE_LINK", _not_text("the resource link's id", link["id"], "LTI 1.3 §5.3.5"))
        resource_link_id = link["id"]
    else:
        deep_linking = _deep_linking_settings(claims.get(CLAIM_DL_SETTINGS))
    custom_claim = claims.get(CLAIM_CUSTOM)
    custom = {str(k): _custom_text(v) for k, v in custom_claim.items()} if isinstance(custom_claim, dict) else {}
    presentation = claims.get(CLAIM_LAUNCH_PRESENTATION)
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
        locale=_locale(presentation.get("locale") if isinstance(presentation, dict) else None),
    )


def _locale(value: Any) -> str:
    """The launch's locale as sent, if it looks like a language tag ("es", "es-ES", Moodle's "es_mx").

    Anything else (a number, a sentence, a very long string) reads as no locale: the
    pages then speak English rather than trust a value no catalogue could match.
    """
    text = _text(value).strip()
    if not text or len(text) > 35 or not all(c.isalnum() or c in "-_" for c in text):
        return ""
    return text


def _not_text(what: str, value: Any, section: str) -> str:
    """The refusal for an id sent as a JSON number (or object) where the spec asks for a string.

    Such ids are refused, not converted: the spec defines them as strings, and a
    platform that sends one as a number needs fixing there, so the message says so.
    """
    return f"{what} is the JSON value {json.dumps(value, default=str)[:40]}: {section} says it must be a string"


def _custom_text(value: Any) -> str:
    """A custom property as text (LTI 1.3 §5.4.6 sends strings; Canvas keeps numbers and nulls of its variables)."""
    if isinstance(value, str):
        return value
    return "" if value is None else json.dumps(value)


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
