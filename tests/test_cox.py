"""Cox models against R's coxph / cox.zph (tests/reference/*_R.json), statsmodels,
and the Firth fit against the firthmodels package (a second, independent implementation)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.stats.cox import CoxModel, MonotoneLikelihoodWarning, fit_cox

from conftest import R_EDGE, R_LUNG, REFERENCE  # noqa: F401  (lung/edge fixtures come from conftest)






def check_against_r(model, ref):
    rel = 1e-6
    assert model.n_ == ref["n"] and model.n_events_ == ref["nevent"]
    assert model.loglik_ == pytest.approx(ref["loglik"], rel=rel)
    assert model.loglik_null_ == pytest.approx(ref["loglik_null"], rel=rel)
    c = model.coefficients_
    assert list(c.index) == list(ref["coefficients"])
    for name, v in ref["coefficients"].items():
        for key in ("coef", "se", "hr", "hr_lower", "hr_upper", "z", "p"):
            assert c.loc[name, key] == pytest.approx(v[key], rel=rel), (name, key)
    for test in ("lr", "wald", "score"):
        assert model.tests_.loc[test, "stat"] == pytest.approx(ref[test]["stat"], rel=rel)
        assert model.tests_.loc[test, "p"] == pytest.approx(ref[test]["p"], rel=rel)
        assert model.tests_.loc[test, "df"] == ref[test]["df"]
    assert model.concordance_ == pytest.approx(ref["concordance"], rel=rel)
    assert model.concordance_se_ == pytest.approx(ref["concordance_se"], rel=rel)
    for term, v in ref["term_lr"].items():
        assert model.term_tests_.loc[term, "stat"] == pytest.approx(v["stat"], rel=rel)
        assert model.term_tests_.loc[term, "p"] == pytest.approx(v["p"], rel=rel)
        assert model.term_tests_.loc[term, "df"] == v["df"]
    for name, v in ref["profile_ci"].items():
        for ours, theirs in (("coef_profile_lower", "coef_lower"), ("coef_profile_upper", "coef_upper"),
                             ("hr_profile_lower", "hr_lower"), ("hr_profile_upper", "hr_upper")):
            assert c.loc[name, ours] == pytest.approx(v[theirs], rel=1e-5), (name, ours)
    zph = model.zph()
    assert list(zph.index) == list(ref["zph"])
    for term, v in ref["zph"].items():
        assert zph.loc[term, "chisq"] == pytest.approx(v["chisq"], rel=rel)
        assert zph.loc[term, "p"] == pytest.approx(v["p"], rel=rel)
        assert zph.loc[term, "df"] == v["df"]


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_lung_matches_r(lung, ties):
    # R: fit <- coxph(Surv(time, event) ~ age + sex + ph.ecog, lung, ties = ties)
    #    cox.zph(fit, transform = "km"); drop1(fit, test = "Chisq"); profile-likelihood CIs
    model = CoxModel(ties=ties).fit(lung, "time", "event", ["age", "sex", "ph.ecog"])
    check_against_r(model, R_LUNG[f"cox_{ties}"])
    assert model.n_dropped_ == 1  # ph.ecog missing once
    assert model.converged_ and not model.monotone_likelihood_


def test_lung_female_subset_matches_r(lung):
    # R: coxph(Surv(time, event) ~ age + ph.ecog, subset(lung, sex == 2))
    check_against_r(CoxModel().fit(lung[lung.sex == 2], "time", "event", ["age", "ph.ecog"]),
                    R_LUNG["cox_female_efron"])


def test_edge_strata_factor_naming_and_zph_terms(edge):
    # R: fit <- coxph(Surv(t, e) ~ arm + x + strata(site), edge, ties = "breslow")
    #    cox.zph(fit) groups by term: "arm", not "armB"
    model = CoxModel(ties="breslow").fit(edge, "t", "e", ["arm", "x"], strata=["site"])
    check_against_r(model, R_EDGE["cox_str"])
    assert model.n_dropped_ == 1


def test_edge_subset_matches_r(edge):
    # R: coxph(Surv(t, e) ~ x, subset(edge, arm == "A" & x >= 1))
    check_against_r(CoxModel().fit(edge[(edge.arm == "A") & (edge.x >= 1)], "t", "e", ["x"]), R_EDGE["cox_sub"])


def test_agrees_with_statsmodels_phreg(lung):
    from statsmodels.duration.hazard_regression import PHReg

    d = lung.dropna(subset=["age", "sex", "ph.ecog"])
    for ties in ("efron", "breslow"):
        sm = PHReg(d["time"], d[["age", "sex", "ph.ecog"]], status=d["event"], ties=ties).fit()
        ours = CoxModel(ties=ties).fit(d, "time", "event", ["age", "sex", "ph.ecog"], profile_ci=False)
        assert np.allclose(ours.coefficients_["coef"], sm.params, rtol=1e-6)
        assert np.allclose(ours.coefficients_["se"], sm.bse, rtol=1e-6)


def test_factor_with_reference_level_and_multi_df_term(lung):
    d = lung.dropna(subset=["ph.ecog"])
    d = d[d["ph.ecog"] < 3]
    m = CoxModel().fit(d, "time", "event", ["sex", "ph.ecog"], factors=["ph.ecog"])
    assert list(m.coefficients_.index) == ["sex", "ph.ecog1", "ph.ecog2"]
    assert m.term_tests_.loc["ph.ecog", "df"] == 2
    assert m.zph().loc["ph.ecog", "df"] == 2
    # the factor term's LR equals the LR of the model with vs without it
    small = CoxModel().fit(d, "time", "event", ["sex"], profile_ci=False)
    assert m.term_tests_.loc["ph.ecog", "stat"] == pytest.approx(2 * (m.loglik_ - small.loglik_), rel=1e-9)
    r = CoxModel().fit(d, "time", "event", ["sex", "ph.ecog"], factors=["ph.ecog"], ref={"ph.ecog": 2},
                       profile_ci=False)
    assert list(r.coefficients_.index) == ["sex", "ph.ecog0", "ph.ecog1"]
    assert r.loglik_ == pytest.approx(m.loglik_, rel=1e-12)


def separated_data():
    """17 patients (seed 20261127) where every patient with x = 1 dies and none with x = 0:
    the ordinary partial likelihood is monotone in the x coefficient."""
    rng = np.random.default_rng(20261127)
    n = 17
    df = pd.DataFrame({"t": rng.exponential(10, n).round(1) + 0.1, "x": rng.integers(0, 2, n),
                       "age": rng.normal(60, 10, n).round()})
    df["e"] = (df["x"] == 1).astype(int)
    return df


def test_monotone_likelihood_detected_and_firth_refit_warns():
    df = separated_data()
    with pytest.warns(MonotoneLikelihoodWarning, match="x diverge"):
        plain = CoxModel(ties="breslow").fit(df, "t", "e", ["x", "age"])
    assert plain.monotone_likelihood_ and not plain.converged_ and plain.diverging_ == ["x"]
    assert plain.coefficients_.loc["x", "coef_profile_upper"] == np.inf
    assert np.isfinite(plain.coefficients_.loc["x", "coef_profile_lower"])
    with pytest.warns(MonotoneLikelihoodWarning, match="Firth"):
        model = fit_cox(df, "t", "e", ["x", "age"], ties="breslow")
    assert model.method_ == "firth" and model.monotone_likelihood_
    assert np.isfinite(model.coefficients_.loc["x", "coef"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ordinary = fit_cox(pd.read_csv(REFERENCE / "lung.csv"), "time", "event", ["age", "sex"], profile_ci=False)
    assert ordinary.method_ == "cox"


def test_firth_matches_firthmodels():
    # Second source: firthmodels.FirthCoxPH (Breslow ties, Heinze & Schemper 2001 penalty),
    # coefficients, SE, penalised loglik and profile penalised-likelihood CI.
    firthmodels = pytest.importorskip("firthmodels")
    df = separated_data()
    ours = CoxModel(ties="breslow", penalty="firth").fit(df, "t", "e", ["x", "age"])
    ref = firthmodels.FirthCoxPH(backend="numpy", gtol=1e-9, xtol=1e-9, max_iter=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(df[["x", "age"]].to_numpy(float), (df["e"].astype(bool).to_numpy(), df["t"].to_numpy()))
        ci = ref.conf_int(method="pl", tol=1e-9)
    c = ours.coefficients_
    assert np.allclose(c["coef"], ref.coef_, rtol=1e-6)
    assert np.allclose(c["se"], ref.bse_, rtol=1e-6)
    assert ours.loglik_ == pytest.approx(ref.loglik_, rel=1e-9)
    assert np.allclose(c["coef_profile_lower"], ci[:, 0], rtol=1e-5)
    assert np.allclose(c["coef_profile_upper"], ci[:, 1], rtol=1e-5)
    assert np.isfinite(c["p_lr"]).all() and (c["p_lr"] > 0).all()


def test_firth_penalised_lr_against_firthmodels():
    firthmodels = pytest.importorskip("firthmodels")
    df = separated_data()
    df.loc[df.index[:2], "e"] = 1 - df.loc[df.index[:2], "e"]  # break separation so both fits converge
    ours = CoxModel(ties="breslow", penalty="firth").fit(df, "t", "e", ["x", "age"])
    ref = firthmodels.FirthCoxPH(backend="numpy").fit(
        df[["x", "age"]].to_numpy(float), (df["e"].astype(bool).to_numpy(), df["t"].to_numpy()))
    ref.lrt()
    assert np.allclose(ours.coefficients_["p_lr"], ref.lrt_pvalues_, rtol=1e-4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(time="nope", event="e", covariates=["x"]), "not in the data"),
        (dict(time="t", event="x", covariates=["arm"]), "0/1"),
        (dict(time="t", event="e", covariates=["x"], factors=["site"]), "not among the covariates"),
        (dict(time="t", event="e", covariates=["arm"], ref={"arm": "C"}), "not a level"),
    ],
)
def test_invalid_calls(edge, kwargs, message):
    with pytest.raises(ValueError, match=message):
        CoxModel().fit(edge, **kwargs)


def test_negative_time_refused(edge):
    bad = edge.assign(t=edge["t"] - 10)
    with pytest.raises(ValueError, match="negative"):
        CoxModel().fit(bad, "t", "e", ["x"])


def coxphf_example_data():
    """The monotone-likelihood example of firthmodels' test suite (numpy seed 42, n = 100):
    every event with separator == 0 is censored."""
    rng = np.random.default_rng(42)
    n = 100
    separator = rng.choice([0, 1], n, p=[0.35, 0.65])
    x1 = rng.standard_normal(n)
    x2 = rng.uniform(-1, 1, n)
    x3 = rng.choice([0, 1], n, p=[0.6, 0.4])
    X = np.column_stack([separator, x1, x2, x3])
    eta = X @ np.array([0.0, 0.5, -0.3, 0.7])
    survival_time = rng.exponential(1 / (0.1 * np.exp(eta)))
    censor_time = rng.exponential(scale=15.0, size=n)
    event = survival_time <= censor_time
    event[separator == 0] = False
    df = pd.DataFrame(X, columns=["separator", "x1", "x2", "x3"])
    df["time"] = np.minimum(survival_time, censor_time)
    df["event"] = event.astype(int)
    return df


@pytest.mark.parametrize("ties", ["breslow", "efron"])  # continuous times: no ties, both agree
def test_firth_matches_published_coxphf_output(ties):
    # R: coxphf::coxphf(Surv(time, event) ~ separator + x1 + x2 + x3, data)   (coxphf 1.13)
    # figures as published in firthmodels' tests/test_cox.py (coxphf converges to 1e-6)
    df = coxphf_example_data()
    with pytest.warns(MonotoneLikelihoodWarning):
        model = fit_cox(df, "time", "event", ["separator", "x1", "x2", "x3"], ties=ties)
    assert model.method_ == "firth"
    c = model.coefficients_
    assert np.allclose(c["coef"], [3.8815800583, 0.6042066427, -0.4202139201, 1.0415063080], rtol=1e-6)
    assert np.allclose(c["se"], [1.4430190269, 0.1599607483, 0.2541800107, 0.3128784410], rtol=1e-6)
    assert np.allclose(c["p_lr"], [7.318984974e-09, 1.686334002e-04, 9.295083722e-02, 8.463066114e-04], rtol=1e-6)
    assert np.allclose(c["coef_profile_lower"], [1.9343469272, 0.2921186188, -0.9217200647, 0.4348431279], rtol=1e-6)
    assert np.allclose(c["coef_profile_upper"], [8.7215676015, 0.9164270978, 0.0699415336, 1.6550461482], rtol=1e-6)
    assert model.tests_.loc["lr", "stat"] == pytest.approx(57.6071, rel=1e-6)


def test_empty_factor_level_and_zph_of_firth_fit_are_refused(edge):
    d = edge.assign(arm=pd.Categorical(edge["arm"], categories=["A", "B", "C"]))
    with pytest.raises(ValueError, match="have no rows"):
        CoxModel().fit(d, "t", "e", ["arm"])
    firth = CoxModel(penalty="firth").fit(edge, "t", "e", ["x"], profile_ci=False)
    with pytest.raises(ValueError, match="Firth"):
        firth.zph()


def test_efron_firth_with_ties_solves_the_modified_score():
    # With tied death times Efron and Breslow differ; the Firth estimate must zero the
    # modified score U*(b) = U(b) + 0.5 tr(I^-1 dI/db), checked here by finite differences
    # of the penalised loglik l(b) + 0.5 log|I(b)|.
    from analysis.stats._cox_engine import CoxEngine

    df = separated_data()
    df["t"] = df["t"].round(0) + 1  # many ties
    model = CoxModel(ties="efron", penalty="firth").fit(df, "t", "e", ["x", "age"], profile_ci=False)
    engine = CoxEngine(df["t"], df["e"], df[["x", "age"]].to_numpy(float), ties="efron")
    beta = model.coef_.to_numpy()
    _, score, _ = engine.evaluate(beta, firth=True)
    assert np.abs(score).max() < 1e-8
    # away from the optimum the modified score is the gradient of the penalised loglik
    point = beta + np.array([0.7, 0.02])
    grad = engine.evaluate(point, firth=True)[1]
    assert np.abs(grad).max() > 0.1
    h = 1e-6
    for j in range(2):
        step = np.zeros(2)
        step[j] = h
        numeric = (engine.evaluate(point + step, firth=True)[0] - engine.evaluate(point - step, firth=True)[0]) / (2 * h)
        assert numeric == pytest.approx(grad[j], rel=1e-6, abs=1e-7)


def test_strata_with_a_stratum_without_events_agree_with_statsmodels():
    from statsmodels.duration.hazard_regression import PHReg

    rng = np.random.default_rng(3)
    n = 60
    df = pd.DataFrame({"t": rng.integers(1, 30, n).astype(float), "e": rng.integers(0, 2, n),
                       "x": rng.normal(size=n), "s": rng.choice(["a", "b", "c"], n), "g": rng.choice(["u", "v"], n)})
    df.loc[df.s == "c", "e"] = 0  # stratum c contributes no risk set
    ours = CoxModel().fit(df, "t", "e", ["x", "g"], strata="s")
    X = pd.get_dummies(df[["x", "g"]], drop_first=True, dtype=float)
    sm = PHReg(df["t"], X, status=df["e"], strata=df["s"], ties="efron").fit()
    assert np.allclose(ours.coefficients_["coef"], sm.params, rtol=1e-7)
    assert np.allclose(ours.coefficients_["se"], sm.bse, rtol=1e-7)
    assert list(ours.zph().index) == ["x", "g", "GLOBAL"]


@pytest.mark.parametrize("n", [40, 600])
def test_concordance_counts_equal_brute_force_pairs_and_lifelines(n):
    from lifelines.utils import concordance_index

    from analysis.stats._concordance import concordance_counts

    rng = np.random.default_rng(n)
    t = rng.integers(0, 15, n).astype(float)  # many tied times
    e = rng.integers(0, 2, n)
    r = rng.integers(0, 4, n).astype(float)  # many tied risk scores
    conc, disc, tied, influence = concordance_counts(t, e, r)
    comparable = (e[:, None] == 1) & ((t[:, None] < t[None, :]) | ((t[:, None] == t[None, :]) & (e[None, :] == 0)))
    pairs = {"c": comparable & (r[:, None] > r[None, :]), "d": comparable & (r[:, None] < r[None, :]),
             "t": comparable & (r[:, None] == r[None, :])}
    assert (conc, disc, tied) == (pairs["c"].sum(), pairs["d"].sum(), pairs["t"].sum())
    for col, key in enumerate("cdt"):
        assert np.array_equal(influence[:, col], pairs[key].sum(axis=1) + pairs[key].sum(axis=0))
    assert (conc + tied / 2) / (conc + disc + tied) == pytest.approx(concordance_index(t, -r, e), rel=1e-12)


def test_a_constant_or_collinear_covariate_is_refused_by_name_not_called_divergent():
    # R's coxph gives NA for such a coefficient; a Newton fit would look like monotone likelihood
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"t": rng.exponential(10, 60).round() + 1, "e": rng.integers(0, 2, 60),
                       "x": rng.integers(0, 2, 60).astype(float), "c": 0.0})
    df["x2"] = 2 * df["x"] + 1
    with pytest.raises(ValueError, match="covariate 'c' is constant or collinear"):
        CoxModel().fit(df, "t", "e", ["x", "c"])
    with pytest.raises(ValueError, match="covariate 'x2' is constant or collinear"):
        CoxModel().fit(df, "t", "e", ["x", "x2"])
    assert np.isfinite(CoxModel().fit(df, "t", "e", ["x"]).coefficients_.loc["x", "se"])


# ---- one engine, one profile root finder ----------------------------------------------------------

def _separated():
    """Group 1 has no deaths: the treated coefficient's likelihood rises without bound as it goes to -inf."""
    time = np.array([5.0, 8, 12, 3, 9, 15, 20, 2, 7, 11])
    event = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    treated = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1], float)
    return time, event, treated


def test_profile_limit_that_does_not_exist_is_zero_on_the_hr_scale_everywhere():
    import warnings

    from analysis.stats import MonotoneLikelihoodWarning, TimeVaryingCox

    time, event, treated = _separated()
    frame = pd.DataFrame({"time": time, "event": event, "treated": treated, "start": 0.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MonotoneLikelihoodWarning)
        cox = CoxModel().fit(frame, "time", "event", ["treated"]).coefficients_.loc["treated"]
        warnings.simplefilter("ignore", RuntimeWarning)  # exp of the diverging Wald limits
        warnings.filterwarnings("ignore", "TimeVaryingCox: Newton-Raphson did not converge")
        tv = TimeVaryingCox().fit(frame, "start", "time", "event", ["treated"]).coefficients_.loc["treated"]
    # the likelihood never drops enough toward HR = 0: the lower limit does not exist and is 0 (coef -inf)
    assert cox["coef_profile_lower"] == -np.inf and cox["hr_profile_lower"] == 0.0
    assert tv["hr_profile_lower"] == 0.0
    assert np.isfinite(cox["hr_profile_upper"]) and np.isfinite(tv["hr_profile_upper"])


def test_profile_root_finder_is_shared_by_cox_and_time_varying_cox(lung):
    from analysis.stats import TimeVaryingCox

    data = lung.dropna(subset=["ph.ecog"]).assign(start=0.0)
    cols = ["age", "sex", "ph.ecog"]
    cox = CoxModel().fit(data, "time", "event", cols).coefficients_
    tv = TimeVaryingCox().fit(data, "start", "time", "event", cols).coefficients_
    for column in ("hr", "hr_profile_lower", "hr_profile_upper", "p_lr"):
        np.testing.assert_allclose(tv[column], cox[column], rtol=1e-9)


def test_search_variants_agree_with_the_engine(lung):
    from analysis.stats import CoxEngine, SearchCoxEngine, newton_raphson_quick, profile_interval, profile_limit_brent

    data = lung.dropna(subset=["ph.ecog"])
    X = data[["age", "sex", "ph.ecog"]].to_numpy(float)
    t, e = data["time"].to_numpy(), data["event"].to_numpy()
    engine, search = CoxEngine(t, e, X), SearchCoxEngine(t, e, X)
    beta = np.array([0.01, -0.5, 0.4])
    # the same sums in another order: equal to rounding (the information's off-diagonal cancels most)
    for a, b in zip(engine.evaluate(beta), search.evaluate(beta)):
        np.testing.assert_allclose(a, b, rtol=1e-9)
    fit, quick = engine.maximize(), newton_raphson_quick(search.evaluate, 3)
    np.testing.assert_allclose(quick.beta, fit.beta, rtol=1e-9)
    var = np.linalg.inv(fit.info)
    lower, upper = profile_interval(engine, fit, var, 1)
    free = np.array([True, False, True])

    def loglik_at(b):
        start = fit.beta.copy()
        start[1] = b
        return engine.maximize(start, free).loglik

    for limit, direction in ((lower, -1), (upper, 1)):
        brent = profile_limit_brent(loglik_at, fit.beta[1], fit.loglik, np.sqrt(var[1, 1]), direction)
        assert brent == pytest.approx(limit, abs=1e-7)
