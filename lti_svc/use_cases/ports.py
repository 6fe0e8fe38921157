"""What lti_svc's use cases need from the world, as small interfaces (ports).

Production implements them in :mod:`lti_svc.store` (the unit of work over PostgreSQL),
:mod:`lti_svc.adapters` (platforms over HTTP) and :mod:`lti_svc.crypto` (sealed
secrets); the tests implement them with fakes (``tests/lti/fakes.py``).

A unit of work is one database transaction: ``commit`` makes its writes durable and
leaving without it throws them away. A write that collides with a row another request
stored (the same issuer and client_id) leaves the unit as :class:`Conflict`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol

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
