"""The tool's RSA key ring: publish, sign, rotate.

Keys live in ``lti.tool_keys`` (private halves sealed with LTI_ENCRYPTION_KEYS), so
every lti_svc process signs with the same key and publishes the same set. Rotation
is lazy and serialised by a PostgreSQL advisory lock: whoever publishes or signs
first after a key is due makes the next one (:func:`lti_svc.domain.plan_rotation`
decides when), so no scheduler is needed and two processes never race.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lti_svc import domain, store
from lti_svc.crypto import Envelopes

KEY_BITS = 2048


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, str]:
    """The public half as a JWK (RFC 7517 §4, RFC 7518 §6.3.1), the shape the LMS fetches.

    PyJWT's own conversion writes ``kty``, ``n`` and ``e``; its ``key_ops`` is dropped
    because RFC 7517 §4.3 advises against sending it beside ``use``, which platforms
    (Canvas, Moodle) read to pick a signing key.
    """
    converted = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {
        "kty": converted["kty"],
        "kid": kid,
        "use": "sig",
        "alg": domain.SIGNING_ALGORITHM,
        "n": converted["n"],
        "e": converted["e"],
    }


def _new_key() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key, pem


@dataclass(frozen=True)
class _SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey


class ToolKeyring:
    """Rotates, publishes and signs with the tool's keys."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        envelopes: Envelopes,
        policy: domain.RotationPolicy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._envelopes = envelopes
        self._policy = policy
        self._clock = clock
        self._opened: dict[str, rsa.RSAPrivateKey] = {}

    async def _rotated(self, session: AsyncSession) -> list[store.ToolKeyRow]:
        """The key rows after doing whatever rotation owes now (inside the caller's transaction)."""
        now = int(self._clock())
        await store.lock_tool_keys(session)
        rows = list(await store.tool_keys(session))
        plan = domain.plan_rotation(
            [domain.ToolKey(r.kid, int(r.activates_at.timestamp())) for r in rows], now, self._policy
        )
        if plan.delete:
            await store.delete_tool_keys(session, plan.delete)
            rows = [r for r in rows if r.kid not in plan.delete]
        if plan.create_activating_at is not None and self._envelopes.configured:
            key, pem = await asyncio.to_thread(_new_key)
            kid = f"{datetime.fromtimestamp(now, UTC):%Y%m%d}-{secrets.token_hex(4)}"
            row = store.ToolKeyRow(
                kid=kid,
                public_jwk=public_jwk(key, kid),
                private_key_sealed=self._envelopes.seal(pem, context=f"tool-key:{kid}"),
                activates_at=datetime.fromtimestamp(plan.create_activating_at, UTC),
                created_at=datetime.fromtimestamp(now, UTC),
            )
            session.add(row)
            await session.flush()
            self._opened[kid] = key
            rows.append(row)
        return rows

    async def published(self) -> list[dict[str, Any]]:
        """Every key a platform may meet: the one signing, the next one, and retired ones still in use."""
        async with self._sessions() as session, session.begin():
            rows = await self._rotated(session)
        return [dict(r.public_jwk) for r in sorted(rows, key=lambda r: r.activates_at)]

    async def _signing_key(self) -> _SigningKey:
        async with self._sessions() as session, session.begin():
            rows = await self._rotated(session)
        now = int(self._clock())
        chosen = domain.signing_key([domain.ToolKey(r.kid, int(r.activates_at.timestamp())) for r in rows], now)
        if chosen is None:
            self._envelopes.seal("", context="probe")  # raises the clear "not configured" error
            raise RuntimeError("no tool key is active")  # unreachable: a configured ring always has one
        row = next(r for r in rows if r.kid == chosen.kid)
        key = self._opened.get(row.kid)
        if key is None:
            pem = self._envelopes.open(row.private_key_sealed, context=f"tool-key:{row.kid}")
            loaded = serialization.load_pem_private_key(pem.encode(), password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise RuntimeError(f"tool key {row.kid} is not an RSA key")
            key = self._opened[row.kid] = loaded
        return _SigningKey(row.kid, key)

    async def sign(self, claims: dict[str, Any]) -> str:
        """A JWT over ``claims`` signed RS256 with the key active now, its kid in the header."""
        chosen = await self._signing_key()
        return jwt.encode(claims, chosen.private_key, algorithm=domain.SIGNING_ALGORITHM, headers={"kid": chosen.kid})
