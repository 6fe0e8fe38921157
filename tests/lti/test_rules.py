"""The LTI rules as plain calls: roles, claim checks, key rotation, envelopes, paging, documents."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lti_svc import domain, errors
from lti_svc.crypto import Envelopes

M = "http://purl.imsglobal.org/vocab/lis/v2/membership"
REG = domain.Registration("c1", "org", "https://lms", "client", ("d1",), "https://lms/jwks", "https://lms/auth", "")
K1, K2 = bytes(range(32)), bytes(range(1, 33))
NO_DOTENV = Path("/nonexistent/.env")


INST = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
S = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"
ROLE_TABLE: list[tuple[str, list[str], set[str]]] = [
    # (row, roles claim, session roles): one test per row of the table in lti_svc/domain/roles.py
    ("context instructor", [M + "#Instructor"], {"Instructor"}),
    ("context learner", [M + "#Learner"], {"Learner"}),
    ("context content developer", [M + "#ContentDeveloper"], {"ContentDeveloper"}),
    ("context mentor", [M + "#Mentor"], {"Mentor"}),
    ("teaching assistant sub-role", [M + "/Instructor#TeachingAssistant"], {"TeachingAssistant"}),
    (
        "canvas teaching assistant: sub-role with its principal",
        [M + "#Instructor", M + "/Instructor#TeachingAssistant", S + "User"],
        {"TeachingAssistant"},
    ),
    (
        "canvas teaching assistant: lower-case parent of older canvas",
        [M + "/instructor#TeachingAssistant", M + "#Instructor"],
        {"TeachingAssistant"},
    ),
    ("section teaching assistant", [M + "/Instructor#TeachingAssistantSection"], {"TeachingAssistant"}),
    ("teaching assistant short name", ["TeachingAssistant"], {"TeachingAssistant"}),
    (
        "canvas teaching assistant in lti 1.1 spelling",
        ["urn:lti:role:ims/lis/TeachingAssistant"],
        {"TeachingAssistant"},
    ),
    ("learner sub-role", [M + "/Learner#NonCreditLearner"], {"Learner"}),
    ("instructor sub-role", [M + "/Instructor#PrimaryInstructor", M + "#Instructor"], {"Instructor"}),
    (
        "primary instructor and teaching assistant at once",
        [M + "/Instructor#PrimaryInstructor", M + "/Instructor#TeachingAssistant", M + "#Instructor"],
        {"Instructor", "TeachingAssistant"},
    ),
    ("a learner who instructs is a learner", [M + "/Learner#Instructor", M + "#Learner"], {"Learner"}),
    ("context administrator is staff of the course only", [M + "#Administrator"], {"Instructor"}),
    ("administrator short name is a context role", ["Administrator"], {"Instructor"}),
    ("institution administrator", [INST + "Administrator"], {"Administrator"}),
    ("system administrator", [S + "Administrator"], {"Administrator"}),
    ("system sysadmin", [S + "SysAdmin"], {"Administrator"}),
    ("system account admin", [S + "AccountAdmin"], {"Administrator"}),
    (
        "institution administrator teaching the course",
        [INST + "Administrator", M + "#Instructor"],
        {"Administrator", "Instructor"},
    ),
    ("institution instructor alone", [INST + "Instructor"], set()),
    ("institution faculty alone", [INST + "Faculty"], set()),
    ("institution instructor learning in this course", [INST + "Instructor", M + "#Learner"], {"Learner"}),
    ("institution student", [INST + "Student", S + "User"], set()),
    (
        "canvas test student",
        [M + "#Learner", "http://purl.imsglobal.org/vocab/lti/system/person#TestUser"],
        {"Learner"},
    ),
    ("instructor short name", ["Instructor"], {"Instructor"}),
    ("learner short name", ["Learner"], {"Learner"}),
    ("lti 1.1 context instructor", ["urn:lti:role:ims/lis/Instructor"], {"Instructor"}),
    ("lti 1.1 learner sub-role", ["urn:lti:role:ims/lis/Learner/GuestLearner"], {"Learner"}),
    ("lti 1.1 institution administrator", ["urn:lti:instrole:ims/lis/Administrator"], {"Administrator"}),
    ("lti 1.1 system sysadmin", ["urn:lti:sysrole:ims/lis/SysAdmin"], {"Administrator"}),
    ("lti 1.1 institution instructor", ["urn:lti:instrole:ims/lis/Instructor"], set()),
    ("no roles", [], set()),
    ("unknown roles and service", ["urn:lms:unknown", "https://lms.example/roles#Boss", "Service"], set()),
    ("a sub-role uri without a sub-role", [M + "/Instructor"], set()),
]


@pytest.mark.parametrize(("row", "uris", "expected"), ROLE_TABLE, ids=[r[0] for r in ROLE_TABLE])
def test_a_roles_claim_maps_to_the_session_roles_of_its_row(row: str, uris: list[str], expected: set[str]) -> None:
    assert domain.map_roles(uris) == frozenset(expected)


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "https://lms",
        "aud": "client",
        "sub": "u",
        "iat": now,
        "exp": now + 60,
        "nonce": "n",
        domain.CLAIM_DEPLOYMENT_ID: "d1",
        domain.CLAIM_VERSION: "1.3.0",
        domain.CLAIM_MESSAGE_TYPE: domain.RESOURCE_LINK_REQUEST,
        domain.CLAIM_TARGET_LINK_URI: "https://tool/lti/launch",
        domain.CLAIM_ROLES: [],
        domain.CLAIM_CONTEXT: {"id": "course"},
        domain.CLAIM_RESOURCE_LINK: {"id": "r"},
    }
    claims.update(changes)
    return claims


def test_a_token_from_another_issuer_is_refused() -> None:
    with pytest.raises(errors.InvalidLaunch) as caught:
        domain.check_launch_claims(_claims(iss="https://other"), REG, now=int(time.time()), skew=30)
    assert caught.value.reason == "LAUNCH_WRONG_ISSUER"


def test_an_azp_naming_another_tool_is_refused() -> None:
    with pytest.raises(errors.InvalidLaunch) as caught:
        domain.check_launch_claims(_claims(aud=["client", "x"], azp="x"), REG, now=int(time.time()), skew=30)
    assert caught.value.reason == "LAUNCH_WRONG_AUDIENCE"


def test_the_clock_skew_allowance_accepts_a_token_just_expired() -> None:
    now = int(time.time())
    launch = domain.check_launch_claims(_claims(exp=now - 10), REG, now=now, skew=30)
    assert launch.roles == frozenset()
    with pytest.raises(errors.InvalidLaunch):
        domain.check_launch_claims(_claims(exp=now - 31), REG, now=now, skew=30)


@pytest.mark.parametrize(
    ("claim", "changes"),
    [
        ("deployment_id", {domain.CLAIM_DEPLOYMENT_ID: 3}),
        ("sub", {"sub": 27}),
        ("context id", {domain.CLAIM_CONTEXT: {"id": 7}}),
        ("resource link id", {domain.CLAIM_RESOURCE_LINK: {"id": 3}}),
    ],
)
def test_an_id_sent_as_a_number_is_refused_saying_it_must_be_a_string(claim: str, changes: dict[str, Any]) -> None:
    with pytest.raises((errors.InvalidLaunch, errors.MalformedLaunch)) as caught:
        domain.check_launch_claims(_claims(**changes), REG, now=int(time.time()), skew=30)
    assert "is the JSON value" in str(caught.value) and "must be a string" in str(caught.value)


def test_custom_properties_arrive_as_text_whatever_json_type_the_platform_used() -> None:
    custom = {"course": 1234, "missing": None, "label": "BIO-101", "flags": [True]}
    launch = domain.check_launch_claims(_claims(**{domain.CLAIM_CUSTOM: custom}), REG, now=int(time.time()), skew=30)
    assert launch.custom == {"course": "1234", "missing": "", "label": "BIO-101", "flags": "[true]"}


def test_null_titles_and_a_missing_context_title_read_as_empty() -> None:
    changes = {domain.CLAIM_CONTEXT: {"id": "c", "label": None}, domain.CLAIM_RESOURCE_LINK: {"id": "r", "title": None}}
    launch = domain.check_launch_claims(_claims(**changes), REG, now=int(time.time()), skew=30)
    assert (launch.course_id, launch.course_title, launch.course_label) == ("c", "", "")


RSA_KEYS = [{"kty": "RSA", "kid": f"k{i}", "use": "sig", "n": "x", "e": "AQAB"} for i in range(3)]


def test_a_token_without_kid_matches_the_only_key_of_a_set() -> None:
    assert domain.select_jwk(RSA_KEYS[:1], None) == RSA_KEYS[0]


def test_a_token_without_kid_is_refused_saying_it_names_no_key_when_the_set_has_several() -> None:
    assert domain.select_jwk(RSA_KEYS, None) is None
    refusal = domain.no_platform_key(RSA_KEYS, None)
    assert refusal.reason == "LAUNCH_NO_KID"
    assert "names no key" in str(refusal) and "3 RSA signing keys" in str(refusal) and "None" not in str(refusal)


def test_a_token_naming_an_unpublished_key_is_refused_naming_that_key() -> None:
    refusal = domain.no_platform_key(RSA_KEYS[:1], "gone")
    assert refusal.reason == "LAUNCH_UNKNOWN_KEY"
    assert "'gone'" in str(refusal) and "1 RSA signing key)" in str(refusal)


POLICY = domain.RotationPolicy(period_seconds=1000, publish_lead_seconds=100, token_ttl_seconds=50)


def test_the_first_key_signs_at_once() -> None:
    assert domain.plan_rotation([], 500, POLICY) == domain.RotationPlan(500, ())


def test_the_next_key_is_published_before_it_signs() -> None:
    keys = [domain.ToolKey("a", 0)]
    assert domain.plan_rotation(keys, 850, POLICY).create_activating_at is None
    plan = domain.plan_rotation(keys, 900, POLICY)
    assert plan.create_activating_at == 1000
    keys.append(domain.ToolKey("b", 1000))
    assert domain.signing_key(keys, 999) == domain.ToolKey("a", 0), "published, not yet signing"
    assert domain.signing_key(keys, 1000) == domain.ToolKey("b", 1000)


def test_the_old_key_stays_published_until_its_tokens_expire() -> None:
    keys = [domain.ToolKey("a", 0), domain.ToolKey("b", 1000)]
    assert domain.plan_rotation(keys, 1049, POLICY).delete == ()
    assert domain.plan_rotation(keys, 1050, POLICY).delete == ("a",)


def test_a_late_rotation_still_publishes_for_the_full_lead() -> None:
    assert domain.plan_rotation([domain.ToolKey("a", 0)], 5000, POLICY).create_activating_at == 5100


def test_envelopes_open_with_an_older_key_after_rotation() -> None:
    sealed = Envelopes([("old", K1)]).seal("secret", context="zoom:1")
    rotated = Envelopes([("new", K2), ("old", K1)])
    assert rotated.open(sealed, context="zoom:1") == "secret"
    assert rotated.needs_resealing(sealed)
    assert rotated.seal("secret", context="zoom:1").startswith("v1.new.")


def test_an_envelope_moved_to_another_row_does_not_open() -> None:
    envelopes = Envelopes([("k", K1)])
    sealed = envelopes.seal("secret", context="zoom:1")
    with pytest.raises(errors.SecretUnreadable):
        envelopes.open(sealed, context="zoom:2")


def test_an_envelope_whose_key_was_dropped_names_the_key() -> None:
    sealed = Envelopes([("gone", K1)]).seal("secret", context="c")
    with pytest.raises(errors.SecretUnreadable, match="'gone'"):
        Envelopes([("k", K2)]).open(sealed, context="c")


def test_without_encryption_keys_secrets_are_refused_clearly() -> None:
    with pytest.raises(errors.EncryptionNotConfigured, match="LTI_ENCRYPTION_KEYS"):
        Envelopes([]).seal("x", context="c")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('<https://lms/m?p=2>; rel="next", <https://lms/m?p=9>; rel="last"', "https://lms/m?p=2"),
        ('<https://lms/m?p=9>; rel="last"', None),
        ("<https://lms/m?p=3>; rel=next", "https://lms/m?p=3"),
        (None, None),
    ],
)
def test_the_next_roster_page_is_read_from_the_link_header(header: str | None, expected: str | None) -> None:
    assert domain.next_link(header) == expected


def test_a_score_is_written_as_ags_asks() -> None:
    document = domain.score_document(
        user_id="u",
        score_given=1,
        score_maximum=1,
        comment="",
        activity_progress="Completed",
        grading_progress="FullyGraded",
        timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert document == {
        "userId": "u",
        "scoreGiven": 1,
        "scoreMaximum": 1,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": "2026-01-02T03:04:05.000+00:00",
    }


def test_scores_go_to_the_line_items_scores_path_with_its_query_kept() -> None:
    assert domain.scores_url("https://lms/li/7?type=x") == "https://lms/li/7/scores?type=x"


def test_a_platform_configuration_whose_issuer_is_not_its_url_is_refused() -> None:
    document = {
        "issuer": "https://evil.example",
        "authorization_endpoint": "https://lms/auth",
        "token_endpoint": "https://lms/token",
        "jwks_uri": "https://lms/jwks",
        "registration_endpoint": "https://lms/reg",
    }
    with pytest.raises(errors.RegistrationRefused, match="does not match"):
        domain.read_platform_configuration(document, "https://lms/.well-known/openid-configuration", allow_http=False)


def test_the_deep_linking_response_echoes_the_platforms_data() -> None:
    settings = domain.DeepLinkingRequest("https://lms/ret", ("ltiResourceLink",), (), False, False, "", "", "d-42")
    context = domain.DeepLinkingContext("l", "c", "o", "client", "https://lms", "d1", "u", "course", settings)
    item = domain.PickedItem("ltiResourceLink", "T", "", "", "v1", "", {})
    claims = domain.deep_linking_response_claims(
        context, domain.content_items([item], settings, "https://tool/lti/launch"), message="", now=0, ttl=300
    )
    assert claims[domain.CLAIM_DL_DATA] == "d-42"
    with pytest.raises(errors.InvalidDeepLinkingItems):
        domain.content_items([item, item], settings, "https://tool/lti/launch")


def test_lti_settings_read_rotation_keys_and_refuse_a_short_key() -> None:
    from service_kit.settings import SettingsError, load_lti_settings

    key = "A" * 43
    settings = load_lti_settings({"LTI_ENCRYPTION_KEYS": f"new:{key}, old:{'B' * 43}"}, dotenv_path=NO_DOTENV)
    assert [kid for kid, _ in settings.encryption_keys] == ["new", "old"]
    with pytest.raises(SettingsError, match="LTI_ENCRYPTION_KEYS"):
        load_lti_settings({"LTI_ENCRYPTION_KEYS": "k:short"}, dotenv_path=NO_DOTENV)
    with pytest.raises(SettingsError, match="LTI_ENCRYPTION_KEYS is not set"):
        load_lti_settings({"MEDIA_ENV": "production"}, dotenv_path=NO_DOTENV)


def test_the_tools_public_jwk_verifies_its_launch_signatures_and_names_its_use_once() -> None:
    """A platform reads ``use``/``alg``/``kid`` to pick the key, then verifies with ``n``/``e``."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    from lti_svc.keys import public_jwk

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = public_jwk(key, "kid-1")
    token = jwt.encode({"sub": "tool"}, key, algorithm="RS256", headers={"kid": "kid-1"})

    assert jwk.keys() == {"kty", "kid", "use", "alg", "n", "e"}  # no key_ops beside use (RFC 7517 §4.3)
    assert (jwk["kty"], jwk["kid"], jwk["use"], jwk["alg"], jwk["e"]) == ("RSA", "kid-1", "sig", "RS256", "AQAB")
    assert jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"]) == {"sub": "tool"}
    assert "=" not in jwk["n"]  # base64url without padding (RFC 7518 §2)
