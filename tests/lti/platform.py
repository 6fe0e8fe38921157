"""A test LMS platform, written from the LTI 1.3 / Advantage / Dynamic Registration specs.

It is the one stand-in of the LTI tests: an aiohttp server on 127.0.0.1 with its own RSA
keys and JWKS, an OIDC authorization endpoint that answers with a real signed id_token
as an auto-posted form, an OAuth 2 token endpoint that verifies the tool's signed
client assertion against the tool's published JWKS, Names and Roles (paged with
``Link: rel="next"``), Assignment and Grade Services, an openid-configuration with a
registration endpoint, and a deep-linking return URL that verifies what it receives.
Each endpoint checks the media types and parameters the specs prescribe, so the tool
is exercised exactly as a real LMS would exercise it.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import re
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

C = "https://purl.imsglobal.org/spec/lti/claim/"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTRUCTOR_ROLE = MEMBERSHIP + "Instructor"
LEARNER_ROLE = MEMBERSHIP + "Learner"
NRPS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"


@dataclass
class PlatformKey:
    kid: str
    private: rsa.RSAPrivateKey

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}


def new_key(kid: str | None = None) -> PlatformKey:
    return PlatformKey(
        kid or f"platform-{uuid.uuid4().hex[:8]}", rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )


@dataclass
class Received:
    """What the platform saw, for tests to assert on."""

    jwks_fetches: int = 0
    token_requests: list[dict[str, str]] = field(default_factory=list)
    roster_requests: list[str] = field(default_factory=list)
    line_items: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    registrations: list[dict[str, Any]] = field(default_factory=list)
    deep_link_responses: list[dict[str, Any]] = field(default_factory=list)


PATHS = {
    # Where each kind of LMS serves its key set, login and token endpoints under its site.
    "generic": {"key_set": "/jwks", "login": "/auth", "token": "/token"},
    "moodle": {"key_set": "/mod/lti/certs.php", "login": "/mod/lti/auth.php", "token": "/mod/lti/token.php"},
}


class TestPlatform:
    """One LMS. ``base`` is its issuer; ``client_id`` and ``deployment_id`` what it gave the tool.

    ``layout`` "generic" serves an OpenID configuration at ``/.well-known/openid-configuration``;
    "moodle" serves none and keeps its endpoints where Moodle does (``/mod/lti/certs.php``, ...).

    With a ``family`` (see :data:`FAMILIES`) it issues its ids, keys and id_tokens in that
    LMS's shape, in that LMS's layout, and its issuer is the family's (the endpoints still
    live under ``base``).
    """

    __test__ = False

    def __init__(self, tool_base_url: str, layout: str = "generic", family: LmsFamily | None = None) -> None:
        self.tool_base_url = tool_base_url
        self.family = family
        self.layout = family.layout if family is not None else layout
        self.paths = PATHS[self.layout]
        if family is None:
            self.keys = [new_key()]
            self.client_id = f"client-{uuid.uuid4().hex[:8]}"
            self.deployment_id = f"deployment-{uuid.uuid4().hex[:6]}"
            self.context_id = f"course-{uuid.uuid4().hex[:8]}"
        else:
            self.keys = [new_key(family.new_kid()) for _ in range(family.published_keys)]
            self.client_id = family.new_client_id()
            self.deployment_id = family.new_deployment_id()
            self.context_id = family.new_context_id()
        self.signing = self.keys[(len(self.keys) - 1) // 2]
        self.received = Received()
        self.members: list[dict[str, Any]] = []
        self.roster_page_size = 2
        self.registration_token = secrets.token_urlsafe(16)
        self.accept_multiple = False
        """Whether deep-linking requests let the tool return several items."""
        self.claim_edits: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.token_edits: Callable[[PlatformKey, dict[str, Any]], str] | None = None
        self._runner: web.AppRunner | None = None
        self.base = ""

    async def start(self) -> TestPlatform:
        app = web.Application()
        app.router.add_get(self.paths["key_set"], self._jwks)
        app.router.add_get(self.paths["login"], self._authorize)
        app.router.add_post(self.paths["token"], self._token)
        app.router.add_get("/nrps/{context}", self._roster)
        app.router.add_get("/lineitems/{context}", self._list_line_items)
        app.router.add_post("/lineitems/{context}", self._create_line_item)
        app.router.add_post("/lineitems/{context}/{item}/scores", self._score)
        if self.layout == "generic":
            app.router.add_get("/.well-known/openid-configuration", self._openid_configuration)
        app.router.add_post("/register", self._register)
        app.router.add_post("/deep-link-return", self._deep_link_return)
        app.router.add_get("/course", self._course_page)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def issuer(self) -> str:
        return self.family.issuer if self.family is not None and self.family.issuer else self.base

    def registration_body(self, **changes: Any) -> dict[str, Any]:
        """The body of POST /api/v1/lti/config for this platform."""
        return {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "deployment_ids": [self.deployment_id],
            "key_set_url": self.url("key_set"),
            "auth_login_url": self.url("login"),
            "auth_token_url": self.url("token"),
            **changes,
        }

    def course_page_url(
        self,
        *,
        user: str,
        roles: list[str],
        locale: str = "",
        message_type: str = "",
        custom: dict[str, str] | None = None,
    ) -> str:
        """The LMS page that frames the tool for ``user`` (see :meth:`_course_page`).

        ``message_type`` "LtiDeepLinkingRequest" opens the tool's picker; ``custom`` is what a
        resource link carries, such as the custom parameters of a content item it was made from.
        """
        query = {"user": user, "roles": ",".join(roles), "locale": locale}
        if message_type:
            query["message_type"] = message_type
        if custom:
            query["custom"] = json.dumps(custom)
        return f"{self.base}/course?" + urlencode(query)

    def url(self, endpoint: str) -> str:
        """Where this platform serves ``endpoint`` ("key_set", "login" or "token")."""
        return self.base + self.paths[endpoint]

    def rotate_keys(self, *, keep_old: bool = True) -> PlatformKey:
        key = new_key()
        self.keys = [*self.keys, key] if keep_old else [key]
        self.signing = key
        return key

    # ---- the id_token ----------------------------------------------------------------------

    def launch_claims(
        self, *, nonce: str, roles: list[str], message_type: str, user: str, locale: str = ""
    ) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": user,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "name": "Ada Lovelace",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email": "ada@example.edu",
            C + "message_type": message_type,
            C + "version": "1.3.0",
            C + "deployment_id": self.deployment_id,
            C + "target_link_uri": f"{self.tool_base_url}/lti/launch",
            C + "roles": roles,
            C + "context": {"id": self.context_id, "title": "Analytical Engines", "label": "AE-101"},
            C + "resource_link": {"id": "link-1", "title": "Lectures"},
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": f"{self.base}/nrps/{self.context_id}",
                "service_versions": ["2.0"],
            },
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": [
                    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                ],
                "lineitems": f"{self.base}/lineitems/{self.context_id}",
            },
            "https://example.edu/custom/unknown-claim": {"anything": ["goes"]},
        }
        if locale:
            claims[C + "launch_presentation"] = {"document_target": "iframe", "locale": locale}
        if message_type == "LtiDeepLinkingRequest":
            claims.pop(C + "resource_link")
            claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
                "deep_link_return_url": f"{self.base}/deep-link-return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_multiple": self.accept_multiple,
                "title": "Lecture media",
                "data": "opaque-platform-data-42",
            }
        if self.family is not None:
            self.family.shape(claims, self)
        return claims

    def sign(self, claims: dict[str, Any], key: PlatformKey | None = None) -> str:
        chosen = key or self.signing
        if self.token_edits is not None:
            return self.token_edits(chosen, claims)
        return jwt.encode(claims, chosen.private, algorithm="RS256", headers={"kid": chosen.kid})

    # ---- endpoints -------------------------------------------------------------------------

    async def _jwks(self, request: web.Request) -> web.Response:
        self.received.jwks_fetches += 1
        return web.json_response({"keys": [k.public_jwk() for k in self.keys]})

    async def _authorize(self, request: web.Request) -> web.Response:
        """OIDC authorization (LTI 1.3 §5.1.1.2): every parameter checked, then the auto-posted id_token."""
        q = request.query
        expected = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none"}
        for name, value in expected.items():
            if q.get(name) != value:
                return web.Response(status=400, text=f"{name} must be {value}")
        if q.get("client_id") != self.client_id:
            return web.Response(status=400, text="unknown client_id")
        if q.get("redirect_uri") != f"{self.tool_base_url}/lti/launch":
            return web.Response(status=400, text="redirect_uri not registered")
        for name in ("login_hint", "state", "nonce"):
            if not q.get(name):
                return web.Response(status=400, text=f"{name} missing")
        hint = json.loads(q["login_hint"])
        claims = self.launch_claims(
            nonce=q["nonce"],
            roles=hint["roles"],
            message_type=hint.get("message_type", "LtiResourceLinkRequest"),
            user=hint["user"],
            locale=hint.get("locale", ""),
        )
        if hint.get("custom"):
            claims[C + "custom"] = hint["custom"]
        if q.get("lti_message_hint") != "message-hint-7":
            return web.Response(status=400, text="lti_message_hint not passed back")
        if self.claim_edits is not None:
            claims = self.claim_edits(claims)
        token = self.sign(claims)
        form = (
            f'<form method="post" action="{q["redirect_uri"]}">'
            f'<input type="hidden" name="id_token" value="{token}">'
            f'<input type="hidden" name="state" value="{q["state"]}"></form>'
            "<script>document.forms[0].submit()</script>"
        )
        return web.Response(text=form, content_type="text/html")

    async def _course_page(self, request: web.Request) -> web.Response:
        """The LMS's course page: the tool in an iframe, opened by a third-party login, as an LMS places it.

        The query names who launches (``user``, ``roles`` as a comma list, ``locale``); the
        iframe's document lives on the tool's origin, so for the browser it is third-party.
        """
        q = request.query
        hint: dict[str, Any] = {"user": q["user"], "roles": q["roles"].split(","), "locale": q.get("locale", "")}
        if q.get("message_type"):
            hint["message_type"] = q["message_type"]
        if q.get("custom"):
            hint["custom"] = json.loads(q["custom"])
        login = f"{self.tool_base_url}/lti/login?" + urlencode(
            {
                "iss": self.issuer,
                "login_hint": json.dumps(hint),
                "target_link_uri": f"{self.tool_base_url}/lti/launch",
                "lti_message_hint": "message-hint-7",
                "client_id": self.client_id,
                "lti_deployment_id": self.deployment_id,
            }
        )
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Analytical Engines</title></head>'
            '<body><h1>Analytical Engines</h1><iframe id="tool" title="Lecture media" allow="fullscreen"'
            f' src="{html.escape(login)}" style="width:100%;height:900px;border:0"></iframe></body></html>'
        )
        return web.Response(text=page, content_type="text/html")

    async def _tool_keys(self) -> list[dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.tool_base_url}/.well-known/jwks.json") as reply,
        ):
            document = await reply.json()
        keys: list[dict[str, Any]] = document["keys"]
        return keys

    async def verify_tool_jwt(self, token: str, *, audience: str) -> dict[str, Any]:
        """Verify a JWT the tool signed, against the tool's published key set (as a platform does)."""
        kid = jwt.get_unverified_header(token)["kid"]
        jwk = next(k for k in await self._tool_keys() if k["kid"] == kid)
        key = RSAAlgorithm.from_jwk(json.dumps(jwk))
        claims: dict[str, Any] = jwt.decode(token, key, algorithms=["RS256"], audience=audience)  # type: ignore[arg-type]
        return claims

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.received.token_requests.append(form)
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return web.json_response({"error": "invalid_request"}, status=400)
        try:
            claims = await self.verify_tool_jwt(form["client_assertion"], audience=self.url("token"))
        except (jwt.PyJWTError, StopIteration, KeyError):
            return web.json_response({"error": "invalid_client"}, status=401)
        if claims["iss"] != self.client_id or claims["sub"] != self.client_id or not claims.get("jti"):
            return web.json_response({"error": "invalid_client"}, status=401)
        return web.json_response(
            {
                "access_token": f"at-{secrets.token_hex(8)}|{form.get('scope', '')}",
                "token_type": "Bearer",
                "expires_in": 3600,
            }
        )

    def _authorized(self, request: web.Request, scope: str) -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer at-") and scope in header

    async def _roster(self, request: web.Request) -> web.Response:
        if not self._authorized(request, "contextmembership.readonly"):
            return web.Response(status=401)
        if request.headers.get("Accept") != NRPS_TYPE:
            return web.Response(status=406, text="Accept must be the membership container media type")
        self.received.roster_requests.append(str(request.rel_url))
        offset = int(request.query.get("offset", "0"))
        page = self.members[offset : offset + self.roster_page_size]
        headers = {}
        if offset + self.roster_page_size < len(self.members):
            nxt = f"{self.base}/nrps/{request.match_info['context']}?offset={offset + self.roster_page_size}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        body = {"id": str(request.url), "context": {"id": request.match_info["context"]}, "members": page}
        return web.Response(text=json.dumps(body), content_type=NRPS_TYPE, headers=headers)

    async def _list_line_items(self, request: web.Request) -> web.Response:
        if not self._authorized(request, "lineitem"):
            return web.Response(status=401)
        if request.headers.get("Accept") != LINEITEMS_TYPE:
            return web.Response(status=406)
        wanted = request.query.get("resource_id")
        items = [i for i in self.received.line_items if wanted is None or i["resourceId"] == wanted]
        return web.Response(text=json.dumps(items), content_type=LINEITEMS_TYPE)

    async def _create_line_item(self, request: web.Request) -> web.Response:
        if not self._authorized(request, "lineitem"):
            return web.Response(status=401)
        if request.content_type != LINEITEM_TYPE:
            return web.Response(status=415, text="Content-Type must be the line item media type")
        item = await request.json()
        item["id"] = f"{self.base}/lineitems/{request.match_info['context']}/{uuid.uuid4().hex[:8]}"
        self.received.line_items.append(item)
        return web.Response(status=201, text=json.dumps(item), content_type=LINEITEM_TYPE)

    async def _score(self, request: web.Request) -> web.Response:
        if not self._authorized(request, "scope/score"):
            return web.Response(status=401)
        if request.content_type != SCORE_TYPE:
            return web.Response(status=415, text="Content-Type must be the score media type")
        score = await request.json()
        if score["userId"] == "user-refused":
            return web.Response(status=422, text="learner not enrolled")
        score["line_item"] = str(request.url).removesuffix("/scores")
        self.received.scores.append(score)
        return web.Response(status=204)

    async def _openid_configuration(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": self.url("login"),
                "token_endpoint": self.url("token"),
                "jwks_uri": self.url("key_set"),
                "registration_endpoint": f"{self.base}/register",
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": [
                    "openid",
                    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
                ],
                "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                    "product_family_code": "test-lms",
                    "version": "1.0",
                    "messages_supported": [{"type": "LtiResourceLinkRequest"}, {"type": "LtiDeepLinkingRequest"}],
                },
            }
        )

    async def _register(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.registration_token}":
            return web.json_response({"error": "invalid registration token"}, status=401)
        document = await request.json()
        self.received.registrations.append(document)
        tool = document["https://purl.imsglobal.org/spec/lti-tool-configuration"]
        return web.json_response(
            {
                **document,
                "client_id": self.client_id,
                "https://purl.imsglobal.org/spec/lti-tool-configuration": {**tool, "deployment_id": self.deployment_id},
            }
        )

    async def _deep_link_return(self, request: web.Request) -> web.Response:
        form = await request.post()
        claims = await self.verify_tool_jwt(str(form["JWT"]), audience=self.issuer)
        self.received.deep_link_responses.append(claims)
        return web.Response(text="<p>Content added</p>", content_type="text/html")


# ---- LMS families -------------------------------------------------------------------------------
#
# How the big LMSs shape their launches, written from their public documentation and
# published example id_tokens: Canvas's "Example ID Token" and Canvas Roles page,
# Anthology's "Sample JWT content" for Blackboard Learn, Moodle's LTI 1.3 launch code
# (mod/lti, which converts LTI 1.1 parameters to claims), D2L's Brightspace extension
# claim, and Schoology's LTI apps page and launches recorded by the 1EdTech reference
# tool. Where a vendor documents no detail, the claim follows LTI 1.3 core as written.

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
INSTITUTION = LIS + "institution/person#"
SYSTEM = LIS + "system/person#"
TEACHING_ASSISTANT_ROLE = LIS + "membership/Instructor#TeachingAssistant"
COURSE_OFFERING = LIS + "course#CourseOffering"


@dataclass(frozen=True)
class LmsFamily:
    """One LMS family: its issuer, the look of its ids and keys, its roles per person, its claims.

    ``issuer`` is the family's ``iss`` (empty: the test platform's own URL). ``roles``
    gives the roles claim this LMS sends for a persona (``learner``, ``instructor``,
    ``teaching assistant``, ``administrator``). ``shape`` rewrites the test platform's
    generic claims into the family's, in place. ``layout`` is where it serves its
    endpoints (:data:`PATHS`); ``published_keys`` how many keys its JWKS lists.
    """

    name: str
    issuer: str
    new_client_id: Callable[[], str]
    new_deployment_id: Callable[[], str]
    new_context_id: Callable[[], str]
    new_subject: Callable[[], str]
    new_kid: Callable[[], str]
    roles: Mapping[str, tuple[str, ...]]
    shape: Callable[[dict[str, Any], TestPlatform], None]
    published_keys: int = 1
    layout: str = "generic"


def _digits(count: int) -> str:
    return str(random.randrange(10 ** (count - 1), 10**count))


def _is_resource_link(claims: dict[str, Any]) -> bool:
    return bool(claims[C + "message_type"] == "LtiResourceLinkRequest")


def _canvas_object(**fields: Any) -> dict[str, Any]:
    """Canvas serialises every claim object with its validation fields, always null and empty."""
    return {**fields, "validation_context": None, "errors": {"errors": {}}}


def _canvas(claims: dict[str, Any], platform: TestPlatform) -> None:
    """Canvas cloud: one issuer for every tenant, ``<n>:<40 hex>`` deployments, untitled links.

    Resource link title and description are null, the user's LTI 1.1 id rides in
    ``lti11_legacy_user_id``, custom variables keep Canvas's types (numbers stay
    numbers, unavailable ones stay ``$Variable`` text), the placement is Canvas's own
    claim, and each claim object carries Canvas's ``validation_context`` and ``errors``.
    """
    legacy_id = hashlib.sha1(claims["sub"].encode()).hexdigest()
    course_number = int(platform.context_id[:6], 16)
    claims.update(
        {
            "locale": "en",
            "picture": "https://canvas.instructure.com/images/messages/avatar-50.png",
            "errors": {"errors": {}},
            C + "context": _canvas_object(
                id=platform.context_id, label="BIO-101", title="Cell Biology", type=[COURSE_OFFERING]
            ),
            C + "tool_platform": _canvas_object(
                guid=f"{secrets.token_hex(20)}:canvas-lms",
                name="Example University",
                version="cloud",
                product_family_code="canvas",
            ),
            C + "launch_presentation": _canvas_object(
                document_target="iframe",
                height=400,
                width=800,
                return_url=f"https://example.instructure.com/courses/{course_number}/external_content/success/external_tool_redirect",
                locale="en",
            ),
            C + "custom": {
                "canvas_course_id": course_number,
                "canvas_user_login_id": "ada@example.edu",
                "section_sis_ids": "$Canvas.course.sectionSisSourceIds",
            },
            C + "lti11_legacy_user_id": legacy_id,
            C + "lti1p1": _canvas_object(user_id=legacy_id),
            C + "lis": _canvas_object(person_sourcedid=None, course_offering_sourcedid=None),
            "https://www.instructure.com/placement": "course_navigation",
        }
    )
    if _is_resource_link(claims):
        claims[C + "resource_link"] = _canvas_object(id=secrets.token_hex(20), description=None, title=None)


def _blackboard(claims: dict[str, Any], platform: TestPlatform) -> None:
    """Blackboard Learn: ``https://blackboard.com`` for every customer, UUID deployments, 32-hex ids."""
    claims.update(
        {
            "locale": "en-US",
            C + "tool_platform": {
                "name": "Example University",
                "description": "Example University",
                "guid": uuid.uuid4().hex,
                "product_family_code": "BlackboardLearn",
                "version": "3900.93.0-rel.59",
            },
            C + "context": {
                "id": platform.context_id,
                "label": "BIO_101",
                "title": "Cell Biology",
                "type": [COURSE_OFFERING],
            },
            C + "launch_presentation": {
                "return_url": "https://learn.example.edu/webapps/blackboard/execute/blti/launchReturn",
                "locale": "en-US",
            },
            C + "lis": {"person_sourcedid": "ada.lovelace", "course_offering_sourcedid": "BIO_101"},
            "https://blackboard.com/lti/claim/one_time_session_token": f"{uuid.uuid4().hex}:_{_digits(3)}_1",
        }
    )
    if _is_resource_link(claims):
        claims[C + "resource_link"] = {"id": f"_{_digits(4)}_1", "title": "Lecture media", "description": ""}


def _moodle(claims: dict[str, Any], platform: TestPlatform) -> None:
    """Moodle: the site's URL as issuer, the tool type's small integer as deployment, numeric ids."""
    claims.update(
        {
            C + "context": {
                "id": platform.context_id,
                "label": "BIO101",
                "title": "Cell Biology",
                "type": ["CourseSection"],
            },
            C + "lis": {"person_sourcedid": "", "course_section_sourcedid": ""},
            C + "launch_presentation": {
                "locale": "en",
                "document_target": "iframe",
                "return_url": f"https://moodle.example.edu/mod/lti/return.php?course={platform.context_id}",
            },
            C + "tool_platform": {
                "product_family_code": "moodle",
                "version": "2024042200",
                "guid": "moodle.example.edu",
                "name": "Example University",
                "description": "Example University Moodle",
            },
            C + "ext": {"user_username": "ada", "lms": "moodle-2"},
            C + "custom": {"media_view": "lectures"},
        }
    )
    if _is_resource_link(claims):
        claims[C + "resource_link"] = {"title": "Lecture recordings", "description": "", "id": _digits(2)}


_D2L_TENANT = str(uuid.uuid4())


def _d2l(claims: dict[str, Any], platform: TestPlatform) -> None:
    """D2L Brightspace: the school's Brightspace host as issuer, UUIDs, Brightspace's own claim."""
    user_number = int(claims["sub"].rpartition("_")[2])
    claims.update(
        {
            C + "context": {
                "id": platform.context_id,
                "label": "BIO-110",
                "title": "Cell Biology",
                "type": [COURSE_OFFERING],
            },
            C + "tool_platform": {
                "guid": _D2L_TENANT,
                "product_family_code": "desire2learn",
                "version": "20.24.4",
                "name": "Example School",
                "url": "https://school.brightspace.com/",
            },
            C + "launch_presentation": {"document_target": "iframe", "locale": "en-US"},
            "http://www.brightspace.com": {
                "tenant_id": _D2L_TENANT,
                "org_defined_id": "ada.lovelace",
                "user_id": user_number,
                "username": "alovelace",
                "Context.id.history": "",
                "ResourceLink.id.history": "",
            },
        }
    )
    if _is_resource_link(claims):
        claims[C + "resource_link"] = {"id": str(uuid.uuid4()), "title": "Lecture media"}


def _schoology(claims: dict[str, Any], platform: TestPlatform) -> None:
    """Schoology: one issuer, ``aud`` as a one-element array, numeric ids."""
    claims.update(
        {
            "aud": [platform.client_id],
            C + "context": {
                "id": platform.context_id,
                "label": "Biology: Section 1",
                "title": "Cell Biology",
                "type": [LIS + "course#CourseSection"],
            },
            C + "tool_platform": {
                "guid": _digits(10),
                "name": "Example School District",
                "product_family_code": "schoology",
                "version": "2024.1",
            },
        }
    )
    if _is_resource_link(claims):
        claims[C + "resource_link"] = {"id": _digits(10), "title": "Lecture media"}


FAMILIES: dict[str, LmsFamily] = {
    family.name: family
    for family in (
        LmsFamily(
            name="canvas",
            issuer="https://canvas.instructure.com",
            new_client_id=lambda: "17" + _digits(13),
            new_deployment_id=lambda: f"{random.randrange(1, 1000)}:{secrets.token_hex(20)}",
            new_context_id=lambda: secrets.token_hex(20),
            new_subject=lambda: str(uuid.uuid4()),
            new_kid=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + f"_{secrets.token_hex(4)}",
            roles={
                "learner": (INSTITUTION + "Student", LEARNER_ROLE, SYSTEM + "User"),
                "instructor": (INSTITUTION + "Instructor", INSTRUCTOR_ROLE, SYSTEM + "User"),
                "teaching assistant": (
                    INSTITUTION + "Instructor",
                    TEACHING_ASSISTANT_ROLE,
                    INSTRUCTOR_ROLE,
                    SYSTEM + "User",
                ),
                "administrator": (INSTITUTION + "Administrator", SYSTEM + "User"),
            },
            shape=_canvas,
            published_keys=3,
        ),
        LmsFamily(
            name="blackboard",
            issuer="https://blackboard.com",
            new_client_id=lambda: str(uuid.uuid4()),
            new_deployment_id=lambda: str(uuid.uuid4()),
            new_context_id=lambda: uuid.uuid4().hex,
            new_subject=lambda: uuid.uuid4().hex,
            new_kid=lambda: str(uuid.uuid4()),
            roles={
                "learner": (LEARNER_ROLE, INSTITUTION + "Student"),
                "instructor": (INSTRUCTOR_ROLE, INSTITUTION + "Faculty"),
                "teaching assistant": (TEACHING_ASSISTANT_ROLE, INSTRUCTOR_ROLE, INSTITUTION + "Staff"),
                "administrator": (SYSTEM + "SysAdmin", INSTITUTION + "Staff"),
            },
            shape=_blackboard,
        ),
        LmsFamily(
            name="moodle",
            issuer="https://moodle.example.edu",
            new_client_id=lambda: "".join(
                random.choices("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=15)
            ),
            new_deployment_id=lambda: str(random.randrange(1, 40)),
            new_context_id=lambda: str(random.randrange(2, 5000)),
            new_subject=lambda: str(random.randrange(2, 50000)),
            new_kid=lambda: secrets.token_urlsafe(15),
            roles={
                "learner": (LEARNER_ROLE,),
                "instructor": (INSTRUCTOR_ROLE,),
                "administrator": (INSTRUCTOR_ROLE, SYSTEM + "Administrator", INSTITUTION + "Administrator"),
            },
            shape=_moodle,
            layout="moodle",
        ),
        LmsFamily(
            name="d2l",
            issuer="https://school.brightspace.com",
            new_client_id=lambda: str(uuid.uuid4()),
            new_deployment_id=lambda: str(uuid.uuid4()),
            new_context_id=lambda: str(random.randrange(6000, 100000)),
            new_subject=lambda: f"{_D2L_TENANT}_{random.randrange(100, 100000)}",
            new_kid=lambda: str(uuid.uuid4()),
            roles={
                "learner": (INSTITUTION + "Student", LEARNER_ROLE),
                "instructor": (INSTITUTION + "Instructor", INSTRUCTOR_ROLE),
                "teaching assistant": (INSTITUTION + "Instructor", TEACHING_ASSISTANT_ROLE, INSTRUCTOR_ROLE),
                "administrator": (INSTITUTION + "Administrator",),
            },
            shape=_d2l,
        ),
        LmsFamily(
            name="schoology",
            issuer="https://schoology.schoology.com",
            new_client_id=lambda: _digits(10),
            new_deployment_id=lambda: f"{_digits(10)}-{_digits(10)}",
            new_context_id=lambda: _digits(10),
            new_subject=lambda: f"7::{uuid.uuid4().hex}",
            new_kid=lambda: secrets.token_hex(8),
            roles={
                "learner": (LEARNER_ROLE, INSTITUTION + "Student"),
                "instructor": (INSTRUCTOR_ROLE, INSTITUTION + "Faculty"),
                "administrator": (INSTITUTION + "Administrator",),
            },
            shape=_schoology,
        ),
    )
}


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden inputs of an HTML form, as a browser would submit them."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))


def form_action(page: str) -> str:
    match = re.search(r'<form[^>]*action="([^"]+)"', page)
    assert match, page
    return match.group(1)


def session_of(page: str) -> dict[str, Any]:
    """The session the tool page hands its scripts."""
    match = re.search(r'<script type="application/json" id="lti-session">(.*?)</script>', page, re.S)
    assert match, page
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def page_data(page: str, element_id: str) -> dict[str, Any]:
    """A JSON block the page hands its scripts (``<script type="application/json" id=...>``)."""
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', page, re.S)
    assert match, page
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def script_urls(page: str) -> list[str]:
    """The page's own scripts (its bundles under /static/), as paths."""
    return re.findall(r'<script type="module" nonce="[^"]+" src="(/static/[^"]+)"></script>', page)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
