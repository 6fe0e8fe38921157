"""Signing in: a token checked once, kept owner-only, refused with a clear line when bad."""

from __future__ import annotations

import json
import stat

import httpx

from service_kit.auth import INSTRUCTOR, issue_session_token
from tests.cli.conftest import Cli
from tests.support.processes import Stack


def test_login_checks_the_token_and_keeps_it_readable_only_by_its_owner(cli: Cli) -> None:
    done = cli.run("login", "--url", cli.url + "/", credentials=False, stdin=cli.token + "\n")

    assert done.code == 0, done.err
    stored = cli.home / "config" / "mediactl" / "credentials.json"
    assert json.loads(stored.read_text()) == {"url": cli.url, "token": cli.token}
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert cli.token not in done.out

    listed = cli.run("videos", "list", "--json", credentials=False)
    assert listed.code == 0, listed.err
    assert json.loads(listed.out) == []

    out = cli.run("logout", credentials=False)
    assert out.code == 0 and not stored.exists()
    after = cli.run("videos", "list", credentials=False)
    assert after.code == 1
    assert after.err.strip() == "mediactl: Not logged in: run `mediactl login`, or set MEDIA_URL and MEDIA_TOKEN."


def test_the_environment_overrides_the_stored_token(cli: Cli) -> None:
    assert cli.run("login", "--url", cli.url, "--token", cli.token, credentials=False).code == 0

    refused = cli.run("videos", "list", credentials=False, MEDIA_TOKEN="not-a-token")

    assert refused.code == 2
    assert "HTTP 401" in refused.err


def test_a_token_the_server_does_not_accept_is_refused_with_exit_code_2_and_what_to_do(cli: Cli, stack: Stack) -> None:
    forged = issue_session_token(
        "a-secret-that-is-not-the-servers-" + "x" * 16,
        user_id="someone",
        organization_id="org-x",
        course_id="course-x",
        roles=[INSTRUCTOR],
        ttl_seconds=600,
    )

    login = cli.run("login", "--url", cli.url, "--token", forged, credentials=False)
    listing = cli.run("videos", "list", MEDIA_TOKEN=forged)

    for refused in (login, listing):
        assert refused.code == 2, refused
        assert refused.out == ""
        [line] = refused.err.splitlines()
        assert line.startswith("mediactl: Refused by the server (HTTP 401): ")
        assert "run `mediactl login` again" in line
    assert not (cli.home / "config" / "mediactl" / "credentials.json").exists()


def test_an_edge_that_cannot_be_reached_exits_3_with_what_to_check(cli: Cli) -> None:
    down = cli.run("videos", "list", MEDIA_URL="http://127.0.0.1:9")

    assert down.code == 3
    [line] = down.err.splitlines()
    assert line.startswith("mediactl: Cannot reach http://127.0.0.1:9")
    assert "Check the URL" in line


def test_usage_mistakes_exit_1_with_one_line_pointing_at_help(cli: Cli) -> None:
    wrong = cli.run("videos", "list", "--frobnicate")
    missing = cli.run("upload", "no-such-file.mp4")

    assert (wrong.code, missing.code) == (1, 1)
    assert wrong.err.splitlines() == ["mediactl: No such option: --frobnicate (see `mediactl videos list --help`)"]
    assert "no-such-file.mp4" in missing.err and len(missing.err.splitlines()) == 1


COMMANDS = [
    ["login"],
    ["logout"],
    ["upload"],
    ["play"],
    ["attendance"],
    ["videos", "list"],
    ["videos", "show"],
    ["videos", "publish"],
    ["videos", "unpublish"],
    ["videos", "rename"],
    ["videos", "delete"],
    ["sessions", "create"],
    ["sessions", "list"],
    ["sessions", "show"],
]


def test_every_command_s_help_shows_an_example(cli: Cli) -> None:
    for command in COMMANDS:
        shown = cli.run(*command, "--help")
        assert shown.code == 0, (command, shown.err)
        assert "Example:" in shown.out, command
        assert f"$ mediactl {' '.join(command)}" in shown.out, (command, shown.out)


def test_a_personal_api_token_works_until_it_is_revoked_then_exit_2_says_to_log_in_again(cli: Cli) -> None:
    """The token people are meant to use: made by the API (as the page does), then revoked there."""
    headers = {"Authorization": f"Bearer {cli.token}"}
    with httpx.Client(base_url=cli.url, headers=headers, timeout=30) as api:
        made = api.post("/api/v1/api-tokens", json={"name": "lecture-capture pc", "expires_in_days": 30})
        assert made.status_code == 200, made.text
        secret, token_id = made.json()["secret"], made.json()["token"]["token_id"]

        login = cli.run("login", "--url", cli.url, "--token", secret, credentials=False)
        assert login.code == 0, login.err
        assert cli.run("videos", "list", "--json", credentials=False).code == 0

        assert api.delete(f"/api/v1/api-tokens/{token_id}").status_code == 200

    refused = cli.run("videos", "list", credentials=False)

    assert refused.code == 2, refused
    [line] = refused.err.splitlines()
    assert line.startswith("mediactl: Refused by the server (HTTP 401): ")
    assert "revoked" in line and "mediactl login" in line
    assert secret not in refused.err
