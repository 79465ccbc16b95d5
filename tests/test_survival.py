"""Kaplan-Meier against R's survfit (tests/reference/*_R.json) and statsmodels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.stats.nonparametric import KaplanMeier

from conftest import R_EDGE, R_LUNG, REFERENCE  # noqa: F401  (lung/edge fixtures come from conftest)
REL = 1e-9






def close(a, b, rel=REL):
    a = np.asarray(a, dtype=float)
    b = np.asarray([np.nan if v is None else v for v in np.atleast_1d(b)], dtype=float)
    return bool(np.all((np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= rel * np.abs(b) + 1e-14)))


def test_lung_by_sex_matches_r(lung):
    # R: fit <- survfit(Surv(time, event) ~ sex, lung); quantile(fit, .5) for conf.type log/log-log/plain;
    #    print(fit, rmean = 1022); summary(fit, times = c(180, 365), extend = TRUE)
    r = R_LUNG["km_sex"]["groups"]
    km = KaplanMeier().fit(lung["time"], lung["event"], lung["sex"])
    assert list(km.summary_.index) == ["1", "2"]
    for g, ref in r.items():
        assert km.summary_.loc[g, "n"] == ref["n"] and km.summary_.loc[g, "events"] == ref["events"]
        assert close(km.summary_.loc[g, "median"], ref["median"])
        assert close(km.summary_.loc[g, ["median_lower", "median_upper"]], ref["median_ci"]["log"])
        for ct in ("log", "log-log", "plain"):
            m = km.median_ci(ct).set_index("group")
            assert close(m.loc[g, ["lower", "upper"]], ref["median_ci"][ct]), (g, ct)
            at = km.survival_at(ref["at_times"]["time"], conf_type=ct)
            at = at[at.group == g]
            assert close(at["surv"], ref["at_times"]["surv"])
            assert close(at["std_err"], ref["at_times"]["std_err"])
            assert close(at["lower"], ref["at_times"]["ci"][ct]["lower"])
            assert close(at["upper"], ref["at_times"]["ci"][ct]["upper"])
            assert at["n_risk"].tolist() == ref["at_times"]["n_risk"]
        rm = km.rmst(1022).set_index("group")
        assert close(rm.loc[g, "rmean"], ref["rmean"]) and close(rm.loc[g, "rmean_se"], ref["rmean_se"])


def test_single_subject_group_gives_na_interval(lung):
    # R: quantile(survfit(Surv(time, event) ~ ph.ecog, lung), .5): ph.ecog 3 (one death) -> CI NA NA
    d = lung.dropna(subset=["ph.ecog"])
    km = KaplanMeier().fit(d["time"], d["event"], d["ph.ecog"])
    assert list(km.summary_.index) == ["0", "1", "2", "3"]
    row = km.summary_.loc["3"]
    assert row["median"] == 118 and np.isnan(row["median_lower"]) and np.isnan(row["median_upper"])
    for g, ref in R_LUNG["km_ecog"]["groups"].items():
        for ct in ("log", "log-log", "plain"):
            m = km.median_ci(ct).set_index("group")
            assert close(m.loc[g, ["lower", "upper"]], ref["median_ci"][ct]), (g, ct)


def test_edge_curve_to_zero_and_conf_level_090(edge):
    # R: fit <- survfit(Surv(t, e) ~ arm, edge, conf.int = .9); summary(fit, times = c(5, 10, 30), extend = TRUE)
    #    print(fit, rmean = 10); quantile(fit, .5)  -> upper limits NA (the band never crosses 0.5)
    km = KaplanMeier(conf_level=0.9).fit(edge["t"], edge["e"], edge["arm"])
    for g, ref in R_EDGE["km_arm"]["groups"].items():
        rm = km.rmst(10).set_index("group")
        assert close(rm.loc[g, "rmean"], ref["rmean"]) and close(rm.loc[g, "rmean_se"], ref["rmean_se"])
        for ct in ("log", "log-log", "plain"):
            assert close(km.median_ci(ct).set_index("group").loc[g, ["lower", "upper"]], ref["median_ci"][ct])
            at = km.survival_at([5, 10, 30], conf_type=ct)
            at = at[at.group == g]
            assert close(at["std_err"], ref["at_times"]["std_err"])
            assert close(at["lower"], ref["at_times"]["ci"][ct]["lower"])
            assert close(at["upper"], ref["at_times"]["ci"][ct]["upper"])
    b = km.survival_at([30]).set_index("group").loc["B"]
    assert b["surv"] == 0 and np.isnan(b["std_err"]) and np.isnan(b["lower"])


def test_median_midpoint_rule_on_a_flat_at_one_half():
    # R: survfit(Surv(c(1, 2, 3, 4), rep(1, 4)) ~ 1): S = 0.5 on [2, 3) -> median 2.5 (not 2)
    km = KaplanMeier().fit([1, 2, 3, 4], [1, 1, 1, 1])
    assert km.summary_.loc["all", "median"] == 2.5
    # R: the flat at 0.5 lasts to the last (censored) time 7 -> (2 + 7) / 2
    km = KaplanMeier().fit([1, 2, 7, 7], [1, 1, 0, 0])
    assert km.summary_.loc["all", "median"] == 4.5
    # never reaching 0.5 -> NaN, never "the last time"
    km = KaplanMeier().fit([1, 2, 3, 4], [1, 0, 0, 0])
    assert np.isnan(km.summary_.loc["all", "median"])


def test_curve_and_greenwood_match_statsmodels(lung):
    from statsmodels.duration.survfunc import SurvfuncRight

    km = KaplanMeier().fit(lung["time"], lung["event"])
    sm = SurvfuncRight(lung["time"], lung["event"])
    tab = km.table_.set_index("time").loc[sm.surv_times]
    assert np.allclose(tab["surv"], sm.surv_prob, rtol=1e-13, atol=0)
    assert np.allclose(tab["std_err"], sm.surv_prob_se, rtol=1e-12, atol=0)
    assert (tab["n_risk"].to_numpy() == sm.n_risk).all()


def test_table_and_risk_table(edge):
    km = KaplanMeier().fit(edge["t"], edge["e"], edge["arm"])
    a = km.table_[km.table_.group == "A"]
    assert a["time"].tolist() == [5, 9, 11, 12, 20]
    assert a["n_censor"].tolist() == [0, 0, 1, 0, 1]
    # R's n.risk at t counts time >= t (lifelines' at-risk counts after the removals at a tick)
    rt = km.risk_table([0, 9, 12, 25]).set_index(["group", "time"])
    assert rt.loc[("A", 9)].tolist() == [4, 2, 0]
    assert rt.loc[("A", 12)].tolist() == [2, 3, 1]
    assert rt.loc[("B", 25)].tolist() == [0, 4, 1]
    assert rt.loc[("B", 0), "n_risk"] == 5


@pytest.mark.parametrize(
    "time, event, group, message",
    [
        ([1, -2], [1, 0], None, "negative"),
        ([1, np.nan], [1, 0], None, "NaN"),
        ([1, 2], [1, 2], None, "0/1"),
        ([1, 2], [1, 0], pd.Categorical(["a", "a"], categories=["a", "b"]), "no rows"),
    ],
)
def test_invalid_input_is_refused(time, event, group, message):
    with pytest.raises(ValueError, match=message):
        KaplanMeier().fit(time, event, group)


def test_invalid_conf_type():
    with pytest.raises(ValueError, match="conf_type"):
        KaplanMeier(conf_type="arcsin")
