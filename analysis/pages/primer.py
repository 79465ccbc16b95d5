"""The survival-analysis primer's worked examples: a ten-patient toy table and the by-hand computations.

Every function returns a small DataFrame whose columns are the quantities of the textbook formula,
one row per distinct time, so that a reader can follow each step; the primer then checks the result
against the package's estimators (:class:`analysis.stats.nonparametric.KaplanMeier`,
:func:`analysis.stats.logrank.logrank_test`, :class:`analysis.stats.cox.CoxModel`).

- :func:`km_by_hand`: product-limit estimate with Greenwood's variance.
- :func:`bands_by_hand`: the three pointwise 95% bands (plain, log, log-log) from that variance.
- :func:`first_time_at_or_below`: where a curve (or a band) first reaches 0.5: the median and its CI.
- :func:`logrank_by_hand`: observed, expected and hypergeometric variance at each death time.
- :func:`naive_survival`: two wrong ways of handling censoring, beside the Kaplan-Meier estimate.
- :func:`crossing_hazards_sample`: simulated data (fixed seed) that break proportional hazards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats import as_event, as_groups, as_time

__all__ = [
    "toy_table",
    "km_by_hand",
    "bands_by_hand",
    "first_time_at_or_below",
    "naive_survival",
    "logrank_by_hand",
    "exponential_survival",
    "crossing_hazards_sample",
    "CROSSING_SEED",
    "censoring_figures",
    "km_figures",
    "ci_figures",
    "logrank_figures",
    "toy_cox",
    "cox_figures",
    "ph_figures",
    "follow_up_plot",
    "bands_plot",
    "log_minus_log_plot",
    "median_ci_by_band",
]

CROSSING_SEED = 20240607  # fixed: the primer's simulated example is the same on every build


def toy_table() -> pd.DataFrame:
    """Ten made-up patients: months from diagnosis, death (1) or censoring (0), treatment arm A/B.

    Built to show the usual cases: a death and a censoring at the same time (month 3), two tied
    deaths (month 6), and a last observation that is censored, so the curve never reaches 0.
    """
    return pd.DataFrame({
        "patient": range(1, 11),
        "months": [2, 3, 3, 5, 6, 6, 8, 9, 11, 12],
        "death": [1, 1, 0, 1, 1, 1, 0, 1, 0, 0],
        "arm": ["A", "A", "B", "B", "A", "B", "A", "B", "A", "B"],
    })


def km_by_hand(time, event) -> pd.DataFrame:
    """Kaplan-Meier estimate step by step, with Greenwood's variance.

    At each distinct time t_j: n_j at risk (time >= t_j), d_j deaths, c_j censored; the
    conditional survival 1 - d_j / n_j; S(t_j) the running product; Greenwood's term
    d_j / (n_j (n_j - d_j)) and its running sum, which is Var(log S); the standard error of S is
    S sqrt(sum). A censoring tied with a death counts as later (still at risk at that death).
    """
    t, e = as_time(time), as_event(event)
    times = np.unique(t)
    n_risk = np.array([(t >= x).sum() for x in times])
    deaths = np.array([((t == x) & (e == 1)).sum() for x in times])
    censored = np.array([((t == x) & (e == 0)).sum() for x in times])
    conditional = 1 - deaths / n_risk
    surv = np.cumprod(conditional)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(deaths > 0, deaths / (n_risk * (n_risk - deaths).astype(float)), 0.0)
    greenwood = np.cumsum(term)
    with np.errstate(invalid="ignore"):
        std_err = surv * np.sqrt(greenwood)  # NaN once S reaches 0 (infinite Greenwood sum), as R
    return pd.DataFrame({
        "time": times, "at_risk": n_risk, "deaths": deaths, "censored": censored,
        "conditional_survival": conditional, "surv": surv, "greenwood_term": term,
        "greenwood_sum": greenwood, "std_err": std_err,
    })


def bands_by_hand(km: pd.DataFrame, conf_level: float = 0.95) -> pd.DataFrame:
    """The three pointwise bands around S(t), from Greenwood's sum V = Var(log S).

    plain:   S -/+ z S sqrt(V), clipped to [0, 1]
    log:     exp(log S -/+ z sqrt(V)), upper capped at 1              (R's default)
    log-log: exp(-exp(log(-log S) -/+ z sqrt(V) / log S))   (lifelines, SAS, Stata)
    z is the normal quantile of the confidence level. Columns: time, surv and lower/upper of
    each band (NaN where a band is undefined, e.g. log-log where S = 1).
    """
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    s = km["surv"].to_numpy(dtype=float)
    se_log = np.sqrt(km["greenwood_sum"].to_numpy(dtype=float))
    out = pd.DataFrame({"time": km["time"], "surv": s})
    out["plain_lower"] = np.clip(s - z * s * se_log, 0, 1)
    out["plain_upper"] = np.clip(s + z * s * se_log, 0, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["log_lower"] = np.exp(np.log(s) - z * se_log)
        out["log_upper"] = np.minimum(np.exp(np.log(s) + z * se_log), 1)
        loglog = np.where((s > 0) & (s < 1), np.log(-np.log(s)), np.nan)
        shift = z * se_log / np.log(s)
        # log(S) < 0, so "- shift" gives the lower limit of S
        out["loglog_lower"] = np.exp(-np.exp(loglog - shift))
        out["loglog_upper"] = np.exp(-np.exp(loglog + shift))
    return out


def first_time_at_or_below(times, values, level: float = 0.5) -> float:
    """The first time a step curve is at or below ``level`` (NaN if it never is).

    Applied to S(t) it gives the median; to the lower band the lower limit of the median's CI,
    and to the upper band the upper limit (Brookmeyer-Crowley). R adds a midpoint rule when the
    curve sits exactly at 0.5 over an interval; the package's KaplanMeier applies it.
    """
    values = np.asarray(values, dtype=float)
    hit = np.flatnonzero(values <= level + 1e-12)
    return float(np.asarray(times, dtype=float)[hit[0]]) if len(hit) else float("nan")


def naive_survival(time, event, at: float) -> pd.DataFrame:
    """Three estimates of the probability of surviving beyond ``at``.

    - "censored dropped": the share alive at ``at`` among patients not censored before ``at``;
    - "censored counted as survivors": the share of all patients with time > ``at`` or censored;
    - "Kaplan-Meier": the product-limit estimate.
    Columns: method, estimate.
    """
    t, e = as_time(time), as_event(event)
    kept = ~((t <= at) & (e == 0))
    dropped = float(np.mean(t[kept] > at))
    as_survivors = float(np.mean((t > at) | (e == 0)))
    km = km_by_hand(t, e)
    before = km[km["time"] <= at]
    km_value = float(before["surv"].iloc[-1]) if len(before) else 1.0
    return pd.DataFrame({"method": ["censored dropped", "censored counted as survivors", "Kaplan-Meier"],
                         "estimate": [dropped, as_survivors, km_value]})


def logrank_by_hand(time, event, group) -> tuple[pd.DataFrame, dict]:
    """The two-group log-rank test, one row per distinct death time.

    At each death time: n_1, n_2 at risk, d_1, d_2 deaths, d = d_1 + d_2, n = n_1 + n_2; under
    the null the expected deaths of group 1 are E_1 = d n_1 / n and their hypergeometric variance
    V = d (n_1 / n) (n_2 / n) (n - d) / (n - 1). Returns (table, totals) with totals O_1, E_1,
    O_2, E_2, V, chisq = (O_1 - E_1)^2 / V and its p-value (chi-squared, 1 df).
    """
    t, e, g = as_time(time), as_event(event), as_groups(group)
    labels = sorted(set(g.tolist()))
    if len(labels) != 2:
        raise ValueError(f"group: expected exactly 2 groups for the by-hand test, found {labels}")
    first, second = labels
    rows = []
    for x in np.unique(t[e == 1]):
        at_risk = t >= x
        dies = (t == x) & (e == 1)
        n1, n2 = int((at_risk & (g == first)).sum()), int((at_risk & (g == second)).sum())
        d1, d2 = int((dies & (g == first)).sum()), int((dies & (g == second)).sum())
        n, d = n1 + n2, d1 + d2
        rows.append({"time": x, f"at_risk_{first}": n1, f"at_risk_{second}": n2, f"deaths_{first}": d1,
                     f"deaths_{second}": d2, f"expected_{first}": d * n1 / n,
                     f"expected_{second}": d * n2 / n,
                     "variance": d * (n1 / n) * (n2 / n) * (n - d) / (n - 1) if n > 1 else 0.0})
    table = pd.DataFrame(rows)
    o1, e1 = table[f"deaths_{first}"].sum(), table[f"expected_{first}"].sum()
    o2, e2 = table[f"deaths_{second}"].sum(), table[f"expected_{second}"].sum()
    v = table["variance"].sum()
    chisq = (o1 - e1) ** 2 / v
    totals = {"groups": (first, second), "observed": (int(o1), int(o2)), "expected": (float(e1), float(e2)),
              "variance": float(v), "chisq": float(chisq), "p": float(stats.chi2.sf(chisq, 1))}
    return table, totals


def exponential_survival(times, hazard: float, hazard_ratio: float) -> pd.DataFrame:
    """Survival of a reference group with constant hazard h and of a group with hazard HR x h.

    S_ref(t) = exp(-h t) and S(t) = S_ref(t) ** HR: proportional hazards in one line. Columns:
    time, reference, compared.
    """
    t = np.asarray(times, dtype=float)
    reference = np.exp(-hazard * t)
    return pd.DataFrame({"time": t, "reference": reference, "compared": reference ** hazard_ratio})


def crossing_hazards_sample(n_per_group: int = 150, seed: int = CROSSING_SEED) -> pd.DataFrame:
    """Two groups whose hazards cross: a proportional-hazards test should reject.

    Group "early" has a Weibull hazard falling with time (shape 0.6), group "late" a rising one
    (shape 2.5); both have a median of about 12 months. Administrative censoring at 36 months.
    Columns: months, death, group, late (1 for the "late" group).
    """
    rng = np.random.default_rng(seed)
    median = 12.0
    rows = []
    for label, shape in (("early", 0.6), ("late", 2.5)):
        scale = median / np.log(2) ** (1 / shape)
        t = scale * rng.weibull(shape, n_per_group)
        rows.append(pd.DataFrame({"months": np.minimum(t, 36.0).round(2), "death": (t <= 36.0).astype(int),
                                  "group": label, "late": int(label == "late")}))
    return pd.concat(rows, ignore_index=True)


def bands_plot(bands: pd.DataFrame, xlabel: str = "Months", title: str | None = None):
    """S(t) with its three 95% bands (from :func:`bands_by_hand`), one panel per band, and the
    0.5 line: where each band crosses it are the limits of the median's CI."""
    import matplotlib.pyplot as plt

    from analysis.pages.plots.style import FONT_SIZE, OKABE_ITO, SMALL_FONT_SIZE

    fig, axes = plt.subplots(1, 3, figsize=(7.5, 3.0), sharey=True)
    x = np.concatenate([[0.0], bands["time"].to_numpy(dtype=float)])

    def steps(column):
        return np.concatenate([[1.0], bands[column].to_numpy(dtype=float)])

    for ax, (name, label) in zip(axes, (("plain", "plain"), ("log", "log (R)"), ("loglog", "log-log (lifelines)"))):
        ax.fill_between(x, steps(f"{name}_lower"), steps(f"{name}_upper"), step="post", color=OKABE_ITO[0],
                        alpha=0.18, linewidth=0)
        ax.step(x, steps(f"{name}_lower"), where="post", color=OKABE_ITO[0], linewidth=0.9, linestyle="--")
        ax.step(x, steps(f"{name}_upper"), where="post", color=OKABE_ITO[0], linewidth=0.9, linestyle="--")
        ax.step(x, steps("surv"), where="post", color="black", linewidth=1.6)
        ax.axhline(0.5, color=OKABE_ITO[1], linewidth=1.0, linestyle=":")
        ax.set_title(f"{label} band", fontsize=FONT_SIZE)
        ax.set_xlabel(xlabel, fontsize=SMALL_FONT_SIZE)
        ax.set_ylim(0, 1.02)
        ax.tick_params(labelsize=SMALL_FONT_SIZE)
    axes[0].set_ylabel("Survival probability", fontsize=FONT_SIZE)
    if title:
        fig.suptitle(title, fontsize=FONT_SIZE)
    fig.tight_layout()
    return fig


def log_minus_log_plot(km_table: pd.DataFrame, xlabel: str = "Months (log scale)"):
    """log(-log S(t)) against log t per group (from ``KaplanMeier.table_``): under proportional
    hazards the curves are parallel, a vertical distance of log(HR) apart."""
    import matplotlib.pyplot as plt

    from analysis.pages.plots.style import FONT_SIZE, LINE_STYLES, OKABE_ITO, SMALL_FONT_SIZE

    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    for i, (g, block) in enumerate(km_table.groupby("group", sort=False)):
        keep = (block["surv"] > 0) & (block["surv"] < 1) & (block["n_event"] > 0)
        ax.step(block.loc[keep, "time"], np.log(-np.log(block.loc[keep, "surv"])), where="post",
                color=OKABE_ITO[i % len(OKABE_ITO)], linestyle=LINE_STYLES[i % len(LINE_STYLES)],
                linewidth=1.6, label=str(g))
    ax.set_xscale("log")
    ax.set_xlabel(xlabel, fontsize=FONT_SIZE)
    ax.set_ylabel("log(-log S(t))", fontsize=FONT_SIZE)
    ax.tick_params(labelsize=SMALL_FONT_SIZE)
    ax.legend(fontsize=SMALL_FONT_SIZE, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- figures the pages cite
def _num(value):
    """Plain Python number; whole floats become int (so months print as 6, not 6.000)."""
    value = float(value)
    return int(value) if value.is_integer() else value


def censoring_figures(toy: pd.DataFrame, at: float = 6) -> dict:
    """Counts of the toy table and the three estimates of S(at) of :func:`naive_survival`."""
    naive = naive_survival(toy["months"], toy["death"], at).set_index("method")["estimate"]
    return {
        "primer.toy.n": int(len(toy)),
        "primer.toy.deaths": int(toy["death"].sum()),
        "primer.toy.censored": int((toy["death"] == 0).sum()),
        "primer.censoring.at": _num(at),
        "primer.censoring.dropped": float(naive["censored dropped"]),
        "primer.censoring.as_survivors": float(naive["censored counted as survivors"]),
        "primer.censoring.km": float(naive["Kaplan-Meier"]),
    }


def km_figures(toy: pd.DataFrame) -> dict:
    """The by-hand Kaplan-Meier steps the page walks through, its median, and the largest
    difference from the package's :class:`~analysis.stats.nonparametric.KaplanMeier`."""
    from analysis.stats import KaplanMeier

    hand = km_by_hand(toy["months"], toy["death"])
    package = KaplanMeier().fit(toy["months"], toy["death"])
    row = hand.set_index("time")
    figures = {
        "primer.km.s2": float(row.loc[2, "surv"]),
        "primer.km.n3": int(row.loc[3, "at_risk"]),
        "primer.km.s3": float(row.loc[3, "surv"]),
        "primer.km.n5": int(row.loc[5, "at_risk"]),
        "primer.km.n6": int(row.loc[6, "at_risk"]),
        "primer.km.s6": float(row.loc[6, "surv"]),
        "primer.km.last": float(hand["surv"].iloc[-1]),
        "primer.km.median": _num(first_time_at_or_below(hand["time"], hand["surv"])),
        "primer.km.package_median": _num(package.summary_["median"].iloc[0]),
    }
    difference = float(np.max(np.abs(hand["surv"].to_numpy() - package.table_["surv"].to_numpy())))
    figures["primer.km.agreement"] = ("is identical to the hand computation at every time" if difference == 0
                                      else f"differs from the hand computation by at most {difference:.1e}")
    arms = KaplanMeier().fit(toy["months"], toy["death"], toy["arm"]).summary_["median"]
    for arm, median in arms.items():
        rows = toy[toy["arm"] == arm]
        by_arm = km_by_hand(rows["months"], rows["death"])
        figures[f"primer.km.median_{arm}"] = _num(median)
        figures[f"primer.km.first_below_{arm}"] = _num(first_time_at_or_below(by_arm["time"], by_arm["surv"]))
    return figures


def ci_figures(toy: pd.DataFrame) -> dict:
    """Greenwood and band values at month 6, and the median's CI of each band by hand and by the package."""
    from analysis.stats import KaplanMeier

    hand = km_by_hand(toy["months"], toy["death"])
    bands = bands_by_hand(hand).set_index("time")
    package = KaplanMeier().fit(toy["months"], toy["death"])
    out = {
        "primer.ci.greenwood6": float(hand.set_index("time").loc[6, "greenwood_sum"]),
        "primer.ci.se6": float(hand.set_index("time").loc[6, "std_err"]),
        "primer.ci.s6": float(bands.loc[6, "surv"]),
        "primer.ci.median": _num(package.summary_["median"].iloc[0]),
    }
    for name in ("plain", "log", "loglog"):
        out[f"primer.ci.{name}6"] = [float(bands.loc[6, f"{name}_lower"]), float(bands.loc[6, f"{name}_upper"])]
    for name, conf_type in (("plain", "plain"), ("log", "log"), ("loglog", "log-log")):
        lower = first_time_at_or_below(bands.index, bands[f"{name}_lower"])
        upper = first_time_at_or_below(bands.index, bands[f"{name}_upper"])
        out[f"primer.ci.median_{name}"] = [_num(lower), _num(upper)]
        row = package.median_ci(conf_type).iloc[0]
        out[f"primer.ci.package_median_{name}"] = [_num(row["lower"]), _num(row["upper"])]
    return out


def logrank_figures(toy: pd.DataFrame) -> dict:
    """Observed, expected, variance and chi-squared by hand, and the package's statistic."""
    from analysis.stats import logrank_test

    _, totals = logrank_by_hand(toy["months"], toy["death"], toy["arm"])
    package = logrank_test(toy["months"], toy["death"], toy["arm"])
    return {
        "primer.logrank.observed_A": totals["observed"][0],
        "primer.logrank.expected_A": totals["expected"][0],
        "primer.logrank.observed_B": totals["observed"][1],
        "primer.logrank.expected_B": totals["expected"][1],
        "primer.logrank.variance": totals["variance"],
        "primer.logrank.chisq": totals["chisq"],
        "primer.logrank.p": totals["p"],
        "primer.logrank.package_chisq": float(package.chisq),
    }


def toy_cox(toy: pd.DataFrame, reference: str = "A"):
    """Cox model of the toy table with the arm as a factor (Efron ties), reference ``reference``."""
    from analysis.stats import CoxModel

    return CoxModel().fit(toy, "months", "death", ["arm"], factors=["arm"], ref={"arm": reference})


def cox_figures(toy: pd.DataFrame, hazard_ratio: float = 0.5, hazard: float = np.log(2) / 12) -> dict:
    """The toy Cox model (arm B vs A), its log-rank p, and the constant-hazard illustration
    (median 12 months)."""
    row = toy_cox(toy).coefficients_.iloc[0]
    _, logrank = logrank_by_hand(toy["months"], toy["death"], toy["arm"])
    return {
        "primer.cox.logrank.p": logrank["p"],
        "primer.cox.coef": float(row["coef"]),
        "primer.cox.hr": float(row["hr"]),
        "primer.cox.profile_ci": [float(row["hr_profile_lower"]), float(row["hr_profile_upper"])],
        "primer.cox.wald_ci": [float(row["hr_lower"]), float(row["hr_upper"])],
        "primer.cox.p": float(row["p_lr"]),
        "primer.cox.example_hr": float(hazard_ratio),
        "primer.cox.example_median_reference": _num(round(np.log(2) / hazard, 6)),
        "primer.cox.example_median_compared": _num(round(np.log(2) / (hazard * hazard_ratio), 6)),
    }


def ph_figures(sample: pd.DataFrame) -> dict:
    """The crossing-hazards sample: its Cox hazard ratio and the cox.zph test of the group term."""
    from analysis.stats import CoxModel

    fit = CoxModel().fit(sample, "months", "death", ["late"])
    zph = fit.zph()
    row = fit.coefficients_.loc["late"]
    return {
        "primer.ph.n": int(len(sample)),
        "primer.ph.hr": float(row["hr"]),
        "primer.ph.p": float(row["p_lr"]),
        "primer.ph.zph_chisq": float(zph.loc["late", "chisq"]),
        "primer.ph.zph.p": float(zph.loc["late", "p"]),
    }


def follow_up_plot(toy: pd.DataFrame):
    """One line per toy patient from 0 to its time; a filled dot for a death, an open one for a censoring."""
    import matplotlib.pyplot as plt

    from analysis.pages.plots.style import FONT_SIZE, OKABE_ITO, SMALL_FONT_SIZE

    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    for y, row in enumerate(toy.itertuples(index=False)):
        colour = OKABE_ITO[0] if row.arm == "A" else OKABE_ITO[1]
        ax.hlines(y, 0, row.months, color=colour, linewidth=2)
        ax.plot(row.months, y, "o", markersize=8, color=colour,
                markerfacecolor=colour if row.death else "white", markeredgewidth=1.8)
    ax.set_yticks(range(len(toy)), [f"patient {p} ({a})" for p, a in zip(toy["patient"], toy["arm"])])
    ax.invert_yaxis()
    ax.set_xlabel("Months since diagnosis", fontsize=FONT_SIZE)
    ax.set_xlim(0, toy["months"].max() + 1)
    ax.tick_params(labelsize=SMALL_FONT_SIZE)
    ax.grid(axis="x", alpha=0.3)
    ax.plot([], [], "o", color="black", label="died")
    ax.plot([], [], "o", color="black", markerfacecolor="white", label="censored (alive at last contact)")
    ax.legend(fontsize=SMALL_FONT_SIZE, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    fig.tight_layout()
    return fig


def median_ci_by_band(data: pd.DataFrame) -> pd.DataFrame | None:
    """Median survival from the CNS diagnosis by group with its 95% CI under each band (columns
    grouped by band), or None when the cohort has no CNS patient with a death."""
    from analysis.stats import KaplanMeier

    cns = data[data["cns"] == 1]
    if cns.empty or cns["death"].sum() == 0:
        return None
    km = KaplanMeier().fit(cns["os_from_cns"], cns["death"], cns["group"].astype(str))
    table = pd.concat({conf_type: km.median_ci(conf_type).set_index("group")[["lower", "upper"]]
                       for conf_type in ("log", "log-log", "plain")}, axis=1)
    table.insert(0, ("", "median"), km.summary_["median"])
    return table
