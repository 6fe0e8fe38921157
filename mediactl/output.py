"""What a person or a script sees: Rich tables and bars on a terminal, plain lines when piped.

Results go to stdout; errors go to stderr, one line each. When stdout is not a terminal
nothing is animated and nothing is coloured: tables become tab-separated lines with a
header, and progress becomes one line per step, so ``mediactl ... | tee log`` stays readable.
``--json`` prints the server's objects as they are, for scripts.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

Column = tuple[str, Callable[[dict[str, Any]], Any]]
"""A table column: its heading and how to read its cell from one item."""

_consoles: dict[bool, Console] = {}


def console(stderr: bool = False) -> Console:
    """The stdout (or stderr) console: colour and animation only on a terminal, lines never wrapped."""
    if stderr not in _consoles:
        _consoles[stderr] = Console(highlight=False, soft_wrap=True, stderr=stderr)
    return _consoles[stderr]


def interactive(stderr: bool = False) -> bool:
    shown = console(stderr)
    return shown.is_terminal and not shown.is_dumb_terminal


def error(line: str) -> None:
    """One clear line on stderr."""
    print(f"mediactl: {line}", file=sys.stderr, flush=True)


def say(line: str) -> None:
    """A line for people (plain text, no markup)."""
    console().print(line, markup=False, highlight=False)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def table(items: Sequence[dict[str, Any]], columns: Sequence[Column], *, title: str = "") -> None:
    """A Rich table on a terminal; tab-separated lines (heading first) otherwise."""
    rows = [[cell(read(item)) for _, read in columns] for item in items]
    if not interactive():
        lines = ["\t".join(heading for heading, _ in columns), *("\t".join(row) for row in rows)]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        return
    shown = Table(title=title or None, title_justify="left")
    for heading, _ in columns:
        shown.add_column(heading, overflow="fold")
    for row in rows:
        shown.add_row(*row)
    console().print(shown)


def fields(item: dict[str, Any], columns: Sequence[Column]) -> None:
    """One item as ``name: value`` lines (a two-column table on a terminal)."""
    if not interactive():
        for heading, read in columns:
            sys.stdout.write(f"{heading}: {cell(read(item))}\n")
        sys.stdout.flush()
        return
    shown = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    shown.add_column(style="bold")
    shown.add_column(overflow="fold")
    for heading, read in columns:
        shown.add_row(heading, cell(read(item)))
    console().print(shown)


def short_status(value: Any) -> str:
    """``VIDEO_STATUS_READY`` → ``ready``: the enum's last words, in lower case."""
    text = str(value or "")
    for prefix in ("VIDEO_STATUS_", "LIVE_SESSION_STATUS_", "ATTENDANCE_STATUS_", "TRANSCODE_JOB_STATUS_"):
        text = text.removeprefix(prefix)
    return text.replace("_", " ").lower()


# ---- progress of one file: bytes sent, then transcoding --------------------------------------


class Reporter:
    """Plain progress: one line per step, safe to call from the part threads."""

    def __init__(self, stderr: bool = False) -> None:
        self._lock = threading.Lock()
        self.console = console(stderr)

    def line(self, text: str) -> None:
        with self._lock:
            self.console.print(text, markup=False, highlight=False)

    def sending(self, name: str, total: int, already: int, parts: int, missing: int) -> None:
        if parts > 1:
            self.line(f"{name}: sending {human_bytes(total - already)} in {missing} of {parts} parts")
        else:
            self.line(f"{name}: sending {human_bytes(total)}")

    def sent_bytes(self, count: int) -> None:
        """Bytes that reached the store (negative after a failed attempt)."""

    def part_sent(self, name: str, number: int, parts: int) -> None:
        self.line(f"{name}: part {number}/{parts} sent")

    def retrying(self, name: str, number: int, delay: float, why: str) -> None:
        self.line(f"{name}: part {number} failed ({why}); trying again in {delay:g} s")

    def uploaded(self, name: str, video_id: str) -> None:
        self.line(f"{name}: uploaded as video {video_id}")

    def transcoding(self, name: str) -> None:
        self.line(f"{name}: transcoding")

    def transcode_progress(self, percent: int, status: str) -> None:
        """A new progress snapshot (plain output prints none: only the end)."""

    def done(self) -> None:
        """The file's last step ended (bars stop)."""


class BarReporter(Reporter):
    """Rich bars: bytes with speed and time left, then the transcoding percentage."""

    def __init__(self, stderr: bool = False) -> None:
        super().__init__(stderr)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.transcode_bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[status]}"),
            console=self.console,
        )
        self._bytes: TaskID | None = None
        self._transcode: TaskID | None = None
        self._name = ""

    def line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def sending(self, name: str, total: int, already: int, parts: int, missing: int) -> None:
        self._name = name
        if already:
            self.line(f"{name}: resuming, {parts - missing} of {parts} parts already stored")
        self.progress.start()
        self._bytes = self.progress.add_task(f"{name} upload", total=max(total, 1), completed=already)

    def sent_bytes(self, count: int) -> None:
        if self._bytes is not None:
            self.progress.advance(self._bytes, count)

    def part_sent(self, name: str, number: int, parts: int) -> None:
        """The byte bar says it."""

    def uploaded(self, name: str, video_id: str) -> None:
        if self._bytes is not None:
            self.progress.update(self._bytes, completed=self.progress.tasks[0].total)
        self._finish_bytes()
        self.line(f"{name}: uploaded as video {video_id}")

    def transcoding(self, name: str) -> None:
        self.transcode_bars.start()
        self._transcode = self.transcode_bars.add_task(f"{name} transcode", total=100, status="queued")

    def transcode_progress(self, percent: int, status: str) -> None:
        if self._transcode is not None:
            self.transcode_bars.update(self._transcode, completed=percent, status=status)

    def done(self) -> None:
        self._finish_bytes()
        self.transcode_bars.stop()
        if self._transcode is not None:
            self.transcode_bars.remove_task(self._transcode)
            self._transcode = None

    def _finish_bytes(self) -> None:
        """Stop the byte bar (its last state stays on screen) and forget it, ready for the next file."""
        self.progress.stop()
        if self._bytes is not None:
            self.progress.remove_task(self._bytes)
            self._bytes = None


def reporter(stderr: bool = False) -> Reporter:
    """Bars on a terminal, lines otherwise; on stderr when stdout carries ``--json``."""
    return BarReporter(stderr) if interactive(stderr) else Reporter(stderr)


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
