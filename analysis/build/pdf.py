"""Export the whole book as one PDF (``make pdf``), offline.

Method: render the book with Sphinx's ``singlehtml`` builder (every page in one HTML file, same
executed notebooks as the HTML book, so nothing is re-executed when they are unchanged), open it
in headless Chromium from the system's packages (never a downloaded browser), wait until the
images have loaded and MathJax has typeset every formula (``MathJax.startup.promise``), then print
it with Chromium's PDF printer (``page.pdf``, the engine behind ``--print-to-pdf``) on A4, with a
little print CSS so that wide tables are shown whole rather than cut off at the margin.

Before printing, a cover page (title, build date, package version, where the cohort came from and a
disclaimer) and a numbered contents list are put in front of the book, and each chapter title gets
its number. The book is printed twice: the first print tells on which page each chapter starts
(Chromium names a PDF destination after every element id; the chapter's id is looked up there), the
second prints those page numbers in the contents. The cover and contents end with a page break and
the numbers are padded to a fixed width, so filling them in moves nothing.

Offline: every request other than ``file:`` and ``data:`` is aborted, and the export fails if the
page asked for one, so a PDF made without a network is the same as one made with it.

Usage: ``python -m analysis.build.pdf [--cohort FILE] [--out DIR] [--pdf FILE]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from analysis.build.chapters import BuildError
from analysis.build.runner import build_book
from analysis.paths import BUNDLED_COHORT, PROJECT_ROOT, default_out

# Debian's package; CHROMIUM overrides it (e.g. /usr/bin/chromium-browser on Ubuntu).
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Flags for a headless, offline, container-friendly Chromium: no sandbox (CI runs as root), no GPU,
# no background traffic to Google (updates, sync, QUIC probes), /tmp instead of a small /dev/shm.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")
# A figure printed at the book's 7.5 in width fits an A4 page with 15 mm margins.
PAGE_FORMAT = "A4"
MARGINS = {"top": "15mm", "bottom": "18mm", "left": "15mm", "right": "15mm"}
FOOTER = (
    '<div style="font-size:8px; width:100%; text-align:center; color:#444;">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)
TIMEOUT_MS = 60_000
# On paper nothing scrolls: the theme's scrolling output boxes would cut wide tables off at the right
# margin. Let them show in full, in smaller type, breaking long identifiers inside body cells.
PRINT_CSS = """
@media print {
  .cell_output, .output, figure.book-table, .table-wrapper, .pst-scrollable-table-container {
    overflow: visible !important;
  }
  table { max-width: 100% !important; font-size: 8.5pt !important; }
  /* Break long ids at the <wbr> put after their dots and underscores (see MARK_BREAKS), not mid-word. */
  td, th { overflow-wrap: break-word; word-break: normal; hyphens: manual; }
  td, th { padding: 0.2em 0.4em !important; }
  /* A heading never ends a page or splits across two ("2.2. Time from advanced disease to" | "CNS
     metastases"), and a table's caption stays with its table. */
  h1, h2, h3, h4 { break-inside: avoid; break-after: avoid; }
  figure.book-table figcaption, .scroll-hint { break-after: avoid; }
  tr { break-inside: avoid; }
  /* Code wraps on paper instead of running off the right margin. */
  pre, .highlight pre { white-space: pre-wrap !important; overflow-wrap: anywhere; overflow: visible !important; }
  /* The cover's contents list (with page numbers) replaces Jupyter Book's print-only title and contents. */
  body:has(#pdf-cover) #jb-print-docs-body { display: none !important; }
  #pdf-cover, #pdf-contents { break-after: page; }
  #pdf-cover { padding-top: 30%; }
  #pdf-cover h1 { font-size: 24pt; line-height: 1.25; margin-bottom: 1.2em; }
  #pdf-cover p { font-size: 11pt; margin: 0.35em 0; }
  #pdf-cover .pdf-disclaimer { margin-top: 3em; padding: 0.8em 1em; border: 1px solid #888; font-size: 10pt; }
  #pdf-contents ol { list-style: none; padding: 0; font-size: 11pt; }
  #pdf-contents li { display: flex; gap: 0.5em; margin: 0.3em 0; }
  #pdf-contents a { color: inherit; text-decoration: none; }
  #pdf-contents .pdf-dots { flex: 1; border-bottom: 1px dotted #888; margin-bottom: 0.3em; }
  #pdf-contents .pdf-page { font-variant-numeric: tabular-nums; min-width: 2.5em; text-align: right; }
  .pdf-num { margin-right: 0.5em; }
}
"""
# Editions: the reader's (and student's) PDF leaves the exercises' solutions out; the teacher's
# gathers them, opened, in an appendix after the book, each under its chapter's name. The HTML keeps
# its dropdowns either way.
EDITIONS = ("student", "teacher")
SOLUTION_CLASS = re.compile(r'class="[^"]*\bsolution\b')  # what ARRANGE_SOLUTIONS selects (.solution)
ARRANGE_SOLUTIONS = r"""(edition) => {
  const article = document.querySelector('.bd-article, article, main') || document.body;
  const solutions = [...document.querySelectorAll('.solution')];
  if (edition === 'student') { solutions.forEach(s => s.remove()); return solutions.length; }
  if (!solutions.length) return 0;
  const chapterOf = (el) => {
    for (let n = el; n && n !== article; n = n.parentElement) {
      const h = n.tagName === 'SECTION' && n.querySelector(':scope > h1');
      if (h) return h.textContent.replace('#', '').trim();
    }
    return '';
  };
  const appendix = document.createElement('section');
  appendix.id = 'pdf-solutions';
  const title = document.createElement('h1');
  title.textContent = 'Appendix: solutions to the exercises';
  appendix.append(title);
  let current = null;
  for (const s of solutions) {
    const chapter = chapterOf(s);
    if (chapter !== current) {
      const h = document.createElement('h2'); h.textContent = chapter; appendix.append(h); current = chapter;
    }
    s.querySelectorAll('details').forEach(d => { d.open = true; });
    appendix.append(s);
  }
  article.append(appendix);
  return solutions.length;
}"""
SOLUTIONS_CSS = """
@media print {
  #pdf-solutions { break-before: page; }
  #pdf-solutions .solution > *, #pdf-solutions .toggle-hidden { display: block !important; visibility: visible !important; }
  #pdf-solutions .toggle-button, #pdf-solutions button.toggle-button { display: none !important; }
}
"""
# Break opportunities (<wbr>) after the dots, underscores and slashes of long unspaced tokens in table
# cells, so that an id such as outcomes.os_from_cns.B.median wraps between its parts.
MARK_BREAKS = r"""() => {
  const long = /[^\s]{18,}/;
  for (const cell of document.querySelectorAll('td, th')) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    const nodes = [];
    while (walker.nextNode()) if (long.test(walker.currentNode.nodeValue)) nodes.push(walker.currentNode);
    for (const node of nodes) {
      const parts = node.nodeValue.split(/(?<=[._\/])/);
      const frag = document.createDocumentFragment();
      parts.forEach((part, i) => { frag.append(part); if (i < parts.length - 1) frag.append(document.createElement('wbr')); });
      node.replaceWith(frag);
    }
  }
}"""
# The cover and the contents, put in front of the article; chapter titles (h1) get their numbers.
ADD_FRONT_MATTER = r"""(cover) => {
  const article = document.querySelector('.bd-article, article, main') || document.body;
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text) e.textContent = text; if (cls) e.className = cls; return e; };
  const headingAfter = (anchor) => {
    for (let n = anchor.nextElementSibling; n; n = n.nextElementSibling) {
      if (/^H[1-6]$/.test(n.tagName)) return n;
      const inner = n.querySelector('h1, h2, h3');
      if (inner) return inner;
    }
    return null;
  };
  // singlehtml marks where each document starts (<span id="document-book/cohort">); its first heading
  // is the chapter title, already numbered by Sphinx where the toc numbers it. Elsewhere: the h1s, numbered here.
  const anchors = [...article.querySelectorAll('[id^="document-"]')];
  let chapters = anchors.map(a => ({id: a.id, heading: headingAfter(a), number: ''})).filter(c => c.heading);
  if (!chapters.length) {
    chapters = [...article.querySelectorAll('h1')].map((h, i) => {
      if (!h.id) h.id = `pdf-chapter-${i + 1}`;
      h.prepend(el('span', `${i + 1}`, 'pdf-num'));
      return {id: h.id, heading: h, number: `${i + 1}`};
    });
  }
  const front = el('section'); front.id = 'pdf-cover';
  front.append(el('h1', cover.title));
  for (const line of [`Built ${cover.built}`, `analysis package version ${cover.version}`, cover.cohort]) front.append(el('p', line));
  front.append(el('p', cover.disclaimer, 'pdf-disclaimer'));
  const contents = el('nav'); contents.id = 'pdf-contents';
  contents.append(el('h2', 'Contents'));
  const list = el('ol');
  for (const c of chapters) {
    const title = [...c.heading.childNodes].filter(n => !(n.classList && (n.classList.contains('headerlink') || n.classList.contains('pdf-num'))))
      .map(n => n.textContent).join('').trim();
    const item = el('li');
    if (c.number) item.append(el('span', c.number, 'pdf-num'));
    // A link: the contents are clickable, and Chromium writes a named destination only for a link's target.
    const link = el('a', title); link.href = `#${c.id}`;
    item.append(link, el('span', '', 'pdf-dots'), el('span', '\u2007\u2007\u2007', 'pdf-page'));
    list.append(item);
  }
  contents.append(list);
  article.prepend(front, contents);
  return chapters.map(c => c.id);
}"""
SET_PAGE_NUMBERS = r"""(pages) => {
  document.querySelectorAll('#pdf-contents .pdf-page').forEach((cell, i) => {
    if (pages[i]) cell.textContent = String(pages[i]).padStart(3, ' ');
  });
}"""
# The singlehtml builder links the search index but writes none; a printed page never searches.
NOT_WRITTEN_BY_SINGLEHTML = ("/searchindex.js",)


class PdfError(Exception):
    """A problem that stops the export; its message is meant for the user as is."""


@dataclass(frozen=True)
class Cover:
    """What the PDF's first page says."""

    title: str
    built: str  # ISO date of the export
    version: str  # the analysis package's version
    cohort: str  # where the numbers come from
    disclaimer: str


def book_title(root: Path = PROJECT_ROOT) -> str:
    """The book's title from ``_config.yml`` (a plain fallback when it cannot be read)."""
    import yaml

    try:
        return str(yaml.safe_load((Path(root) / "_config.yml").read_text(encoding="utf-8"))["title"])
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return "CNS metastases in ER+/HER2- advanced breast cancer"


def cover_for(cohort: Path | None, today: datetime.date | None = None, mapped: bool = False) -> Cover:
    """The cover of a PDF built from ``cohort`` (None: the bundled synthetic cohort); ``mapped``: read
    through a mapping file, which makes even the bundled file a user's cohort (as the build does)."""
    from analysis import __version__

    bundled = not mapped and (cohort is None or Path(cohort).resolve() == BUNDLED_COHORT.resolve())
    if bundled:
        source = (f"Cohort: the bundled synthetic cohort ({BUNDLED_COHORT.name}), generated to reproduce the "
                  "paper's published figures; it contains no real patient.")
        disclaimer = ("Synthetic data. This book shows how the published analysis is computed; its numbers "
                      "describe no real patient and must not guide the care of anyone.")
    else:
        source = f"Cohort: the user's file {Path(cohort).name}, read as given (the file is not modified)."
        disclaimer = ("A research reanalysis, not a clinical guideline or a medical device: the numbers are "
                      "only as good as the cohort file, and they must not by themselves guide the care of a patient.")
    built = (today or datetime.date.today()).isoformat()
    return Cover(book_title(), built, __version__, source, disclaimer)


def destination_pages(pdf_file: Path) -> dict[str, int]:
    """Named destination -> page (1-based) of a PDF written by Chromium, which names a destination
    after every element id of the page. Its objects are uncompressed: the catalog's /Dests dictionary
    maps /name to [page-object 0 R /XYZ ...], and the /Pages tree gives the pages' order."""
    data = Path(pdf_file).read_bytes()
    objects = {int(m.group(1)): m.group(2) for m in re.finditer(rb"(?m)^(\d+) 0 obj\s*(.*?)endobj", data, re.S)}
    catalog = next((body for body in objects.values() if re.search(rb"/Type\s*/Catalog", body)), b"")

    def ref(key: bytes, body: bytes) -> int | None:
        match = re.search(rb"/" + key + rb"\s+(\d+) 0 R", body)
        return int(match.group(1)) if match else None

    order: list[int] = []

    def walk(number: int | None) -> None:
        body = objects.get(number, b"") if number is not None else b""
        kids = re.search(rb"/Kids\s*\[([^\]]*)\]", body)
        if kids and re.search(rb"/Type\s*/Pages", body):
            for kid in re.findall(rb"(\d+) 0 R", kids.group(1)):
                walk(int(kid))
        elif body:
            order.append(number)

    walk(ref(b"Pages", catalog))
    page_of = {number: index + 1 for index, number in enumerate(order)}
    dests = objects.get(ref(b"Dests", catalog), b"")
    found = {}
    for name, page in re.findall(rb"/([^\s\[\]/<>()]+)\s*\[\s*(\d+) 0 R", dests):
        text = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), name).decode("utf-8", "replace")
        if int(page) in page_of:
            found.setdefault(text, page_of[int(page)])
    return found


def chromium_path() -> str:
    """The system Chromium (``CHROMIUM`` environment variable, else Debian's path)."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or DEFAULT_CHROMIUM
    if not Path(path).is_file():
        raise PdfError(
            f"Chromium not found at {path!r}: install the system package (Debian: apt-get install "
            "chromium) or set CHROMIUM to the browser's path. No browser is downloaded."
        )
    return path


def launch_chromium(playwright):
    """Headless system Chromium through Playwright (``executable_path``, so nothing is downloaded)."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=list(CHROMIUM_ARGS))


def redirect_target(html_file: Path) -> Path:
    """The page a Sphinx redirect stub (``<meta http-equiv="Refresh" ...>``) points to, or the file itself."""
    text = html_file.read_text(encoding="utf-8", errors="replace")
    match = re.search(r'http-equiv="Refresh"\s+content="\d+;\s*url=([^"]+)"', text, re.I)
    return (html_file.parent / match.group(1)).resolve() if match else html_file


def printable_page(index_html: Path) -> Path:
    """The single-page book, placed where its relative links resolve.

    Sphinx's ``singlehtml`` builder writes the root document (``book/index``) to ``book/index.html``
    but writes its links (``_static/...``, ``_images/...``) relative to the output folder, so the page
    is copied to ``<output>/print.html`` (index.html there is a redirect stub).
    """
    index_html = Path(index_html).resolve()
    page = redirect_target(index_html)
    root = index_html.parent
    if page.parent == root:
        return page
    printable = root / "print.html"
    printable.write_text(page.read_text(encoding="utf-8"), encoding="utf-8")
    return printable


def wait_until_rendered(page) -> None:
    """Wait for web fonts, every image, and MathJax's typesetting (when the page loads MathJax)."""
    page.evaluate("() => document.fonts.ready.then(() => true)")
    page.wait_for_function("() => [...document.images].every(img => img.complete)", timeout=TIMEOUT_MS)
    loads_mathjax = page.evaluate(
        "() => [...document.scripts].some(s => /mathjax/i.test(s.src || ''))"
    )
    if loads_mathjax:
        page.wait_for_function(
            "() => window.MathJax && window.MathJax.startup && window.MathJax.startup.promise",
            timeout=TIMEOUT_MS,
        )
        page.evaluate("() => window.MathJax.startup.promise.then(() => true)")


def print_to_pdf(html_file: Path, pdf_file: Path, cover: Cover | None = None, edition: str | None = None) -> int:
    """Print the single-page book whose ``index.html`` is ``html_file`` to ``pdf_file``; return its page count.

    With ``cover``, a cover page and a numbered contents list with page numbers come first (two
    prints, see the module's docstring). ``edition``: "student" leaves the exercises' solutions out,
    "teacher" moves them into an appendix; None prints the page as it is. Raises PdfError when a request leaves the machine, a local file fails to load, an image is broken
    or a formula is left untypeset.
    """
    from playwright.sync_api import sync_playwright

    source, pdf_file = printable_page(html_file), Path(pdf_file)
    external, failed = [], []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()

            def guard(route):
                # Offline by construction: nothing but local files is fetched.
                external.append(route.request.url)
                route.abort()

            page.route(re.compile(r"^(?!file:|data:|about:|blob:)"), guard)
            page.on("requestfailed", lambda request: failed.append(f"{request.url} ({request.failure})")
                    if not request.url.endswith(NOT_WRITTEN_BY_SINGLEHTML) else None)
            page.goto(source.as_uri(), wait_until="load", timeout=TIMEOUT_MS)
            wait_until_rendered(page)
            page.add_style_tag(content=PRINT_CSS)
            broken = page.evaluate(
                "() => [...document.images].filter(i => i.naturalWidth === 0).map(i => i.src)"
            )
            # Sphinx wraps each formula in a .math element; MathJax puts an mjx-container inside it.
            untypeset = page.evaluate(
                "() => [...document.querySelectorAll('.math')]"
                ".filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 60))"
            )
            problems = [f"request leaving the machine: {url}" for url in external]
            problems += [f"math not typeset: {tex}" for tex in untypeset]
            problems += [f"failed to load: {item}" for item in failed if not item.startswith(tuple(external))]
            problems += [f"image did not load: {src}" for src in broken]
            if problems:
                raise PdfError(f"{source} did not render offline:\n  " + "\n  ".join(problems))
            if edition is not None:
                if edition not in EDITIONS:
                    raise PdfError(f"unknown edition {edition!r}; expected one of {', '.join(EDITIONS)}")
                page.add_style_tag(content=SOLUTIONS_CSS)
                page.evaluate(ARRANGE_SOLUTIONS, edition)
            page.evaluate(MARK_BREAKS)
            pdf_file.parent.mkdir(parents=True, exist_ok=True)
            partial = pdf_file.with_suffix(".partial.pdf")

            def print_once():
                page.pdf(
                    path=str(partial), format=PAGE_FORMAT, margin=MARGINS, print_background=True,
                    display_header_footer=True, header_template="<span></span>", footer_template=FOOTER,
                )

            if cover is not None:
                ids = page.evaluate(ADD_FRONT_MATTER, asdict(cover))
                print_once()
                where = destination_pages(partial)
                found = [where.get(i) for i in ids]
                if any(found):
                    page.evaluate(SET_PAGE_NUMBERS, json.loads(json.dumps(found)))
                    print_once()
            else:
                print_once()
            partial.replace(pdf_file)
        finally:
            browser.close()
    return count_pdf_pages(pdf_file)


def count_pdf_pages(pdf_file: Path) -> int:
    """Pages of a PDF written by Chromium (its page objects are ``/Type /Page``, uncompressed)."""
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", Path(pdf_file).read_bytes()))


def export_pdf(
    out: Path | None = None,
    cohort: Path | None = None,
    pdf: Path | None = None,
    log: Callable[[str], None] = print,
    *,
    mapping: Path | None = None,
    sheet: str | None = None,
    params: dict[str, str] | None = None,
) -> list[Path]:
    """Build the single-page HTML book into ``out`` (default ``_build``) and print it: the reader's
    and student's edition to ``pdf`` (default ``<out>/book.pdf``), without the exercises' solutions,
    and, when the book has exercises (the primer, built on the bundled cohort only), the teacher's
    edition beside it (``book-teacher.pdf``), solutions in an appendix. ``mapping``, ``sheet`` and
    ``params`` are the build's own (``analysis build --help``). Returns the files printed."""
    out = Path(out).resolve() if out else default_out()
    pdf = Path(pdf).resolve() if pdf else out / "book.pdf"
    teacher = pdf.with_name(f"{pdf.stem}-teacher{pdf.suffix}")
    chromium_path()  # fail before a long build when there is no browser
    result = build_book(out=out, cohort=cohort, builder="singlehtml", log=log, mapping=mapping, sheet=sheet,
                        params=params)
    editions = [("student", pdf)]
    if SOLUTION_CLASS.search(result.html_index.read_text(encoding="utf-8")):
        editions.append(("teacher", teacher))
    else:
        teacher.unlink(missing_ok=True)  # a teacher's edition of an earlier build would not match this one
        log("no exercises in this book (the primer is built on the bundled cohort only): no teacher's edition")
    cover = cover_for(cohort, mapped=mapping is not None)
    for edition, target in editions:
        started = time.perf_counter()
        pages = print_to_pdf(result.html_index, target, cover=cover, edition=edition)
        log(f"printed the {edition} edition, {pages} pages, in {time.perf_counter() - started:.1f} s: {target}")
    return [target for _, target in editions]


# --------------------------------------------------------------------------- command line
def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cohort", type=Path, help="cohort file (default: the bundled synthetic cohort)")
    parser.add_argument("--out", type=Path, help="build folder (default: _build)")
    parser.add_argument("--pdf", type=Path, help="PDF file to write (default: <out>/book.pdf)")
    parser.add_argument("--mapping", type=Path, metavar="FILE.yaml", default=None,
                        help="how to read the cohort file (as for analysis build)")
    parser.add_argument("--sheet", metavar="NAME", default=None, help="the sheet of an .xlsx cohort to read")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="set a chapter parameter (repeatable), as for analysis build")


def run(args: argparse.Namespace) -> int:
    params = {}
    for name, value in args.parameter:
        if name in params:
            print(f"error: parameter {name!r} given twice", file=sys.stderr)
            return 2
        params[name] = value
    try:
        printed = export_pdf(out=args.out, cohort=args.cohort, pdf=args.pdf, mapping=args.mapping,
                             sheet=args.sheet, params=params)
    except (BuildError, PdfError) as exc:
        print(f"\npdf failed: {exc}", file=sys.stderr)
        return 1
    for label, target in zip(("pdf:", "teacher:"), printed):
        print(f"{label:<9}{target}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.build.pdf", description=__doc__.splitlines()[0])
    configure_parser(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
