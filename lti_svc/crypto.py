"""AES-GCM envelopes for the secrets lti_svc keeps: Zoom credentials and the tool's private keys.

An envelope is ``v1.<kid>.<nonce>.<ciphertext>`` (base64url parts). The key id names
which of LTI_ENCRYPTION_KEYS sealed it, so rotation is: put a new key first (it seals
everything from now on), keep the old ones after it (they still open what they sealed),
re-seal at leisure, then drop the old key. The associated data binds an envelope to its
row and purpose, so a ciphertext copied into another row or column does not open.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lti_svc import errors

VERSION = "v1"
NONCE_BYTES = 12


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Envelopes:
    """Seals with the first configured key, opens with any of them."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        self._keys = dict(keys)
        self._current = keys[0][0] if keys else None

    @property
    def configured(self) -> bool:
        return self._current is not None

    @property
    def current_kid(self) -> str | None:
        return self._current

    def _require(self) -> str:
        if self._current is None:
            raise errors.EncryptionNotConfigured(
                "LTI_ENCRYPTION_KEYS is not set on lti_svc: set it (kid:key pairs) to store or use secrets"
            )
        return self._current

    def seal(self, plaintext: str, *, context: str) -> str:
        """Encrypt ``plaintext`` for the row and purpose named by ``context`` (associated data)."""
        kid = self._require()
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._keys[kid]).encrypt(nonce, plaintext.encode(), context.encode())
        return ".".join((VERSION, kid, _b64(nonce), _b64(sealed)))

    def open(self, envelope: str, *, context: str) -> str:
        """Decrypt an envelope; a key no longer configured or a tampered envelope is a clear error."""
        self._require()
        try:
            version, kid, nonce, sealed = envelope.split(".")
        except ValueError:
            raise errors.SecretUnreadable("a stored secret is not an encryption envelope") from None
        if version != VERSION:
            raise errors.SecretUnreadable(f"a stored secret has unknown envelope version {version!r}")
        key = self._keys.get(kid)
        if key is None:
            raise errors.SecretUnreadable(
                f"a stored secret was encrypted with key {kid!r}, which LTI_ENCRYPTION_KEYS no longer lists:"
                " add it back after the current key"
            )
        try:
            return AESGCM(key).decrypt(_unb64(nonce), _unb64(sealed), context.encode()).decode()
        except (InvalidTag, ValueError):
            raise errors.SecretUnreadable(
                f"a stored secret does not open with key {kid!r}: it was altered or the key is wrong"
            ) from None

    def needs_resealing(self, envelope: str) -> bool:
        """Whether an envelope was sealed by a key other than the current one (rotation pending)."""
        parts = envelope.split(".")
        return len(parts) == 4 and parts[1] != self._current
