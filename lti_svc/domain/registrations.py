"""A platform registration: what the launch checks need of it, what makes its fields valid,
and how an administrator's update changes it.

Its own module because an administrator's edits, the launch checks and dynamic
registration all rely on the same record and the same URL rule (:func:`check_url`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from lti_svc import errors
from lti_svc.domain.platform_endpoints import ENDPOINT_FIELDS, EndpointSource
from service_kit.errors import ValidationErrors


@dataclass(frozen=True)
class Registration:
    """One platform registration as the launch checks need it."""

    config_id: str
    organization_id: str
    issuer: str
    client_id: str
    deployment_ids: tuple[str, ...]
    key_set_url: str
    auth_login_url: str
    auth_token_url: str


CONFIG_URL_FIELDS = ("key_set_url", "auth_login_url", "auth_token_url")
UPDATABLE_FIELDS = frozenset(
    {"issuer", "client_id", "deployment_ids", "key_set_url", "auth_login_url", "auth_token_url", "zoom_account_id"}
)
OUTPUT_ONLY_FIELDS = frozenset(
    {
        "config_id",
        "organization_id",
        "has_zoom_credentials",
        "created_at",
        "updated_at",
        "key_set_url_source",
        "auth_login_url_source",
        "auth_token_url_source",
        "endpoints_origin",
    }
)
"""Fields a registration shows but no update may name: the service sets them."""
REQUIRED_WHEN_NAMED = ("issuer", "client_id", "key_set_url", "auth_login_url")
"""An update may not empty these: no launch could be checked without them."""


@dataclass(frozen=True)
class RegistrationRecord:
    """A registration as stored and shown to administrators; Zoom's secrets only sealed."""

    id: uuid.UUID
    organization_id: str
    issuer: str
    client_id: str
    key_set_url: str
    auth_login_url: str
    auth_token_url: str
    key_set_url_source: str
    """An :class:`EndpointSource` value, or "" when the URL is empty (the same for the next two)."""
    auth_login_url_source: str
    auth_token_url_source: str
    endpoints_origin: str
    zoom_account_id: str
    zoom_client_id_sealed: str | None
    zoom_client_secret_sealed: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def has_zoom_credentials(self) -> bool:
        return self.zoom_client_id_sealed is not None and self.zoom_client_secret_sealed is not None


def launch_registration(record: RegistrationRecord, deployment_ids: Sequence[str]) -> Registration:
    """A stored registration as the launch checks and the platform calls need it."""
    return Registration(
        config_id=str(record.id),
        organization_id=record.organization_id,
        issuer=record.issuer,
        client_id=record.client_id,
        deployment_ids=tuple(deployment_ids),
        key_set_url=record.key_set_url,
        auth_login_url=record.auth_login_url,
        auth_token_url=record.auth_token_url,
    )


def sealing_contexts(registration_id: uuid.UUID) -> tuple[str, str]:
    """The associated data each Zoom secret is sealed under: bound to its row and purpose."""
    return f"zoom-client-id:{registration_id}", f"zoom-client-secret:{registration_id}"


@dataclass(frozen=True)
class ZoomAppCredentials:
    """An organization's Zoom Server-to-Server OAuth app, opened for a service."""

    account_id: str
    client_id: str
    client_secret: str


def fields_to_update(paths: Sequence[str]) -> list[str]:
    """The fields an update's mask names; an empty mask or a field no update may name is refused."""
    if not paths:
        raise errors.InvalidConfig("update_mask is empty: name the fields to change, e.g. deployment_ids")
    refused = sorted(set(paths) - UPDATABLE_FIELDS)
    if refused:
        output_only = [p for p in refused if p in OUTPUT_ONLY_FIELDS]
        what = "are output only" if output_only == refused else "are not fields that can change"
        raise errors.InvalidConfig(
            f"update_mask names {', '.join(refused)}, which {what}; Zoom secrets change through"
            " PUT /api/v1/lti/configs/{config_id}/zoom-credentials"
        )
    return list(paths)


def edited_record(record: RegistrationRecord, fields: Mapping[str, Any], *, at: datetime) -> RegistrationRecord:
    """The record after an update of ``fields`` (deployments aside): a URL set by hand becomes ``given``."""
    changes: dict[str, Any] = {name: value for name, value in fields.items() if name != "deployment_ids"}
    for name in ENDPOINT_FIELDS:
        if name in fields:
            changes[f"{name}_source"] = EndpointSource.GIVEN.value if fields[name] else ""
    return replace(record, **changes, updated_at=at)


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """Whether a URL's host is this machine: ``localhost``, ``127.0.0.0/8`` or ``::1``."""
    return host in LOOPBACK_HOSTS or host.startswith("127.") or host.endswith(".localhost")


def check_url(value: str, *, allow_http: bool, loopback_only: bool = True) -> str | None:
    """What is wrong with a platform URL, or None.

    https always; plain http only when ``allow_http`` (development and tests), and then
    only to a loopback host unless ``loopback_only`` is False: a development stack talks
    to an LMS on this machine, never to one across the network in clear text.
    """
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme == "http" and allow_http and loopback_only and not is_loopback(host):
        return f"must be an https URL (plain http is only for a platform on this machine, not {host!r})"
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.netloc:
        return f"must be an {' or '.join(schemes)} URL, e.g. https://lms.example.edu/..."
    if parts.fragment:
        return "must not have a #fragment"
    return None


def validate_config(fields: Mapping[str, Any], *, allow_http: bool, required: Iterable[str]) -> None:
    """Check the registration fields given; ``required`` names those that must be present."""
    problems = ValidationErrors()
    for name in required:
        value = fields.get(name)
        if not value:
            problems.add(name, "is required")
    for name in ("issuer", "client_id"):
        value = fields.get(name)
        if value and (len(value) > 1000 or value != value.strip()):
            problems.add(name, "must be at most 1000 characters without surrounding spaces")
    issuer = fields.get("issuer")
    if issuer:
        problem = check_url(issuer, allow_http=allow_http)
        if problem or urlsplit(issuer).query:
            problems.add(
                "issuer",
                f"must be the platform's issuer URL exactly as its id_tokens carry it (iss): {problem or 'no ?query'}",
            )
    for name in CONFIG_URL_FIELDS:
        value = fields.get(name)
        if value:
            problem = check_url(value, allow_http=allow_http)
            if problem:
                problems.add(name, problem)
    deployments = fields.get("deployment_ids")
    if deployments is not None:
        seen: set[str] = set()
        for index, deployment in enumerate(deployments):
            if not deployment or deployment != deployment.strip() or len(deployment) > 255:
                problems.add(f"deployment_ids[{index}]", "must be a non-empty id of at most 255 characters")
            elif deployment in seen:
                problems.add(f"deployment_ids[{index}]", f"repeats {deployment!r}")
            seen.add(deployment)
    zoom = {name: fields.get(name) for name in ("zoom_api_key", "zoom_api_secret")}
    if any(zoom.values()) and not all(zoom.values()):
        problems.add(
            "zoom_api_secret" if zoom["zoom_api_key"] else "zoom_api_key", "give both zoom_api_key and zoom_api_secret"
        )
    problems.raise_if_any("the platform registration has invalid fields")
