"""The scorecard's rules: each kind of figure against the paper's printed value."""

import math

import pytest

from analysis.paper.published import flatten, load_published
from analysis.paper.comparison import judge, kind_of, scorecard, totals


@pytest.mark.parametrize(
    "kind, paper, computed, status",
    [
        ("count", 102, 102, "exact"),
        ("count", 102, 101, "differs"),
        ("pct", 27.6, 27.64, "exact"),           # equal at the paper's one decimal
        ("pct", 12.8, 12.7, "differs"),
        ("time", 295.0, 295.0, "exact"),
        ("time", 616.5, 616.0, "differs"),
        ("median_ci", [181.0, 365.0], [181.0, 365.0], "exact"),
        ("median_ci", [181.0, 365.0], [190.0, 380.0], "within tolerance"),   # 5.0% and 4.1%
        ("median_ci", [181.0, 365.0], [200.0, 365.0], "differs"),            # 10.5%
        ("median_ci", [36.0, 206.0], [36.0, None], "not computable"),        # R's NA
        ("median_ci", [36.0, 206.0], [36.0, math.nan], "not computable"),
        ("hr", 1.983, 1.9834, "exact"),
        ("hr", 1.983, 2.05, "within tolerance"),
        ("hr", 1.983, 2.2, "differs"),
        ("hr_ci", [1.253, 3.096], [1.3, 3.3], "within tolerance"),
        ("hr_ci", [1.253, 3.096], [1.253, 3.5], "differs"),
        ("p", 0.0403, 0.04031, "exact"),
        ("p", 0.0403, 0.049, "within tolerance"),
        ("p", 0.0403, 0.06, "differs"),
        ("p", "<0.01", 0.0099, "within tolerance"),
        ("p", "<0.01", 0.011, "differs"),
        ("times", [10.0, 355.0], [10.0, 355.0], "exact"),
        ("times", [10.0, 355.0], [10.0, 356.0], "differs"),
        ("hr", 1.983, None, "not computable"),
        ("hr", 1.983, math.nan, "not computable"),
    ],
)
def test_each_kind_of_figure_is_judged_by_its_rule(kind, paper, computed, status):
    assert judge(kind, paper, computed)[0] == status


def test_kinds_follow_the_id():
    assert kind_of("outcomes.os_from_cns.B.ci", parent_has_hr=False) == "median_ci"
    assert kind_of("backgrounds.risk_of_bm_multivariate.lung.ci", parent_has_hr=True) == "hr_ci"
    assert kind_of("treatments.initial_rt.L.of", parent_has_hr=False) == "count"


def test_every_published_figure_gets_a_row_even_when_nothing_is_computed():
    card = scorecard({})
    numeric = [k for k, v in flatten({k: v for k, v in load_published().items()
                                      if k not in ("study", "paper_issues")}).items()
               if isinstance(v, (int, float, list)) and not isinstance(v, bool)]
    assert set(numeric) <= set(card["id"])
    assert (card.loc[card["status"] != "paper issue", "status"] == "not computable").all()
    assert totals(card).sum() == len(card)


def test_impossible_printed_figures_are_marked_as_paper_issues():
    card = scorecard({"outcomes.os_from_cns.L.ci": [72.0, 220.0], "cohort.groups.BL.pct": 12.7,
                      "cohort.followup_from_abc.median": 1260.0}).set_index("id")
    assert card.loc["outcomes.os_from_cns.L.ci_as_printed", "status"] == "paper issue"
    assert card.loc["cohort.groups.BL.pct", "status"] == "paper issue"
    assert card.loc["cohort.followup_from_abc.median", "status"] == "paper issue"
    # a share that is off by more than the paper's rounding is not excused
    assert scorecard({"cohort.groups.BL.pct": 14.0}).set_index("id").loc["cohort.groups.BL.pct", "status"] == "differs"
