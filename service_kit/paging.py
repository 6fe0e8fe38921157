"""Keyset pages: a listing ordered by (a time, an id) continues after the last row it showed.

Offsets drift when rows are added while a client pages; a cursor naming the last row
shown does not. The token is opaque to clients: base64url without padding of the JSON
pair ``[ISO 8601 time, uuid]``, the format attendance_svc and lti_svc have always issued,
so tokens handed out before this module existed still read. The token is not signed: it
only says where to continue, and every query still filters by the caller's organization.

A malformed token is the service's own error (its class is passed in), so each service
keeps one exception tree while the message is the same everywhere.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from service_kit.errors import ServiceError

Row = TypeVar("Row")
Cursor = tuple[datetime, uuid.UUID]
"""Where a page ended: the ordering time and id of its last row."""

INVALID_TOKEN_MESSAGE = "page_token is not one this service issued: start from the first page"


def encode_cursor(cursor: Cursor) -> str:
    moment, ident = cursor
    raw = json.dumps([moment.isoformat(), str(ident)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, *, invalid: Callable[[str], ServiceError]) -> Cursor | None:
    """The cursor a token names, None for the first page (no token); ``invalid(message)`` for one not issued here."""
    if not token:
        return None
    try:
        moment, ident = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return datetime.fromisoformat(moment), uuid.UUID(ident)
    except (binascii.Error, ValueError, TypeError):
        raise invalid(INVALID_TOKEN_MESSAGE) from None


def keyset_page(rows: Sequence[Row], size: int, cursor_of: Callable[[Row], Cursor]) -> tuple[list[Row], str]:
    """The page and its next_page_token, from rows queried with ``limit=size + 1``.

    The extra row only says that more follow; the token names the last row shown, so
    the next query starts right after it. The last page's token is empty.
    """
    page = list(rows[:size])
    more = len(rows) > size and bool(page)
    return page, encode_cursor(cursor_of(page[-1])) if more else ""
