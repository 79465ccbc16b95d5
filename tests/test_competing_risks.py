"""Aalen-Johansen cumulative incidence and cause-specific Cox models."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from analysis.pages import cif_plot
from analysis.stats import KaplanMeier, aalen_johansen, cif_at
from analysis.study.competing_risks import cause_codes, cause_specific_cox, chi_squared_among_deaths

SEED = 3


def random_competing(n=150, seed=SEED, ties=True):
    rng = np.random.default_rng(seed)
    t = rng.exponential(300, n)
    t = np.floor(t) + 1 if ties else t
    cause = rng.choice([0, 1, 2], n, p=[0.2, 0.35, 0.45])
    group = rng.choice(["B", "BL", "L"], n, p=[0.6, 0.2, 0.2])
    return t, cause, group


def test_aalen_johansen_by_hand_with_ties():
    # t=1: 5 at risk, a cause-1 death: CIF1 = 1/5, S = 0.8
    # t=2: 4 at risk, one death of each cause: CIF1 += 0.8/4, CIF2 = 0.8/4, S = 0.4
    # t=3: censored; t=4: 1 at risk, a cause-2 death: CIF2 += 0.4
    table = aalen_johansen([1, 2, 2, 3, 4], [1, 2, 1, 0, 2])
    np.testing.assert_allclose(table["cif_1"], [0.2, 0.4, 0.4, 0.4])
    np.testing.assert_allclose(table["cif_2"], [0.0, 0.2, 0.2, 0.6])
    np.testing.assert_allclose(table["surv"], [0.8, 0.4, 0.4, 0.0])


def test_cifs_add_up_to_one_minus_all_cause_kaplan_meier():
    t, cause, group = random_competing()
    table = aalen_johansen(t, cause, group)
    km = KaplanMeier().fit(t, (cause > 0).astype(int), group).table_
    np.testing.assert_allclose(table["surv"], km["surv"], rtol=1e-12)
    np.testing.assert_allclose(table["cif_1"] + table["cif_2"], 1 - table["surv"], atol=1e-12)
    # 1 - KM of one cause (others censored) overstates its cumulative incidence
    naive = KaplanMeier().fit(t, (cause == 1).astype(int), group).table_
    assert (1 - naive["surv"] >= table["cif_1"] - 1e-12).all()
    assert (1 - naive["surv"] > table["cif_1"] + 1e-3).any()


def test_matches_lifelines_aalen_johansen_on_untied_data():
    from lifelines import AalenJohansenFitter

    t, cause, _ = random_competing(ties=False)
    ours = aalen_johansen(t, cause)
    for k in (1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = AalenJohansenFitter(calculate_variance=False).fit(t, cause, event_of_interest=k)
        theirs = ref.cumulative_density_.iloc[:, 0]
        theirs = theirs[theirs.index > 0]
        np.testing.assert_allclose(ours[f"cif_{k}"].to_numpy(), theirs.reindex(ours["time"]).to_numpy(),
                                   rtol=1e-10)


def test_cif_at_reads_the_step_function():
    table = aalen_johansen([1, 2, 2, 3, 4], [1, 2, 1, 0, 2])
    read = cif_at(table, [0.5, 2, 3.5, 10])
    np.testing.assert_allclose(read["cif_1"], [0.0, 0.4, 0.4, 0.4])
    np.testing.assert_allclose(read["cif_2"], [0.0, 0.2, 0.2, 0.6])


def test_cause_specific_cox_matches_statsmodels_efron():
    from statsmodels.duration.hazard_regression import PHReg

    t, cause, group = random_competing()
    fit = cause_specific_cox(t, cause, group, of_cause=1, ref="B")
    X = np.column_stack([(group == "BL").astype(float), (group == "L").astype(float)])
    ref = PHReg(t, X, status=(cause == 1).astype(int), ties="efron").fit()
    np.testing.assert_allclose(fit.coefficients_.loc[["groupBL", "groupL"], "coef"], ref.params, rtol=1e-6)
    assert fit.term_tests_.loc["group", "df"] == 2


def test_chi_squared_among_deaths_is_pearson_without_correction():
    t, cause, group = random_competing()
    table, result = chi_squared_among_deaths(cause, group)
    assert table.to_numpy().sum() == (cause > 0).sum()
    stat, p, dof, _ = chi2_contingency(table.to_numpy(), correction=False)
    assert result.p == pytest.approx(p, rel=1e-12) and result.df == dof


def test_cause_codes_and_their_errors():
    data = pd.DataFrame({"death": [1, 1, 0, 1],
                         "cause_of_death": ["cns_progression", "other", None, "extracranial_progression"]})
    assert cause_codes(data).tolist() == [1, 2, 0, 2]
    with pytest.raises(ValueError, match="cause_of_death: missing for 1"):
        cause_codes(data.assign(cause_of_death=[None, "other", None, "other"]))
    with pytest.raises(ValueError, match="cause_of_death: found"):
        cause_codes(data.assign(cause_of_death=["stroke", "other", None, "other"]))


def test_cif_plot_has_a_panel_per_cause():
    t, cause, group = random_competing()
    fig = cif_plot(aalen_johansen(t, cause, group))
    assert len(fig.axes) == 2
    assert len(fig.axes[0].get_lines()) == 3


# --------------------------------------------------------------------------- pinned to R
# tests/reference/competing_R.json: competing_risks.R on mgus2.csv (survfit multi-state, cmprsk
# cuminc/timepoints/Tests, crr), spec competing_spec.json; competing_bands_R.json: survfit's band.
import json  # noqa: E402
from pathlib import Path  # noqa: E402

from analysis.stats import CumulativeIncidence, FineGray, cif_band  # noqa: E402
from analysis.stats.spec import run_spec  # noqa: E402

REF = Path(__file__).parent / "reference"


def max_rel_diff(r, ours, path="") -> float:
    """Largest relative difference over every number of R's JSON (keys, strings and lengths equal)."""
    if isinstance(r, dict):
        return max([max_rel_diff(r[k], ours[k], f"{path}.{k}") for k in r if k != "type"] + [0.0])
    if isinstance(r, list):
        assert len(r) == len(ours), path
        return max([max_rel_diff(a, b, f"{path}[{i}]") for i, (a, b) in enumerate(zip(r, ours))] + [0.0])
    if isinstance(r, (int, float)) and not isinstance(r, bool):
        assert ours is not None, path
        return abs(r - ours) / abs(r) if r != 0 else abs(ours)
    assert r == ours, (path, r, ours)
    return 0.0


@pytest.fixture(scope="module")
def mgus2_results():
    spec = json.loads((REF / "competing_spec.json").read_text())
    return json.loads((REF / "competing_R.json").read_text()), run_spec(pd.read_csv(REF / "mgus2.csv"), spec)


@pytest.mark.parametrize("name", ["by_sex", "by_age", "all", "men"])
def test_cif_spec_matches_survfit_and_cmprsk(mgus2_results, name):
    R, ours = mgus2_results
    assert max_rel_diff(R[name], ours[name]) < 1e-9  # closed forms


@pytest.mark.parametrize("name", ["fg_pcm", "fg_death"])
def test_finegray_matches_crr(mgus2_results, name):
    R, ours = mgus2_results
    assert max_rel_diff(R[name], ours[name]) < 1e-6  # iterative fit (same steps as crr: about 1e-12)


def test_band_is_survfits_log_band():
    data = pd.read_csv(REF / "mgus2.csv")
    bands = json.loads((REF / "competing_bands_R.json").read_text())
    for g in ("F", "M"):
        ci = CumulativeIncidence().fit(*(data.loc[data.sex == g, c] for c in ("etime", "event")))
        for k in (1, 2):
            want = bands[f"{g} {k}"]
            assert want["conf_type"] == "log"
            lower, upper = (ci.table_[f"{side}_{k}"].to_numpy() for side in ("lower", "upper"))
            for ours, theirs in ((lower, want["lower"]), (upper, want["upper"])):
                theirs = np.array([np.nan if v is None else v for v in theirs])
                np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def test_log_log_band_stays_inside_zero_one():
    lower, upper = cif_band([0.01, 0.5, 0.99], [0.02, 0.2, 0.05], conf_type="log-log")
    assert (lower > 0).all() and (upper < 1).all()


def test_lifelines_variance_is_survfits_not_cmprsks():
    """lifelines' AalenJohansenFitter variance, on untied data, is survfit's jackknife one (to rounding),
    not cmprsk's (about 1% apart here); on tied data lifelines jitters the times, so neither."""
    from lifelines import AalenJohansenFitter

    t, cause, _ = random_competing(ties=False)
    ci = CumulativeIncidence().fit(t, cause)
    at = ci.at([200.0]).set_index("cause")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ajf = AalenJohansenFitter(calculate_variance=True).fit(t, cause, event_of_interest=1)
    theirs = ajf.variance_.squeeze()
    theirs = float(theirs[theirs.index <= 200].iloc[-1])
    assert abs(theirs / at.loc[1, "var_cmprsk"] - 1) > 1e-3
    se = ci.table_.loc[ci.table_["time"] <= 200, "se_1"].iloc[-1]
    assert theirs == pytest.approx(se**2, rel=1e-9)


def test_finegray_refuses_a_cause_without_events():
    with pytest.raises(ValueError, match="no event of cause 3"):
        FineGray().fit([1, 2, 3], [1, 2, 0], np.array([[0.0], [1.0], [0.5]]), of_cause=3)


def _weighted_cif(t, cause, weight, k):
    """Aalen-Johansen CIF of cause k with case weights, at every distinct time (a direct transcription)."""
    times = np.unique(t)
    surv, cif, out = 1.0, 0.0, []
    for u in times:
        n = weight[t >= u].sum()
        d_k = weight[(t == u) & (cause == k)].sum()
        d = weight[(t == u) & (cause > 0)].sum()
        cif += surv * d_k / n
        surv *= 1 - d / n
        out.append(cif)
    return np.array(out)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_jackknife_se_is_the_case_weight_derivative(seed):
    """aj_std_err's closed form (running sums over times, not patients) equals the definition: the
    square root of the sum over patients of dCIF/dw_i squared, here by central differences."""
    from analysis.stats import aj_std_err

    rng = np.random.default_rng(seed)
    n = 40
    t = rng.integers(1, 9, n).astype(float)  # heavy ties
    cause = rng.choice([0, 1, 2], n, p=[0.3, 0.4, 0.3])
    cause[t == t.max()] = 1  # everyone left at the last time dies: S reaches 0
    se = aj_std_err(t, cause, [1, 2])
    for k in (1, 2):
        infl = []
        for i in range(n):
            up, down = np.ones(n), np.ones(n)
            up[i], down[i] = 1 + 1e-6, 1 - 1e-6
            infl.append((_weighted_cif(t, cause, up, k) - _weighted_cif(t, cause, down, k)) / 2e-6)
        np.testing.assert_allclose(se[k], np.sqrt(np.sum(np.square(infl), axis=0)), rtol=1e-6, atol=1e-12)


def test_finegray_memory_is_linear_in_rows():
    """100,000 rows and 1,869 failure times: a (patients x failure times) matrix alone would be 1.5 GB;
    the reverse-cumulative-sum fit peaks at 17 MB here (about 170 bytes a row)."""
    import tracemalloc

    rng = np.random.default_rng(7)
    n = 100_000
    x = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n)]).astype(float)
    t = np.ceil(rng.exponential(400, n) * np.exp(-0.3 * x[:, 1]))
    status = rng.choice([0, 1, 2], n, p=[0.3, 0.4, 0.3])
    assert len(np.unique(t[status == 1])) > 900
    tracemalloc.start()
    fg = FineGray().fit(t, status, x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert fg.converged_
    assert peak < 60e6, f"peak {peak / 1e6:.0f} MB"
