"""Transcoding settings: transcode_svc, its RQ workers and ``python -m transcode_svc.ladder``.

Its own module so the operator's ladder CLI reads these alone, without the secrets
a service needs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from service_kit.settings.reader import (
    _environment_with_dotenv,
    _positive_float,
    _positive_int,
    _Reader,
    _whole_number_between,
)

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass(frozen=True)
class TranscodeSettings:
    """How the ladder is encoded and how transcode jobs run, retry and report.

    Separate from :class:`Settings` so the operator's ladder CLI reads these alone,
    without the secrets a service needs.
    """

    preset: str = "veryfast"
    """TRANSCODE_PRESET: the x264 preset of every rung (tests use ultrafast)."""
    segment_seconds: float = 6.0
    """HLS_SEGMENT_SECONDS: target segment length; keyframes are forced on this grid."""
    opening_segment_seconds: float = 2.0
    """HLS_OPENING_SEGMENT_SECONDS: length of the first segments, so a video is playable sooner.

    Only shorter than HLS_SEGMENT_SECONDS makes a difference: otherwise every segment is
    HLS_SEGMENT_SECONDS long (a deployment that set 1 or 2 s segments keeps its plain grid).
    """
    opening_segments: int = 3
    """HLS_OPENING_SEGMENTS: how many segments of that length open every rung (0: none)."""
    max_attempts: int = 3
    """TRANSCODE_MAX_ATTEMPTS: runs of one job at most, the first included."""
    retry_intervals: tuple[int, ...] = (10, 60, 300)
    """TRANSCODE_RETRY_INTERVALS: seconds before each retry, comma-separated; the last repeats."""
    timeout_factor: float = 10.0
    """TRANSCODE_TIMEOUT_FACTOR: FFmpeg may take this many seconds per source second (plus 2 min)."""
    progress_flush_seconds: float = 3.0
    """TRANSCODE_PROGRESS_FLUSH_SECONDS: how often running progress reaches PostgreSQL (Redis: always)."""
    heartbeat_seconds: int = 10
    """TRANSCODE_HEARTBEAT_SECONDS: worker heartbeat; a job unheard of for 3 beats is abandoned and retried."""
    maintenance_seconds: int = 30
    """TRANSCODE_MAINTENANCE_SECONDS: how often idle workers look for abandoned jobs."""
    reconcile_seconds: int = 30
    """TRANSCODE_RECONCILE_SECONDS: how often transcode_svc re-enqueues live jobs RQ lost (and once at start)."""
    store_wait_seconds: int = 600
    """TRANSCODE_STORE_WAIT_SECONDS: how long one attempt waits out an unreachable object store."""
    poster_timeout_seconds: float = 120.0
    """TRANSCODE_POSTER_TIMEOUT_SECONDS: the poster's FFmpeg (one frame) is stopped past this, each of its two tries."""
    chunk_threshold_seconds: float = 300.0
    """TRANSCODE_CHUNK_THRESHOLD_SECONDS: longer sources are encoded in chunks by every free worker (0: never)."""
    chunk_seconds: float = 60.0
    """TRANSCODE_CHUNK_SECONDS: about how long each chunk is (rounded to whole segments)."""


def _retry_intervals(raw: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in raw.split(",") if part.strip())
    if not values or any(value < 0 for value in values):
        raise ValueError(raw)
    return values


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if not value >= 0 or value == float("inf"):
        raise ValueError(raw)
    return value


def _preset(raw: str) -> str:
    if raw not in X264_PRESETS:
        raise ValueError(raw)
    return raw


def load_transcode_settings(env: Mapping[str, str] | None = None, dotenv_path: Path | None = None) -> TranscodeSettings:
    """Read the TRANSCODE_* and HLS_* variables, raising :class:`SettingsError` on a bad one."""
    read = _Reader(_environment_with_dotenv(os.environ if env is None else env, dotenv_path))
    defaults = TranscodeSettings()
    segment_seconds = read.parsed(
        "HLS_SEGMENT_SECONDS", str(defaults.segment_seconds), _positive_float, "a positive number of seconds"
    )
    opening_segment_seconds = read.parsed(
        "HLS_OPENING_SEGMENT_SECONDS",
        str(defaults.opening_segment_seconds),
        _positive_float,
        "a positive number of seconds",
    )
    return TranscodeSettings(
        preset=read.parsed("TRANSCODE_PRESET", defaults.preset, _preset, f"one of {', '.join(X264_PRESETS)}"),
        segment_seconds=segment_seconds,
        opening_segment_seconds=opening_segment_seconds,
        opening_segments=read.parsed(
            "HLS_OPENING_SEGMENTS",
            str(defaults.opening_segments),
            _whole_number_between(0, 100),
            "a whole number 0-100",
        ),
        max_attempts=read.parsed(
            "TRANSCODE_MAX_ATTEMPTS", str(defaults.max_attempts), _whole_number_between(1, 20), "a whole number 1-20"
        ),
        retry_intervals=read.parsed(
            "TRANSCODE_RETRY_INTERVALS",
            ",".join(str(s) for s in defaults.retry_intervals),
            _retry_intervals,
            "comma-separated whole numbers of seconds, e.g. 10,60,300",
        ),
        timeout_factor=read.parsed(
            "TRANSCODE_TIMEOUT_FACTOR", str(defaults.timeout_factor), _positive_float, "a positive number"
        ),
        progress_flush_seconds=read.parsed(
            "TRANSCODE_PROGRESS_FLUSH_SECONDS",
            str(defaults.progress_flush_seconds),
            _positive_float,
            "a positive number of seconds",
        ),
        heartbeat_seconds=read.parsed(
            "TRANSCODE_HEARTBEAT_SECONDS", str(defaults.heartbeat_seconds), _positive_int, "a positive whole number"
        ),
        maintenance_seconds=read.parsed(
            "TRANSCODE_MAINTENANCE_SECONDS",
            str(defaults.maintenance_seconds),
            _positive_int,
            "a positive whole number",
        ),
        reconcile_seconds=read.parsed(
            "TRANSCODE_RECONCILE_SECONDS", str(defaults.reconcile_seconds), _positive_int, "a positive whole number"
        ),
        store_wait_seconds=read.parsed(
            "TRANSCODE_STORE_WAIT_SECONDS",
            str(defaults.store_wait_seconds),
            _positive_int,
            "a positive whole number of seconds",
        ),
        chunk_threshold_seconds=read.parsed(
            "TRANSCODE_CHUNK_THRESHOLD_SECONDS",
            str(defaults.chunk_threshold_seconds),
            _non_negative_float,
            "a number of seconds, 0 or more (0: never chunk)",
        ),
        chunk_seconds=read.parsed(
            "TRANSCODE_CHUNK_SECONDS", str(defaults.chunk_seconds), _positive_float, "a positive number of seconds"
        ),
        poster_timeout_seconds=read.parsed(
            "TRANSCODE_POSTER_TIMEOUT_SECONDS",
            str(defaults.poster_timeout_seconds),
            _positive_float,
            "a positive number of seconds",
        ),
    )
