"""The least environment that loads: every required secret, every other setting at its default."""

from __future__ import annotations

SECRET = "s" * 40
MINIMAL_ENV = {
    "JWT_SECRET_KEY": SECRET,
    "HLS_PROXY_SECRET": SECRET,
    "ZOOM_WEBHOOK_SECRET": "zoom-secret",
    "AWS_ACCESS_KEY_ID": "key",
    "AWS_SECRET_ACCESS_KEY": "secret",
}

LTI_ENCRYPTION_KEY = "T0mJ0Kz2r4gQ0c1wQ6oH3Qe9pYlV7nB5sXa8dF2uE1c"
"""The one LTI_ENCRYPTION_KEYS secret (named ``current``) of every test stack.

The test database outlives a run and is shared by every test package, and so are the
tool's signing keys lti_svc seals with it: a stack with another key could not open them
(SECRET_UNREADABLE). 43 base64url characters: 256 bits, as the setting requires.
"""
