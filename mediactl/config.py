"""Where mediactl keeps the edge URL and the token, and how the environment overrides them.

The credentials file is ``<user config dir>/mediactl/credentials.json`` (platformdirs:
``$XDG_CONFIG_HOME/mediactl`` on Linux), the directory mode 0700 and the file 0600, since
the token is a password. ``MEDIA_URL`` and ``MEDIA_TOKEN`` win over the file, each on its
own, so a cron job needs no file at all. Resume records of interrupted uploads live in the
user state dir (``$XDG_STATE_HOME/mediactl``): they name no secret.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP = "mediactl"
URL_VARIABLE = "MEDIA_URL"
TOKEN_VARIABLE = "MEDIA_TOKEN"


class NotLoggedIn(Exception):
    """No URL or token: neither the environment nor the credentials file gives one."""


@dataclass(frozen=True)
class Credentials:
    """The edge's base URL (``https://media.example.edu``) and the bearer token sent to it."""

    url: str
    token: str


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def state_dir() -> Path:
    return Path(platformdirs.user_state_dir(APP, appauthor=False))


def credentials_path() -> Path:
    return config_dir() / "credentials.json"


def normalize_url(url: str) -> str:
    """``media.example.edu/`` → ``https://media.example.edu``: a scheme, no trailing slash."""
    url = url.strip().rstrip("/")
    if url and "://" not in url:
        url = "https://" + url
    return url


def save(credentials: Credentials, path: Path | None = None) -> Path:
    """Write the credentials owner-only (0700 directory, 0600 file, created so from the start)."""
    path = path or credentials_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"url": credentials.url, "token": credentials.token}, out)
    path.chmod(0o600)
    return path


def remove(path: Path | None = None) -> bool:
    """Delete the stored credentials; False when there were none."""
    path = path or credentials_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def stored(path: Path | None = None) -> dict[str, str]:
    """What the credentials file holds (empty when absent or unreadable as JSON)."""
    path = path or credentials_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {key: str(value) for key, value in data.items() if key in ("url", "token")} if isinstance(data, dict) else {}


def load(environ: dict[str, str] | None = None, path: Path | None = None) -> Credentials:
    """The environment over the file; raises :class:`NotLoggedIn` when a URL or token is missing."""
    env = os.environ if environ is None else environ
    saved = stored(path)
    url = normalize_url(env.get(URL_VARIABLE) or saved.get("url", ""))
    token = (env.get(TOKEN_VARIABLE) or saved.get("token", "")).strip()
    if not url or not token:
        raise NotLoggedIn("Not logged in: run `mediactl login`, or set MEDIA_URL and MEDIA_TOKEN.")
    return Credentials(url, token)
