"""The playback service's exceptions: one class per condition, each rooted in a category.

The category (service_kit.errors) decides the gRPC status and so the HTTP status. Token
failures deliberately share one message and one reason per category: a caller learns
that a token is missing, not valid, expired or for another video, never which part of
the signature failed.
"""

from __future__ import annotations

from service_kit import errors


class PlaybackError(errors.ServiceError):
    """Root of every error playback_svc reports on purpose."""

    reason = "PLAYBACK_ERROR"


class MissingHlsToken(errors.Unauthenticated, PlaybackError):
    """A playlist or segment was asked for without ?token=."""

    reason = "MISSING_HLS_TOKEN"


class InvalidHlsToken(errors.Unauthenticated, PlaybackError):
    """The token is malformed, tampered with, or signed with another key (all look alike)."""

    reason = "INVALID_HLS_TOKEN"


class ExpiredHlsToken(errors.Unauthenticated, PlaybackError):
    """The token was valid and has expired: the player asks for a new one."""

    reason = "EXPIRED_HLS_TOKEN"


class TokenForAnotherVideo(errors.PermissionDenied, PlaybackError):
    """A valid token, presented for a video it was not issued for.

    Checked against the id in the request alone, before any lookup, so the answer is the
    same whether that other video exists or not.
    """

    reason = "HLS_TOKEN_NOT_FOR_THIS_VIDEO"


class VideoNotFound(errors.NotFound, PlaybackError):
    """No such video, or one the caller may not know of (another organization's)."""

    reason = "VIDEO_NOT_FOUND"


class PlaylistNotFound(errors.NotFound, PlaybackError):
    """A rendition, playlist or segment name outside the video's own whitelist."""

    reason = "PLAYLIST_NOT_FOUND"


class VideoNotPlayable(errors.FailedPrecondition, PlaybackError):
    """The video exists but has nothing to play (not uploaded, failed, or no segment yet)."""

    reason = "VIDEO_NOT_PLAYABLE"


class MayNotWatchForOthers(errors.PermissionDenied, PlaybackError):
    """A learner asked for a token in someone else's name."""

    reason = "NOT_ALLOWED_FOR_ANOTHER_USER"


class InvalidPlaybackRequest(errors.InvalidArgument, PlaybackError):
    """A request field is malformed (an empty video id, a user id with control characters)."""

    reason = "INVALID_ARGUMENT"


class StoredPlaylistUnreadable(errors.Unavailable, PlaybackError):
    """A playlist in object storage is not one the transcoder writes; refused rather than relayed."""

    reason = "STORED_PLAYLIST_UNREADABLE"


class StorageUnavailable(errors.Unavailable, PlaybackError):
    """Object storage did not answer; the same call may work shortly."""

    reason = "STORAGE_UNAVAILABLE"


class CatalogUnavailable(errors.Unavailable, PlaybackError):
    """upload_svc (the video catalog) did not answer; the same call may work shortly."""

    reason = "CATALOG_UNAVAILABLE"
