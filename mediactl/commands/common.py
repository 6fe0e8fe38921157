"""What every command shares: the signed-in API client and the common options."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from mediactl import config
from mediactl.client import Api

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]
CourseOption = Annotated[
    str, typer.Option("--course", "-c", help="Course id (default: the course your token is for).", show_default=False)
]
LimitOption = Annotated[int, typer.Option("--limit", min=1, help="Show at most this many.")]


@contextmanager
def signed_in() -> Iterator[Api]:
    """An :class:`Api` for the stored (or environment's) URL and token; raises NotLoggedIn."""
    credentials = config.load()
    api = Api(credentials.url, credentials.token)
    try:
        yield api
    finally:
        api.close()


def example(*lines: str) -> str:
    """A help epilog showing how a command is used."""
    return "Example:\n\n" + "\n\n".join(f"  $ {line}" for line in lines)
