"""The pages' timings and weights in headless Chromium, for ``make bench`` (bench/pages.py) only.

Not a spec: its name is not ``test_*.py``, so ``make test`` never collects it; bench/pages.py
runs it by path, with ``PAGE_BENCH_OUT`` naming the JSON file it writes. It reuses the
browser specs' fixtures (the whole stack as ``make run`` starts it, a test LMS, a ready
video), so it measures exactly what those specs drive. It asserts only that each run
reached its goal, never on time.

Each run is a fresh browser profile (an empty HTTP cache: a first visit) and a new user (no
resume position), and times are taken inside the page with ``performance.now()``:

- **launch → interactive**: from the start of the navigation that the LMS's form post
  begins (the frame's time origin) to the library listed (``#library-loading`` hidden) and,
  for instructors, the upload button enabled (upload.js loaded and wired);
- **play → first frame**: from the Play button's click to the video's ``currentTime > 0``,
  the player's chunk (hls.js) fetched on the way;
- **bytes**: the Resource Timing entries of every .js and .css file (transfer and decoded
  sizes) before and after the player opens.

The side-by-side is what someone would otherwise put up: a static HTML page with a plain
``<video>``, hls.js (the player's npm build, the full one) in a ``<script>`` tag, and the very same
HLS files copied from the object store, served by ``python -m http.server``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Frame, Page

from devstack import free_port
from service_kit.object_store import s3_client
from tests.web.conftest import BLOCK_STORAGE, INSTRUCTOR_ROLE, LEARNER_ROLE, STEP_SECONDS, Course, WebStack

ROOT = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("PAGE_BENCH_RUNS", "15"))
HLS_JS = ROOT / "node_modules" / "hls.js" / "dist" / "hls.min.js"
MARK_INTERACTIVE = """
if (location.pathname === "/lti/launch") {
  const check = () => {
    const loading = document.getElementById("library-loading");
    const upload = document.getElementById("upload-choose");
    if (loading && loading.hidden && (!upload || !upload.disabled)) window.__interactiveAt = performance.now();
    else setTimeout(check, 2);
  };
  check();
}
"""
WATCH_PLAY = """(button) => {
  const video = document.querySelector("video");
  button.addEventListener("click", () => {
    window.__playAt = performance.now();
    const check = () => (video.currentTime > 0 ? (window.__firstFrameAt = performance.now()) : setTimeout(check, 2));
    check();
  }, { once: true, capture: true });
}"""
RESOURCES = """() => performance.getEntriesByType("resource")
  .filter((e) => /\\.(js|css)$/.test(new URL(e.name).pathname))
  .map((e) => ({ name: new URL(e.name).pathname, transfer: e.transferSize, decoded: e.decodedBodySize }))"""
PLAIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hls.js on a static page</title></head>
<body><video width="640" height="360" controls playsinline></video><button id="play">Play</button>
<script src="hls.min.js"></script>
<script>
const video = document.querySelector("video");
document.getElementById("play").addEventListener("click", () => {
  const hls = new Hls();
  hls.loadSource("hls/master.m3u8");
  hls.attachMedia(video);
  video.play();
});
</script></body></html>
"""


async def _wait_for(frame: Frame, name: str, within: float = 60.0) -> float:
    """The in-page time mark ``window[name]`` (ms since the frame's navigation began), once set."""
    deadline = time.monotonic() + within
    while True:
        value = await frame.evaluate(f"window.{name} ?? null")
        if value is not None:
            return float(value)
        assert await frame.locator("[data-fatal-error]").count() == 0, "the player failed"
        assert time.monotonic() < deadline, f"{name} was never reached"
        await asyncio.sleep(0.05)


async def _new_context(browser: Browser) -> BrowserContext:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.add_init_script(BLOCK_STORAGE)
    await context.add_init_script(MARK_INTERACTIVE)
    context.set_default_timeout(STEP_SECONDS * 1000)
    return context


async def _launch(page: Page, course: Course, *, user: str, role: str) -> tuple[Frame, float]:
    await page.goto(course.platform.course_page_url(user=user, roles=[role]))
    element = await page.wait_for_selector("iframe#tool")
    assert element is not None
    frame = await element.content_frame()
    assert frame is not None
    await frame.wait_for_url("**/lti/launch")
    return frame, await _wait_for(frame, "__interactiveAt")


async def _play(frame: Frame, button_selector: str) -> float:
    button = frame.locator(button_selector)
    await button.evaluate(WATCH_PLAY)
    await button.click()
    return await _wait_for(frame, "__firstFrameAt") - await _wait_for(frame, "__playAt")


async def _resources(frame: Frame) -> list[dict[str, Any]]:
    return list(await frame.evaluate(RESOURCES))


@pytest.fixture
def plain_site(course: Course, web_stack: WebStack, tmp_path: Path) -> Iterator[str]:
    """The reference page and the ready video's HLS files (copied from the store), on a static server."""
    site = tmp_path / "site"
    prefix = f"hls/{course.ready_video['video_id']}/"
    settings = web_stack.stack.infra.settings
    client = s3_client(settings)
    listed = client.list_objects_v2(Bucket=settings.s3_bucket, Prefix=prefix)
    for item in listed.get("Contents", []):
        target = site / "hls" / item["Key"].removeprefix(prefix)
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(settings.s3_bucket, item["Key"], str(target))
    assert (site / "hls" / "master.m3u8").is_file(), f"no master playlist under {prefix}"
    shutil.copy(HLS_JS, site / HLS_JS.name)
    (site / "index.html").write_text(PLAIN_PAGE)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(site)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}/index.html"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def out() -> Path:
    return Path(os.environ.get("PAGE_BENCH_OUT", "page_bench.json"))


async def test_measure_the_pages(browser: Browser, course: Course, plain_site: str, out: Path) -> None:
    video_id = course.ready_video["video_id"]
    await course.api.call(
        "PATCH", f"/api/v1/media/videos/{video_id}?update_mask=published", course.instructor, {"published": True}
    )
    result: dict[str, Any] = {"runs": RUNS, "instructor": [], "learner": [], "plain": []}
    for _ in range(RUNS):
        for role, key in ((INSTRUCTOR_ROLE, "instructor"), (LEARNER_ROLE, "learner")):
            context = await _new_context(browser)
            try:
                page = await context.new_page()
                frame, interactive = await _launch(page, course, user=f"bench-{key}-{uuid.uuid4().hex[:8]}", role=role)
                loaded = await _resources(frame)
                first_frame = await _play(frame, f"#video-{video_id} .play")
                with_player = await _resources(frame)
                result[key].append(
                    {
                        "interactive_ms": interactive,
                        "first_frame_ms": first_frame,
                        "page": loaded,
                        "player": with_player,
                    }
                )
            finally:
                await context.close()
        context = await _new_context(browser)
        try:
            page = await context.new_page()
            await page.goto(plain_site)
            loaded_ms = float(await page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
            first_frame = await _play(page.main_frame, "#play")
            result["plain"].append(
                {"interactive_ms": loaded_ms, "first_frame_ms": first_frame, "page": await _resources(page.main_frame)}
            )
        finally:
            await context.close()
    await asyncio.to_thread(out.write_text, json.dumps(result, indent=2) + "\n")
