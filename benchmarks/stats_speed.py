"""Time the statistics layer against lifelines' and statsmodels' own calls.

    python benchmarks/stats_speed.py [--sizes 1000 10000 100000 1000000] [--repeat 1]

Data: synthetic cohort (numpy seed 20261127): exponential survival with hazard
depending on a 3-level group, age and a binary x; ~30% censoring; times in whole
days, so there are many ties. Per size it times
  KM      : Kaplan-Meier by group with median CIs       (ours | lifelines KaplanMeierFitter | statsmodels SurvfuncRight)
  logrank : 3-group log-rank                             (ours | lifelines multivariate_logrank_test | statsmodels survdiff)
  cox     : Cox age + x + group, Efron ties; ours with profile-likelihood CIs and term LR tests
            (lifelines CoxPHFitter | statsmodels PHReg(ties="efron"), neither gives profile CIs)
  cox-fit : ours, the same model without profile CIs and term tests (Wald/LR/score, concordance)
A library call is skipped at a size when its time at the previous size, scaled
linearly, predicts more than 60 s (the table says "skipped").
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

SEED = 20261127
LIMIT_S = 60.0


def make_data(n: int, seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.choice(["A", "B", "C"], size=n)
    age = rng.normal(60, 10, n).round()
    x = rng.integers(0, 2, n)
    lin = 0.3 * (group == "B") - 0.4 * (group == "C") + 0.02 * (age - 60) + 0.5 * x
    t_event = rng.exponential(365 * np.exp(-lin))
    t_cens = rng.exponential(365 * 2.3, n)
    time_ = np.ceil(np.minimum(t_event, t_cens))
    return pd.DataFrame({"time": time_, "event": (t_event <= t_cens).astype(int), "group": group, "age": age, "x": x})


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def ours_km(d):
    from analysis.stats.nonparametric import KaplanMeier

    km = KaplanMeier().fit(d["time"], d["event"], d["group"])
    km.median_ci("log-log")


def ours_logrank(d):
    from analysis.stats.logrank import logrank_test

    logrank_test(d["time"], d["event"], d["group"])


def ours_cox(d):
    from analysis.stats.cox import CoxModel

    CoxModel().fit(d, "time", "event", ["age", "x", "group"])


def ours_cox_fit_only(d):
    from analysis.stats.cox import CoxModel

    CoxModel().fit(d, "time", "event", ["age", "x", "group"], profile_ci=False, term_tests=False)


def lifelines_km(d):
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    for _, g in d.groupby("group"):
        kmf = KaplanMeierFitter().fit(g["time"], g["event"])
        median_survival_times(kmf.confidence_interval_)


def lifelines_logrank(d):
    from lifelines.statistics import multivariate_logrank_test

    multivariate_logrank_test(d["time"], d["group"], d["event"])


def lifelines_cox(d):
    from lifelines import CoxPHFitter

    X = pd.get_dummies(d[["time", "event", "age", "x", "group"]], columns=["group"], drop_first=True, dtype=float)
    CoxPHFitter().fit(X, "time", "event")


def statsmodels_km(d):
    from statsmodels.duration.survfunc import SurvfuncRight

    for _, g in d.groupby("group"):
        sf = SurvfuncRight(g["time"], g["event"])
        sf.quantile_ci(0.5, method="log")


def statsmodels_logrank(d):
    from statsmodels.duration.survfunc import survdiff

    survdiff(d["time"], d["event"], d["group"])


def statsmodels_cox(d):
    from statsmodels.duration.hazard_regression import PHReg

    X = pd.get_dummies(d[["age", "x", "group"]], columns=["group"], drop_first=True, dtype=float)
    PHReg(d["time"], X, status=d["event"], ties="efron").fit()


TASKS = {
    "KM": (ours_km, lifelines_km, statsmodels_km),
    "logrank": (ours_logrank, lifelines_logrank, statsmodels_logrank),
    "cox": (ours_cox, lifelines_cox, statsmodels_cox),
    "cox-fit": (ours_cox_fit_only, None, None),  # ours without profile CIs / term tests
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs (default 1)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    warm = make_data(300)
    for fns in TASKS.values():  # imports and first-call set-up are not timed
        for fn in fns:
            if fn is not None:
                fn(warm)
    previous: dict[tuple, tuple[int, float]] = {}
    header = f"{'n':>9} {'task':<8} {'ours (s)':>10} {'lifelines (s)':>14} {'statsmodels (s)':>16}"
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        d = make_data(n)
        for task, fns in TASKS.items():
            cells = []
            for lib, fn in zip(("ours", "lifelines", "statsmodels"), fns):
                if fn is None:
                    cells.append("-")
                    continue
                prev = previous.get((task, lib))
                if lib != "ours" and prev and prev[1] * n / prev[0] > LIMIT_S:
                    cells.append("skipped")
                    continue
                best = min(timed(lambda: fn(d)) for _ in range(args.repeat))
                previous[(task, lib)] = (n, best)
                cells.append(f"{best:.3f}")
            print(f"{n:>9} {task:<8} {cells[0]:>10} {cells[1]:>14} {cells[2]:>16}", flush=True)
    print(f"\nseed {SEED}; 'skipped' = predicted > {LIMIT_S:.0f} s from the previous size (linear scaling).")
    print("ours/cox includes profile-likelihood CIs for 4 coefficients, 3 term LR refits, score test, concordance.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
