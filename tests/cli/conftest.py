"""What the mediactl tests share: the real stack, the installed ``mediactl`` run as a process.

Every test runs the console script the package installs (``.venv/bin/mediactl``) with its
own config and state directories (``XDG_CONFIG_HOME``, ``XDG_STATE_HOME``), so login files
and resume records of one test never leak into another. Tokens are session tokens minted
for a fresh organization and course (the CLI only sends ``Authorization: Bearer``, so a
personal API token works the same). Media files and the small-parts edge (6 MiB multipart
threshold, 5 MiB parts) come from the upload tests; live sessions from the attendance
tests' stack with its Zoom stand-in.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.attendance.conftest import attendance_stack, course, http  # noqa: F401  (shared fixtures)
from tests.support.callers import Caller, mint_caller
from tests.support.processes import Process, Stack, spawn
from tests.transcode.conftest import TEST_TRANSCODE_ENV
from tests.upload.conftest import large_video, media_dir, small_parts_edge, small_video  # noqa: F401

MEDIACTL = str(Path(sys.executable).with_name("mediactl"))


@dataclass(frozen=True)
class Result:
    """How one run of mediactl ended: exit code and what it wrote."""

    code: int
    out: str
    err: str


@dataclass
class Cli:
    """mediactl for one person: a home of their own, and (by default) the edge URL and token in the environment."""

    home: Path
    url: str
    token: str

    def env(self, *, with_credentials: bool = True, **extra: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("MEDIA_URL", "MEDIA_TOKEN", "NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES")
        }
        env.update(
            XDG_CONFIG_HOME=str(self.home / "config"),
            XDG_STATE_HOME=str(self.home / "state"),
            HOME=str(self.home),
            PYTHONUNBUFFERED="1",
        )
        if with_credentials:
            env.update(MEDIA_URL=self.url, MEDIA_TOKEN=self.token)
        env.update(extra)
        return env

    def run(self, *args: str, stdin: str = "", timeout: float = 180, credentials: bool = True, **extra: str) -> Result:
        """Run to the end with stdout and stderr piped (what a script sees)."""
        done = subprocess.run(
            [MEDIACTL, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(with_credentials=credentials, **extra),
            timeout=timeout,
            cwd=self.home,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    async def run_async(self, *args: str, seconds: float = 120) -> Result:
        """As :meth:`run`, while this event loop keeps serving (the Zoom stand-in lives in it)."""
        process = await asyncio.create_subprocess_exec(
            MEDIACTL,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env(),
            cwd=self.home,
        )
        out, err = await asyncio.wait_for(process.communicate(), seconds)
        return Result(process.returncode or 0, out.decode(), err.decode())


@pytest.fixture
def instructor(stack: Stack) -> Caller:
    return mint_caller(stack.infra.settings.jwt_secret_key)


@pytest.fixture
def cli(stack: Stack, instructor: Caller, tmp_path: Path) -> Cli:
    home = tmp_path / "home"
    home.mkdir()
    return Cli(home, stack.edge_url, instructor.token)


@pytest.fixture
def small_file(small_video: bytes, tmp_path: Path) -> Path:  # noqa: F811
    path = tmp_path / "Week 1 intro.mp4"
    path.write_bytes(small_video)
    return path


@pytest.fixture
def large_file(large_video: bytes, tmp_path: Path) -> Path:  # noqa: F811
    path = tmp_path / "Week 2 lecture.mp4"
    path.write_bytes(large_video)
    return path


@pytest.fixture(scope="module")
def worker(stack: Stack) -> Iterator[Process]:
    """A transcode worker, so uploads reach ready."""
    process = spawn("transcode-worker-cli", "transcode_svc.worker", stack.infra, dict(TEST_TRANSCODE_ENV))
    try:
        yield process
    finally:
        process.stop()
