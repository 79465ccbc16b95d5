"""Landmark and time-varying reanalyses of subsequent systemic therapy, checked independently.

The independent computation: a counting-process table built here row by row (not with
analysis.study.immortal_time) and fitted with lifelines' CoxTimeVaryingFitter at tight precision (its
default stops about 1e-5 early, see tests/reference/README.md), compared to 1e-6.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxTimeVaryingFitter

from analysis.stats import CoxModel, TimeVaryingCox
from analysis.study.immortal_time import (
    comparison_table,
    counting_process_data,
    immortal_time_summary,
    landmark_analysis,
    landmark_data,
    naive_model,
    time_varying_model,
)

TIGHT = {"precision": 1e-16, "r_precision": 1e-16, "max_steps": 200}
SEED = 7  # the simulated cohorts below are fixed


def simulated_cohort(n=120, seed=SEED, therapy_effect=1.0):
    """CNS patients with a therapy started at a random day; deaths from an exponential hazard that
    the therapy multiplies by ``therapy_effect`` once started. Whole days, so times tie."""
    rng = np.random.default_rng(seed)
    cns_date = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
    age65 = rng.integers(0, 2, n)
    local_rt = rng.integers(0, 2, n)
    base = 1 / 250 * np.exp(0.4 * age65 - 0.3 * local_rt)
    start = np.where(rng.random(n) < 0.5, rng.integers(0, 150, n), np.nan)
    # death time with a hazard that changes at the therapy start (piecewise exponential)
    first = rng.exponential(1 / base)
    after = rng.exponential(1 / (base * therapy_effect))
    death_day = np.where(np.isnan(start) | (first <= np.nan_to_num(start, nan=np.inf)), first,
                         np.nan_to_num(start) + after)
    censor_day = rng.uniform(200, 1500, n)
    os_days = np.floor(np.minimum(death_day, censor_day))
    died = (death_day <= censor_day).astype(int)
    started = ~np.isnan(start) & (start <= os_days)
    return pd.DataFrame({
        "cns": 1,
        "cns_date": cns_date,
        "os_from_cns": os_days,
        "death": died,
        "subsequent_systemic": started.astype(int),
        "subsequent_systemic_start_date": [d + pd.Timedelta(days=float(s)) if ok else pd.NaT
                                           for d, s, ok in zip(cns_date, np.nan_to_num(start), started)],
        "age65_at_cns": age65,
        "local_rt": local_rt,
    })


def hand_built_counting_process(cohort):
    """(start, stop] rows written out patient by patient, independently of the module."""
    rows = []
    for i, p in enumerate(cohort.itertuples(index=False)):
        end = p.os_from_cns if p.os_from_cns > 0 else 0.5
        common = {"id": i, "age65_at_cns": p.age65_at_cns, "local_rt": p.local_rt}
        if p.subsequent_systemic == 1:
            s = (p.subsequent_systemic_start_date - p.cns_date).days
            if s == 0:
                rows.append({**common, "start": 0, "stop": end, "death": p.death, "treated": 1})
                continue
            if s < p.os_from_cns:
                rows.append({**common, "start": 0, "stop": s, "death": 0, "treated": 0})
                rows.append({**common, "start": s, "stop": end, "death": p.death, "treated": 1})
                continue
        rows.append({**common, "start": 0, "stop": end, "death": p.death, "treated": 0})
    return pd.DataFrame(rows)


def lifelines_ctv(table, covariates):
    fitter = CoxTimeVaryingFitter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines' low-variance heuristics are not errors here
        fitter.fit(table[["id", "start", "stop", "death", *covariates]], event_col="death", start_col="start",
                   stop_col="stop", id_col="id", fit_options=TIGHT)
    return fitter


@pytest.fixture(scope="module")
def cohort():
    return simulated_cohort()


def test_counting_process_table_matches_the_hand_built_one(cohort):
    ours = counting_process_data(cohort).sort_values(["id", "start"]).reset_index(drop=True)
    hand = hand_built_counting_process(cohort).sort_values(["id", "start"]).reset_index(drop=True)
    columns = ["id", "start", "stop", "death", "treated", "age65_at_cns", "local_rt"]
    pd.testing.assert_frame_equal(ours[columns].astype(float), hand[columns].astype(float))
    assert len(ours) > len(cohort)  # some patients were split


def test_time_varying_cox_matches_lifelines_to_1e6(cohort):
    ours = time_varying_model(cohort)
    ref = lifelines_ctv(hand_built_counting_process(cohort), ["treated", "age65_at_cns", "local_rt"])
    terms = ["treated", "age65_at_cns", "local_rt"]
    np.testing.assert_allclose(ours.coefficients_.loc[terms, "coef"], ref.params_[terms], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.coefficients_.loc[terms, "se"], ref.standard_errors_[terms], rtol=1e-6)
    assert ours.loglik_ == pytest.approx(ref.log_likelihood_, rel=1e-9)


def test_landmark_models_match_lifelines_with_delayed_entry(cohort):
    # Independent route: the patients alive beyond the landmark enter at the landmark (start) with
    # their status as of the landmark; Cox models depend on time only through the risk sets, so
    # the clock reset of landmark_data must give the same fit.
    results = landmark_analysis(cohort, landmarks=(30, 60))
    for landmark, row in zip((30, 60), results.itertuples(index=False)):
        rows = []
        for i, p in enumerate(cohort.itertuples(index=False)):
            if p.os_from_cns <= landmark:
                continue
            s = (p.subsequent_systemic_start_date - p.cns_date).days if p.subsequent_systemic == 1 else None
            rows.append({"id": i, "start": landmark, "stop": p.os_from_cns, "death": p.death,
                         "treated": int(s is not None and s <= landmark),
                         "age65_at_cns": p.age65_at_cns, "local_rt": p.local_rt})
        table = pd.DataFrame(rows)
        ref = lifelines_ctv(table, ["treated", "age65_at_cns", "local_rt"])
        assert row.patients == len(table) and row.deaths == table["death"].sum()
        assert np.log(row.hr) == pytest.approx(ref.params_["treated"], rel=1e-6, abs=1e-9)
        lower = np.exp(ref.params_["treated"] - 1.959963984540054 * ref.standard_errors_["treated"])
        assert row.lower != pytest.approx(lower, rel=1e-3)  # profile, not Wald, interval


def test_landmark_data_keeps_patients_alive_beyond_the_landmark(cohort):
    frame = landmark_data(cohort, 60)
    assert len(frame) == int((cohort["os_from_cns"] > 60).sum())
    assert (frame["time"] > 0).all()
    late_start = (cohort["subsequent_systemic_start_date"] - cohort["cns_date"]).dt.days > 60
    assert frame["treated"].sum() == int(((cohort["os_from_cns"] > 60) & (cohort["subsequent_systemic"] == 1)
                                          & ~late_start).sum())
    with pytest.raises(ValueError, match="landmark"):
        landmark_data(cohort, -1)


def test_time_varying_cox_without_splits_is_the_ordinary_cox_model(cohort):
    frame = cohort.assign(start=0.0, stop=cohort["os_from_cns"].clip(lower=0.5))
    for ties in ("efron", "breslow"):
        tv = TimeVaryingCox(ties=ties).fit(frame, "start", "stop", "death", ["age65_at_cns", "local_rt"])
        ordinary = CoxModel(ties=ties).fit(frame, "stop", "death", ["age65_at_cns", "local_rt"])
        columns = ["coef", "se", "hr_profile_lower", "hr_profile_upper", "p_lr"]
        np.testing.assert_allclose(tv.coefficients_[columns], ordinary.coefficients_[columns], rtol=1e-7)


def test_immortal_time_biases_the_naive_model_toward_benefit():
    # The therapy does nothing (hazard ratio 1) but the treated must survive to its start.
    cohort = simulated_cohort(n=400, seed=11, therapy_effect=1.0)
    naive = naive_model(cohort).coefficients_.loc["subsequent_systemic", "hr"]
    varying = time_varying_model(cohort).coefficients_.loc["treated", "hr"]
    assert naive < 0.8
    assert 0.8 < varying < 1.25
    table = comparison_table(cohort)
    assert table["hr"].iloc[0] == pytest.approx(naive)
    assert table["hr"].iloc[-1] == pytest.approx(varying)
    assert list(table["patients"])[1:4] == sorted(list(table["patients"])[1:4], reverse=True)


def test_immortal_time_summary_on_a_small_table():
    cohort = pd.DataFrame({
        "cns": 1, "cns_date": pd.to_datetime(["2016-01-01"] * 3), "os_from_cns": [100.0, 50.0, 80.0],
        "death": [1, 1, 0], "subsequent_systemic": [1, 1, 0],
        "subsequent_systemic_start_date": pd.to_datetime(["2016-01-21", "2016-01-01", None]),
        "age65_at_cns": 0, "local_rt": 1,
    })
    summary = immortal_time_summary(cohort)
    assert summary == {"treated": 2, "median_start_day": 10.0, "immortal_days": 20.0,
                       "immortal_share": pytest.approx(100 * 20 / 150)}


def test_errors_name_the_problem(cohort):
    bad = cohort.assign(start=10.0, stop=5.0)
    with pytest.raises(ValueError, match="'start'/'stop'.*start >= stop"):
        TimeVaryingCox().fit(bad, "start", "stop", "death", ["local_rt"])
    missing = cohort.copy()
    missing.loc[missing["subsequent_systemic"] == 1, "subsequent_systemic_start_date"] = pd.NaT
    with pytest.raises(ValueError, match="subsequent_systemic_start_date: missing"):
        time_varying_model(missing)
    with pytest.raises(ValueError, match="ties"):
        TimeVaryingCox(ties="exact")
