"""Log-rank / G-rho tests against R's survdiff (tests/reference/*_R.json) and statsmodels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.stats.logrank import logrank_test, pairwise_logrank

from conftest import R_EDGE, R_LUNG, REFERENCE  # noqa: E402


def check(res, ref):
    assert res.df == ref["df"]
    assert res.chisq == pytest.approx(ref["chisq"], rel=1e-9)
    assert res.p == pytest.approx(ref["p"], rel=1e-9)
    tab = res.table.set_index("group")
    for g, v in ref["groups"].items():
        assert tab.loc[g, "n"] == v["n"]
        assert tab.loc[g, "observed"] == pytest.approx(v["observed"], rel=1e-9)
        assert tab.loc[g, "expected"] == pytest.approx(v["expected"], rel=1e-9)


def test_lung_sex_and_ecog():
    lung = pd.read_csv(REFERENCE / "lung.csv")
    # R: survdiff(Surv(time, event) ~ sex, lung)
    check(logrank_test(lung["time"], lung["event"], lung["sex"]), R_LUNG["logrank_sex"])
    # R: survdiff(Surv(time, event) ~ ph.ecog, lung)   (4 groups, one with a single patient)
    d = lung.dropna(subset=["ph.ecog"])
    check(logrank_test(d["time"], d["event"], d["ph.ecog"]), R_LUNG["logrank_ecog"])


def test_peto_peto_rho_1_weights_observed_and_expected():
    edge = pd.read_csv(REFERENCE / "edge.csv")
    # R: survdiff(Surv(t, e) ~ arm, edge, rho = 1)
    check(logrank_test(edge["t"], edge["e"], edge["arm"], rho=1), R_EDGE["lr"])


def test_agrees_with_statsmodels_survdiff():
    from statsmodels.duration.survfunc import survdiff

    lung = pd.read_csv(REFERENCE / "lung.csv").dropna(subset=["ph.ecog"])
    for rho in (0, 1):
        ours = logrank_test(lung["time"], lung["event"], lung["ph.ecog"], rho=rho)
        kw = {} if rho == 0 else {"weight_type": "fh", "fh_p": 1}
        chisq, p = survdiff(lung["time"], lung["event"], lung["ph.ecog"], **kw)
        assert ours.chisq == pytest.approx(chisq, rel=1e-10)


def test_pairwise_holm_and_bh():
    lung = pd.read_csv(REFERENCE / "lung.csv").dropna(subset=["ph.ecog"])
    d = lung[lung["ph.ecog"] < 3]
    holm = pairwise_logrank(d["time"], d["event"], d["ph.ecog"], adjust="holm")
    assert list(zip(holm.group1, holm.group2)) == [("0", "1"), ("0", "2"), ("1", "2")]
    raw = np.array([logrank_test(d["time"][m], d["event"][m], d["ph.ecog"][m]).p
                    for m in (d["ph.ecog"].isin([0, 1]), d["ph.ecog"].isin([0, 2]), d["ph.ecog"].isin([1, 2]))])
    assert np.allclose(holm["p"], raw, rtol=1e-12)
    # Holm by hand: sorted p times (m, m-1, ...), running maximum, capped at 1
    order = np.argsort(raw)
    adj = np.maximum.accumulate(raw[order] * np.array([3, 2, 1])).clip(max=1)
    expected = np.empty(3)
    expected[order] = adj
    assert np.allclose(holm["p_adjusted"], expected, rtol=1e-12)
    bh = pairwise_logrank(d["time"], d["event"], d["ph.ecog"], adjust="fdr_bh")
    assert (bh["p_adjusted"] <= holm["p_adjusted"] + 1e-15).all()
    with pytest.raises(ValueError, match="adjust"):
        pairwise_logrank(d["time"], d["event"], d["ph.ecog"], adjust="bonf")


def test_invalid_calls():
    with pytest.raises(ValueError, match="at least 2"):
        logrank_test([1, 2, 3], [1, 0, 1], ["a", "a", "a"])
    with pytest.raises(ValueError, match="0/1"):
        logrank_test([1, 2, 3], [1, 2, 1], ["a", "b", "a"])
    with pytest.raises(ValueError, match="negative"):
        logrank_test([1, -2, 3], [1, 0, 1], ["a", "b", "a"])
