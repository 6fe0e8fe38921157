"""The edge's public REST API over httpx, with its failures mapped to what a person can do.

Every call sends ``Authorization: Bearer <token>``; the CLI does not care whether that is a
personal API token or a session token. An answer that is not 2xx becomes :class:`Refused`
with the server's own words (the JSON error body ``{"error": {"message": ...}}``); a
connection that fails or times out becomes :class:`NetworkDown`. Both carry one line of
advice, and the command layer turns them into exit codes 2 and 3.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

USER_AGENT = "mediactl/0.1"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
STREAM_TIMEOUT = httpx.Timeout(30.0, connect=10.0, read=120.0)
"""Server-sent events: the edge writes a keep-alive comment every few seconds while quiet."""

ADVICE = {
    401: "Check the token: run `mediactl login` again with a token that is valid and not revoked.",
    403: "Your token may not do this: ask an instructor or administrator of the course.",
    404: "Check the id: `mediactl videos list` or `mediactl sessions list` shows what you can see.",
    409: "The item is not in a state that allows this yet; look at it with the `show` command.",
    413: "The file is too large for this service.",
    429: "Too many requests: wait a minute and try again.",
}


class Refused(Exception):
    """The server answered with an error: its HTTP status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def line(self) -> str:
        """One line: the status, the server's words, and what to do (unless the server already said, naming us)."""
        if "mediactl" in self.message:
            return f"Refused by the server (HTTP {self.status}): {self.message.rstrip('.')}."
        advice = ADVICE.get(self.status) or (
            "The service has a problem: try again later." if self.status >= 500 else "Check the command's arguments."
        )
        return f"Refused by the server (HTTP {self.status}): {self.message}. {advice}"


class NetworkDown(Exception):
    """The edge could not be reached, or stopped answering."""

    def __init__(self, url: str, cause: BaseException) -> None:
        super().__init__(f"{url}: {cause}")
        self.url = url
        self.cause = cause

    def line(self) -> str:
        return (
            f"Cannot reach {self.url} ({type(self.cause).__name__}). "
            "Check the URL (`mediactl login --url ...` or MEDIA_URL) and your network, then try again."
        )


def error_message(response: httpx.Response) -> str:
    """The server's message from ``{"error": {"message": ...}}``, else the status text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = str(body["error"].get("message") or "").strip().rstrip(".")
        if message:
            return message
    return response.reason_phrase or f"HTTP {response.status_code}"


class Api:
    """One edge, one token: JSON calls, raw downloads and server-sent events."""

    def __init__(self, base_url: str, token: str, *, http: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.http = http or httpx.Client(timeout=TIMEOUT, headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        self.http.close()

    def _headers(self, accept: str = "application/json") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": accept}

    def _send(
        self, method: str, path: str, *, query: Mapping[str, Any] | None = None, body: Any = None, accept: str
    ) -> httpx.Response:
        params = {key: value for key, value in (query or {}).items() if value not in (None, "")}
        try:
            response = self.http.request(
                method, self.base_url + path, params=params, json=body, headers=self._headers(accept)
            )
        except httpx.TransportError as error:
            raise NetworkDown(self.base_url, error) from error
        if response.is_error:
            raise Refused(response.status_code, error_message(response))
        return response

    def call(self, method: str, path: str, *, query: Mapping[str, Any] | None = None, body: Any = None) -> Any:
        """A JSON call; the parsed answer (``{}`` when empty)."""
        response = self._send(method, path, query=query, body=body, accept="application/json")
        return response.json() if response.content else {}

    def download(self, path: str, *, query: Mapping[str, Any] | None = None) -> bytes:
        """A non-JSON answer's bytes (an attendance export)."""
        return self._send("GET", path, query=query, accept="*/*").content

    def events(self, path: str) -> Iterator[tuple[str, Any]]:
        """Server-sent events as ``(event name, parsed JSON data)`` until the server ends the stream."""
        request = self.http.build_request(
            "GET", self.base_url + path, headers=self._headers("text/event-stream"), timeout=STREAM_TIMEOUT
        )
        try:
            response = self.http.send(request, stream=True)
        except httpx.TransportError as error:
            raise NetworkDown(self.base_url, error) from error
        try:
            if response.is_error:
                response.read()
                raise Refused(response.status_code, error_message(response))
            name, data = "message", list[str]()
            for line in response.iter_lines():
                if not line:
                    if data:
                        yield name, json.loads("\n".join(data))
                    name, data = "message", []
                elif line.startswith(":"):
                    continue
                else:
                    field, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if field == "event":
                        name = value
                    elif field == "data":
                        data.append(value)
        except httpx.TransportError as error:
            raise NetworkDown(self.base_url, error) from error
        finally:
            response.close()


def pages(api: Api, path: str, key: str, query: Mapping[str, Any], limit: int) -> list[dict[str, Any]]:
    """Follow ``next_page_token`` until ``limit`` items (or the end): a listing's items under ``key``."""
    items: list[dict[str, Any]] = []
    token = ""
    while len(items) < limit:
        page = api.call("GET", path, query={**query, "page_size": min(100, limit - len(items)), "page_token": token})
        items.extend(page.get(key) or [])
        token = page.get("next_page_token") or ""
        if not token:
            break
    return items[:limit]
