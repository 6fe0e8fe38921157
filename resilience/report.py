"""The table a resilience run prints: one row per scenario, and whether the run passed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """A finished scenario: what it injected, the traffic during it, what was lost, recovery."""

    scenario: str
    injected: str
    uploads: str
    webhooks: str
    lost: str
    recovered: str
    ok: bool
    notes: str = ""


HEADINGS = ("scenario", "injected", "uploads ack/refused", "webhooks ack/refused", "lost", "recovered in", "ok")


def render(rows: Sequence[Row]) -> str:
    """Plain text columns (Rich is not among the locked dependencies; this needs nothing)."""
    cells = [HEADINGS] + [
        (r.scenario, r.injected, r.uploads, r.webhooks, r.lost, r.recovered, "yes" if r.ok else "NO") for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADINGS))]
    lines = []
    for index, row in enumerate(cells):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    notes = [f"  {r.scenario}: {r.notes}" for r in rows if r.notes]
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)
