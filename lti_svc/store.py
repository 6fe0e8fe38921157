"""The lti service's tables (schema ``lti``) and the queries on them.

``registrations`` are platforms, keyed by (issuer, client_id), each with any number of
``deployments``; Zoom credentials sit on the registration, sealed (AES-GCM envelopes
from :mod:`lti_svc.crypto`). ``tool_keys`` hold the tool's RSA keys, private halves
sealed the same way. ``course_links`` remember, per organization and course, the
registration and the NRPS/AGS endpoints the latest launch offered; ``line_items``
map a live session to its platform gradebook column; ``api_tokens`` hold personal API
tokens by their secret's SHA-256. Functions take the caller's AsyncSession;
:class:`SqlUnitOfWork` binds them to one transaction for the use cases.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Index,
    Select,
    Text,
    UniqueConstraint,
    Uuid,
    delete,
    func,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lti_svc import domain, errors
from lti_svc.domain.api_tokens import ApiTokenRecord
from lti_svc.use_cases.ports import Conflict
from service_kit.db import DRIVER_ERRORS, SessionUnitOfWork, schema_metadata
from service_kit.db import utcnow as utcnow  # the one clock every store uses
from service_kit.paging import Cursor

metadata = schema_metadata("lti")

TOOL_KEY_LOCK = 0x6C746B79  # "ltky": one advisory lock serialises key rotation across processes


class Base(DeclarativeBase):
    metadata = metadata


class RegistrationRow(Base):
    """One LMS platform registered for an organization."""

    __tablename__ = "registrations"
    __table_args__ = (
        UniqueConstraint("issuer", "client_id", name="uq_registrations_issuer_client_id"),
        Index("ix_registrations_org_listing", "organization_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str] = mapped_column(Text)
    key_set_url: Mapped[str] = mapped_column(Text)
    auth_login_url: Mapped[str] = mapped_column(Text)
    auth_token_url: Mapped[str] = mapped_column(Text)
    key_set_url_source: Mapped[str] = mapped_column(Text, default="")
    """:class:`lti_svc.domain.EndpointSource` value, or "" when the URL is empty (the same for the next two)."""
    auth_login_url_source: Mapped[str] = mapped_column(Text, default="")
    auth_token_url_source: Mapped[str] = mapped_column(Text, default="")
    endpoints_origin: Mapped[str] = mapped_column(Text, default="")
    """In words, where the URLs that were not given came from (a document's URL, an LMS's name)."""
    zoom_account_id: Mapped[str] = mapped_column(Text, default="")
    zoom_client_id_sealed: Mapped[str | None] = mapped_column(Text)
    zoom_client_secret_sealed: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    @property
    def has_zoom_credentials(self) -> bool:
        return self.zoom_client_id_sealed is not None and self.zoom_client_secret_sealed is not None


class DeploymentRow(Base):
    """A deployment id a registration accepts (one per placement or install on the platform)."""

    __tablename__ = "deployments"

    registration_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("registrations.id", ondelete="CASCADE"), primary_key=True
    )
    deployment_id: Mapped[str] = mapped_column(Text, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ToolKeyRow(Base):
    """One of the tool's RSA signing keys: the public JWK in clear, the private key sealed."""

    __tablename__ = "tool_keys"

    kid: Mapped[str] = mapped_column(Text, primary_key=True)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB)
    private_key_sealed: Mapped[str] = mapped_column(Text)
    activates_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CourseLinkRow(Base):
    """Where a course lives on its platform, refreshed by every launch from it."""

    __tablename__ = "course_links"

    organization_id: Mapped[str] = mapped_column(Text, primary_key=True)
    course_id: Mapped[str] = mapped_column(Text, primary_key=True)
    registration_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("registrations.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, default="")
    label: Mapped[str] = mapped_column(Text, default="")
    nrps_url: Mapped[str] = mapped_column(Text, default="")
    ags_lineitems_url: Mapped[str] = mapped_column(Text, default="")
    ags_scopes: Mapped[list[str]] = mapped_column(JSONB, default=list)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LineItemRow(Base):
    """The platform gradebook column of one live session."""

    __tablename__ = "line_items"
    __table_args__ = (
        UniqueConstraint("organization_id", "course_id", "live_session_id", name="uq_line_items_session"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[str] = mapped_column(Text)
    course_id: Mapped[str] = mapped_column(Text)
    live_session_id: Mapped[str] = mapped_column(Text)
    registration_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("registrations.id", ondelete="CASCADE"))
    platform_url: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(Text)
    score_maximum: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiTokenRow(Base):
    """A personal API token: its secret's SHA-256 only, its owner and scope, its life."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        UniqueConstraint("secret_hash", name="uq_api_tokens_secret_hash"),
        Index("ix_api_tokens_owner_listing", "organization_id", "user_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    secret_hash: Mapped[str] = mapped_column(Text)
    """Hex SHA-256 of the secret (see :func:`lti_svc.domain.api_tokens.secret_hash`)."""
    name: Mapped[str] = mapped_column(Text)
    organization_id: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str] = mapped_column(Text)
    course_id: Mapped[str | None] = mapped_column(Text)
    roles: Mapped[list[str]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def parse_id(value: str) -> uuid.UUID | None:
    """A UUID from a request, or None: a malformed id names nothing, like an unknown one."""
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


# ---- registrations --------------------------------------------------------------------------------


async def deployments_of(session: AsyncSession, registration_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    found: dict[uuid.UUID, list[str]] = {rid: [] for rid in registration_ids}
    if not registration_ids:
        return found
    rows = await session.execute(
        select(DeploymentRow.registration_id, DeploymentRow.deployment_id)
        .where(DeploymentRow.registration_id.in_(registration_ids))
        .order_by(DeploymentRow.created_at, DeploymentRow.deployment_id)
    )
    for registration_id, deployment_id in rows.all():
        found[registration_id].append(deployment_id)
    return found


async def replace_deployments(session: AsyncSession, registration_id: uuid.UUID, deployment_ids: Sequence[str]) -> None:
    await session.execute(delete(DeploymentRow).where(DeploymentRow.registration_id == registration_id))
    now = utcnow()
    session.add_all(
        DeploymentRow(registration_id=registration_id, deployment_id=d, created_at=now) for d in deployment_ids
    )
    await session.flush()


async def add_deployment(session: AsyncSession, registration_id: uuid.UUID, deployment_id: str) -> None:
    await session.execute(
        insert(DeploymentRow)
        .values(registration_id=registration_id, deployment_id=deployment_id, created_at=utcnow())
        .on_conflict_do_nothing()
    )


async def registration_by_key(session: AsyncSession, issuer: str, client_id: str) -> RegistrationRow | None:
    query = select(RegistrationRow).where(RegistrationRow.issuer == issuer, RegistrationRow.client_id == client_id)
    return (await session.execute(query)).scalar_one_or_none()


async def registrations_by_issuer(session: AsyncSession, issuer: str, *, limit: int = 2) -> Sequence[RegistrationRow]:
    query = select(RegistrationRow).where(RegistrationRow.issuer == issuer).limit(limit)
    return (await session.execute(query)).scalars().all()


async def registration(
    session: AsyncSession, registration_id: uuid.UUID, *, for_update: bool = False
) -> RegistrationRow | None:
    query = select(RegistrationRow).where(RegistrationRow.id == registration_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def organization_registrations(
    session: AsyncSession, organization_id: str, *, after: Cursor | None, limit: int
) -> Sequence[RegistrationRow]:
    query = select(RegistrationRow).where(RegistrationRow.organization_id == organization_id)
    if after is not None:
        query = query.where(tuple_(RegistrationRow.created_at, RegistrationRow.id) > tuple_(*after))
    query = query.order_by(RegistrationRow.created_at, RegistrationRow.id).limit(limit)
    return (await session.execute(query)).scalars().all()


async def delete_registration(session: AsyncSession, registration_id: uuid.UUID) -> None:
    await session.execute(delete(RegistrationRow).where(RegistrationRow.id == registration_id))


# ---- tool keys --------------------------------------------------------------------------------------


async def lock_tool_keys(session: AsyncSession) -> None:
    """Serialise rotation in this transaction: two processes never both create the next key."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": TOOL_KEY_LOCK})


async def tool_keys(session: AsyncSession) -> Sequence[ToolKeyRow]:
    return (await session.execute(select(ToolKeyRow).order_by(ToolKeyRow.activates_at))).scalars().all()


async def delete_tool_keys(session: AsyncSession, kids: Sequence[str]) -> None:
    if kids:
        await session.execute(delete(ToolKeyRow).where(ToolKeyRow.kid.in_(kids)))


# ---- courses and line items -------------------------------------------------------------------------


async def remember_course(session: AsyncSession, launch: domain.Launch) -> None:
    """Upsert the course's link from a launch: the newest launch's endpoints win."""
    values = {
        "organization_id": launch.registration.organization_id,
        "course_id": launch.course_id,
        "registration_id": uuid.UUID(launch.registration.config_id),
        "deployment_id": launch.deployment_id,
        "title": launch.course_title,
        "label": launch.course_label,
        "nrps_url": launch.nrps_url,
        "ags_lineitems_url": launch.ags_lineitems_url,
        "ags_scopes": list(launch.ags_scopes),
        "updated_at": func.now(),
    }
    statement = insert(CourseLinkRow).values(**values)
    updated = {k: statement.excluded[k] for k in values if k not in ("organization_id", "course_id")}
    await session.execute(
        statement.on_conflict_do_update(index_elements=["organization_id", "course_id"], set_=updated)
    )


async def course_link(session: AsyncSession, organization_id: str, course_id: str) -> CourseLinkRow | None:
    query = select(CourseLinkRow).where(
        CourseLinkRow.organization_id == organization_id, CourseLinkRow.course_id == course_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def line_item_for_session(
    session: AsyncSession, organization_id: str, course_id: str, live_session_id: str
) -> LineItemRow | None:
    query = select(LineItemRow).where(
        LineItemRow.organization_id == organization_id,
        LineItemRow.course_id == course_id,
        LineItemRow.live_session_id == live_session_id,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def line_item(session: AsyncSession, line_item_id: uuid.UUID) -> LineItemRow | None:
    return (await session.execute(select(LineItemRow).where(LineItemRow.id == line_item_id))).scalar_one_or_none()


# ---- the unit of work ---------------------------------------------------------------------------

_RECORD_FIELDS = tuple(field.name for field in dataclasses.fields(domain.RegistrationRecord))


def registration_record(row: RegistrationRow) -> domain.RegistrationRecord:
    return domain.RegistrationRecord(**{name: getattr(row, name) for name in _RECORD_FIELDS})


class _Registrations:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, registration_id: uuid.UUID, *, for_update: bool = False) -> domain.RegistrationRecord | None:
        row = await registration(self._session, registration_id, for_update=for_update)
        return registration_record(row) if row is not None else None

    async def add(self, record: domain.RegistrationRecord, deployment_ids: Sequence[str]) -> None:
        self._session.add(RegistrationRow(**dataclasses.asdict(record)))
        await self._session.flush()
        await replace_deployments(self._session, record.id, deployment_ids)

    async def save(self, record: domain.RegistrationRecord) -> None:
        row = await self._session.get(RegistrationRow, record.id)
        assert row is not None, "saved records were read in this unit"
        for name in _RECORD_FIELDS:
            setattr(row, name, getattr(record, name))
        await self._session.flush()

    async def delete(self, registration_id: uuid.UUID) -> None:
        await delete_registration(self._session, registration_id)

    async def of_organization(
        self, organization_id: str, *, after: Cursor | None, limit: int
    ) -> list[domain.RegistrationRecord]:
        rows = await organization_registrations(self._session, organization_id, after=after, limit=limit)
        return [registration_record(row) for row in rows]

    async def deployments(self, registration_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
        return await deployments_of(self._session, registration_ids)

    async def replace_deployments(self, registration_id: uuid.UUID, deployment_ids: Sequence[str]) -> None:
        await replace_deployments(self._session, registration_id, deployment_ids)

    async def by_key(self, issuer: str, client_id: str) -> domain.RegistrationRecord | None:
        row = await registration_by_key(self._session, issuer, client_id)
        return registration_record(row) if row is not None else None

    async def by_issuer(self, issuer: str, *, limit: int) -> list[domain.RegistrationRecord]:
        return [registration_record(row) for row in await registrations_by_issuer(self._session, issuer, limit=limit)]

    async def add_deployment(self, registration_id: uuid.UUID, deployment_id: str) -> None:
        await add_deployment(self._session, registration_id, deployment_id)


def course_link_record(row: CourseLinkRow) -> domain.CourseLink:
    return domain.CourseLink(
        organization_id=row.organization_id,
        course_id=row.course_id,
        registration_id=row.registration_id,
        nrps_url=row.nrps_url,
        ags_lineitems_url=row.ags_lineitems_url,
        ags_scopes=tuple(row.ags_scopes),
    )


class _Courses:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def remember(self, launch: domain.Launch) -> None:
        await remember_course(self._session, launch)

    async def link(self, organization_id: str, course_id: str) -> domain.CourseLink | None:
        row = await course_link(self._session, organization_id, course_id)
        return course_link_record(row) if row is not None else None


_LINE_ITEM_FIELDS = tuple(field.name for field in dataclasses.fields(domain.LineItemRecord))


def line_item_record(row: LineItemRow) -> domain.LineItemRecord:
    return domain.LineItemRecord(**{name: getattr(row, name) for name in _LINE_ITEM_FIELDS})


class _LineItems:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, line_item_id: uuid.UUID) -> domain.LineItemRecord | None:
        row = await line_item(self._session, line_item_id)
        return line_item_record(row) if row is not None else None

    async def for_session(
        self, organization_id: str, course_id: str, live_session_id: str
    ) -> domain.LineItemRecord | None:
        row = await line_item_for_session(self._session, organization_id, course_id, live_session_id)
        return line_item_record(row) if row is not None else None

    async def add(self, record: domain.LineItemRecord) -> None:
        self._session.add(LineItemRow(**dataclasses.asdict(record)))
        await self._session.flush()


def api_token_record(row: ApiTokenRow) -> ApiTokenRecord:
    return ApiTokenRecord(
        id=row.id,
        secret_hash=row.secret_hash,
        name=row.name,
        organization_id=row.organization_id,
        user_id=row.user_id,
        course_id=row.course_id,
        roles=tuple(row.roles),
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class _ApiTokens:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _one(self, query: Select[ApiTokenRow]) -> ApiTokenRecord | None:
        row = (await self._session.execute(query)).scalar_one_or_none()
        return api_token_record(row) if row is not None else None

    async def get(self, token_id: uuid.UUID) -> ApiTokenRecord | None:
        return await self._one(select(ApiTokenRow).where(ApiTokenRow.id == token_id))

    async def by_hash(self, secret_hash: str) -> ApiTokenRecord | None:
        return await self._one(select(ApiTokenRow).where(ApiTokenRow.secret_hash == secret_hash))

    async def add(self, record: ApiTokenRecord) -> None:
        values = dataclasses.asdict(record)
        values["roles"] = list(record.roles)
        self._session.add(ApiTokenRow(**values))
        await self._session.flush()

    async def revoke(self, token_id: uuid.UUID, at: datetime) -> None:
        await self._session.execute(
            update(ApiTokenRow)
            .where(ApiTokenRow.id == token_id, ApiTokenRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def record_use(self, token_id: uuid.UUID, at: datetime) -> None:
        await self._session.execute(update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(last_used_at=at))

    async def of_owner(
        self, organization_id: str, user_id: str, *, after: Cursor | None, limit: int
    ) -> list[ApiTokenRecord]:
        query = select(ApiTokenRow).where(
            ApiTokenRow.organization_id == organization_id,
            ApiTokenRow.user_id == user_id,
            ApiTokenRow.revoked_at.is_(None),
        )
        if after is not None:
            query = query.where(tuple_(ApiTokenRow.created_at, ApiTokenRow.id) > tuple_(*after))
        query = query.order_by(ApiTokenRow.created_at, ApiTokenRow.id).limit(limit)
        return [api_token_record(row) for row in (await self._session.execute(query)).scalars().all()]


class SqlUnitOfWork(SessionUnitOfWork):
    """lti_svc's unit of work (:class:`service_kit.db.SessionUnitOfWork`): registrations, course links,
    line items and API tokens in one transaction.

    A uniqueness violation (the same issuer and client_id twice, a second line item for one
    live session) leaves as
    :class:`lti_svc.use_cases.ports.Conflict`; any other driver error (the database down or
    restarting) as :class:`lti_svc.errors.StoreUnavailable`, 503.
    """

    registrations: _Registrations
    courses: _Courses
    line_items: _LineItems
    api_tokens: _ApiTokens

    def bind(self, session: AsyncSession) -> None:
        self.registrations = _Registrations(session)
        self.courses = _Courses(session)
        self.line_items = _LineItems(session)
        self.api_tokens = _ApiTokens(session)

    def translate(self, error: BaseException, *, committing: bool) -> Exception | None:
        if isinstance(error, IntegrityError):
            return Conflict(f"a uniqueness rule refused the write: {error.__class__.__name__}")
        if isinstance(error, DRIVER_ERRORS):
            what = "did not take the write" if committing else "could not be read"
            return errors.StoreUnavailable(
                f"the LTI store {what}: the database is unavailable; try again shortly ({error.__class__.__name__})"
            )
        return None
