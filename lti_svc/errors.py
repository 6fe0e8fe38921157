"""The lti service's exceptions: one class per condition, each rooted in a category.

The category (service_kit.errors) decides the gRPC code and so the HTTP status; the
``reason`` is the stable identifier clients branch on. Launch refusals carry a reason
per check (``LAUNCH_WRONG_AUDIENCE``, ``LAUNCH_NONCE_REUSED``, ...) so an administrator
reading the page, or a test, can tell exactly which check failed.
"""

from __future__ import annotations

from service_kit import errors


class LtiError(errors.ServiceError):
    """Base of every error this service reports on purpose."""


class InvalidConfig(LtiError, errors.InvalidArgument):
    """A registration's fields cannot be accepted (missing, not a URL, ...)."""

    reason = "INVALID_LTI_CONFIG"


class InvalidPageToken(LtiError, errors.InvalidArgument):
    """A page_token this service did not issue."""

    reason = "INVALID_PAGE_TOKEN"


class ConfigNotFound(LtiError, errors.NotFound):
    """No such registration for this caller; another organization's looks the same."""

    reason = "LTI_CONFIG_NOT_FOUND"


class ConfigAlreadyExists(LtiError, errors.AlreadyExists):
    """The issuer and client id are registered already (registrations are keyed by both)."""

    reason = "LTI_CONFIG_EXISTS"


class NotAdministrator(LtiError, errors.PermissionDenied):
    """Only an organization's administrators manage its platform registrations."""

    reason = "NOT_ADMINISTRATOR"


class NotCourseStaff(LtiError, errors.PermissionDenied):
    """Rosters and grades are for the course's staff (or a service acting for the organization)."""

    reason = "NOT_COURSE_STAFF"


class NotServiceCaller(LtiError, errors.PermissionDenied):
    """Zoom credentials go only to a service of the same organization, never to a user."""

    reason = "NOT_SERVICE_CALLER"


class EncryptionNotConfigured(LtiError, errors.FailedPrecondition):
    """LTI_ENCRYPTION_KEYS is not set, so secrets can be neither stored nor used."""

    reason = "ENCRYPTION_NOT_CONFIGURED"


class SecretUnreadable(LtiError, errors.FailedPrecondition):
    """A stored secret does not open: its key was removed from LTI_ENCRYPTION_KEYS, or it was altered."""

    reason = "SECRET_UNREADABLE"


class NoZoomCredentials(LtiError, errors.FailedPrecondition):
    """The registration has no Zoom credentials yet."""

    reason = "NO_ZOOM_CREDENTIALS"


class NoZoomAccount(LtiError, errors.FailedPrecondition):
    """Neither the registration nor ZOOM_ACCOUNT_ID names the Zoom account (Server-to-Server OAuth needs it)."""

    reason = "NO_ZOOM_ACCOUNT"


class UnknownPlatform(LtiError, errors.InvalidArgument):
    """A login or launch names an issuer and client id no registration has."""

    reason = "UNKNOWN_PLATFORM"


class InvalidLogin(LtiError, errors.InvalidArgument):
    """The platform's login initiation lacks a parameter or carries a wrong one."""

    reason = "INVALID_LOGIN"


class InvalidLaunch(LtiError, errors.Unauthenticated):
    """The id_token cannot be trusted: signature, issuer, audience, time, nonce, state or deployment.

    Raised with a reason naming the check (``LAUNCH_...``).
    """

    reason = "INVALID_LAUNCH"


class MalformedLaunch(LtiError, errors.InvalidArgument):
    """The id_token is trusted but is not an LTI 1.3 launch this tool can serve (version, type, claims)."""

    reason = "MALFORMED_LAUNCH"


class LaunchNotFound(LtiError, errors.NotFound):
    """The deep-linking launch is unknown or too old to answer: launch again from the course."""

    reason = "LAUNCH_NOT_FOUND"


class InvalidDeepLinkingItems(LtiError, errors.InvalidArgument):
    """The picked items do not fit what the platform asked for."""

    reason = "INVALID_DEEP_LINKING_ITEMS"


class CourseNotLinked(LtiError, errors.FailedPrecondition):
    """The course was never launched from a platform, so its services are unknown."""

    reason = "COURSE_NOT_LINKED"


class ServiceNotOffered(LtiError, errors.FailedPrecondition):
    """The platform did not offer this LTI Advantage service (NRPS or AGS) for the course."""

    reason = "SERVICE_NOT_OFFERED"


class LineItemNotFound(LtiError, errors.NotFound):
    """No such line item for this caller."""

    reason = "LINE_ITEM_NOT_FOUND"


class InvalidScore(LtiError, errors.InvalidArgument):
    """A score cannot be sent as given."""

    reason = "INVALID_SCORE"


class InvalidInvitation(LtiError, errors.Unauthenticated):
    """The registration URL expired or was used already: create a new one."""

    reason = "INVALID_INVITATION"


class RegistrationRefused(LtiError, errors.FailedPrecondition):
    """Dynamic registration cannot go on: the platform's configuration or answer is not acceptable."""

    reason = "REGISTRATION_REFUSED"


class PlatformRefused(LtiError, errors.FailedPrecondition):
    """The platform answered a service call with a refusal (its words are in the message)."""

    reason = "PLATFORM_REFUSED"


class PlatformUnavailable(LtiError, errors.Unavailable):
    """The platform did not answer, or answered with a server error; retry later."""

    reason = "PLATFORM_UNAVAILABLE"


class StoreUnavailable(LtiError, errors.Unavailable):
    """The database did not answer (down or restarting); the same request may be sent again."""

    reason = "LTI_STORE_UNAVAILABLE"


class NotASession(LtiError, errors.PermissionDenied):
    """A service's token asked to be refreshed; only users' sessions are."""

    reason = "NOT_A_SESSION"


class SessionLifetimeOver(LtiError, errors.Unauthenticated):
    """The session was launched longer ago than SESSION_MAX_LIFETIME_SECONDS: launch again."""

    reason = "SESSION_LIFETIME_OVER"


class ApiTokenNotAllowed(LtiError, errors.PermissionDenied):
    """Only course staff and administrators create personal API tokens (never learners or services)."""

    reason = "API_TOKEN_NOT_ALLOWED"


class ApiTokenNeedsLaunch(LtiError, errors.PermissionDenied):
    """A session resolved from an API token cannot make tokens or be refreshed: a launch's session can."""

    reason = "API_TOKEN_NEEDS_LAUNCH"


class InvalidApiTokenRequest(LtiError, errors.InvalidArgument):
    """A token's name or lifetime cannot be accepted."""

    reason = "INVALID_API_TOKEN_REQUEST"


class ApiTokenNotFound(LtiError, errors.NotFound):
    """No such token of the caller's; another user's looks the same."""

    reason = "API_TOKEN_NOT_FOUND"


class UnknownApiToken(LtiError, errors.Unauthenticated):
    """The bearer API token matches no token: mistyped, or never issued."""

    reason = "UNKNOWN_API_TOKEN"


class RevokedApiToken(LtiError, errors.Unauthenticated):
    """The bearer API token was revoked by its owner: create a new one."""

    reason = "REVOKED_API_TOKEN"


class ExpiredApiToken(LtiError, errors.Unauthenticated):
    """The bearer API token has passed its expiry: create a new one."""

    reason = "EXPIRED_API_TOKEN"
