"""Operators mint a session token from the command line, signed like a launch's."""

from __future__ import annotations

import subprocess
import sys

from service_kit.auth import verify_session_token

SECRET = "o" * 40
ENV = {
    "JWT_SECRET_KEY": SECRET,
    "HLS_PROXY_SECRET": "h" * 40,
    "ZOOM_WEBHOOK_SECRET": "z",
    "AWS_ACCESS_KEY_ID": "k",
    "AWS_SECRET_ACCESS_KEY": "s",
    "MEDIA_DOTENV": "/nonexistent/.env",
}


def run_token(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service_kit.token", *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_printed_token_carries_the_requested_identity() -> None:
    result = run_token(
        "--organization-id", "org-9", "--course-id", "c-2", "--user-id", "ops", "--role", "Administrator"
    )
    assert result.returncode == 0, result.stderr
    claims = verify_session_token(result.stdout.strip(), SECRET)
    assert (claims.user_id, claims.organization_id, claims.course_id) == ("ops", "org-9", "c-2")
    assert claims.roles == {"Administrator"}


def test_an_instructor_token_is_the_default_role() -> None:
    result = run_token("--organization-id", "org-9")
    assert verify_session_token(result.stdout.strip(), SECRET).roles == {"Instructor"}


def test_a_token_without_an_organization_is_refused() -> None:
    result = run_token("--course-id", "c")
    assert result.returncode == 2
    assert "--organization-id" in result.stderr
