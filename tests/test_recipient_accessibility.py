"""axe-core (axe-playwright-python) in Chromium on every link page a recipient sees, with and
without errors shown (web/message_examples.py renders them from the real templates): no serious or
critical violations. And the GOV.UK error pattern: the summary at the top links to each field at fault."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright

from web.message_examples import Example, examples

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
PAGES = [e for e in examples() if e.html is not None and e.name.startswith("page-")]

# A skipped browser test proves nothing: in CI (CI=true) a missing Chromium fails the run.
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="Chromium is not installed (.ci/run installs it; under CI this fails instead)",
)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        await launched.close()


@pytest.fixture(scope="module")
async def checker(browser: Browser) -> AsyncIterator[Page]:
    """One tab with axe-core loaded once: each page is written into its document (document.open keeps
    the window, so axe stays loaded), which saves parsing axe's 500 kB for every page."""
    page = await browser.new_page()
    await page.set_content("<!doctype html><title>axe</title>")
    await page.evaluate(Axe().axe_script)
    yield page
    await page.close()


@pytest.mark.parametrize("example", PAGES, ids=lambda e: e.name)
async def test_no_serious_or_critical_accessibility_violations(checker: Page, example: Example) -> None:
    assert example.html is not None
    await checker.evaluate("html => { document.open(); document.write(html); document.close(); }", example.html)
    response = await checker.evaluate("axe.run({resultTypes: ['violations']})")
    assert await checker.title(), "the page has a title"
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not serious, "\n".join(serious)


@pytest.mark.parametrize("example", [e for e in PAGES if e.name.endswith("-with-errors")], ids=lambda e: e.name)
def test_the_error_summary_links_to_each_field_and_keeps_what_was_typed(example: Example) -> None:
    html = example.html or ""
    summary = html.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    targets = re.findall(r'href="#([^"]+)"', summary)
    assert targets, "the summary links to the fields at fault"
    for target in targets:
        assert f'id="{target}"' in html, target
    assert html.index('class="error-summary"') < html.index("<h1>")  # at the top of the page
    assert 'aria-invalid="true"' in html and "Error: " in html  # and beside the field


async def test_the_check_finds_what_it_should(checker: Page) -> None:
    """A form field without a label is a critical violation: the harness sees it (so it can fail)."""
    bad = '<!doctype html><html lang="en"><title>x</title><main><form><input type="text"></form></main></html>'
    await checker.evaluate("html => { document.open(); document.write(html); document.close(); }", bad)
    response = await checker.evaluate("axe.run({resultTypes: ['violations']})")
    assert "label" in {v["id"] for v in response["violations"] if v["impact"] in ("serious", "critical")}
