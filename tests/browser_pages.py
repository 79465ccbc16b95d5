"""Visit every page of a built book in headless system Chromium, at a desktop and at a phone width,
and record what a reader gets.

Shared by tests/test_browser.py and tests/test_accessibility.py: ``visit_book`` is cached, so one
browser launch per test session serves both files. Each visit records console errors, uncaught
exceptions, failed requests, every request URL (anything that is not a local file is aborted, so the
book is checked offline), images, links, math, visible headings and tables, what sticks out sideways,
and saves a full-page screenshot for review (``<page>.png`` at 1280 px, ``<page>@390.png`` at 390 px).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from pathlib import Path

import pytest

from analysis.build import toc_files
from analysis.paths import PROJECT_ROOT
from analysis.build.pdf import launch_chromium, wait_until_rendered

LOCAL_URL = re.compile(r"^(file|data|about|blob):")
# The widths a reader meets: a desktop screen and a phone (390 px: an iPhone 12 to 15 in portrait).
WIDE, PHONE = 1280, 390
VIEWPORTS = {WIDE: {"width": WIDE, "height": 900}, PHONE: {"width": PHONE, "height": 844}}
VIEWPORT = VIEWPORTS[WIDE]
# Screenshots for review; BOOK_SCREENSHOTS moves them (e.g. to a CI artifact folder), and
# BOOK_SCREENSHOTS=none skips them: .ci/run sets it, since CI's clone is deleted unread and the 60
# full-page screenshots take about 27 s of its time limit.
_SHOTS = os.environ.get("BOOK_SCREENSHOTS", "")
TAKE_SCREENSHOTS = _SHOTS != "none"
SCREENSHOTS = Path(_SHOTS) if _SHOTS and TAKE_SCREENSHOTS else PROJECT_ROOT / "_build" / "screenshots"

# Everything a test needs from the rendered page, gathered in one round trip.
COLLECT = """() => {
  const SCROLL_BOX = '.table-scroll, .pst-scrollable-table-container';
  const article = document.querySelector('article') || document.body;
  const visible = el => el.checkVisibility();
  const maths = [...document.querySelectorAll('.math')];
  const prose = article.cloneNode(true);
  prose.querySelectorAll('pre, code, script, style, mjx-container').forEach(e => e.remove());
  return {
    images: [...document.images].map(i => ({src: i.currentSrc || i.src, width: i.naturalWidth,
                                            alt: (i.getAttribute('alt') || '').trim(),
                                            inArticle: article.contains(i)})),
    links: [...document.querySelectorAll('a[href]')].map(a => ({href: a.href, raw: a.getAttribute('href'),
                                                                text: a.textContent.trim().slice(0, 60)})),
    mathjaxDefined: typeof window.MathJax === 'object' && !!window.MathJax.startup,
    mathElements: maths.length,
    mathUntypeset: maths.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 60)),
    typeset: document.querySelectorAll('mjx-container').length,
    rawTexInProse: /\\\\\\(|\\\\\\[/.test(prose.textContent),
    headings: [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].filter(visible)
                .map(h => [Number(h.tagName[1]), h.textContent.replace('#', '').trim().slice(0, 60)]),
    tables: [...article.querySelectorAll('table')].filter(visible)
              .map(t => {
                const words = t.cloneNode(true);  // what a reader reads as words: code (names to type) aside
                words.querySelectorAll('code').forEach(c => c.remove());
                return {headerCells: t.querySelectorAll('th').length,
                        caption: (t.closest('figure') && t.closest('figure').querySelector('figcaption')
                                  ? t.closest('figure').querySelector('figcaption').textContent
                                  : t.textContent).trim().slice(0, 60),
                        width: t.getBoundingClientRect().width,
                        container: article.getBoundingClientRect().width,
                        // a table in a scroll box with its cue (the book's, or the theme's box around a
                        // Markdown table, given the same cue by book.css) may be wider than the column on a phone
                        scrollBox: !!t.closest(SCROLL_BOX),
                        boxWidth: (t.closest(SCROLL_BOX) || t).getBoundingClientRect().width,
                        text: words.innerText};
              }),
    // how far the page scrolls sideways, and the widest culprits (for the failure message)
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    sticking: [...article.querySelectorAll('*')].filter(visible)
                .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
                .filter(e => !e.parentElement.closest(SCROLL_BOX + ', .highlight, mjx-container'))
                .filter(e => { const p = e.parentElement; return !p || p.getBoundingClientRect().right
                                 <= document.documentElement.clientWidth + 1 || p === article; })
                .slice(0, 5)
                .map(e => `<${e.tagName.toLowerCase()} class="${e.className}"> ${e.textContent.trim().slice(0, 40)}`),
  };
}"""


@dataclasses.dataclass
class PageVisit:
    """What one page of the book gave the browser."""

    name: str  # path relative to the HTML folder, e.g. "book/outcomes.html"
    path: Path
    requests: list[str]
    console_errors: list[str]
    page_errors: list[str]
    failed_requests: list[str]
    images: list[dict]
    links: list[dict]
    mathjax_defined: bool
    math_elements: int
    math_untypeset: list[str]
    typeset: int
    raw_tex_in_prose: bool
    headings: list[tuple[int, str]]
    tables: list[dict]
    screenshot: Path
    width: int = WIDE  # the viewport's width in CSS px
    overflow: float = 0.0  # px the page scrolls sideways (0: it fits the screen)
    sticking: list[str] = dataclasses.field(default_factory=list)  # elements reaching past the screen


def book_pages(html_dir: Path) -> list[str]:
    """Every page of the built book (relative paths), theme templates and the redirect stub excepted."""
    html_dir = Path(html_dir)
    return sorted(
        p.relative_to(html_dir).as_posix()
        for p in html_dir.rglob("*.html")
        if "_static" not in p.relative_to(html_dir).parts and p != html_dir / "index.html"
    )


def toc_pages() -> list[str]:
    """The pages the table of contents promises (known before the build, for test ids)."""
    return [f"{name}.html" for name in toc_files(PROJECT_ROOT)] + ["genindex.html", "search.html"]


def screenshot_name(name: str, width: int = WIDE) -> str:
    """'book/outcomes.html' -> 'book__outcomes.png' (1280 px) or 'book__outcomes@390.png'."""
    return name.replace("/", "__").removesuffix(".html") + ("" if width == WIDE else f"@{width}") + ".png"


@functools.lru_cache(maxsize=None)
def visit_book(html_dir: Path) -> dict[int, dict[str, PageVisit]]:
    """Load every page of ``html_dir`` in one browser at each of VIEWPORTS' widths:
    ``{1280: {page: visit}, 390: {...}}``; screenshots go to SCREENSHOTS (stale ones removed)."""
    from playwright.sync_api import sync_playwright

    html_dir = Path(html_dir)
    if TAKE_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    visits: dict[int, dict[str, PageVisit]] = {}
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            for width, viewport in VIEWPORTS.items():
                visits[width] = _visit_pages(browser, html_dir, width, viewport)
        finally:
            browser.close()
    taken = {visit.screenshot for at_width in visits.values() for visit in at_width.values()}
    for old in SCREENSHOTS.glob("*.png") if TAKE_SCREENSHOTS else ():  # pages that no longer exist
        if old not in taken:
            old.unlink(missing_ok=True)
    return visits


def _visit_pages(browser, html_dir: Path, width: int, viewport: dict) -> dict[str, PageVisit]:
    """Every page of ``html_dir`` in one tab of ``browser`` at ``viewport``."""
    visits = {}
    page = browser.new_page(viewport=viewport)
    try:
        log: dict[str, list[str]] = {}
        # Offline by construction: a request that would leave the machine is aborted and recorded.
        page.route(re.compile(r"^(?!file:|data:|about:|blob:)"), lambda route: route.abort())
        page.on("request", lambda r: log["requests"].append(r.url))
        page.on("console", lambda m: log["console"].append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: log["errors"].append(str(e)))
        page.on("requestfailed", lambda r: log["failed"].append(f"{r.url} ({r.failure})"))
        for name in book_pages(html_dir):
            log.update(requests=[], console=[], errors=[], failed=[])
            path = html_dir / name
            page.goto(path.as_uri(), wait_until="load")
            wait_until_rendered(page)
            found = page.evaluate(COLLECT)
            shot = SCREENSHOTS / screenshot_name(name, width)
            if TAKE_SCREENSHOTS:
                page.screenshot(path=str(shot), full_page=True)
            visits[name] = PageVisit(
                name, path, log["requests"], log["console"], log["errors"], log["failed"],
                found["images"], found["links"], found["mathjaxDefined"], found["mathElements"],
                found["mathUntypeset"], found["typeset"], found["rawTexInProse"],
                [tuple(h) for h in found["headings"]], found["tables"], shot,
                width, float(found["overflow"]), found["sticking"],
            )
    finally:
        page.close()
    return visits


# ----------------------------------------------------------------------------- fixtures (imported by the tests)
@pytest.fixture(scope="session")
def html_dir(request) -> Path:
    """The HTML folder under test: BOOK_TEST_HTML (an already built book) or the session's build."""
    given = os.environ.get("BOOK_TEST_HTML")
    if given:
        return Path(given).resolve()
    return request.getfixturevalue("built_book").html_index.parent


def _visited(html_dir: Path, request) -> dict[int, dict[str, PageVisit]]:
    """Every page visited once per width (cached across the test files); prints where the screenshots are."""
    first = visit_book.cache_info().currsize == 0
    found = visit_book(html_dir)
    if first:
        request.addfinalizer(lambda: _tell(request.config, f"browser screenshots: {SCREENSHOTS}"))
    return found


@pytest.fixture(scope="session")
def visits_by_width(html_dir, request) -> dict[int, dict[str, PageVisit]]:
    """Every page at each width: ``{1280: {page: visit}, 390: {page: visit}}``."""
    return _visited(html_dir, request)


@pytest.fixture(scope="session")
def visits(html_dir, request) -> dict[str, PageVisit]:
    """Every page as seen at 1280 px (the same visits as ``visits_by_width``)."""
    return _visited(html_dir, request)[WIDE]


def _tell(config, message: str) -> None:
    """Print past pytest's output capture (a path the reader of the test log should see)."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        print(message)
        return
    with capture.global_and_fixture_disabled():
        print(f"\n{message}")
