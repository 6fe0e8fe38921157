"""The categories every service's exceptions belong to.

Each service keeps its own exception tree (one subclass per condition) and roots every
class in one of these categories. The category decides the gRPC status code, in one
table (:mod:`service_kit.grpc_errors`), so domain code never imports grpc.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldViolation:
    """One field of a request and what is wrong with it, in words a caller can act on."""

    field: str
    description: str


class ServiceError(Exception):
    """Base of every error a service reports to its caller on purpose.

    ``reason`` is a stable UPPER_SNAKE identifier (google.rpc.ErrorInfo.reason) that
    clients may branch on; the message is for people.
    """

    reason: str = "SERVICE_ERROR"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        violations: tuple[FieldViolation, ...] = (),
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.violations = violations
        self.metadata = dict(metadata or {})


class InvalidArgument(ServiceError):
    """The request itself is wrong, whatever the state of the system (400)."""

    reason = "INVALID_ARGUMENT"


class FailedPrecondition(ServiceError):
    """The request is well formed but the resource is not in a state that allows it (400)."""

    reason = "FAILED_PRECONDITION"


class OutOfRange(ServiceError):
    """A value is past the end of what exists, like a page past the last (400)."""

    reason = "OUT_OF_RANGE"


class Unauthenticated(ServiceError):
    """No valid credentials came with the request (401)."""

    reason = "UNAUTHENTICATED"


class PermissionDenied(ServiceError):
    """The caller is known but may not do this (403)."""

    reason = "PERMISSION_DENIED"


class NotFound(ServiceError):
    """The resource does not exist, or the caller may not know that it does (404)."""

    reason = "NOT_FOUND"


class AlreadyExists(ServiceError):
    """Creating something that is already there (409)."""

    reason = "ALREADY_EXISTS"


class Aborted(ServiceError):
    """A concurrent change won; retrying the whole operation may succeed (409)."""

    reason = "ABORTED"


class ResourceExhausted(ServiceError):
    """A quota or rate limit is reached (429)."""

    reason = "RESOURCE_EXHAUSTED"


class Unavailable(ServiceError):
    """A dependency is down for now; the same call may succeed later (503)."""

    reason = "UNAVAILABLE"


class DeadlineExceeded(ServiceError):
    """A dependency did not answer in time (504)."""

    reason = "DEADLINE_EXCEEDED"


@dataclass
class ValidationErrors:
    """Collects every field violation of one request so the caller fixes them in one go."""

    violations: list[FieldViolation] = field(default_factory=list)

    def add(self, field_name: str, description: str) -> None:
        self.violations.append(FieldViolation(field_name, description))

    def raise_if_any(self, summary: str = "the request has invalid fields") -> None:
        if self.violations:
            detail = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
            raise InvalidArgument(f"{summary}: {detail}", violations=tuple(self.violations))
