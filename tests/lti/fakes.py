"""Fakes of lti_svc's ports, so its registration use cases run in a test without any server.

``FakeStore`` holds registrations and deployments as dicts; each ``FakeUnitOfWork`` over
it stages its writes and applies them on ``commit``, where the (issuer, client_id)
uniqueness rule is checked as the database's index would (a break is ``Conflict``).
``FakeTokenStore`` does the same for personal API tokens (their hash is unique).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType

from lti_svc import domain, errors
from lti_svc.domain.api_tokens import ApiTokenRecord
from lti_svc.use_cases import Conflict
from service_kit.auth import SessionClaims
from service_kit.paging import Cursor


def caller(*roles: str, organization_id: str = "org1", user_id: str = "u-admin") -> SessionClaims:
    return SessionClaims(user_id, organization_id, None, frozenset(roles), issued_at=0, expires_at=2**31)


@dataclasses.dataclass
class FakeStore:
    records: dict[uuid.UUID, domain.RegistrationRecord] = dataclasses.field(default_factory=dict)
    deployments: dict[uuid.UUID, list[str]] = dataclasses.field(default_factory=dict)
    commits: int = 0

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


class FakeUnitOfWork:
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self._staged: list[Callable[[], object]] = []
        self.staged_deployments: dict[uuid.UUID, list[str]] = {}
        self.registrations = _Registrations(self)

    def stage(self, write: Callable[[], object]) -> None:
        self._staged.append(write)

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._staged.clear()

    async def commit(self) -> None:
        before = dict(self.store.records)
        for write in self._staged:
            write()
        keys = [(r.issuer, r.client_id) for r in self.store.records.values()]
        if len(keys) != len(set(keys)):
            self.store.records = before
            raise Conflict("issuer and client_id are registered already")
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
