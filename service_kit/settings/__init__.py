"""Settings from the environment (and a ``.env`` file when present).

Every process reads the same :class:`Settings`; a missing or malformed value stops the
process with one line that names the variable (see :func:`load_settings_or_exit`).
The names are the seed's (DATABASE_URL, S3_BUCKET, JWT_SECRET_KEY, ...) plus the ones
the seed lacked (S3_ENDPOINT_URL, ports, backend addresses, Zoom base URLs).

One module per block, all re-exported here so callers import from ``service_kit.settings``:

- :mod:`.reader`: typed reading of variables and :class:`SettingsError`
- :mod:`.core`: :class:`Settings`, shared by every process, and its loaders
- :mod:`.transcode`, :mod:`.lti`, :mod:`.playback`, :mod:`.attendance`: each service's own block
"""

from service_kit.settings.attendance import AttendanceSettings, load_attendance_settings
from service_kit.settings.core import (
    DEFAULT_GRPC_PORTS,
    DEFAULT_METRICS_PORTS,
    DEFAULT_WORKER_METRICS_PORTS,
    MIB,
    S3_MAX_SINGLE_UPLOAD_BYTES,
    S3_MIN_PART_BYTES,
    SERVICE_NAMES,
    WORKER_NAMES,
    ServiceEndpoint,
    Settings,
    load_database_url,
    load_settings,
    load_settings_or_exit,
    read_edge_processes,
)
from service_kit.settings.lti import LtiSettings, load_lti_settings
from service_kit.settings.playback import HLS_SEGMENT_DELIVERIES, PlaybackSettings, load_playback_settings
from service_kit.settings.reader import MIN_SECRET_LENGTH, SettingsError
from service_kit.settings.transcode import X264_PRESETS, TranscodeSettings, load_transcode_settings

__all__ = [
    "DEFAULT_GRPC_PORTS",
    "DEFAULT_METRICS_PORTS",
    "DEFAULT_WORKER_METRICS_PORTS",
    "HLS_SEGMENT_DELIVERIES",
    "MIB",
    "MIN_SECRET_LENGTH",
    "S3_MAX_SINGLE_UPLOAD_BYTES",
    "S3_MIN_PART_BYTES",
    "SERVICE_NAMES",
    "WORKER_NAMES",
    "X264_PRESETS",
    "AttendanceSettings",
    "LtiSettings",
    "PlaybackSettings",
    "ServiceEndpoint",
    "Settings",
    "SettingsError",
    "TranscodeSettings",
    "load_attendance_settings",
    "load_database_url",
    "load_lti_settings",
    "load_playback_settings",
    "load_settings",
    "load_settings_or_exit",
    "load_transcode_settings",
    "read_edge_processes",
]
