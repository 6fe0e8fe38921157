"""Live sessions and attendance settings: attendance_svc (and the edge's Zoom webhook).

Its own module because only attendance_svc (and the edge's webhook, for the clock
skew) read these Zoom and batching knobs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from service_kit.settings.reader import (
    _environment_with_dotenv,
    _positive_float,
    _Reader,
    _whole_number_between,
)


@dataclass(frozen=True)
class AttendanceSettings:
    """How attendance_svc talks to Zoom, batches webhook events and reconciles reports.

    Separate from :class:`Settings` (like :class:`LtiSettings`) so only attendance_svc
    (and the edge's webhook, for the clock skew) read it.
    """

    zoom_http_timeout_seconds: float = 10.0
    """ZOOM_HTTP_TIMEOUT_SECONDS: limit of each call to Zoom's OAuth and REST APIs."""
    zoom_max_retry_wait_seconds: float = 5.0
    """ZOOM_MAX_RETRY_WAIT_SECONDS: a user's request waits out a 429's Retry-After up to this long, else answers 429."""
    webhook_max_skew_seconds: int = 300
    """ZOOM_WEBHOOK_MAX_SKEW_SECONDS: webhooks whose x-zm-request-timestamp is further off are refused (replays)."""
    batch_max_events: int = 256
    """ATTENDANCE_BATCH_MAX_EVENTS: webhook events stored by one multi-row INSERT at most."""
    batch_max_wait_ms: float = 4.0
    """ATTENDANCE_BATCH_MAX_WAIT_MS: how long the first event of a batch waits for company before the INSERT."""
    reconcile_delay_seconds: int = 600
    """ATTENDANCE_RECONCILE_DELAY_SECONDS: after meeting.ended, wait this long for Zoom's report to be ready."""
    reconcile_poll_seconds: float = 15.0
    """ATTENDANCE_RECONCILE_POLL_SECONDS: how often due reconciliations are looked for."""
    watch_interval_seconds: float = 0.5
    """ATTENDANCE_WATCH_INTERVAL_SECONDS: live attendance streams send at most one update per interval."""


def load_attendance_settings(
    env: Mapping[str, str] | None = None, dotenv_path: Path | None = None
) -> AttendanceSettings:
    """Read the ZOOM_* and ATTENDANCE_* tuning variables, raising :class:`SettingsError` on a bad one."""
    read = _Reader(_environment_with_dotenv(os.environ if env is None else env, dotenv_path))
    defaults = AttendanceSettings()

    def positive(name: str, default: float) -> float:
        return read.parsed(name, str(default), _positive_float, "a positive number")

    return AttendanceSettings(
        zoom_http_timeout_seconds=positive("ZOOM_HTTP_TIMEOUT_SECONDS", defaults.zoom_http_timeout_seconds),
        zoom_max_retry_wait_seconds=positive("ZOOM_MAX_RETRY_WAIT_SECONDS", defaults.zoom_max_retry_wait_seconds),
        webhook_max_skew_seconds=read.parsed(
            "ZOOM_WEBHOOK_MAX_SKEW_SECONDS",
            str(defaults.webhook_max_skew_seconds),
            _whole_number_between(1, 3600),
            "a whole number of seconds from 1 to 3600",
        ),
        batch_max_events=read.parsed(
            "ATTENDANCE_BATCH_MAX_EVENTS",
            str(defaults.batch_max_events),
            _whole_number_between(1, 5000),
            "a whole number from 1 to 5000",
        ),
        batch_max_wait_ms=positive("ATTENDANCE_BATCH_MAX_WAIT_MS", defaults.batch_max_wait_ms),
        reconcile_delay_seconds=read.parsed(
            "ATTENDANCE_RECONCILE_DELAY_SECONDS",
            str(defaults.reconcile_delay_seconds),
            _whole_number_between(0, 7 * 86400),
            "a whole number of seconds from 0 to 604800",
        ),
        reconcile_poll_seconds=positive("ATTENDANCE_RECONCILE_POLL_SECONDS", defaults.reconcile_poll_seconds),
        watch_interval_seconds=positive("ATTENDANCE_WATCH_INTERVAL_SECONDS", defaults.watch_interval_seconds),
    )
