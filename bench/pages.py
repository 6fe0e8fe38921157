"""The pages in headless Chromium: launch → interactive library, play → first frame, and bytes.

The browser work is tests/web/page_bench.py, run here by path with pytest so that it
reuses the browser specs' stack (every service, the edge, a transcode worker, a test LMS,
a ready video) exactly as ``make test`` starts it, on the bench's own database and Redis
DB. It writes its raw runs to a JSON file; this module turns them into p50 and p95 and the
table. Never in CI; nothing here asserts on wall time.

Side by side:

- **first frame**: the tool's player (access token, resume position, then hls.js fetched
  as a chunk and attached) against a static page with a plain ``<video>`` and hls.js in a
  ``<script>`` tag playing the same HLS files from ``python -m http.server``: the ratio
  is ours over the plain page's (1.0 = as fast);
- **bytes**: what each page loads (Resource Timing: transfer and decoded), against what
  the launch page loaded before code splitting (one bundle with Uppy and hls.js, built
  here into a scratch folder with ``WEB_SPLITTING=0``; transfer is its gzip size).
"""

from __future__ import annotations

import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench._support import ROOT, table, write_result

NAME = "pages"
RUNS = 15
TIMEOUT_SECONDS = 1800
BENCH_DATABASE_URL = "postgresql+psycopg://root@127.0.0.1:5432/media_bench_pages"
BENCH_REDIS_URL = "redis://127.0.0.1:6379/11"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 15 runs is the 15th value)."""
    ranked = sorted(values)
    index = max(0, min(len(ranked) - 1, round(fraction * len(ranked) + 0.5) - 1))
    return ranked[index]


def timing(runs: list[dict[str, Any]], key: str) -> dict[str, float]:
    values = [float(run[key]) for run in runs]
    return {"p50_ms": statistics.median(values), "p95_ms": percentile(values, 0.95)}


def weight(entries: list[dict[str, Any]]) -> dict[str, int]:
    """JS and CSS bytes of one page load: transfer (as sent, gzipped) and decoded."""
    sums = {"js_transfer": 0, "js_decoded": 0, "css_transfer": 0, "css_decoded": 0}
    for entry in entries:
        kind = "css" if entry["name"].endswith(".css") else "js"
        sums[f"{kind}_transfer"] += int(entry["transfer"])
        sums[f"{kind}_decoded"] += int(entry["decoded"])
    return sums


def unsplit_weight(scratch: Path) -> dict[str, int]:
    """The launch page's bytes before code splitting: one tool.js with everything, and the stylesheet."""
    outdir = scratch / "unsplit"
    env = {**os.environ, "WEB_OUTDIR": str(outdir), "WEB_SPLITTING": "0"}
    subprocess.run(["node", str(ROOT / "web" / "build.mjs")], env=env, check=True, capture_output=True, timeout=120)
    entries = json.loads((outdir / "manifest.json").read_text())["entries"]
    sizes = {"js_transfer": 0, "js_decoded": 0, "css_transfer": 0, "css_decoded": 0}
    for entry, kind in (("tool.js", "js"), ("styles.css", "css")):
        body = (outdir / entries[entry]).read_bytes()
        sizes[f"{kind}_transfer"] += len(gzip.compress(body, 9))
        sizes[f"{kind}_decoded"] += len(body)
    return sizes


def run_browser(scratch: Path, runs: int) -> dict[str, Any]:
    out = scratch / "runs.json"
    env = {
        **os.environ,
        "PAGE_BENCH_OUT": str(out),
        "PAGE_BENCH_RUNS": str(runs),
        "TEST_DATABASE_URL": BENCH_DATABASE_URL,
        "TEST_REDIS_URL": BENCH_REDIS_URL,
        "TEST_START_TIMEOUT_SECONDS": os.environ.get("TEST_START_TIMEOUT_SECONDS", "180"),
    }
    # Many runs take longer than a spec's 300 s limit (pyproject's pytest-timeout): this is not a spec.
    limit = f"--timeout={TIMEOUT_SECONDS - 60}"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", limit, "tests/web/page_bench.py"]
    subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=TIMEOUT_SECONDS)
    raw: dict[str, Any] = json.loads(out.read_text())
    return raw


def kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB"


def main() -> dict[str, Any]:
    runs = int(os.environ.get("PAGE_BENCH_RUNS", RUNS))
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as scratch_name:
        scratch = Path(scratch_name)
        before = unsplit_weight(scratch)
        raw = run_browser(scratch, runs)
    result: dict[str, Any] = {"runs": runs, "before_splitting": before, "pages": {}}
    for key in ("instructor", "learner", "plain"):
        result["pages"][key] = {
            "launch_to_interactive": timing(raw[key], "interactive_ms"),
            "play_to_first_frame": timing(raw[key], "first_frame_ms"),
            "bytes": weight(raw[key][0]["page"]),
            **({"bytes_with_player": weight(raw[key][0]["player"])} if key != "plain" else {}),
        }
    pages = result["pages"]
    plain_first = pages["plain"]["play_to_first_frame"]
    for key in ("instructor", "learner"):
        ours = pages[key]["play_to_first_frame"]
        pages[key]["first_frame_ratio_to_plain"] = {
            "p50": ours["p50_ms"] / plain_first["p50_ms"],
            "p95": ours["p95_ms"] / plain_first["p95_ms"],
        }

    labels = {"instructor": "tool, instructor", "learner": "tool, learner", "plain": "plain <video> + hls.js"}
    print(f"Pages in headless Chromium, {runs} runs each, a fresh profile per run (times in ms)")
    rows = []
    for key, label in labels.items():
        page = pages[key]
        ratio = page.get("first_frame_ratio_to_plain", {"p50": 1.0, "p95": 1.0})
        rows.append(
            [
                label,
                f"{page['launch_to_interactive']['p50_ms']:.0f}",
                f"{page['launch_to_interactive']['p95_ms']:.0f}",
                f"{page['play_to_first_frame']['p50_ms']:.0f}",
                f"{page['play_to_first_frame']['p95_ms']:.0f}",
                f"{ratio['p50']:.2f}x / {ratio['p95']:.2f}x",
            ]
        )
    print(table(["page", "interactive p50", "p95", "first frame p50", "p95", "first frame vs plain"], rows))
    print("(plain page's 'interactive' is its load event; the tool's is the library listed and upload enabled)")
    print()
    weights = [
        ("launch page before splitting", before),
        ("tool, instructor: library + upload", pages["instructor"]["bytes"]),
        ("tool, learner: library", pages["learner"]["bytes"]),
        ("tool, learner: + player opened", pages["learner"]["bytes_with_player"]),
        ("plain <video> + hls.js", pages["plain"]["bytes"]),
    ]
    print(
        table(
            ["page", "JS transfer", "JS decoded", "CSS transfer", "CSS decoded"],
            [
                [label, kib(w["js_transfer"]), kib(w["js_decoded"]), kib(w["css_transfer"]), kib(w["css_decoded"])]
                for label, w in weights
            ],
        )
    )
    result["launch_js_ratio_to_before"] = pages["learner"]["bytes"]["js_decoded"] / before["js_decoded"]
    print(
        f"a learner's launch loads {result['launch_js_ratio_to_before']:.2f}x the JavaScript it loaded before splitting"
    )
    write_result(NAME, result)
    return result


if __name__ == "__main__":
    main()
