"""analysis.report: how figures are worded in the prose."""

from __future__ import annotations

import pytest

from analysis.report import fmt_p, p_phrase


@pytest.mark.parametrize("p, phrase", [
    (0.01234, "p = 0.0123"),
    (3e-7, "p < 0.0001"),
    (float("nan"), "p = NA"),
    (1.0, "p = 1.0000"),
])
def test_p_values_read_as_a_relation(p, phrase):
    assert p_phrase(fmt_p(p)) == phrase
