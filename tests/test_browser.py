"""The built book as a reader meets it: every page loaded in headless Chromium (Debian's package,
driven by Playwright; no browser is downloaded), offline.

Per page: no console error or uncaught exception, no failed request, no request leaving the machine,
every image loaded, math typeset, internal links and #anchors resolve (alt text, headings and
tables: tests/test_accessibility.py, on the same visits). At 1280 px and at 390 px (a phone): the page
does not scroll sideways, no table is wider than the text column (on a phone a table may scroll
inside its own box, which shows a cue), and table text reads as words. A full-page screenshot of
each page at each width is saved for review (path printed at the end of the session;
BOOK_SCREENSHOTS moves it).

BOOK_TEST_HTML=<folder> checks an already built HTML folder (e.g. _build/html after ``make book``)
instead of the session's own build.
"""

from __future__ import annotations

import html.parser
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import pytest

from browser_pages import (  # noqa: F401 (fixtures)
    LOCAL_URL, PHONE, TAKE_SCREENSHOTS, VIEWPORTS, WIDE, book_pages, html_dir, toc_pages, visits, visits_by_width,
)


@pytest.fixture(params=toc_pages(), ids=lambda name: name.removesuffix(".html"))
def visit(request, visits):
    name = request.param
    assert name in visits, f"{name} is in the table of contents but was not built"
    return visits[name]


@pytest.fixture(params=[(name, width) for width in VIEWPORTS for name in toc_pages()],
                ids=lambda p: f"{p[0].removesuffix('.html')}@{p[1]}")
def visit_at_width(request, visits_by_width):
    """Each page at each reader's width (1280 px, 390 px)."""
    name, width = request.param
    assert name in visits_by_width[width], f"{name} is in the table of contents but was not built"
    return visits_by_width[width][name]


def test_every_built_page_is_checked(visits_by_width, html_dir):
    # a page the TOC does not list (or a new Sphinx page) must not escape the checks above
    assert set(book_pages(html_dir)) == set(toc_pages()), "update toc_pages() or the TOC"
    assert set(visits_by_width) == {WIDE, PHONE}
    for visits in visits_by_width.values():
        assert set(visits) == set(toc_pages())
        assert not TAKE_SCREENSHOTS or all(v.screenshot.stat().st_size > 10_000 for v in visits.values())


def test_page_loads_without_console_error_or_failed_request(visit):
    assert not visit.page_errors, f"{visit.name}: uncaught exception(s): {visit.page_errors}"
    assert not visit.console_errors, f"{visit.name}: console error(s): {visit.console_errors}"
    assert not visit.failed_requests, f"{visit.name}: failed request(s): {visit.failed_requests}"


def test_page_works_offline(visit):
    assert visit.requests, "no request recorded: the recorder is broken"
    leaving = [url for url in visit.requests if not LOCAL_URL.match(url)]
    assert not leaving, f"{visit.name} requests from the network: {leaving}"


def test_every_image_loaded(visit):
    broken = [image["src"] for image in visit.images if image["width"] == 0]
    assert not broken, f"{visit.name}: image(s) not loaded: {broken}"


def test_math_is_typeset(visit):
    if visit.math_elements:
        assert visit.mathjax_defined, f"{visit.name} has math but MathJax did not load"
        assert not visit.math_untypeset, f"{visit.name}: math left as TeX: {visit.math_untypeset}"
        assert visit.typeset >= visit.math_elements
    assert not visit.raw_tex_in_prose, rf"{visit.name}: raw \( or \[ left in the text (math not typeset)"


def test_vendored_mathjax_typesets_offline(html_dir, tmp_path):
    # The book's own MathJax copy, on a scratch page: the math check above is not vacuous when no page
    # happens to contain math, and a broken or missing vendored copy fails here.
    from playwright.sync_api import sync_playwright

    from analysis.build.pdf import launch_chromium, wait_until_rendered

    mathjax = html_dir / "_static" / "mathjax" / "tex-svg-full.js"
    assert mathjax.is_file(), f"vendored MathJax not in the built book: {mathjax}"
    page_file = tmp_path / "math.html"
    page_file.write_text(
        f'<!doctype html><html><head><script defer src="{mathjax.as_uri()}"></script></head>'
        r'<body><p>Inline \(S(t) = \prod_{t_i \le t} (1 - d_i / n_i)\)</p><div>\[ \lambda(t) \]</div>'
        "</body></html>",
        encoding="utf-8",
    )
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            requests = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri(), wait_until="load")
            wait_until_rendered(page)
            containers = page.locator("mjx-container").count()
            text = page.inner_text("body")
        finally:
            browser.close()
    assert containers == 2 and "\\(" not in text and "\\[" not in text
    assert all(LOCAL_URL.match(url) for url in requests), requests


# ----------------------------------------------------------------------------- links and anchors
class _Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key == "id" or (key == "name" and tag == "a"):
                self.ids.add(value or "")


@lru_cache(maxsize=None)
def element_ids(path: Path) -> frozenset[str]:
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


def test_internal_links_and_anchors_resolve(visit):
    broken = []
    for link in visit.links:
        url = urlsplit(link["href"])
        if url.scheme != "file":
            continue  # external links (DOIs, the paper) are not followed offline
        target = Path(url2pathname(unquote(url.path)))
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(f"{link['raw']!r} ({link['text']!r}): no file {target}")
        elif url.fragment and target.suffix == ".html" and unquote(url.fragment) not in element_ids(target):
            broken.append(f"{link['raw']!r} ({link['text']!r}): no id {url.fragment!r} in {target.name}")
    assert not broken, f"{visit.name}:\n  " + "\n  ".join(broken)


def test_site_root_redirects_to_the_first_page(html_dir):
    stub = (html_dir / "index.html").read_text(encoding="utf-8")
    target = re.search(r'url=([^"]+)"', stub)
    assert target and (html_dir / target.group(1)).is_file(), stub


# Internal names a reader must never see in a table: dotted ids, snake_case tokens, Python reprs and
# the prose slips the review found. Names the reader types (data dictionary) are set as code, and
# code is left out of the text checked.
INTERNAL = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b|\b[a-z_]{2,}\.[a-z_]{2,}(?:\.[a-z_0-9]+)*\b"
                      r"|\{'|\bnp\.|\bnan\b|\bNA of\b|patient\(s\)")


def test_page_does_not_scroll_sideways(visit_at_width):
    visit = visit_at_width
    assert visit.overflow <= 1, (f"{visit.name} scrolls {visit.overflow:.0f} px sideways at {visit.width} px; "
                                 f"sticking out: {visit.sticking}")


def test_no_table_is_wider_than_the_text_column(visit_at_width):
    # At 1280 px every table fits the column. On a phone a wide table may scroll inside its own box
    # (which shows the "scroll sideways" cue), but the box itself must fit.
    visit = visit_at_width
    may_scroll = visit.width < WIDE
    wide = [f"{t['caption']!r}: {t['width']:.0f} px in {t['container']:.0f} px" for t in visit.tables
            if (t["boxWidth"] if may_scroll and t["scrollBox"] else t["width"]) > t["container"] + 1]
    where = "its scroll box" if may_scroll else "the text column"
    assert not wide, f"{visit.name}: tables wider than {where} at {visit.width} px: {wide}"


def test_tables_speak_words_not_internal_names(visit_at_width):
    # at both widths: a phone shows other text (stacked tables label each value with its column name)
    visit = visit_at_width
    found = {f"{t['caption']!r}": sorted(set(INTERNAL.findall(t["text"])))[:6] for t in visit.tables}
    found = {caption: names for caption, names in found.items() if names}
    assert not found, f"{visit.name} at {visit.width} px: internal names in visible table text: {found}"
