"""Under ``make run`` a process that dies is started again, and stopping ends every process."""

from __future__ import annotations

import os
import signal
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from devstack import free_port
from devstack import supervisord as programs


def test_a_procfile_becomes_programs_without_the_shells_exec() -> None:
    text = "# the stack\nedge: exec python -m edge\n\nworker: python -m transcode_svc.worker --burst\n"
    assert programs.read_procfile(text) == [
        programs.Program("edge", "python -m edge"),
        programs.Program("worker", "python -m transcode_svc.worker --burst"),
    ]


@pytest.mark.parametrize(
    ("text", "problem"), [("edge python -m edge", "not 'name: command'"), ("a: x\na: y", "repeats")]
)
def test_a_malformed_procfile_is_refused_naming_the_line(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        programs.read_procfile(text)


def test_every_program_restarts_when_it_exits_and_percent_signs_survive(tmp_path: Path) -> None:
    config = programs.render_config(
        [programs.Program("edge", "python -m edge --label 100%")], state_dir=tmp_path, root=tmp_path, path=""
    )
    assert "autorestart=true" in config and "stopasgroup=true" in config
    assert "command=python -m edge --label 100%%" in config


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=0.5) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def _pid_on(port: int) -> int:
    """The pid of the process listening on ``port`` (from /proc/net/tcp and the fds in /proc)."""
    wanted = f":{port:04X}"
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(wanted) and fields[3] == "0A":  # LISTEN
            inodes.add(fields[9])
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd).removeprefix("socket:[").removesuffix("]") in inodes:
                    return int(entry.name)
        except OSError:
            continue
    raise AssertionError(f"nothing listens on {port}")


def _wait(condition: Callable[[], bool], seconds: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


def test_a_killed_process_is_back_within_seconds_while_the_other_serves_and_stop_ends_both(tmp_path: Path) -> None:
    first, second = free_port(), free_port()
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        f"first: exec python -m http.server --bind 127.0.0.1 {first}\n"
        f"second: exec python -m http.server --bind 127.0.0.1 {second}\n"
    )
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    state = tmp_path / "state"
    config = programs.write_config(procfile, state_dir=state, root=tmp_path, env=env)
    supervisord = programs.start(config, env=env, root=tmp_path)
    try:
        _wait(lambda: _answers(first) and _answers(second), 20)
        victim = _pid_on(first)
        os.kill(victim, signal.SIGKILL)
        back_after = _wait(lambda: _answers(first) and _pid_on(first) != victim, 10)
        assert back_after < 5
        assert _answers(second), "the other program kept serving"
        assert "first" in programs.status(config) and "RUNNING" in programs.status(config)
        survivors = [_pid_on(first), _pid_on(second)]
    finally:
        started = time.monotonic()
        programs.stop(supervisord)
        stop_seconds = time.monotonic() - started
    assert supervisord.returncode == 0
    assert stop_seconds < 10
    for pid in survivors:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
