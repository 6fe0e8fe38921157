"""Which endpoints an issuer gets without a fetch, what a discovery document must say, and what wins."""

from __future__ import annotations

import pytest

from lti_svc.domain import (
    EndpointSource,
    check_url,
    known_shared_issuer,
    read_discovery_document,
    resolve_endpoints,
    site_probes,
)
from lti_svc.domain.platform_endpoints import require_launch_endpoints
from service_kit.errors import InvalidArgument


@pytest.mark.parametrize(
    ("issuer", "key_set_url", "origin"),
    [
        ("https://canvas.instructure.com", "https://sso.canvaslms.com/api/lti/security/jwks", "Canvas cloud"),
        ("https://canvas.beta.instructure.com/", "https://sso.beta.canvaslms.com/api/lti/security/jwks", "Canvas"),
        (
            "https://blackboard.com",
            "https://developer.blackboard.com/api/v1/management/applications/app-42/jwks.json",
            "Blackboard Learn",
        ),
        ("https://schoology.schoology.com", "https://lti-service.svc.schoology.com/lti-service/.well-known/jwks", ""),
        ("https://school.brightspace.com", "https://school.brightspace.com/d2l/.well-known/jwks", "D2L Brightspace"),
    ],
)
def test_lms_with_published_endpoints_need_no_fetch(issuer: str, key_set_url: str, origin: str) -> None:
    found = known_shared_issuer(issuer, "app-42")
    assert found is not None
    assert found.key_set_url == key_set_url
    assert found.source is EndpointSource.KNOWN_PLATFORM
    assert origin in found.origin


def test_a_self_hosted_site_is_not_assumed_to_be_any_lms() -> None:
    assert known_shared_issuer("https://moodle.example.edu", "c") is None


def test_site_probes_try_moodle_then_brightspace_under_the_site_url() -> None:
    probes = site_probes("https://lms.example.edu/")
    assert [p.platform for p in probes] == ["Moodle", "D2L Brightspace"]
    assert probes[0].endpoints.auth_token_url == "https://lms.example.edu/mod/lti/token.php"
    assert probes[1].endpoints.key_set_url == "https://lms.example.edu/d2l/.well-known/jwks"


DOCUMENT = {
    "issuer": "https://lms.example.edu",
    "jwks_uri": "https://lms.example.edu/keys",
    "authorization_endpoint": "https://lms.example.edu/auth",
    "token_endpoint": "https://lms.example.edu/token",
}


def test_a_discovery_document_gives_its_three_endpoints() -> None:
    found = read_discovery_document(DOCUMENT, "https://lms.example.edu/")
    assert found is not None and found.source is EndpointSource.DISCOVERED
    assert (found.key_set_url, found.auth_login_url, found.auth_token_url) == (
        "https://lms.example.edu/keys",
        "https://lms.example.edu/auth",
        "https://lms.example.edu/token",
    )
    assert found.origin == "https://lms.example.edu/.well-known/openid-configuration"


@pytest.mark.parametrize(
    "document",
    [
        {**DOCUMENT, "issuer": "https://evil.example"},
        {k: v for k, v in DOCUMENT.items() if k != "jwks_uri"},
        ["not", "an", "object"],
    ],
)
def test_a_discovery_document_for_another_issuer_or_without_keys_is_not_used(document: object) -> None:
    assert read_discovery_document(document, "https://lms.example.edu") is None


def test_given_urls_win_over_found_ones_and_each_keeps_its_source() -> None:
    found = read_discovery_document(DOCUMENT, "https://lms.example.edu")
    resolved = resolve_endpoints({"key_set_url": "https://lms.example.edu/mine", "auth_login_url": ""}, found)
    assert resolved.urls["key_set_url"] == "https://lms.example.edu/mine"
    assert resolved.sources["key_set_url"] is EndpointSource.GIVEN
    assert resolved.sources["auth_login_url"] is EndpointSource.DISCOVERED
    assert resolved.origin.endswith("/.well-known/openid-configuration")


def test_without_a_key_set_or_login_url_the_error_names_both_and_what_was_tried() -> None:
    resolved = resolve_endpoints({"auth_token_url": "https://lms.example.edu/token"}, None)
    with pytest.raises(InvalidArgument) as refused:
        require_launch_endpoints(resolved, "https://lms.example.edu", ["GET x answered HTTP 404"])
    assert {v.field for v in refused.value.violations} == {"key_set_url", "auth_login_url"}
    assert "GET x answered HTTP 404" in refused.value.message


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8080/lms", True),
        ("http://localhost/lms", True),
        ("http://[::1]:9000/", True),
        ("http://lms.example.edu", False),
        ("https://lms.example.edu", True),
    ],
)
def test_plain_http_platform_urls_are_for_this_machine_only(url: str, allowed: bool) -> None:
    assert (check_url(url, allow_http=True) is None) is allowed


def test_in_production_only_https_is_accepted() -> None:
    assert check_url("http://127.0.0.1/lms", allow_http=False) is not None
