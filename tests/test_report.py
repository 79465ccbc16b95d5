"""analysis.pages.format and chapter: how figures are worded in the prose and the tables."""

from __future__ import annotations

import pytest

from analysis.pages.format import figure_text, id_text, p_cell, p_phrase, p_prose


@pytest.mark.parametrize("p, phrase", [
    (0.01234, "= 0.0123"),
    (3e-7, "< 0.0001"),
    ("<0.01", "< 0.01"),
    (float("nan"), "= NA"),
    (1.0, "= 1.0000"),
])
def test_p_values_read_as_a_relation(p, phrase):
    # prose writes "p {p_prose}": never "p = <0.0001"
    assert p_prose(p) == phrase


@pytest.mark.parametrize("p, phrase", [(0.01234, "p = 0.0123"), (3e-7, "p < 0.0001"), ("NA", "p = NA")])
def test_a_p_value_in_prose_never_breaks_across_lines(p, phrase):
    # a PDF or phone line that ends on "p =" leaves the value alone on the next line
    text = p_phrase(p)
    assert " " not in text and text.replace("\u00a0", " ") == phrase


def test_one_formatter_keeps_the_outputs_the_pages_need():
    assert p_cell(3e-7) == "<0.0001" and p_cell(0.04) == "0.0400" and p_cell("<0.01") == "<0.01"
    assert figure_text([12.25, 30.0]) == "12.2\u201330.0" and figure_text(7) == "7" and figure_text(None) == "NA"
    assert id_text("risk_factors.all_cns.local_rt.hr", 0.5) == "0.500"
    assert id_text("outcomes.os_from_cns.B.median", 295) == "295"
    assert id_text("outcomes.os_from_abc.test.p", 1e-9) == "<0.0001"


def test_small_counts_are_suppressed_with_their_percentages():
    import pandas as pd

    from analysis.pages.chapter import html_table

    frame = pd.DataFrame({"B": ["3\u00a0(4.3%)", "67\u00a0(95.7%)", "0", "64.0\u00a0(54.0\u201172.8)", "2"],
                          "p": ["0.0013", "", "", "", "<0.0001"]})
    shown = html_table(frame, "t", min_cell=5).data
    assert "3\u00a0(4.3%)" not in shown and "4.3%" not in shown
    assert "67\u00a0(95.7%)" in shown and "64.0\u00a0(54.0\u201172.8)" in shown  # not a count
    assert ">0<" in shown and "&lt;0.0001" in shown  # zero and p-values untouched
    assert shown.count("<td>&lt;5</td>") == 2
    assert "3\u00a0(4.3%)" in html_table(frame, "t").data  # off unless asked
