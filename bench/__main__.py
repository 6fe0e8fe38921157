"""``python -m bench``: run every benchmark in order, then print a one-line summary of each.

Add a benchmark by writing ``bench/<name>.py`` with a ``main() -> dict`` that prints its
table and writes ``bench/results/<name>.json``, and listing it in BENCHMARKS.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Callable
from typing import Any

BENCHMARKS = (
    "bench.gateway",
    "bench.upload",
    "bench.transcode",
    "bench.transcode_job",
    "bench.transcode_chunked",
    "bench.playback",
    "bench.attendance",
    "bench.pages",
)
"""Run in this order; the gateway first."""


def run_all() -> int:
    failures = 0
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        module = importlib.import_module(name)
        entry: Callable[[], dict[str, Any]] = module.main
        try:
            entry()
        except Exception:
            failures += 1
            traceback.print_exc()
        print(flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(run_all())
