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
