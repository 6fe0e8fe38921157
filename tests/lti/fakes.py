"""Fakes of lti_svc's ports, so its use cases run in a test without any server.

``FakeStore`` holds registrations, deployments, course links and line items as dicts;
each ``FakeUnitOfWork`` over it stages its writes and applies them on ``commit``, where
the uniqueness rules are checked as the database's indexes would ((issuer, client_id);
one line item per live session): a break is ``Conflict`` and nothing of the unit is kept.
``FakeTokenStore`` does the same for personal API tokens (their hash is unique).

The other fakes stand for Redis (login states and nonces taken once, deep-linking
launches, invitations), the platforms (key sets, the token endpoint, rosters, the
gradebook, the dynamic-registration endpoints) and the tool's keys: each records what it
was asked and can be told to refuse, as the platform or the store would.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

import jwt

from lti_svc import domain, errors
from lti_svc.domain.api_tokens import ApiTokenRecord
from lti_svc.use_cases import Conflict
from lti_svc.use_cases.ports import BearerSource
from service_kit.auth import SessionClaims
from service_kit.paging import Cursor


class StoreDown(Exception):
    """What a commit raises when ``FakeStore.refuse_commits`` is set (the driver's error, untranslated)."""


def caller(
    *roles: str, organization_id: str = "org1", user_id: str = "u-admin", course_id: str | None = None
) -> SessionClaims:
    return SessionClaims(user_id, organization_id, course_id, frozenset(roles), issued_at=0, expires_at=2**31)


def a_registration_record(
    *, issuer: str, at: datetime, organization_id: str = "org1", client_id: str = "client-1"
) -> domain.RegistrationRecord:
    """A registration whose endpoints were all given under ``issuer`` (key set, login, token)."""
    return domain.RegistrationRecord(
        id=uuid.uuid4(),
        organization_id=organization_id,
        issuer=issuer,
        client_id=client_id,
        key_set_url=f"{issuer}/jwks",
        auth_login_url=f"{issuer}/auth",
        auth_token_url=f"{issuer}/token",
        key_set_url_source="given",
        auth_login_url_source="given",
        auth_token_url_source="given",
        endpoints_origin="",
        zoom_account_id="",
        zoom_client_id_sealed=None,
        zoom_client_secret_sealed=None,
        created_at=at,
        updated_at=at,
    )


@dataclasses.dataclass
class FakeStore:
    records: dict[uuid.UUID, domain.RegistrationRecord] = dataclasses.field(default_factory=dict)
    deployments: dict[uuid.UUID, list[str]] = dataclasses.field(default_factory=dict)
    courses: dict[tuple[str, str], domain.CourseLink] = dataclasses.field(default_factory=dict)
    line_items: dict[uuid.UUID, domain.LineItemRecord] = dataclasses.field(default_factory=dict)
    commits: int = 0
    refuse_commits: bool = False
    """Every commit raises, as a database that went away would (nothing of the unit is kept)."""

    def units(self) -> Callable[[], FakeUnitOfWork]:
        return lambda: FakeUnitOfWork(self)


class _Registrations:
    def __init__(self, work: FakeUnitOfWork) -> None:
        self._work = work
        self._store = work.store

    async def get(self, registration_id: uuid.UUID, *, for_update: bool = False) -> domain.RegistrationRecord | None:
        return self._store.records.get(registration_id)

    async def add(self, record: domain.RegistrationRecord, deployment_ids: Sequence[str]) -> None:
        self._work.stage(lambda: self._store.records.__setitem__(record.id, record))
        await self.replace_deployments(record.id, deployment_ids)

    async def save(self, record: domain.RegistrationRecord) -> None:
        self._work.stage(lambda: self._store.records.__setitem__(record.id, record))

    async def delete(self, registration_id: uuid.UUID) -> None:
        self._work.stage(lambda: self._store.records.pop(registration_id))

    async def of_organization(
        self, organization_id: str, *, after: Cursor | None, limit: int
    ) -> list[domain.RegistrationRecord]:
        mine = sorted(
            (r for r in self._store.records.values() if r.organization_id == organization_id),
            key=lambda r: (r.created_at, r.id),
        )
        return [r for r in mine if after is None or (r.created_at, r.id) > after][:limit]

    async def deployments(self, registration_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
        staged = self._work.staged_deployments
        return {rid: list(staged.get(rid, self._store.deployments.get(rid, []))) for rid in registration_ids}

    async def replace_deployments(self, registration_id: uuid.UUID, deployment_ids: Sequence[str]) -> None:
        self._work.staged_deployments[registration_id] = list(deployment_ids)

    async def by_key(self, issuer: str, client_id: str) -> domain.RegistrationRecord | None:
        return next((r for r in self._store.records.values() if (r.issuer, r.client_id) == (issuer, client_id)), None)

    async def by_issuer(self, issuer: str, *, limit: int) -> list[domain.RegistrationRecord]:
        return [r for r in self._store.records.values() if r.issuer == issuer][:limit]

    async def add_deployment(self, registration_id: uuid.UUID, deployment_id: str) -> None:
        current = (await self.deployments([registration_id]))[registration_id]
        if deployment_id not in current:
            self._work.staged_deployments[registration_id] = [*current, deployment_id]


class _Courses:
    def __init__(self, work: FakeUnitOfWork) -> None:
        self._work = work
        self._store = work.store

    async def remember(self, launch: domain.Launch) -> None:
        link = domain.CourseLink(
            organization_id=launch.registration.organization_id,
            course_id=launch.course_id,
            registration_id=uuid.UUID(launch.registration.config_id),
            nrps_url=launch.nrps_url,
            ags_lineitems_url=launch.ags_lineitems_url,
            ags_scopes=launch.ags_scopes,
        )
        self._work.stage(lambda: self._store.courses.__setitem__((link.organization_id, link.course_id), link))

    async def link(self, organization_id: str, course_id: str) -> domain.CourseLink | None:
        return self._store.courses.get((organization_id, course_id))


class _LineItems:
    def __init__(self, work: FakeUnitOfWork) -> None:
        self._work = work
        self._store = work.store

    async def get(self, line_item_id: uuid.UUID) -> domain.LineItemRecord | None:
        return self._store.line_items.get(line_item_id)

    async def for_session(
        self, organization_id: str, course_id: str, live_session_id: str
    ) -> domain.LineItemRecord | None:
        key = (organization_id, course_id, live_session_id)
        return next(
            (i for i in self._store.line_items.values() if (i.organization_id, i.course_id, i.live_session_id) == key),
            None,
        )

    async def add(self, record: domain.LineItemRecord) -> None:
        self._work.stage(lambda: self._store.line_items.__setitem__(record.id, record))


class FakeUnitOfWork:
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self._staged: list[Callable[[], object]] = []
        self.staged_deployments: dict[uuid.UUID, list[str]] = {}
        self.registrations = _Registrations(self)
        self.courses = _Courses(self)
        self.line_items = _LineItems(self)

    def stage(self, write: Callable[[], object]) -> None:
        self._staged.append(write)

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._staged.clear()

    async def commit(self) -> None:
        if self.store.refuse_commits:
            raise StoreDown("the database went away")
        before = (dict(self.store.records), dict(self.store.courses), dict(self.store.line_items))
        for write in self._staged:
            write()
        keys = [(r.issuer, r.client_id) for r in self.store.records.values()]
        sessions = [(i.organization_id, i.course_id, i.live_session_id) for i in self.store.line_items.values()]
        if len(keys) != len(set(keys)) or len(sessions) != len(set(sessions)):
            self.store.records, self.store.courses, self.store.line_items = before
            raise Conflict("a uniqueness rule refused the write")
        for rid, deployment_ids in self.staged_deployments.items():
            self.store.deployments[rid] = deployment_ids
        self._staged.clear()
        self.store.commits += 1


class FakeFinder:
    """Finds what it was given for an issuer, and reports an attempt for any other."""

    def __init__(self, found: dict[str, domain.FoundEndpoints] | None = None) -> None:
        self.found = found or {}
        self.asked: list[str] = []

    async def find(self, issuer: str, client_id: str) -> tuple[domain.FoundEndpoints | None, list[str]]:
        self.asked.append(issuer)
        if issuer in self.found:
            return self.found[issuer], []
        return None, [f"GET {issuer}/.well-known/openid-configuration answered HTTP 404"]


class FakeSealer:
    """Reversible and bound to its context, like the AES-GCM envelopes, without the keys."""

    def seal(self, plaintext: str, *, context: str) -> str:
        return f"sealed:{context}:{plaintext[::-1]}"

    def open(self, envelope: str, *, context: str) -> str:
        prefix = f"sealed:{context}:"
        if not envelope.startswith(prefix):
            raise errors.SecretUnreadable("sealed for another row or purpose")
        return envelope[len(prefix) :][::-1]


@dataclasses.dataclass
class FakeTokenStore:
    """Personal API tokens as a dict; each unit stages its writes until ``commit`` (hash unique, as the index)."""

    tokens: dict[uuid.UUID, ApiTokenRecord] = dataclasses.field(default_factory=dict)
    commits: int = 0

    def units(self) -> Callable[[], FakeTokenUnitOfWork]:
        return lambda: FakeTokenUnitOfWork(self)


class _ApiTokens:
    def __init__(self, work: FakeTokenUnitOfWork) -> None:
        self._work = work
        self._store = work.store

    async def get(self, token_id: uuid.UUID) -> ApiTokenRecord | None:
        return self._store.tokens.get(token_id)

    async def by_hash(self, secret_hash: str) -> ApiTokenRecord | None:
        return next((t for t in self._store.tokens.values() if t.secret_hash == secret_hash), None)

    async def add(self, record: ApiTokenRecord) -> None:
        self._work.stage(lambda: self._store.tokens.__setitem__(record.id, record))

    async def revoke(self, token_id: uuid.UUID, at: datetime) -> None:
        self._work.stage(lambda: self._replace(token_id, revoked_at=at))

    async def record_use(self, token_id: uuid.UUID, at: datetime) -> None:
        self._work.stage(lambda: self._replace(token_id, last_used_at=at))

    def _replace(self, token_id: uuid.UUID, **changes: object) -> None:
        self._store.tokens[token_id] = dataclasses.replace(self._store.tokens[token_id], **changes)  # type: ignore[arg-type]

    async def of_owner(
        self, organization_id: str, user_id: str, *, after: Cursor | None, limit: int
    ) -> list[ApiTokenRecord]:
        mine = sorted(
            (
                t
                for t in self._store.tokens.values()
                if t.organization_id == organization_id and t.user_id == user_id and t.revoked_at is None
            ),
            key=lambda t: (t.created_at, t.id),
        )
        return [t for t in mine if after is None or (t.created_at, t.id) > after][:limit]


class FakeTokenUnitOfWork:
    def __init__(self, store: FakeTokenStore) -> None:
        self.store = store
        self._staged: list[Callable[[], object]] = []
        self.api_tokens = _ApiTokens(self)

    def stage(self, write: Callable[[], object]) -> None:
        self._staged.append(write)

    async def __aenter__(self) -> FakeTokenUnitOfWork:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._staged.clear()

    async def commit(self) -> None:
        before = dict(self.store.tokens)
        for write in self._staged:
            write()
        hashes = [t.secret_hash for t in self.store.tokens.values()]
        if len(hashes) != len(set(hashes)):
            self.store.tokens = before
            raise Conflict("a token with this secret's hash is stored already")
        self._staged.clear()
        self.store.commits += 1


# ---- Redis ------------------------------------------------------------------------------------


class FakeLogins:
    """Login states and nonces, each taken once (as GETDEL and DELETE do)."""

    def __init__(self) -> None:
        self.states: dict[str, domain.LoginState] = {}
        self.nonces: set[str] = set()

    async def remember(self, login: domain.LoginState) -> None:
        self.states[login.state] = login
        self.nonces.add(login.nonce)

    async def take_state(self, state: str) -> domain.LoginState | None:
        return self.states.pop(state, None)

    async def take_nonce(self, nonce: str) -> bool:
        if nonce in self.nonces:
            self.nonces.remove(nonce)
            return True
        return False


class FakeDeepLinks:
    def __init__(self) -> None:
        self.kept: dict[str, domain.DeepLinkingContext] = {}

    async def remember(self, context: domain.DeepLinkingContext) -> None:
        self.kept[context.launch_id] = context

    async def get(self, launch_id: str) -> domain.DeepLinkingContext | None:
        return self.kept.get(launch_id)

    async def forget(self, launch_id: str) -> None:
        self.kept.pop(launch_id, None)


class FakeInvitations:
    def __init__(self, ttl_seconds: int = 7 * 86400) -> None:
        self.ttl_seconds = ttl_seconds
        self.open: dict[str, str] = {}

    async def create(self, token: str, organization_id: str) -> None:
        self.open[token] = organization_id

    async def peek(self, token: str) -> str | None:
        return self.open.get(token)

    async def use(self, token: str) -> None:
        self.open.pop(token, None)


# ---- keys ---------------------------------------------------------------------------------------


class FakeKeySets:
    """Takes every id_token's signature as good (the real check is the adapter's, tested end to end)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def verified_claims(self, url: str, kid: str | None, token: str) -> dict[str, Any]:
        self.asked.append(url)
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        return claims


TOOL_SECRET = "tool-key-for-tests-only-32-bytes!!"


class FakeToolKeys:
    """Signs HS256 with a test secret so a test can read what was signed."""

    def __init__(self) -> None:
        self.signed: list[dict[str, Any]] = []

    async def published(self) -> list[dict[str, Any]]:
        return [{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": "AQAB", "e": "AQAB"}]

    async def sign(self, claims: dict[str, Any]) -> str:
        self.signed.append(claims)
        return jwt.encode(claims, TOOL_SECRET, algorithm="HS256")


# ---- platforms ----------------------------------------------------------------------------------


class FakeAccessTokens:
    """The platform's token endpoint: a bearer per call, or the refusal it was given."""

    def __init__(self) -> None:
        self.refusal: Exception | None = None
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    async def token(self, registration: domain.Registration, scopes: Sequence[str], *, now: int) -> str:
        self.asked.append((registration.config_id, tuple(scopes)))
        if self.refusal is not None:
            raise self.refusal
        return f"bearer-{len(self.asked)}"


class FakeRosters:
    def __init__(self) -> None:
        self.rosters: dict[str, list[domain.Member]] = {}
        self.bearers: list[str] = []

    async def members(self, memberships_url: str, token: BearerSource) -> list[domain.Member]:
        self.bearers.append(await token())
        return list(self.rosters[memberships_url])


class FakeGradebook:
    """Line items by URL with their resource id; scores posted, or refused for the users named."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.scores: list[tuple[str, dict[str, Any]]] = []
        self.refused_users: set[str] = set()
        self.created = 0

    async def find_line_item(self, lineitems_url: str, resource_id: str, bearer: str) -> str | None:
        return next((url for url, doc in self.items.items() if doc["resourceId"] == resource_id), None)

    async def create_line_item(self, lineitems_url: str, document: dict[str, Any], bearer: str) -> str:
        self.created += 1
        url = f"{lineitems_url}/{len(self.items) + 1}"
        self.items[url] = document
        return url

    async def post_score(self, line_item_url: str, document: dict[str, Any], bearer: str) -> None:
        if document["userId"] in self.refused_users:
            raise errors.PlatformRefused("the platform refused the score (AGS) request (HTTP 422): unknown user")
        self.scores.append((line_item_url, document))


class FakeRegistrar:
    """A platform's openid-configuration and registration endpoint; ``refusal`` fails the registration."""

    def __init__(self, configuration: dict[str, Any], answer: dict[str, Any]) -> None:
        self.document = configuration
        self.answer = answer
        self.refusal: Exception | None = None
        self.registered: list[tuple[str, dict[str, Any], str]] = []

    async def configuration(self, url: str) -> Any:
        return self.document

    async def register(self, endpoint: str, document: dict[str, Any], registration_token: str) -> Any:
        if self.refusal is not None:
            raise self.refusal
        self.registered.append((endpoint, document, registration_token))
        return self.answer
