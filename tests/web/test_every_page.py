"""Every page (tests/web/scenarios.py), at desktop and phone width: no serious or critical
accessibility violation found by axe-core, and a screenshot of it.

axe-core is the npm package pinned in package.json (``node_modules/axe-core/axe.min.js``,
installed by ``make web``); it is evaluated inside the tool's frame of the same Chromium the
other specs use, with the pages' own Content-Security-Policy in force.

Screenshots go to a temporary folder in ``make test`` (so the suite never rewrites the
repository) and to ``docs/screenshots/`` with ``make screenshots``, which runs this file
with ``SCREENSHOTS_DIR`` set.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Frame, Page

from tests.web.conftest import BLOCK_STORAGE, STEP_SECONDS, Course, WebStack
from tests.web.scenarios import SCENARIOS, WIDTHS, Scenario, Visit, Width

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = {"serious", "critical"}
RUN_AXE = """async () => {
  const results = await axe.run(document, { resultTypes: ["violations"] });
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
  }));
}"""


@pytest.fixture(scope="module")
def screenshots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("SCREENSHOTS_DIR")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text(index(SCENARIOS), encoding="utf-8")
    return folder


def index(scenarios: tuple[Scenario, ...]) -> str:
    """The folder's README: each page's two pictures, in the scenarios' order (written, not hand-kept)."""
    lines = [
        "# Screenshots",
        "",
        "Every page of the tool at desktop (1280 px) and phone (375 px) width, taken by `make screenshots`",
        "from the scenarios in tests/web/scenarios.py (the same pages axe-core checks in `make test`).",
        "Do not edit: this file is written with the pictures.",
        "",
    ]
    for scenario in scenarios:
        lines += [
            f"## {scenario.name}: {scenario.shows}",
            "",
            *(f"![{scenario.shows}, {w.name}]({scenario.name}-{w.name}.png)" for w in WIDTHS),
            "",
        ]
    return "\n".join(lines)


@pytest.fixture
async def visit_page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    width: Width = request.node.callspec.params["width"]
    context = await browser.new_context(viewport=width.viewport)
    await context.add_init_script(BLOCK_STORAGE)
    context.set_default_timeout(STEP_SECONDS * 1000)
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def axe_violations(frame: Frame) -> list[dict[str, Any]]:
    """axe-core's violations in ``frame``'s document, each with its id, impact, help text and first nodes."""
    await frame.evaluate(AXE.read_text(encoding="utf-8"))
    return list(await frame.evaluate(RUN_AXE))


async def picture(page: Page, frame: Frame, path: Path) -> None:
    """The tool as people see it: its iframe stretched to its content's height, or the whole page."""
    if frame is page.main_frame:
        await page.screenshot(path=path, full_page=True)
        return
    element = await frame.frame_element()
    height = 0
    for _ in range(5):  # until the content's height holds (late cards, wrapped lines at the new size)
        now = int(await frame.evaluate("document.documentElement.scrollHeight"))
        if now == height:
            break
        height = now
        await element.evaluate("(iframe, height) => { iframe.style.height = `${height}px`; }", height)
        await asyncio.sleep(0.2)
    box = await element.bounding_box()
    assert box is not None and page.viewport_size is not None
    # The whole frame within the viewport: Chromium paints a frame's content only where it can be seen.
    await page.set_viewport_size({"width": page.viewport_size["width"], "height": math.ceil(box["y"] + box["height"])})
    await element.screenshot(path=path)


@pytest.mark.parametrize("width", WIDTHS, ids=lambda width: width.name)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.name)
async def test_the_page_has_no_serious_or_critical_accessibility_violation(
    scenario: Scenario,
    width: Width,
    visit_page: Page,
    web_stack: WebStack,
    course: Course,
    small_video: bytes,
    tmp_path: Path,
    screenshots_dir: Path,
) -> None:
    async with AsyncExitStack() as cleanup:
        frame = await scenario.reach(Visit(visit_page, web_stack, course, small_video, tmp_path, cleanup))
        shot = screenshots_dir / f"{scenario.name}-{width.name}.png"
        await picture(visit_page, frame, shot)
        assert shot.stat().st_size > 1000, f"{shot} is a picture of {scenario.shows}"
        violations = await axe_violations(frame)
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    listed = "\n".join(f"  {v['impact']}: {v['id']} ({v['help']}) at {v['nodes']}" for v in failing)
    assert not failing, f"{scenario.name} at {width.name} width ({scenario.shows}):\n{listed}"
