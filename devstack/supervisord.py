"""The Procfile's processes under supervisord, which restarts any that dies.

The Procfile stays the one list of processes (docker-compose names the same ones);
this module turns it into a supervisord configuration in ``.devstack/`` and runs
supervisord in the foreground. Each program restarts whenever it exits, however it
died (``autorestart=true``): one crashed or SIGKILLed service is back within seconds
while the others keep serving. supervisord's own stop (SIGTERM) stops every program
with SIGTERM, its process group included, and waits for it, so Ctrl-C on ``make run``
still ends everything cleanly.

Why supervisord: it is the long-kept standard for exactly this (restart, backoff,
stop in order, ``supervisorctl status``) and honcho, used before, ends every process
when one exits.

Replicas: with EDGE_PROCESSES=N the ``edge`` program runs N copies (supervisord's
``numprocs``: ``media:edge_0`` ... ``edge_{N-1}``), each restarted on its own, all on
one port by SO_REUSEPORT. They get PROMETHEUS_MULTIPROC_DIR (``state_dir/metrics/edge``,
emptied when the configuration is written, kept across one copy's restart so the
counters never go back) so /metrics counts all of them (edge/metrics.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from service_kit.settings import read_edge_processes

STOP_WAIT_SECONDS = 20
"""What a program gets after SIGTERM before supervisord kills it (services drain in SHUTDOWN_GRACE_SECONDS)."""
START_SECONDS = 1
"""A program that stays up this long counts as started; one that dies sooner is retried with backoff."""
START_RETRIES = 20
"""Quick deaths in a row before supervisord gives a program up as FATAL (a bad setting, say)."""
SUPERVISORD_STOP_MARGIN_SECONDS = 10.0
GROUP = "media"
"""One group for every program: supervisord stops groups one after another but a group's programs
at once, so Ctrl-C takes one program's drain time, not the sum of nine (``supervisorctl`` names
them ``media:edge``, ``media:worker``, ...)."""

REPLICATED_PROGRAM = "edge"
"""The one program that may run as several copies on one port (EDGE_PROCESSES)."""
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

_PROCFILE_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_-]+):\s*(?P<command>.+)$")


@dataclass(frozen=True)
class Program:
    """One Procfile line: a name and the command that runs it."""

    name: str
    command: str


def read_procfile(text: str) -> list[Program]:
    """Programs from a Procfile (``name: command``; blank lines and ``#`` comments ignored).

    A leading ``exec`` (which a shell-run Procfile uses so signals reach the program)
    is dropped: supervisord runs the command itself, without a shell.

    Raises:
        ValueError: a line that is not ``name: command``, or a name used twice.
    """
    programs: list[Program] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _PROCFILE_LINE.match(line)
        if match is None:
            raise ValueError(f"Procfile line {number} is not 'name: command': {line!r}")
        command = match["command"].strip()
        command = command.removeprefix("exec ").strip()
        if any(p.name == match["name"] for p in programs):
            raise ValueError(f"Procfile line {number} repeats the name {match['name']!r}")
        programs.append(Program(match["name"], command))
    return programs


def _resolve(command: str, path: str) -> str:
    """The command with its program found on ``path`` (supervisord needs an absolute or findable program)."""
    words = shlex.split(command)
    for directory in path.split(os.pathsep):
        candidate = Path(directory) / words[0]
        if directory and candidate.is_file() and os.access(candidate, os.X_OK):
            words[0] = str(candidate)
            break
    return shlex.join(words)


def _escape(value: str) -> str:
    """supervisord expands ``%(name)s`` in values; a literal ``%`` must be doubled."""
    return value.replace("%", "%%")


def metrics_dir(state_dir: Path, program: str) -> Path:
    """Where the copies of a replicated program add up their metrics."""
    return state_dir / "metrics" / program


def render_config(
    programs: list[Program], *, state_dir: Path, root: Path, path: str, replicas: Mapping[str, int] | None = None
) -> str:
    """The supervisord.conf text for these programs.

    Output goes to supervisord's own stdout (``/dev/fd/1``, no rotation), so ``make run``
    shows every process's JSON lines as it did; the control socket lives in ``state_dir``
    (owner only) for ``supervisorctl``. Programs inherit supervisord's environment; a
    program named in ``replicas`` with more than one copy runs that many, with a shared
    metrics directory (:func:`metrics_dir`) added to its environment.
    """
    sections = [
        "[supervisord]",
        "nodaemon=true",
        "silent=true",
        f"logfile={_escape(str(state_dir / 'supervisord.log'))}",
        f"pidfile={_escape(str(state_dir / 'supervisord.pid'))}",
        f"childlogdir={_escape(str(state_dir))}",
        "",
        "[unix_http_server]",
        f"file={_escape(str(state_dir / 'supervisor.sock'))}",
        "chmod=0700",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{_escape(str(state_dir / 'supervisor.sock'))}",
    ]
    sections += ["", f"[group:{GROUP}]", f"programs={','.join(p.name for p in programs)}"]
    for program in programs:
        sections += [
            "",
            f"[program:{program.name}]",
            f"command={_escape(_resolve(program.command, path))}",
            f"directory={_escape(str(root))}",
            "autostart=true",
            "autorestart=true",
            f"startsecs={START_SECONDS}",
            f"startretries={START_RETRIES}",
            "stopsignal=TERM",
            f"stopwaitsecs={STOP_WAIT_SECONDS}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            "stdout_logfile=/dev/fd/1",
            "stdout_logfile_maxbytes=0",
        ]
        copies = (replicas or {}).get(program.name, 1)
        if copies > 1:
            shared = _escape(str(metrics_dir(state_dir, program.name)))
            sections += [
                f"numprocs={copies}",
                "process_name=%(program_name)s_%(process_num)d",
                f'environment={MULTIPROCESS_DIR_VARIABLE}="{shared}"',
            ]
    return "\n".join(sections) + "\n"


def config_path(state_dir: Path) -> Path:
    return state_dir / "supervisord.conf"


def write_config(procfile: Path, *, state_dir: Path, root: Path, env: Mapping[str, str]) -> Path:
    """Write ``state_dir/supervisord.conf`` for the Procfile's programs; its path.

    EDGE_PROCESSES in ``env`` sets the edge's copies (a malformed value raises
    :class:`service_kit.settings.SettingsError` naming it); their metrics directory starts empty.
    """
    programs = read_procfile(procfile.read_text())
    replicas = {REPLICATED_PROGRAM: read_edge_processes(env)}
    state_dir.mkdir(parents=True, exist_ok=True)
    for name, copies in replicas.items():
        shared = metrics_dir(state_dir, name)
        shutil.rmtree(shared, ignore_errors=True)
        if copies > 1:
            shared.mkdir(parents=True)
    path = config_path(state_dir)
    path.write_text(
        render_config(programs, state_dir=state_dir, root=root, path=env.get("PATH", ""), replicas=replicas)
    )
    path.chmod(0o600)
    return path


def start(config: Path, *, env: Mapping[str, str], root: Path) -> subprocess.Popen[bytes]:
    """supervisord in the foreground in its own session (a terminal's Ctrl-C reaches only ``make run``)."""
    return subprocess.Popen(
        [sys.executable, "-m", "supervisor.supervisord", "-c", str(config)],
        env=dict(env),
        cwd=root,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(supervisord: subprocess.Popen[bytes]) -> None:
    """SIGTERM: supervisord stops every program (TERM, then KILL after STOP_WAIT_SECONDS) and exits."""
    if supervisord.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(supervisord.pid, signal.SIGTERM)
    try:
        supervisord.wait(timeout=STOP_WAIT_SECONDS + SUPERVISORD_STOP_MARGIN_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(supervisord.pid, signal.SIGKILL)
        supervisord.wait()


def status(config: Path) -> str:
    """``supervisorctl status``: each program, its state, pid and uptime."""
    done = subprocess.run(
        [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(config), "status"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout
