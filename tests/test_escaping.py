"""Everything a user controls reaches a page as text (issue "A build you can trust", point 8).

The channels: the cohort file's name, the sheet's name, the mapping file's name, the user's column
names and value labels (read through the mapping), and the notes that quote them (an optional column
missing: "... which <file name> does not have"), in HTML outputs, MyST/Markdown outputs, glued text,
figure notes and results.json-derived text. Payloads: raw HTML with an event handler, Markdown bold and
emphasis, a MyST role, inline maths, a CDATA end and a lone backtick.

One full build (about a minute and a half) of an .xlsx copy of the bundled cohort (one id changed)
named with the payloads; every HTML page is scanned for markup that came from a payload.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from markdown_it import MarkdownIt

from analysis.pages.format import markdown_code, markdown_text, plot_text
from analysis.paths import BUNDLED_COHORT

HTML_PAYLOAD = "<img src=x onerror=alert(7)>"
PAYLOAD = HTML_PAYLOAD + " **bold** {glue:text}`x` $x$ ]]> ` _em_"
SHEET = HTML_PAYLOAD[:31]  # Excel: at most 31 characters, none of []:*?/\
COLUMNS = {"patient_id": "<b>pid</b> **pid**", "histology": "{glue:text}`h` $h$ ]]>"}
LABELS = {"B": "<i>brain</i>", "BL": "**brain+LM**", "L": "`LM`", "none": "$none$"}
DROPPED = ["cause_of_death", "csf_cytology"]  # switched-off analyses: notes that name the file

# markup that can only come from a payload (the book's own text has none of these)
LEAKS = [
    (re.compile(r"<img\s+src=x", re.I), "raw <img> from the payload"),
    (re.compile(r"<[^>]*\bonerror\s*=", re.I), "an onerror= attribute inside a tag"),
    (re.compile(r"<strong>\s*(?:bold|pid|brain\+LM)\s*</strong>"), "bold from the payload"),
    (re.compile(r"<b>pid</b>|<i>brain</i>"), "raw <b>/<i> from a column name or label"),
    (re.compile(r"<em>em</em>"), "emphasis from the payload"),
    (re.compile(r"<code[^>]*>(?:<span class=\"pre\">)?(?:LM|h)(?:</span>)?</code>"), "a code span from the payload"),
    (re.compile(r"\\\(\s*(?:h|none)\s*\\\)"), "maths from the payload"),
]


def md(text: str) -> str:
    return MarkdownIt("commonmark").render(text)


# --------------------------------------------------------------------------------------------- helpers
@pytest.mark.parametrize("payload", [PAYLOAD, "**bold**", "{glue:text}`x`", "$x$", "]]>", "`", "a\\*b", "[x](y.html)"])
def test_markdown_text_renders_as_itself(payload):
    rendered = md(markdown_text(payload))
    assert "<img" not in rendered and "<strong>" not in rendered and "<em>" not in rendered
    assert "<code>" not in rendered and "<a " not in rendered
    import html

    assert html.unescape(re.sub(r"</?p>\n?", "", rendered)) == payload


@pytest.mark.parametrize("payload", [PAYLOAD, "synthetic_cohort.csv", "`", "``a`", "a``"])
def test_markdown_code_is_one_literal_code_span(payload):
    import html

    rendered = md(markdown_code(payload))
    spans = re.findall(r"<code>(.*?)</code>", rendered)
    assert len(spans) == 1 and html.unescape(spans[0]).strip() == payload.strip()


def test_plot_text_keeps_dollars_out_of_mathtext():
    import matplotlib

    matplotlib.use("Agg")
    from analysis.pages import note_figure

    figure = note_figure(plot_text("Not drawn: $x$ and a lone $ in " + PAYLOAD))
    figure.savefig(__import__("io").BytesIO(), format="png")  # an odd '$' would raise here


def test_section_notes_and_optional_reasons_are_escaped():
    from analysis.pages import ChapterPage
    from analysis.study import Section

    section = Section()
    section.notes.append(f"Not computed: the causes of death need 'cause_of_death', which {PAYLOAD}.csv does not have.")
    page = ChapterPage()
    for shown in (page.notes(section), page.optional(section, "missing", lambda t: t, "A table")):
        # a {note} directive's body is parsed as Markdown, as the text around it
        body = re.sub(r"^```\{note\}\n|\n```$", "", shown.data)
        rendered = md(body)
        assert "<img" not in rendered and "<strong>" not in rendered and "<em>em</em>" not in rendered
        assert "&lt;img src=x onerror=alert(7)&gt; **bold** {glue:text}`x` $x$ ]]&gt; ` _em_.csv" in rendered


# --------------------------------------------------------------------------------------------- a build
def payload_export(folder: Path) -> tuple[Path, Path]:
    """An .xlsx copy of the bundled cohort with payload names everywhere a user names something."""
    import openpyxl

    frame = pd.read_csv(BUNDLED_COHORT, dtype=str, keep_default_na=False).drop(columns=DROPPED)
    frame.loc[0, "patient_id"] = "SYN-X001"  # not the bundled bytes in any case
    frame["cns_group"] = frame["cns_group"].map(LABELS)
    frame[HTML_PAYLOAD + " free text"] = "x"  # an extra column the mapping does not name
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEET
    sheet.append([COLUMNS.get(c, c) for c in frame.columns])
    for _, row in frame.iterrows():
        sheet.append([None if v == "" else v for v in row])
    path = folder / f"{PAYLOAD}.xlsx"
    book.save(path)
    mapping = folder / f"{PAYLOAD} mapping.yaml"
    mapping.write_text(f"sheet: {json.dumps(SHEET)}\ncolumns:\n"
                       + "".join(f"  {json.dumps(own)}: {name}\n" for name, own in COLUMNS.items())
                       + "values:\n  cns_group:\n"
                       + "".join(f"    {json.dumps(own)}: {value}\n" for value, own in LABELS.items()),
                       encoding="utf-8")
    return path, mapping


@pytest.fixture(scope="module")
def payload_book(tmp_path_factory):
    from analysis.build import build_book

    folder = tmp_path_factory.mktemp("payload")
    path, mapping = payload_export(folder)
    return build_book(out=folder / "out", cohort=path, mapping=mapping, log=lambda _: None)


@pytest.mark.full_build
def test_no_page_renders_markup_from_a_user_string(payload_book):
    html_dir = payload_book.html_index.parent
    pages = sorted(html_dir.rglob("*.html"))
    leaks = []
    for page in pages:
        text = page.read_text(encoding="utf-8", errors="replace")
        for pattern, what in LEAKS:
            if (m := pattern.search(text)):
                leaks.append(f"{page.relative_to(html_dir)}: {what}: {text[max(0, m.start() - 120):m.end() + 40]!r}")
    assert not leaks, "\n".join(leaks)
    # the payload does reach the pages, as text: the channels were exercised
    escaped = "&lt;img src=x onerror=alert(7)&gt;"
    reached = {p.name for p in pages if escaped in p.read_text(encoding="utf-8", errors="replace")}
    assert {"index.html", "cohort.html", "competing_risks.html"} <= reached, reached


@pytest.mark.full_build
def test_results_json_is_plain_data(payload_book):
    results = json.loads(payload_book.results_json.read_text(encoding="utf-8"))
    assert results["build.n_patients"] == 369
    assert not [k for k, v in results.items() if isinstance(v, str) and "<img" in v]
