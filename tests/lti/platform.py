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

import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

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


def new_key() -> PlatformKey:
    return PlatformKey(
        f"platform-{uuid.uuid4().hex[:8]}", rsa.generate_private_key(public_exponent=65537, key_size=2048)
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
    """

    __test__ = False

    def __init__(self, tool_base_url: str, layout: str = "generic") -> None:
        self.tool_base_url = tool_base_url
        self.layout = layout
        self.paths = PATHS[layout]
        self.keys = [new_key()]
        self.signing = self.keys[0]
        self.client_id = f"client-{uuid.uuid4().hex[:8]}"
        self.deployment_id = f"deployment-{uuid.uuid4().hex[:6]}"
        self.context_id = f"course-{uuid.uuid4().hex[:8]}"
        self.received = Received()
        self.members: list[dict[str, Any]] = []
        self.roster_page_size = 2
        self.registration_token = secrets.token_urlsafe(16)
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
        return self.base

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

    def url(self, endpoint: str) -> str:
        """Where this platform serves ``endpoint`` ("key_set", "login" or "token")."""
        return self.base + self.paths[endpoint]

    def rotate_keys(self, *, keep_old: bool = True) -> PlatformKey:
        key = new_key()
        self.keys = [*self.keys, key] if keep_old else [key]
        self.signing = key
        return key

    # ---- the id_token ----------------------------------------------------------------------

    def launch_claims(self, *, nonce: str, roles: list[str], message_type: str, user: str) -> dict[str, Any]:
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
        if message_type == "LtiDeepLinkingRequest":
            claims.pop(C + "resource_link")
            claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
                "deep_link_return_url": f"{self.base}/deep-link-return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_multiple": False,
                "title": "Lecture media",
                "data": "opaque-platform-data-42",
            }
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
        )
        if q.get("lti_message_hint") != "message-hint-7":
            return web.Response(status=400, text="lti_message_hint not passed back")
        if self.claim_edits is not None:
            claims = self.claim_edits(claims)
        token = self.sign(claims)
        form = (
            f'<form method="post" action="{q["redirect_uri"]}">'
            f'<input type="hidden" name="id_token" value="{token}">'
            f'<input type="hidden" name="state" value="{q["state"]}"></form>'
        )
        return web.Response(text=form, content_type="text/html")

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


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
