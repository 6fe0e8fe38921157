"""The ``mediactl`` Typer application: every command, registered from its module."""

from __future__ import annotations

import typer

from mediactl.commands import auth, sessions, uploads, videos

app = typer.Typer(
    name="mediactl",
    help="The media service from the command line: upload lectures, manage videos, live sessions and attendance.",
    epilog="Example:\n\n  $ mediactl login\n\n  $ mediactl upload lecture.mp4\n\n  $ mediactl videos list",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
for module in (auth, uploads, videos, sessions):
    module.register(app)
