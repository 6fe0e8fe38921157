"""OIDC login initiation: the state and nonce a login leaves for its launch, and the redirect.

Its own module because the login is the first leg of a launch and has its own rules
(only this tool's pages as target, every parameter present) and its own stored record.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from urllib.parse import urlencode, urlsplit, urlunsplit

from lti_svc import errors
from lti_svc.domain.registrations import Registration
from service_kit.errors import ValidationErrors


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
