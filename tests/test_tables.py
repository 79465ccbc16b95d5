"""Table tests against R's chisq.test / fisher.test (tests/reference/*_R.json), a brute-force
enumeration, scipy, and the Table-1 builder."""

from __future__ import annotations

import itertools
import math
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.stats.contingency import chi_squared, crosstab, fisher_exact, kruskal_wallis, wilcoxon_rank_sum
from analysis.pages import table_one

from conftest import R_EDGE, R_LUNG, REFERENCE  # noqa: F401  (lung/edge fixtures come from conftest)




def test_chisq_matches_r(lung):
    # R: chisq.test(table(lung$sex, lung$event), correct = FALSE)
    ref = R_LUNG["chisq_sex_event"]
    res = chi_squared(crosstab(lung, "sex", "event"))
    assert res.statistic == pytest.approx(ref["statistic"], rel=1e-9)
    assert res.p == pytest.approx(ref["p"], rel=1e-9)
    assert res.details["min_expected"] == pytest.approx(ref["min_expected"], rel=1e-9)
    # R: chisq.test(table(lung$sex, lung$ph.ecog))  (2 x 4: never corrected; R warns)
    ref = R_LUNG["chisq_sex_ecog"]
    res = chi_squared(crosstab(lung, "sex", "ph.ecog"), correct=True)
    assert res.df == 3 and res.statistic == pytest.approx(ref["statistic"], rel=1e-9)
    assert res.p == pytest.approx(ref["p"], rel=1e-9)
    assert res.details["warnings"] == ref["warnings"]


def test_chisq_yates_on_2x2_matches_r():
    # R: chisq.test(table(edge$arm, edge$site), correct = TRUE) -> X-squared = 0, p = 1
    edge = pd.read_csv(REFERENCE / "edge.csv")
    res = chi_squared(crosstab(edge, "arm", "site"), correct=True)
    assert res.statistic == R_EDGE["chi"]["statistic"] and res.p == pytest.approx(R_EDGE["chi"]["p"], rel=1e-9)
    assert "Yates" in res.method


def test_fisher_matches_r(lung):
    # R: fisher.test(table(lung$sex, lung$event))
    ref = R_LUNG["fisher_sex_event"]
    res = fisher_exact(crosstab(lung, "sex", "event"))
    assert res.p == pytest.approx(ref["p"], rel=1e-9)
    assert res.details["odds_ratio_cmle"] == pytest.approx(ref["odds_ratio_cmle"], rel=1e-9)
    assert res.details["odds_ratio_ci"] == pytest.approx(ref["odds_ratio_ci"], rel=1e-9)
    # R: fisher.test(table(lung$sex, lung$ph.ecog))  (exact 2 x 4, not Monte Carlo)
    assert fisher_exact(crosstab(lung, "sex", "ph.ecog")).p == pytest.approx(R_LUNG["fisher_sex_ecog"]["p"], rel=1e-9)
    # R: fisher.test(table(edge$arm, edge$site))
    edge = pd.read_csv(REFERENCE / "edge.csv")
    res = fisher_exact(crosstab(edge, "arm", "site"))
    assert res.p == pytest.approx(R_EDGE["fish"]["p"], rel=1e-9)
    assert res.details["odds_ratio_ci"] == pytest.approx(R_EDGE["fish"]["odds_ratio_ci"], rel=1e-9)


def brute_force_fisher(table):
    """Every r x c table with the margins, by itertools (tiny tables only)."""
    table = np.asarray(table)
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    n = table.sum()

    def prob(t):
        # hypergeometric probability of a table with these margins, from exact factorials
        num = math.prod([math.factorial(v) for v in rows]) * math.prod([math.factorial(v) for v in cols])
        den = math.factorial(n) * math.prod([math.factorial(v) for v in t.ravel()])
        return float(num) / float(den)

    p_obs = prob(table)
    total = 0.0
    r, c = table.shape
    for cells in itertools.product(*(range(min(rows[i], cols[j]) + 1) for i in range(r - 1) for j in range(c - 1))):
        t = np.zeros((r, c), dtype=int)
        t[:-1, :-1] = np.array(cells).reshape(r - 1, c - 1)
        t[:-1, -1] = rows[:-1] - t[:-1, :-1].sum(axis=1)
        t[-1, :] = cols - t[:-1, :].sum(axis=0)
        if (t < 0).any() or t[-1, :].sum() != rows[-1]:
            continue
        pt = prob(t)
        if pt <= p_obs * (1 + 1e-7):
            total += pt
    return total


@pytest.mark.parametrize("table", [[[3, 1, 2], [0, 4, 1], [2, 0, 3]], [[5, 0, 1, 2], [1, 3, 2, 0]]])
def test_fisher_rxc_equals_brute_force_enumeration(table):
    assert fisher_exact(table).p == pytest.approx(brute_force_fisher(table), rel=1e-10)


def test_fisher_2x2_equals_scipy_and_3x4_n100_is_fast():
    assert fisher_exact([[8, 2], [1, 5]]).p == pytest.approx(stats.fisher_exact([[8, 2], [1, 5]])[1], rel=1e-12)
    # 3 x 4, n = 100: ~13 million tables; the transposed and permuted tables take other
    # enumeration paths and must give the same p
    table = np.array([[10, 8, 12, 10], [9, 11, 7, 8], [6, 7, 5, 7]])
    res = fisher_exact(table)
    # past enumeration's comfort zone: the network algorithm, which gives the enumeration's p
    from analysis.stats.contingency import _REL_ERR, _fisher_sum
    from scipy.special import gammaln

    assert res.details["algorithm"] == "network"
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    const = gammaln(rows + 1).sum() + gammaln(cols + 1).sum() - gammaln(table.sum() + 1)
    enumerated, n_tables = _fisher_sum(rows, cols, const, -gammaln(table + 1).sum() + np.log(_REL_ERR))
    assert n_tables > 10_000_000 and res.p == pytest.approx(enumerated, rel=1e-10)
    assert fisher_exact(table.T).p == pytest.approx(res.p, rel=1e-10)
    assert fisher_exact(table[::-1, [2, 0, 3, 1]]).p == pytest.approx(res.p, rel=1e-10)


def test_kruskal_and_wilcoxon_follow_r():
    values = [2.1, 3.4, 1.9, 5.6, 4.4, 3.3, 6.1, 7.0, 2.2]
    group = ["a", "a", "a", "b", "b", "b", "c", "c", "c"]
    kw = kruskal_wallis(values, group)
    assert kw.df == 2 and kw.p == pytest.approx(stats.kruskal([2.1, 3.4, 1.9], [5.6, 4.4, 3.3], [6.1, 7.0, 2.2])[1])
    # R: wilcox.test(c(2.1, 3.4, 1.9), c(5.6, 4.4, 3.3))  -> exact, W = 1, p = 0.2
    w = wilcoxon_rank_sum(values[:6], group[:6])
    assert w.statistic == 1 and w.p == pytest.approx(0.2, rel=1e-12) and w.details["exact"]


def test_table_one(lung):
    d = lung.assign(sex=lung["sex"].map({1: "male", 2: "female"}))
    t1 = table_one(d, "sex", ["age", "ph.ecog", "wt.loss"], categorical=["ph.ecog"])
    assert list(t1.columns) == ["variable", "level", "female", "male", "Overall", "p", "test"]
    ecog = t1[t1.variable == "ph.ecog"]
    # a level with an expected count < 5 (ph.ecog 3) -> Fisher's exact by the default rule
    assert ecog["test"].iloc[0] == "Fisher's exact"
    assert ecog["p"].iloc[0] == pytest.approx(R_LUNG["fisher_sex_ecog"]["p"], rel=1e-9)
    assert ecog[ecog.level == "missing"]["Overall"].iloc[0] == "1"
    assert ecog[ecog.level == "0"]["male"].iloc[0].startswith("36\u00a0(")  # never split over two lines
    age = t1[t1.variable == "age"].iloc[0]
    assert age["test"] == "Kruskal-Wallis" and age["level"] == "median (IQR)"
    assert any("Fisher" in note for note in t1.attrs["footnotes"])
    forced = table_one(d, "sex", ["ph.ecog"], categorical=["ph.ecog"], tests={"ph.ecog": "chisq"})
    assert forced["p"].iloc[1] == pytest.approx(R_LUNG["chisq_sex_ecog"]["p"], rel=1e-9)
    with pytest.raises(ValueError, match="not in the data"):
        table_one(d, "sex", ["nope"])
    with pytest.raises(ValueError, match="expected one of"):
        table_one(d, "sex", ["age"], tests={"age": "anova"})


def test_invalid_tables():
    with pytest.raises(ValueError, match="non-negative integer"):
        chi_squared([[1, -1], [2, 3]])
    with pytest.raises(ValueError, match="2 rows and 2 columns"):
        fisher_exact([[1, 2, 3]])


def test_fisher_answers_a_registry_sized_table_as_r():
    # a registry-sized 3 x 2 table (n = 23,975): millions of tables to enumerate, formerly refused (the
    # book fell back to chi-squared); the network algorithm answers as R's fisher.test: p = 0 (underflow)
    res = fisher_exact([[15964, 829], [1961, 1131], [2199, 1891]])
    assert res.details["algorithm"] == "network" and res.p == 0.0


def test_fisher_answers_a_wide_table_and_refuses_it_on_a_budget():
    # 5 x 3, n = 261 (ECOG by group in a 1,000-patient cohort): once refused, now answered by the
    # network (R's FEXACT in ~13 s; tests/test_r_deviations.py compares the p with R's). With a
    # caller's small budget (Table 1's) it is refused at once, with the reason, before any work.
    import time

    table = [[54, 5, 1], [66, 8, 7], [45, 14, 19], [12, 3, 9], [8, 3, 7]]
    start = time.process_time()
    with pytest.raises(ValueError, match=r"too large for the exact network algorithm .*fillings of column"):
        fisher_exact(table, max_work=2_000_000)
    assert time.process_time() - start < 1
