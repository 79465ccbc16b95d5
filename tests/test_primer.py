"""The primer's by-hand computations, checked against the package and against hand arithmetic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats.logrank import logrank_test
from analysis.pages.primer import (
    bands_by_hand,
    censoring_figures,
    ci_figures,
    crossing_hazards_sample,
    exponential_survival,
    first_time_at_or_below,
    km_by_hand,
    km_figures,
    logrank_by_hand,
    naive_survival,
    toy_table,
)
from analysis.pages import ChapterPage
from analysis.pages.format import figure_text, p_prose
from analysis.stats.nonparametric import KaplanMeier

SEED = 5


@pytest.fixture()
def toy():
    return toy_table()


def random_two_groups(n=80, seed=SEED):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"time": np.ceil(rng.exponential(10, n)), "event": rng.integers(0, 2, n),
                         "group": rng.choice(["x", "y"], n)})


def test_toy_table_has_the_cases_the_primer_explains(toy):
    assert len(toy) == 10
    at3 = toy[toy["months"] == 3]
    assert sorted(at3["death"]) == [0, 1]  # a death and a censoring at the same time
    assert toy[(toy["months"] == 6)]["death"].sum() == 2  # two tied deaths
    assert toy.sort_values("months")["death"].iloc[-1] == 0  # the curve does not reach 0


def test_km_by_hand_matches_hand_arithmetic_and_the_package(toy):
    hand = km_by_hand(toy["months"], toy["death"])
    # 0.9 * 8/9 * 6/7 * 4/6 = 16/35 at month 6, then * 2/3 at month 9
    assert hand.set_index("time").loc[6, "surv"] == pytest.approx(16 / 35, rel=1e-14)
    assert hand["surv"].iloc[-1] == pytest.approx(16 / 35 * 2 / 3, rel=1e-14)
    assert hand["at_risk"].tolist() == [10, 9, 7, 6, 4, 3, 2, 1]
    for data in (toy.rename(columns={"months": "time", "death": "event"}), random_two_groups()):
        hand = km_by_hand(data["time"], data["event"])
        package = KaplanMeier().fit(data["time"], data["event"]).table_
        np.testing.assert_allclose(hand["surv"], package["surv"], rtol=1e-13)
        np.testing.assert_allclose(hand["std_err"], package["std_err"], rtol=1e-12)


@pytest.mark.parametrize("name, conf_type", [("plain", "plain"), ("log", "log"), ("loglog", "log-log")])
def test_bands_by_hand_match_the_package(toy, name, conf_type):
    bands = bands_by_hand(km_by_hand(toy["months"], toy["death"]))
    package = KaplanMeier(conf_type=conf_type).fit(toy["months"], toy["death"]).table_
    np.testing.assert_allclose(bands[f"{name}_lower"], package["lower"], rtol=1e-12)
    np.testing.assert_allclose(bands[f"{name}_upper"], package["upper"], rtol=1e-12)
    # the median's CI read off the band by hand is the package's Brookmeyer-Crowley interval
    ci = KaplanMeier().fit(toy["months"], toy["death"]).median_ci(conf_type).iloc[0]
    assert first_time_at_or_below(bands["time"], bands[f"{name}_lower"]) == ci["lower"]
    assert np.isnan(first_time_at_or_below(bands["time"], bands[f"{name}_upper"])) and np.isnan(ci["upper"])


def test_the_bands_give_different_median_intervals_on_the_toy_table(toy):
    figures = ci_figures(toy)
    assert figures["primer.ci.median_log"][0] != figures["primer.ci.median_loglog"][0]
    for name in ("plain", "log", "loglog"):
        assert figures[f"primer.ci.median_{name}"][0] == figures[f"primer.ci.package_median_{name}"][0]


def test_naive_estimates_bracket_kaplan_meier(toy):
    estimates = naive_survival(toy["months"], toy["death"], 6).set_index("method")["estimate"]
    assert estimates["censored dropped"] == pytest.approx(4 / 9)
    assert estimates["censored counted as survivors"] == pytest.approx(5 / 10)
    assert estimates["Kaplan-Meier"] == pytest.approx(16 / 35)
    assert estimates["censored dropped"] < estimates["Kaplan-Meier"] < estimates["censored counted as survivors"]
    assert censoring_figures(toy)["primer.toy.censored"] == 4


def test_logrank_by_hand_matches_the_package():
    for data in (toy_table().rename(columns={"months": "time", "death": "event", "arm": "group"}),
                 random_two_groups()):
        table, totals = logrank_by_hand(data["time"], data["event"], data["group"])
        package = logrank_test(data["time"], data["event"], data["group"])
        assert totals["chisq"] == pytest.approx(package.chisq, rel=1e-12)
        assert totals["p"] == pytest.approx(package.p, rel=1e-10)
        np.testing.assert_allclose(totals["expected"], package.table["expected"], rtol=1e-12)
        assert sum(totals["observed"]) == data["event"].sum()
    with pytest.raises(ValueError, match="exactly 2 groups"):
        logrank_by_hand([1, 2, 3], [1, 1, 1], ["a", "b", "c"])


def test_midpoint_rule_in_arm_b(toy):
    # arm B sits at S = 0.5 from month 6 to month 9: R's median is the midpoint
    figures = km_figures(toy)
    assert figures["primer.km.first_below_B"] == 6
    assert figures["primer.km.median_B"] == 7.5
    assert figures["primer.km.median"] == figures["primer.km.package_median"] == 6


def test_proportional_hazards_illustrations():
    curves = exponential_survival([0, 12, 24], hazard=np.log(2) / 12, hazard_ratio=0.5)
    np.testing.assert_allclose(curves["reference"], [1, 0.5, 0.25])
    np.testing.assert_allclose(curves["compared"], curves["reference"] ** 0.5)
    sample = crossing_hazards_sample()
    pd.testing.assert_frame_equal(sample, crossing_hazards_sample())  # fixed seed
    from analysis.stats.cox import CoxModel

    zph = CoxModel().fit(sample, "months", "death", ["late"]).zph()
    assert zph.loc["late", "p"] < 1e-6  # the hazards do cross


def test_formatting_of_glued_figures():
    def short(value):
        return figure_text(value, 3, trim=True)

    assert short(7.5) == "7.5" and short(6) == "6" and short(0.73) == "0.730" and short(6.0) == "6"
    assert short([0.15, float("nan")]) == "0.150\u2013NA"
    assert p_prose(0.04) == "= 0.0400" and p_prose(1e-7) == "< 0.0001" and p_prose("<0.01") == "< 0.01"


def test_record_masks_small_counts_only_when_asked(capsys):
    page = ChapterPage(None, min_cell=5)
    shown = page.record({"x.n": 3, "x.hr": 0.1234, "x.p": 0.5}, digits=3, counts=True)
    assert shown == {"x.n": "<5", "x.hr": 0.1234, "x.p": 0.5}
    assert page.record({"x.n": 3}, digits=3, counts=False) == {"x.n": 3}
    # by default the small-cell rule reads the id: "deaths" names no count of the paper's, ".n" does
    assert page.record({"x.deaths": 3, "y.n": 3}) == {"x.deaths": 3, "y.n": "<5"}
    capsys.readouterr()
