"""What a reader takes away from a page: each table as a CSV, and a cohort's own framing.

Every table a chapter shows through :class:`analysis.pages.ChapterPage` gets a small "Download
this table (CSV)" link under it. The CSV rides in the link itself (a ``data:`` URI), so it works
wherever the page is opened (a copied folder, a mail attachment) without the build staging extra
files; the same table is written to ``<results>/tables/<chapter>__<n>.csv`` with its caption and
notes (``.json``), from which the build assembles one workbook (``tables.xlsx``). Both hold what
the page shows: words, and small counts already masked, never the raw counts.

A user's cohort (any file but the bundled synthetic one, recognised by its bytes) is not a
reproduction: its comparisons with the paper use neutral words ("This cohort", "Paper"), with no
verdict of agreement.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Iterable
from urllib.parse import quote

import pandas as pd

from analysis.paths import BUNDLED_COHORT
from analysis.pages.comparison import SCROLL_HINT, note_html

# the neutral comparison's columns: the cohort's figure first, the paper's beside it
NEUTRAL_COLUMNS = ["Figure", "This cohort", "Paper"]


def is_bundled_cohort(cohort) -> bool:
    """True for the bundled synthetic cohort (or no cohort: a chapter run on its own reads it).

    ``cohort`` is a loaded cohort (its ``source``) or a path; compared by bytes, as the build's
    small-count default is (a copy is still synthetic; another file at that path is not).
    """
    if cohort is None:
        return True
    source = Path(getattr(cohort, "source", cohort))
    if getattr(cohort, "mapping", None) is not None:  # read through a mapping: the user's own export
        return False
    try:
        return BUNDLED_COHORT.is_file() and source.read_bytes() == BUNDLED_COHORT.read_bytes()
    except OSError:
        return False


def own_caption(caption: str) -> str:
    """A comparison's caption for a user's cohort: the cohort first, the paper as the comparison."""
    for tail in (": paper and this book", " paper and this book"):
        if caption.endswith(tail):
            return caption[: -len(tail)] + ": this cohort, and the paper for comparison"
    return caption


def comparison_frame(rows: list[dict], own: bool) -> pd.DataFrame:
    """The rows of a paper-versus-computed table as the frame its CSV holds."""
    if own:
        return pd.DataFrame([[r["figure"], r["book"], r["paper"]] for r in rows], columns=NEUTRAL_COLUMNS)
    return pd.DataFrame([[r["figure"], r["paper"], r["book"], r["agreement"]] for r in rows],
                        columns=["Figure", "Paper", "This book", "Agreement"])


def neutral_comparison_html(rows: list[dict], caption: str, notes: Iterable[str] = (),
                            sections: dict[str, tuple[str, str]] | None = None) -> str:
    """The cohort's figures beside the paper's, without a verdict (a user's cohort is not expected
    to reproduce the paper); with ``sections``, a linked heading row per chapter section."""
    def cells(row: dict) -> str:
        return (f"<tr><th scope='row' data-label='{NEUTRAL_COLUMNS[0]}'>{html.escape(row['figure'])}</th>"
                f"<td data-label='{NEUTRAL_COLUMNS[1]}'>{html.escape(row['book'])}</td>"
                f"<td data-label='{NEUTRAL_COLUMNS[2]}'>{html.escape(row['paper'])}</td></tr>")

    head = "".join(f"<th scope='col'>{c}</th>" for c in NEUTRAL_COLUMNS)
    bodies = []
    if sections:
        for chapter in dict.fromkeys(r["chapter"] for r in rows):
            title, href = sections.get(chapter, (chapter, ""))
            link = f"<a href='{html.escape(href)}'>{html.escape(title)}</a>" if href else html.escape(title)
            body = "".join(cells(r) for r in rows if r["chapter"] == chapter)
            bodies.append(f"<tbody><tr class='group-row'><th colspan='3' scope='rowgroup'>{link}</th></tr>"
                          f"{body}</tbody>")
    else:
        bodies.append("<tbody>" + "".join(cells(r) for r in rows) + "</tbody>")
    foot = "".join(f"<p class='table-note'>{note_html(n)}</p>" for n in notes)
    return (f"<figure class='book-table comparison'><figcaption>{html.escape(caption)}</figcaption>"
            f"{SCROLL_HINT}<div class='table-scroll'><table class='table book-table stack'><thead><tr>{head}"
            f"</tr></thead>{''.join(bodies)}</table></div>{foot}</figure>")


class TableStore:
    """The tables one chapter shows, numbered in page order, each written as CSV with its caption.

    ``results_path`` is the chapter's results file (``<results>/<chapter>.json``); its tables go to
    ``<results>/tables/``. A chapter run on its own (no results file) writes nothing, and its links
    still work (the CSV is in the link).
    """

    def __init__(self, results_path: str | Path | None):
        self.key = Path(results_path).stem if results_path else "chapter"
        self.folder = Path(results_path).parent / "tables" if results_path else None
        self.count = 0
        if self.folder is not None and self.folder.is_dir():
            for old in self.folder.glob(f"{self.key}__*"):  # a re-executed chapter's tables replace its last ones
                old.unlink()

    def link(self, frame: pd.DataFrame, caption: str, notes: Iterable[str] = (), *, index: bool = True) -> str:
        """Store the displayed table and return the HTML of its download link."""
        self.count += 1
        name = f"{self.key}__{self.count}"
        frame = frame.copy()
        if index:  # a nameless index (row labels) still heads its column in a spreadsheet
            frame.index = frame.index.set_names([n if n else "" for n in frame.index.names])
        text = frame.to_csv(index=index, na_rep="")
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / f"{name}.csv").write_text(text, encoding="utf-8")
            (self.folder / f"{name}.json").write_text(json.dumps(
                {"chapter": self.key, "number": self.count, "caption": caption, "notes": list(notes)},
                ensure_ascii=False, indent=1), encoding="utf-8")
        href = "data:text/csv;charset=utf-8," + quote("\ufeff" + text)  # BOM: Excel reads UTF-8
        return (f"<p class='table-download'><a href=\"{href}\" download=\"{html.escape(name)}.csv\">"
                f"Download this table (CSV)</a></p>")
