"""LTI Deep Linking 2.0: the platform's settings, the kept context, and the response the tool signs.

Its own module because deep linking is a second message flow (instructor picks, tool
answers) with its own limits on what may be returned.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from lti_svc import errors
from lti_svc.domain.login import new_secret_token
from lti_svc.domain.registrations import check_url
from lti_svc.domain.spec import (
    CLAIM_DEPLOYMENT_ID,
    CLAIM_DL_CONTENT_ITEMS,
    CLAIM_DL_DATA,
    CLAIM_DL_MSG,
    CLAIM_MESSAGE_TYPE,
    CLAIM_VERSION,
    DEEP_LINKING_RESPONSE,
    LTI_VERSION,
)


@dataclass(frozen=True)
class DeepLinkingRequest:
    """The platform's deep-linking settings, kept until the instructor has picked."""

    return_url: str
    accept_types: tuple[str, ...]
    accept_presentation_document_targets: tuple[str, ...]
    accept_multiple: bool
    auto_create: bool
    title: str
    text: str
    data: str | None


@dataclass(frozen=True)
class DeepLinkingContext:
    """A deep-linking launch kept (in Redis) until the instructor has picked."""

    launch_id: str
    config_id: str
    organization_id: str
    client_id: str
    issuer: str
    deployment_id: str
    user_id: str
    course_id: str
    settings: DeepLinkingRequest

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | bytes) -> DeepLinkingContext:
        data = json.loads(text)
        settings = data.pop("settings")
        for name in ("accept_types", "accept_presentation_document_targets"):
            settings[name] = tuple(settings[name])
        return cls(settings=DeepLinkingRequest(**settings), **data)


@dataclass(frozen=True)
class PickedItem:
    """One item the instructor picked."""

    kind: str
    """``ltiResourceLink`` or ``link``."""
    title: str
    text: str
    url: str
    video_id: str
    live_session_id: str
    custom: dict[str, str]


def content_items(items: Sequence[PickedItem], settings: DeepLinkingRequest, launch_url: str) -> list[dict[str, Any]]:
    """Content items as LTI Deep Linking 2.0 writes them, checked against what the platform accepts."""
    if len(items) > 1 and not settings.accept_multiple:
        raise errors.InvalidDeepLinkingItems("the platform accepts one item here: pick a single video or session")
    out: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if settings.accept_types and item.kind not in settings.accept_types:
            raise errors.InvalidDeepLinkingItems(
                f"items[{index}]: the platform does not accept {item.kind!r} items here"
                f" (it accepts {', '.join(settings.accept_types)})"
            )
        entry: dict[str, Any] = {"type": item.kind}
        if item.title:
            entry["title"] = item.title
        if item.text:
            entry["text"] = item.text
        if item.kind == "ltiResourceLink":
            custom = dict(item.custom)
            if item.video_id:
                custom["video_id"] = item.video_id
            if item.live_session_id:
                custom["live_session_id"] = item.live_session_id
            if not (item.video_id or item.live_session_id):
                raise errors.InvalidDeepLinkingItems(f"items[{index}]: pick a video or a live session")
            entry["url"] = launch_url
            entry["custom"] = custom
        elif item.kind == "link":
            if check_url(item.url, allow_http=True, loopback_only=False):
                raise errors.InvalidDeepLinkingItems(f"items[{index}].url: must be an http(s) URL")
            entry["url"] = item.url
        else:
            raise errors.InvalidDeepLinkingItems(f"items[{index}]: choose a resource link or a link")
        out.append(entry)
    return out


def deep_linking_response_claims(
    context: DeepLinkingContext, items: list[dict[str, Any]], *, message: str, now: int, ttl: int
) -> dict[str, Any]:
    """The LtiDeepLinkingResponse claims: from the tool (iss = client id) to the platform (aud = issuer).

    The request's opaque ``data`` is echoed unchanged when it came, as the spec requires.
    """
    claims: dict[str, Any] = {
        "iss": context.client_id,
        "aud": context.issuer,
        "iat": now,
        "exp": now + ttl,
        "nonce": new_secret_token(),
        CLAIM_MESSAGE_TYPE: DEEP_LINKING_RESPONSE,
        CLAIM_VERSION: LTI_VERSION,
        CLAIM_DEPLOYMENT_ID: context.deployment_id,
        CLAIM_DL_CONTENT_ITEMS: items,
    }
    if context.settings.data is not None:
        claims[CLAIM_DL_DATA] = context.settings.data
    if message:
        claims[CLAIM_DL_MSG] = message
    return claims
