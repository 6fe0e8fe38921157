"""Personal API tokens: create (the secret shown once), list one's own, revoke, and resolve.

Each method is one RPC's decisions in the order a caller can observe them: who may
(course staff and administrators create; everyone sees and revokes only their own
tokens, another user's answering exactly like a missing one), what the request may
ask, then the store. Resolving is the edge's: the secret a client sent becomes a
short-lived session JWT of the token's owner and scope, so every service goes on
verifying the same kind of token it always has.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from lti_svc import domain, errors
from lti_svc.domain import api_tokens as rules
from lti_svc.use_cases.ports import TokenUnitOfWorkFactory
from service_kit import paging
from service_kit.auth import SessionClaims, issue_session_token

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class CreatedToken:
    """A new token and its secret: the only time the secret exists outside the client."""

    record: rules.ApiTokenRecord
    secret: str


@dataclass(frozen=True)
class TokenPage:
    records: list[rules.ApiTokenRecord]
    next_page_token: str


@dataclass(frozen=True)
class ResolvedToken:
    """A session JWT standing for the token, when it expires (seconds since the epoch), and the token's id."""

    session_token: str
    expires_at: int
    token_id: uuid.UUID


class ApiTokenUseCases:
    """The token use cases over their store; one per process, shared by every RPC."""

    def __init__(
        self,
        *,
        uow: TokenUnitOfWorkFactory,
        jwt_secret: str,
        clock: Callable[[], float] = time.time,
        entropy: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self._uow = uow
        self._jwt_secret = jwt_secret
        self._clock = clock
        self._entropy = entropy

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def create(self, caller: SessionClaims, name: str, expires_in_days: int) -> CreatedToken:
        """A token for the caller in their session's scope; the secret is returned here and never again."""
        secret = rules.new_secret(self._entropy(rules.SECRET_BYTES))
        record = rules.new_token(
            caller, token_id=uuid.uuid4(), secret=secret, name=name, now=self._now(), expires_in_days=expires_in_days
        )
        async with self._uow() as work:
            await work.api_tokens.add(record)
            await work.commit()
        log.info("api token created", extra={"token_id": str(record.id), "expires_at": record.expires_at.isoformat()})
        return CreatedToken(record, secret)

    async def of_caller(self, caller: SessionClaims, page_size: int, page_token: str) -> TokenPage:
        """The caller's own tokens that are not revoked, oldest first, a page at a time."""
        size = domain.page_size(page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        after = paging.decode_cursor(page_token, invalid=errors.InvalidPageToken)
        async with self._uow() as work:
            rows = await work.api_tokens.of_owner(caller.organization_id, caller.user_id, after=after, limit=size + 1)
        page, next_token = paging.keyset_page(rows, size, lambda r: (r.created_at, r.id))
        return TokenPage(page, next_token)

    async def revoke(self, caller: SessionClaims, token_id: str) -> None:
        """Revoke one of the caller's tokens; revoking it again changes nothing."""
        parsed = _token_id(token_id)
        async with self._uow() as work:
            record = await work.api_tokens.get(parsed) if parsed else None
            if record is None or not rules.is_owner(record, caller):
                raise errors.ApiTokenNotFound("no such API token of yours: check the token_id in your token list")
            if record.revoked_at is None:
                await work.api_tokens.revoke(record.id, self._now())
                await work.commit()
        log.info("api token revoked", extra={"token_id": str(record.id)})

    async def resolve(self, secret: str) -> ResolvedToken:
        """A short-lived session JWT for the token's owner and scope; 401 (what to do) if it may not be used.

        The secret is the credential, so no caller is asked for. A malformed one is refused
        before any lookup; ``last_used_at`` is written at most once a minute per token.
        """
        now = self._now()
        record = None
        if rules.is_well_formed(secret):
            async with self._uow() as work:
                record = await work.api_tokens.by_hash(rules.secret_hash(secret))
                usable = rules.check_usable(record, now)
                if rules.should_record_use(usable, now):
                    await work.api_tokens.record_use(usable.id, now)
                    await work.commit()
        usable = rules.check_usable(record, now)
        issued = int(now.timestamp())
        expires = rules.resolved_session_expiry(usable, issued)
        token = issue_session_token(
            self._jwt_secret,
            user_id=usable.user_id,
            organization_id=usable.organization_id,
            course_id=usable.course_id,
            roles=list(usable.roles),
            ttl_seconds=expires - issued,
            now=issued,
            api_token_id=str(usable.id),
        )
        return ResolvedToken(token, expires, usable.id)


def _token_id(value: str) -> uuid.UUID | None:
    """A malformed id names nothing, like an unknown one."""
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None
