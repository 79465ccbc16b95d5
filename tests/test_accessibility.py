"""Accessibility basics of the published book and its figures.

Pages (as rendered in Chromium, sharing test_browser's single visit of every page): one h1 and no
heading level skipped going down; every table has header cells; every figure has alt text.
Figures (drawn by analysis.pages.plots.km_plot): curve colours reach 3:1 contrast on white (WCAG 2 non-text
contrast), label text 4.5:1, and groups differ by line style and carry a direct label, so nothing is
conveyed by colour alone.
"""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.colors import to_hex

from analysis.pages import plots
from browser_pages import html_dir, toc_pages, visits  # noqa: F401 (fixtures)

NON_TEXT_CONTRAST = 3.0  # WCAG 2.1 SC 1.4.11 (graphical objects)
TEXT_CONTRAST = 4.5  # WCAG 2.1 SC 1.4.3 (normal text)


@pytest.fixture(params=toc_pages(), ids=lambda name: name.removesuffix(".html"))
def visit(request, visits):
    assert request.param in visits, f"{request.param} is in the table of contents but was not built"
    return visits[request.param]


def heading_problems(headings: list[tuple[int, str]]) -> list[str]:
    """Heading-order defects: not exactly one h1, the h1 not first, or a level skipped going down."""
    problems = []
    h1 = [text for level, text in headings if level == 1]
    if len(h1) != 1:
        problems.append(f"{len(h1)} h1 headings: {h1}")
    if headings and headings[0][0] != 1:
        problems.append(f"first heading is h{headings[0][0]} {headings[0][1]!r}, not h1")
    for (before, _), (level, text) in zip(headings, headings[1:]):
        if level > before + 1:
            problems.append(f"h{before} followed by h{level} {text!r}")
    return problems


def test_heading_checker_finds_skips():
    # the checker itself, on made-up outlines
    assert heading_problems([(1, "a"), (2, "b"), (3, "c"), (2, "d"), (3, "e")]) == []
    assert heading_problems([(1, "a"), (3, "b")]) == ["h1 followed by h3 'b'"]
    assert heading_problems([(1, "a"), (2, "b"), (1, "c")])[0].startswith("2 h1 headings")
    assert heading_problems([(2, "a"), (1, "b")]) == ["first heading is h2 'a', not h1"]


def test_headings_in_order(visit):
    assert visit.headings, f"{visit.name} has no visible heading"
    problems = heading_problems(visit.headings)
    assert not problems, f"{visit.name}: " + "; ".join(problems)


def test_tables_have_header_cells(visit):
    bare = [table["caption"] for table in visit.tables if table["headerCells"] == 0]
    assert not bare, f"{visit.name}: table(s) without <th>: {bare}"


def test_figures_have_alt_text(visit):
    images = [image for image in visit.images if image["inArticle"]]
    missing = [image["src"] for image in images if not image["alt"]]
    assert not missing, f"{visit.name}: figure(s) without alt text: {missing}"


# ----------------------------------------------------------------------------- the KM plots
@pytest.fixture(scope="module")
def km_figure():
    """km_plot on a small three-group table (enough groups to need three styles)."""
    rows = []
    for group, times in {"B": [2, 4, 6, 8], "BL": [1, 3, 5], "L": [3, 6, 9]}.items():
        at_risk = len(times)
        for time in times:
            rows.append((group, float(time), at_risk, 1, 0, (at_risk - 1) / len(times)))
            at_risk -= 1
    table = pd.DataFrame(rows, columns=["group", "time", "n_risk", "n_event", "n_censor", "surv"])
    table = table.assign(lower=(table["surv"] - 0.1).clip(0, 1), upper=(table["surv"] + 0.1).clip(0, 1))
    risk = pd.DataFrame({"group": ["B", "BL", "L"] * 2, "time": [0.0] * 3 + [5.0] * 3,
                         "n_risk": [4, 3, 3, 2, 1, 2]})
    return plots.km_plot(table, risk, groups_order=["B", "BL", "L"])


def curves(fig):
    return {line.get_gid().removeprefix("km-curve-"): line
            for line in fig.findobj(lambda a: (a.get_gid() or "").startswith("km-curve-"))}


def test_km_curve_colours_have_contrast_on_white(km_figure):
    lines = curves(km_figure)
    assert sorted(lines) == ["B", "BL", "L"]
    for group, line in lines.items():
        ratio = plots.contrast_ratio(line.get_color())
        assert ratio >= NON_TEXT_CONTRAST, f"group {group}: {to_hex(line.get_color())} is {ratio:.2f}:1 on white"


def test_whole_km_palette_has_contrast_on_white():
    # groups beyond the third take the next colours: all of them must do
    weak = {c: round(plots.contrast_ratio(c), 2) for c in plots.OKABE_ITO
            if plots.contrast_ratio(c) < NON_TEXT_CONTRAST}
    assert not weak, f"palette colours under {NON_TEXT_CONTRAST}:1 on white: {weak}"


def test_km_groups_differ_by_line_style_not_colour_alone(km_figure):
    lines = curves(km_figure)
    dashes = {group: line.get_linestyle() for group, line in lines.items()}
    assert len(set(dashes.values())) == len(lines), f"line styles repeat: {dashes}"


def test_km_groups_are_labelled_directly_in_readable_text(km_figure):
    labels = {text.get_gid().removeprefix("km-label-"): text
              for text in km_figure.findobj(lambda a: (a.get_gid() or "").startswith("km-label-"))}
    assert {group: text.get_text() for group, text in labels.items()} == {"B": "B", "BL": "BL", "L": "L"}
    for group, text in labels.items():
        ratio = plots.contrast_ratio(text.get_color())
        assert ratio >= TEXT_CONTRAST, f"label {group}: {ratio:.2f}:1 on white"
