"""``mediactl login`` and ``mediactl logout``: the token, checked once and kept owner-only."""

from __future__ import annotations

from typing import Annotated

import typer

from mediactl import config
from mediactl.client import Api
from mediactl.commands.common import example
from mediactl.output import say

CHECK_PATH = "/api/v1/media/videos"
"""A cheap authenticated call: one video of the token's course (any 2xx means the token works)."""


def login(
    url: Annotated[
        str, typer.Option("--url", help="The media service's address, e.g. https://media.example.edu.")
    ] = "",
    token: Annotated[str, typer.Option("--token", help="Your personal API token (asked for when omitted).")] = "",
) -> None:
    """Check a token against the service and keep it for the next commands."""
    url = config.normalize_url(url or typer.prompt("Media service URL"))
    token = (token or typer.prompt("API token", hide_input=True)).strip()
    if not url or not token:
        raise typer.BadParameter("both the URL and the token are needed")
    api = Api(url, token)
    try:
        api.call("GET", CHECK_PATH, query={"page_size": 1})
    finally:
        api.close()
    path = config.save(config.Credentials(url, token))
    say(f"Logged in to {url}; the token is kept in {path} (readable only by you).")


def logout() -> None:
    """Forget the stored token (MEDIA_TOKEN in the environment is not touched)."""
    if config.remove():
        say(f"Logged out: removed {config.credentials_path()}.")
    else:
        say("Not logged in: there was no stored token.")


def register(app: typer.Typer) -> None:
    app.command(epilog=example("mediactl login --url https://media.example.edu"))(login)
    app.command(epilog=example("mediactl logout"))(logout)
