"""LTI Dynamic Registration: checking a platform's configuration, and the tool's registration.

Its own module because it is a separate, administrator-started flow that creates a
registration, with its own rules on what a platform's configuration must say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lti_svc import errors
from lti_svc.domain.login import origin_of
from lti_svc.domain.registrations import check_url
from lti_svc.domain.spec import (
    DEEP_LINKING_REQUEST,
    PLATFORM_CONFIGURATION,
    SIGNING_ALGORITHM,
    TOOL_CONFIGURATION,
    TOOL_SCOPES,
    _text,
)


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
