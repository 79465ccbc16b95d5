"""A user's cohort gets a report of its own (issue "Your cohort, your report", points 3 and 4).

One build of a 60-patient synthetic cohort written to a new file (so not the bundled one) with every
optional column of the schema removed: the landing page describes that file and carries no synthetic
disclaimer, the cohort page gives the cohort's own window, the scorecard becomes a comparison, the
calibration chapter is not built, and no page's prose prints a sentence of NAs.

Each optional column removed in turn is checked without more builds (15 builds would cost a quarter
of an hour): the chapters whose prose is glued through ``ChapterPage.sentence`` are run in-process on
the bundled cohort less that one column, as papermill runs them, with ``glue`` captured; their text,
with the glued values put in, must hold no sentence of NAs, and every sentence that changed must be a
note naming the missing column (about 45 s for the 15 columns).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from analysis.build import build_book
from analysis.cohort import load_schema

NA_PROSE = re.compile(r"NA of|NA patient|\( NA|\(NA\b| NA[ ,.;)%]")
# the primer, methods and scorecard explain what R's NA means: those are sentences about NA, not of NAs
ABOUT_NA = {"methods", "scorecard", "confidence_intervals", "kaplan_meier"}
CELL = re.compile(r"^```\{code-cell\} ipython3\n(.*?)^```$", re.S | re.M)
GLUE_TEXT = re.compile(r"\{glue:text\}`([^`]+)`")
BOOK = Path(__file__).resolve().parents[1] / "book"


@pytest.fixture(scope="module")
def user_book(tmp_path_factory):
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("own")
    full = folder / "full.csv"
    subprocess.run([sys.executable, "-m", "analysis", "synth", "--n-patients", "60", "--seed", "3", "--out",
                    str(full)], check=True, capture_output=True)
    optional = [c.name for c in load_schema().columns if not c.column_required]
    frame = pd.read_csv(full, dtype=str, keep_default_na=False)
    cohort = folder / "hospital <export>.csv"  # a name that must be escaped on the page
    frame.drop(columns=[c for c in optional if c in frame.columns]).to_csv(cohort, index=False)
    result = build_book(out=folder / "out", cohort=cohort, log=lambda _: None)
    return result.out / "html", frame, result, cohort


def _text(page: Path) -> str:
    body = page.read_text(encoding="utf-8")
    main = re.search(r"<main.*?</main>", body, re.S)
    return main.group(0) if main else body


def test_landing_page_describes_the_users_file(user_book):
    html_dir, frame, *_ = user_book
    page = _text(html_dir / "book" / "index.html")
    assert "No patient in this book is real" not in page
    assert "hospital &lt;export&gt;.csv" in page and "hospital <export>" not in page
    assert re.search(r"<dt>Patients</dt><dd>60</dd>", page)
    dates = pd.to_datetime(frame["abc_date"])
    assert f"{dates.min():%Y-%m} to {dates.max():%Y-%m}" in page
    assert f"{dates.min():%Y-%m-%d}" not in page  # months, never a single day
    assert "min_cell</code> 5" in page and "package 0." in page
    assert re.search(r"<dt>Built</dt><dd>\d{4}-\d{2}-\d{2} with", page)  # the report's build date


# ------------------------------------------------------------------ the build date, and no date in the results
def test_the_build_date_is_shown_on_both_landings_and_set_by_source_date_epoch(monkeypatch):
    import myst_nb

    from analysis.cohort import load_cohort
    from analysis.pages import landing_figures
    from analysis.paths import BUNDLED_COHORT

    monkeypatch.setattr(myst_nb, "glue", lambda *args, **kwargs: None)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1717200000")  # 2024-06-01 (UTC)
    shown = landing_figures(load_cohort(BUNDLED_COHORT), None, 0)["data"].data
    assert "the book was built on 2024-06-01" in shown and "No patient in this book is real" in shown


def _declared(path: Path) -> set[str]:
    """The names a chapter's ``parameters`` cell assigns."""
    for body in CELL.findall(path.read_text(encoding="utf-8")):
        if body.startswith(":tags:") and "parameters" in body.splitlines()[0]:
            return set(re.findall(r"^([a-z_]\w*) = ", body, re.M))
    return set()


def test_every_chapter_parameter_reaches_the_landing_page():
    """A changed cohort, mapping or parameter changes the landing page's hash (so it is re-executed
    and dated afresh) only if the landing page declares it: it must declare every chapter's."""
    from analysis.build import toc_files
    from analysis.paths import PROJECT_ROOT

    sources = [PROJECT_ROOT / f"{name}.md" for name in toc_files(PROJECT_ROOT)]
    every = set().union(*(_declared(p) for p in sources if p.is_file())) - {"results_path"}
    assert every and every <= _declared(BOOK / "index.md"), every - _declared(BOOK / "index.md")


def test_a_rebuild_with_nothing_changed_keeps_the_results_and_the_date(user_book, monkeypatch):
    html_dir, _, result, cohort = user_book
    out = result.out
    before = {name: (out / name).read_bytes() for name in ("results.json", "tables.xlsx")}
    landing = (html_dir / "book" / "index.html").read_bytes()
    assert b"1980" not in landing
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "2000000000")  # another day (2033): nothing re-executes
    lines: list[str] = []
    build_book(out=out, cohort=cohort, log=lines.append)
    assert not any("executed in" in line for line in lines), lines
    assert {name: (out / name).read_bytes() for name in before} == before  # byte-identical, no date in them
    assert (html_dir / "book" / "index.html").read_bytes() == landing  # the report keeps its date
    assert "date" not in json.loads(before["results.json"]) and b"2033-05-18" not in before["results.json"]


def test_cohort_page_gives_the_cohorts_window_and_neutral_comparisons(user_book):
    html_dir, *_ = user_book
    page = _text(html_dir / "book" / "cohort.html")
    assert "October 2002" not in page and "This cohort holds the patients of the file" in page
    assert "this cohort, and the paper for comparison" in page and "status-differs" not in page


def test_scorecard_becomes_a_comparison_and_calibration_is_left_out(user_book):
    html_dir, *_ = user_book
    assert "<h1>Comparison with the published study" in (html_dir / "book" / "scorecard.html").read_text() \
        or "Comparison with the published study</span>" in (html_dir / "book" / "scorecard.html").read_text()
    assert not (html_dir / "book" / "calibration.html").exists()
    assert "calibration.html" not in (html_dir / "book" / "index.html").read_text()


def test_the_primer_is_left_out_of_a_users_report(user_book):
    """The primer teaches on the bundled generated cohort whatever cohort the book is built on: a
    user's report is about the user's patients only, and neither builds it nor lists its part."""
    html_dir, *_ = user_book
    assert not (html_dir / "book" / "primer").exists()
    landing = (html_dir / "book" / "index.html").read_text()
    assert "primer/" not in landing and "Learning survival analysis" not in landing


def _na_sentences(page: Path) -> list[str]:
    found = []
    for block in re.findall(r"<(?:p|li|dd)>(.*?)</(?:p|li|dd)>", _text(page), re.S):
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", block)).split())
        if NA_PROSE.search(text):
            found.append(text[:200])
    return found


def test_no_sentence_of_nas_with_the_optional_columns_missing(user_book):
    html_dir, *_ = user_book
    bad = {}
    for page in sorted((html_dir / "book").rglob("*.html")):
        if page.stem in ABOUT_NA:
            continue
        if _na_sentences(page):
            bad[page.stem] = _na_sentences(page)
    assert not bad, bad


# ------------------------------------------------------------------ each optional column removed in turn
# the chapters whose prose figures go through page.sentence (read from the sources, so new ones join)
PROSE_CHAPTERS = sorted(p for p in BOOK.glob("*.md") if "page.sentence(" in p.read_text(encoding="utf-8"))
OPTIONAL = [c.name for c in load_schema().columns if not c.column_required]


def chapter_prose(path: Path, cohort) -> tuple[list[str], dict[str, str]]:
    """Run a chapter's cells on ``cohort`` (min_cell 0, no results file) with glue captured; return its
    paragraphs of text with the glued values put in, and the glued ``prose.*`` sentences. Figures are
    not drawn: only the text is under test."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import myst_nb

    import analysis.pages as pages

    glued: dict[str, object] = {}
    source = path.read_text(encoding="utf-8")
    namespace = {"cohort": cohort, "results_path": None, "mapping": None, "sheet": None,
                 "cutoff_date": None, "abc_from": None, "abc_to": None, "min_cell": 0}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.__setitem__(name, value))
        patch.setattr(pages.ChapterPage, "figure", lambda self, *args, **kwargs: None)
        patch.setattr(pages, "glue_figure", lambda *args, **kwargs: None)
        patch.setattr(pages, "zph_plot", lambda *args, **kwargs: None)
        for number, body in enumerate(CELL.findall(source), 1):
            lines = body.splitlines()
            if lines and lines[0].startswith(":tags:") and "parameters" in lines[0]:
                continue
            code = "\n".join(line for line in lines if not line.startswith(":tags:"))
            exec(compile(code, f"{path.name}, cell {number}", "exec"), namespace)
        plt.close("all")
    text = re.sub(r"^```\{glue:figure\}.*?^```$", "", CELL.sub("", source), flags=re.S | re.M)
    text = GLUE_TEXT.sub(lambda m: str(glued[m.group(1)]), text)
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    return paragraphs, {k: str(v) for k, v in glued.items() if k.startswith("prose.")}


@pytest.fixture(scope="module")
def bundled_frame():
    from analysis.paths import BUNDLED_COHORT

    return pd.read_csv(BUNDLED_COHORT, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def full_prose(bundled_frame):
    import warnings

    from analysis.cohort import cohort_from_frame

    cohort = cohort_from_frame(bundled_frame, name="own.csv")  # not the bundled file: the user's framing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {p.stem: chapter_prose(p, cohort)[1] for p in PROSE_CHAPTERS}


def test_the_prose_chapters_are_found():
    assert {"backgrounds", "competing_risks", "immortal_time", "outcomes", "risk_factors", "sensitivity",
            "treatments"} <= {p.stem for p in PROSE_CHAPTERS}


@pytest.mark.parametrize("column", OPTIONAL)
def test_each_optional_column_missing_gives_notes_naming_it(column, bundled_frame, full_prose):
    import warnings

    from analysis.cohort import cohort_from_frame

    cohort = cohort_from_frame(bundled_frame.drop(columns=[column]), name="own.csv")
    bad, unnamed = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in PROSE_CHAPTERS:
            paragraphs, sentences = chapter_prose(path, cohort)
            bad += [(path.stem, p[:200]) for p in paragraphs if NA_PROSE.search(p)]
            unnamed += [(path.stem, name, text) for name, text in sentences.items()
                        if text != full_prose[path.stem].get(name) and text and f"'{column}'" not in text]
    assert not bad, bad
    assert not unnamed, unnamed  # a sentence that changed is a note naming the missing column


def test_every_pages_footer_describes_the_users_cohort(user_book):
    """The bundled configuration's footer ("Built from a synthetic cohort") is replaced on every page."""
    html_dir, *_ = user_book
    for page in sorted((html_dir / "book").rglob("*.html")):
        footer = re.search(r'<div class="extra_footer">(.*?)</div>', page.read_text(encoding="utf-8"), re.S)
        assert footer and "synthetic" not in footer.group(1).lower(), page.stem
        assert "cohort file named on the first page" in footer.group(1), page.stem
    for stem in ("index", "cohort", "critique", "strobe"):  # the pages that describe the data
        assert "synthetic" not in _text(html_dir / "book" / f"{stem}.html").lower(), stem
