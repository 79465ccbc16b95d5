"""``make pdf``: the single-page book printed by headless system Chromium, offline, with figures and math."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from analysis.build import build_book
from analysis.build.pdf import PdfError, print_to_pdf
from conftest import BOOK_COHORT

def images_in(pdf: Path) -> int:
    return len(re.findall(rb"/Subtype\s*/Image", pdf.read_bytes()))


def scratch_singlehtml(folder: Path, body: str, mathjax: bool = True) -> Path:
    """A folder laid out as Sphinx's singlehtml writes the book: a redirect stub at the top, the page
    in book/index.html, its links relative to the top folder."""
    vendored = Path(__file__).resolve().parents[1] / "vendor" / "mathjax"
    (folder / "_static").mkdir(parents=True)
    (folder / "_static" / "mathjax").symlink_to(vendored, target_is_directory=True)
    (folder / "_images").mkdir()
    matplotlib.image.imsave(folder / "_images" / "dot.png", np.zeros((4, 4, 3)))
    (folder / "book").mkdir()
    (folder / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/index.html" />')
    (folder / "book" / "index.html").write_text(
        "<!doctype html><html><head>"
        + ('<script defer src="_static/mathjax/tex-svg-full.js"></script>' if mathjax else "")
        + f"</head><body>{body}</body></html>",
        encoding="utf-8",
    )
    return folder / "index.html"


MATH = r'<span class="math notranslate nohighlight">\(\hat S(t)=\prod (1-d_i/n_i)\)</span>'


def test_prints_figures_and_typeset_math(tmp_path):
    body = f'<h1>Title</h1><img alt="a square" src="_images/dot.png">{MATH}'
    index = scratch_singlehtml(tmp_path / "singlehtml", body)
    pdf = tmp_path / "book.pdf"
    assert print_to_pdf(index, pdf) == 1
    assert images_in(pdf) >= 1


def test_refuses_math_left_as_tex(tmp_path):
    index = scratch_singlehtml(tmp_path / "singlehtml", MATH, mathjax=False)
    with pytest.raises(PdfError, match=r"math not typeset: \\\(\\hat S"):
        print_to_pdf(index, tmp_path / "book.pdf")


def test_refuses_a_page_that_reaches_the_network(tmp_path):
    index = scratch_singlehtml(tmp_path / "singlehtml", '<img alt="remote" src="https://example.org/x.png">')
    with pytest.raises(PdfError, match=r"request leaving the machine: https://example\.org/x\.png"):
        print_to_pdf(index, tmp_path / "book.pdf")
    assert not (tmp_path / "book.pdf").exists()


def test_the_book_prints_with_all_its_figures(built_book):
    # singlehtml render of the session's build (its notebooks are already executed: nothing reruns)
    single = build_book(out=built_book.out, cohort=BOOK_COHORT, builder="singlehtml", log=lambda _: None)
    page = (single.html_index.parent / "book" / "index.html").read_text(encoding="utf-8")
    figures = len(re.findall(r"<img ", page))
    pdf = built_book.out / "book.pdf"
    pages = print_to_pdf(single.html_index, pdf)
    assert figures > 0 and images_in(pdf) >= figures
    assert pages >= 20, f"only {pages} pages"  # also catches a page counter that finds nothing


def pdf_text(pdf: Path) -> list[str]:
    import subprocess

    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return out.split("\f")


@pytest.mark.skipif(__import__("shutil").which("pdftotext") is None, reason="poppler's pdftotext not installed")
def test_cover_and_contents_with_page_numbers_and_ids_not_broken_mid_word(tmp_path):
    import datetime

    from analysis.build.pdf import cover_for

    long_id = "outcomes.os_from_cns.BL.median_lower"
    cells = "".join(f"<tr><td>{long_id}</td>" + "<td>word</td>" * 6 + "</tr>" for _ in range(3))
    body = ('<main><article class="bd-article"><h1>First chapter</h1><p>text</p>'
            '<div style="break-before: page"></div><h1>Second chapter</h1>'
            f'<table style="width: 70mm">{cells}</table></article></main>')
    index = scratch_singlehtml(tmp_path / "singlehtml", body, mathjax=False)
    pdf = tmp_path / "book.pdf"
    cover = cover_for(None, today=datetime.date(2025, 1, 31))
    assert print_to_pdf(index, pdf, cover=cover) == 4  # cover, contents, two chapter pages
    pages = pdf_text(pdf)
    first = " ".join(pages[0].split())
    assert cover.title[:30] in first and "Built 2025-01-31" in first and f"version {cover.version}" in first
    assert "synthetic cohort" in first and "must not guide" in first
    contents = [" ".join(line.split()) for line in pages[1].splitlines() if "chapter" in line]
    assert contents == ["1 First chapter 3", "2 Second chapter 4"]
    assert "2 Second chapter" in " ".join(pages[3].split())
    # The narrow table makes the id wrap: every piece of it on a line starts after a dot or underscore.
    pieces = [w for w in re.findall(r"[A-Za-z_.]{2,}", pages[3]) if w in long_id and w != long_id]
    assert pieces, "the id did not wrap: the test table is not narrow enough"
    for piece in pieces:
        start = long_id.find(piece)
        assert start == 0 or long_id[start - 1] in "._", f"broken mid-word: {piece!r}"


def test_cover_names_the_users_file():
    from analysis.build.pdf import cover_for

    cover = cover_for(Path("/data/hospital/my_cohort.xlsx"))
    assert "my_cohort.xlsx" in cover.cohort and "/data/hospital" not in cover.cohort
    assert "synthetic" not in cover.cohort
    from analysis.paths import BUNDLED_COHORT

    mapped = cover_for(BUNDLED_COHORT, mapped=True)  # read through a mapping, it is the user's cohort
    assert mapped.cohort.startswith("Cohort: the user's file") and "Synthetic" not in mapped.disclaimer


@pytest.mark.parametrize("solutions", [True, False])
def test_the_pdf_command_takes_the_builds_mapping_and_prints_a_teachers_edition_only_with_exercises(
        solutions, tmp_path, monkeypatch):
    from analysis.build import pdf as pdf_module
    from analysis.build.runner import BuildResult

    index = tmp_path / "out" / "singlehtml" / "index.html"
    index.parent.mkdir(parents=True)
    index.write_text('<div class="solution dropdown admonition">x</div>' if solutions else "<p>report</p>")
    asked, printed = {}, []
    monkeypatch.setattr(pdf_module, "chromium_path", lambda: "chromium")
    monkeypatch.setattr(pdf_module, "build_book", lambda **kw: asked.update(kw) or BuildResult(
        tmp_path / "out", index, tmp_path / "out" / "results.json", []))
    monkeypatch.setattr(pdf_module, "print_to_pdf", lambda html, target, cover, edition: printed.append(
        (target.name, edition, cover.cohort)) or 1)
    (tmp_path / "out" / "book-teacher.pdf").write_text("an earlier build's")
    code = pdf_module.main(["--cohort", str(tmp_path / "export.csv"), "--mapping", str(tmp_path / "m.yaml"),
                            "--out", str(tmp_path / "out"), "-p", "min_cell", "10"])
    assert code == 0
    assert asked["mapping"] == tmp_path / "m.yaml" and asked["params"] == {"min_cell": "10"}
    assert [edition for _, edition, _ in printed] == (["student", "teacher"] if solutions else ["student"])
    assert all("export.csv" in cohort for *_, cohort in printed)
    assert (tmp_path / "out" / "book-teacher.pdf").exists() == solutions


@pytest.mark.skipif(__import__("shutil").which("pdftotext") is None, reason="poppler's pdftotext not installed")
def test_student_edition_has_no_solutions_and_the_teachers_has_them_in_an_appendix(tmp_path):
    def chapter(title, n):
        return (f'<section><h1>{title}</h1><div class="exercise admonition"><p>Exercise {n}: count the deaths.</p>'
                f'</div><div class="solution dropdown admonition"><p class="admonition-title">Solution to '
                f'Exercise {n}</p><details><summary>show</summary><p>ANSWER{n} is seven.</p></details></div>'
                '<p>More of the chapter.</p></section>')

    body = f'<main><article class="bd-article">{chapter("Censoring", 1)}{chapter("Kaplan-Meier", 2)}</article></main>'
    index = scratch_singlehtml(tmp_path / "singlehtml", body, mathjax=False)
    student, teacher = tmp_path / "student.pdf", tmp_path / "teacher.pdf"
    print_to_pdf(index, student, edition="student")
    print_to_pdf(index, teacher, edition="teacher")
    student_text = " ".join(" ".join(pdf_text(student)).split())
    assert "Exercise 1: count the deaths" in student_text
    assert "ANSWER" not in student_text and "Solution to" not in student_text
    teacher_text = " ".join(" ".join(pdf_text(teacher)).split())
    appendix = teacher_text.index("Appendix: solutions to the exercises")
    assert teacher_text.index("More of the chapter") < appendix  # the chapters come first, whole
    tail = teacher_text[appendix:]
    assert tail.index("Censoring") < tail.index("ANSWER1") < tail.index("Kaplan-Meier") < tail.index("ANSWER2")
    with pytest.raises(PdfError, match="unknown edition"):
        print_to_pdf(index, tmp_path / "x.pdf", edition="draft")
