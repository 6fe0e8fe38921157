"""What lti_svc's use cases need from the world, as small interfaces (ports).

Production implements them in :mod:`lti_svc.store` (the unit of work over PostgreSQL),
:mod:`lti_svc.adapters` (platforms over HTTP, and what Redis keeps for a while: login
states and nonces, deep-linking launches, invitations, key sets, access tokens,
rosters), :mod:`lti_svc.keys` (the tool's signing keys) and :mod:`lti_svc.crypto`
(sealed secrets); the tests implement them with fakes (``tests/lti/fakes.py``).

A unit of work is one database transaction: ``commit`` makes its writes durable and
leaving without it throws them away. A write that collides with a row another request
stored (the same issuer and client_id) leaves the unit as :class:`Conflict`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from lti_svc import domain
from lti_svc.domain.api_tokens import ApiTokenRecord
from service_kit.paging import Cursor


class Conflict(Exception):
    """A write broke a uniqueness rule: another request stored the same key first."""


class Registrations(Protocol):
    """Every organization's platform registrations (each use case checks the caller's)."""

    async def get(self, registration_id: uuid.UUID, *, for_update: bool = False) -> domain.RegistrationRecord | None:
        """``for_update`` locks the row until the unit ends, so an edit is never lost to a concurrent one."""
        ...

    async def add(self, record: domain.RegistrationRecord, deployment_ids: Sequence[str]) -> None: ...

    async def save(self, record: domain.RegistrationRecord) -> None: ...

    async def delete(self, registration_id: uuid.UUID) -> None:
        """The registration and everything that hangs on it (deployments, course links)."""
        ...

    async def of_organization(
        self, organization_id: str, *, after: Cursor | None, limit: int
    ) -> Sequence[domain.RegistrationRecord]:
        """In (created_at, id) order, after the cursor."""
        ...

    async def deployments(self, registration_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
        """Each registration's deployment ids in the order they were added (an empty list for none)."""
        ...

    async def replace_deployments(self, registration_id: uuid.UUID, deployment_ids: Sequence[str]) -> None: ...

    async def by_key(self, issuer: str, client_id: str) -> domain.RegistrationRecord | None:
        """The registration of one platform and client (the pair is unique)."""
        ...

    async def by_issuer(self, issuer: str, *, limit: int) -> Sequence[domain.RegistrationRecord]:
        """Up to ``limit`` registrations of one issuer (a login without client_id must find exactly one)."""
        ...

    async def add_deployment(self, registration_id: uuid.UUID, deployment_id: str) -> None:
        """Add one deployment id; one the registration has already changes nothing."""
        ...


class Courses(Protocol):
    """Where each course lives on its platform, as its latest launch said."""

    async def remember(self, launch: domain.Launch) -> None:
        """Store or refresh the course's link from a launch: the newest launch's endpoints win."""
        ...

    async def link(self, organization_id: str, course_id: str) -> domain.CourseLink | None: ...


class LineItems(Protocol):
    """Platform gradebook columns, one per live session of a course."""

    async def get(self, line_item_id: uuid.UUID) -> domain.LineItemRecord | None: ...

    async def for_session(
        self, organization_id: str, course_id: str, live_session_id: str
    ) -> domain.LineItemRecord | None: ...

    async def add(self, record: domain.LineItemRecord) -> None:
        """A second column for the same live session leaves the unit as :class:`Conflict`."""
        ...


class ApiTokens(Protocol):
    """Personal API tokens (each use case checks the caller owns the ones it touches)."""

    async def get(self, token_id: uuid.UUID) -> ApiTokenRecord | None: ...

    async def by_hash(self, secret_hash: str) -> ApiTokenRecord | None: ...

    async def add(self, record: ApiTokenRecord) -> None: ...

    async def revoke(self, token_id: uuid.UUID, at: datetime) -> None: ...

    async def record_use(self, token_id: uuid.UUID, at: datetime) -> None: ...

    async def of_owner(
        self, organization_id: str, user_id: str, *, after: Cursor | None, limit: int
    ) -> Sequence[ApiTokenRecord]:
        """The owner's tokens that are not revoked, in (created_at, id) order, after the cursor."""
        ...


class TokenUnitOfWork(Protocol):
    """A unit of work over the token table (the same transaction rules as :class:`UnitOfWork`)."""

    @property
    def api_tokens(self) -> ApiTokens: ...

    async def __aenter__(self) -> TokenUnitOfWork: ...

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None: ...


TokenUnitOfWorkFactory = Callable[[], TokenUnitOfWork]


class UnitOfWork(Protocol):
    @property
    def registrations(self) -> Registrations: ...

    @property
    def courses(self) -> Courses: ...

    @property
    def line_items(self) -> LineItems: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Throw away what was not committed; a uniqueness violation leaves as Conflict."""
        ...

    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
"""A fresh unit of work per step: one object cannot serve two transactions at once."""


class EndpointFinder(Protocol):
    async def find(self, issuer: str, client_id: str) -> tuple[domain.FoundEndpoints | None, list[str]]:
        """A platform's endpoints from its issuer, and in words every attempt that found nothing."""
        ...


class Sealer(Protocol):
    """Secrets at rest: sealed for one row and purpose (``context``), opened only with the same."""

    def seal(self, plaintext: str, *, context: str) -> str: ...

    def open(self, envelope: str, *, context: str) -> str: ...


Clock = Callable[[], float]
"""Seconds since the epoch (``time.time``; a fixed or stepped value in tests)."""


class LoginStates(Protocol):
    """A login's state and nonce, kept a short while for the launch that follows; each taken once."""

    async def remember(self, login: domain.LoginState) -> None: ...

    async def take_state(self, state: str) -> domain.LoginState | None:
        """The login of this state, removed so it cannot serve twice; None for an unknown or used one."""
        ...

    async def take_nonce(self, nonce: str) -> bool:
        """True the first time a nonce this tool issued is used; False for unknown or used ones."""
        ...


class DeepLinkingLaunches(Protocol):
    """Deep-linking launches kept until the instructor has picked the content."""

    async def remember(self, context: domain.DeepLinkingContext) -> None: ...

    async def get(self, launch_id: str) -> domain.DeepLinkingContext | None: ...

    async def forget(self, launch_id: str) -> None: ...


class Invitations(Protocol):
    """Dynamic-registration invitations: an organization behind an unguessable token, used once."""

    @property
    def ttl_seconds(self) -> int: ...

    async def create(self, token: str, organization_id: str) -> None: ...

    async def peek(self, token: str) -> str | None:
        """The inviting organization, without using the invitation up; None when expired or used."""
        ...

    async def use(self, token: str) -> None: ...


class PlatformKeySets(Protocol):
    """The platforms' public keys, which sign their id_tokens."""

    async def verified_claims(self, url: str, kid: str | None, token: str) -> dict[str, Any]:
        """The id_token's claims once its signature is checked with the key it names; InvalidLaunch if not."""
        ...


class ToolKeys(Protocol):
    """The tool's own signing keys (rotated as they fall due)."""

    async def published(self) -> list[dict[str, Any]]:
        """The public JWKs a platform may meet: the one signing, the next, and retired ones still in use."""
        ...

    async def sign(self, claims: dict[str, Any]) -> str:
        """A JWT over ``claims`` signed with the key active now."""
        ...


class AccessTokens(Protocol):
    """OAuth 2 access tokens for LTI Advantage calls (client credentials with a signed assertion)."""

    async def token(self, registration: domain.Registration, scopes: Sequence[str], *, now: int) -> str:
        """A bearer token for these scopes; PlatformRefused or PlatformUnavailable when the platform gives none."""
        ...


BearerSource = Callable[[], Awaitable[str]]
"""Fetches a bearer token only when it is needed (a cached roster needs none)."""


class Rosters(Protocol):
    """Names and Roles Provisioning."""

    async def members(self, memberships_url: str, token: BearerSource) -> list[domain.Member]:
        """The whole roster, every page."""
        ...


class Gradebook(Protocol):
    """Assignment and Grade Services: line items and scores."""

    async def find_line_item(self, lineitems_url: str, resource_id: str, bearer: str) -> str | None:
        """The URL of the line item tagged with ``resource_id``, when an earlier attempt made it."""
        ...

    async def create_line_item(self, lineitems_url: str, document: dict[str, Any], bearer: str) -> str:
        """The new line item's URL."""
        ...

    async def post_score(self, line_item_url: str, document: dict[str, Any], bearer: str) -> None: ...


class Registrar(Protocol):
    """LTI Dynamic Registration: the platform's configuration and its registration endpoint."""

    async def configuration(self, url: str) -> Any:
        """The platform's openid-configuration document, as JSON."""
        ...

    async def register(self, endpoint: str, document: dict[str, Any], registration_token: str) -> Any:
        """The platform's answer to the tool's registration document, as JSON."""
        ...
