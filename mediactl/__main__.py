"""``mediactl``'s entry point: run a command, turn every failure into one line and an exit code.

Exit codes, for scripts: 0 done; 1 usage (a wrong option, a missing file, not logged in);
2 refused by the server (its message is printed); 3 the network (the edge or the object
store could not be reached); 130 interrupted with Ctrl-C (an upload resumes when the same
command is run again).
"""

from __future__ import annotations

import sys

import typer

from mediactl.client import NetworkDown, Refused
from mediactl.config import NotLoggedIn
from mediactl.output import error
from mediactl.upload import Stopped, StoreFailed

OK, USAGE, REFUSED, NETWORK, INTERRUPTED = 0, 1, 2, 3, 130


def run(argv: list[str] | None = None) -> int:
    from mediactl.cli import app

    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="mediactl", standalone_mode=False)
    except typer.TyperException as wrong:
        # Usage errors (Typer's own copy of Click's): a wrong option, a missing argument, no command.
        context = getattr(wrong, "ctx", None)
        if type(wrong).__name__ == "NoArgsIsHelpError" and context is not None:
            print(context.get_help())
            return USAGE
        where = context.command_path if context is not None else "mediactl"
        error(f"{wrong.format_message()} (see `{where} --help`)")
        return USAGE
    except (typer.Abort, KeyboardInterrupt, Stopped):
        error("Interrupted. Run the same command again to resume an unfinished upload.")
        return INTERRUPTED
    except NotLoggedIn as missing:
        error(str(missing))
        return USAGE
    except Refused as refused:
        error(refused.line())
        return REFUSED
    except NetworkDown as down:
        error(down.line())
        return NETWORK
    except StoreFailed as failed:
        error(f"{failed}. Check your network and run the same command again: it resumes.")
        return NETWORK
    except OSError as problem:
        error(f"{problem.strerror or problem}: {problem.filename or ''}".rstrip(": ") + ".")
        return USAGE
    return result if isinstance(result, int) else OK


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
