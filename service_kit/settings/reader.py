"""Reading typed values from the environment: the one place a bad variable becomes one clear line.

Its own module because every block of settings (core, transcode, LTI, playback,
attendance) reads through :class:`_Reader` and the parsers here, and :class:`Settings`
embeds :class:`TranscodeSettings`; kept apart from both, nothing imports in a circle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from dotenv import dotenv_values

T = TypeVar("T")

MIN_SECRET_LENGTH = 32
"""HS256 and HMAC keys shorter than 256 bits are refused (RFC 7518, section 3.2)."""


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable and the fix."""


class _Reader:
    """Reads typed values from one mapping and names the variable in every failure."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str, default: str | None = None) -> str:
        value = self._env.get(name, "").strip()
        if value:
            return value
        if default is None:
            raise SettingsError(f"{name} is not set: set it in the environment or in .env (see .env.example)")
        return default

    def optional(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def parsed(self, name: str, default: str, parse: Callable[[str], T], expected: str) -> T:
        raw = self.text(name, default)
        try:
            return parse(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is malformed: expected {expected}") from None

    def port(self, name: str, default: int) -> int:
        value = self.parsed(name, str(default), int, "a port number")
        if not 0 < value < 65536:
            raise SettingsError(f"{name}={value} is malformed: expected a port number from 1 to 65535")
        return value

    def url(self, name: str, default: str | None, schemes: tuple[str, ...]) -> str:
        value = self.text(name, default)
        _check_url(name, value, schemes)
        return value

    def optional_url(self, name: str, schemes: tuple[str, ...]) -> str | None:
        value = self.optional(name)
        if value is not None:
            _check_url(name, value, schemes)
        return value

    def secret(self, name: str) -> str:
        value = self.text(name)
        if len(value) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"{name} is too short ({len(value)} characters): use at least {MIN_SECRET_LENGTH} random characters"
            )
        return value


def _check_url(name: str, value: str, schemes: tuple[str, ...]) -> None:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise SettingsError(f"{name}={value!r} is malformed: expected a URL starting with {' or '.join(schemes)}://")


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def _whole_number_between(low: int, high: int) -> Callable[[str], int]:
    """A parser of a whole number from ``low`` to ``high`` (S3 and SigV4 bound sizes and lifetimes)."""

    def parse(raw: str) -> int:
        value = int(raw)
        if not low <= value <= high:
            raise ValueError(raw)
        return value

    return parse


def _environment_with_dotenv(env: Mapping[str, str], dotenv_path: Path | None) -> dict[str, str]:
    """The process environment over the .env file: real variables always win."""
    merged: dict[str, str] = {}
    path = dotenv_path if dotenv_path is not None else Path(env.get("MEDIA_DOTENV", ".env"))
    if path.is_file():
        merged.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    merged.update(env)
    return merged
