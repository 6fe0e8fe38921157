"""OpenAPI pieces the hand-written handlers share: form bodies, HTML answers, redirects.

Each hand-written module states what its handlers really accept and answer next to
them (``Documented(handler, {...})``); these helpers keep those statements short.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

JsonObject = dict[str, Any]

HTML_PAGE: JsonObject = {"text/html": {"schema": {"type": "string"}}}


def string_fields(names: Sequence[str], required: Sequence[str] = ()) -> JsonObject:
    """An object schema of string fields (a form's fields)."""
    schema: JsonObject = {"type": "object", "properties": {name: {"type": "string"} for name in names}}
    if required:
        schema["required"] = list(required)
    return schema


def form_body(names: Sequence[str], required: Sequence[str] = ()) -> JsonObject:
    """A form post body (urlencoded or multipart; files are ignored)."""
    schema = string_fields(names, required)
    return {
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": schema}, "multipart/form-data": {"schema": schema}},
    }


def query_strings(names: Sequence[str], required: Sequence[str] = ()) -> list[JsonObject]:
    """Query parameters read as plain strings."""
    return [{"name": name, "in": "query", "required": name in required, "schema": {"type": "string"}} for name in names]


def page(description: str) -> JsonObject:
    """An HTML page answer."""
    return {"description": description, "content": HTML_PAGE}


ERROR_PAGE: JsonObject = page(
    "A refusal as a page (what failed, why, the request id), with the HTTP status of the error."
)
