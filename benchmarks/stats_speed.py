"""Time the statistics layer against R (survival, cmprsk), lifelines and statsmodels on the same data.

    python benchmarks/stats_speed.py [--sizes 1000 10000 100000 1000000] [--r-sizes 100000 1000000]
                                     [--r-timeout 300] [--repeat 1]

Data: synthetic (numpy seed 20261127): exponential survival with hazard depending on a 3-level
group, age and a binary x; ~30% censoring; times in whole days, so there are many ties; the deaths
split into two causes (status 1 or 2, 0 censored; seed 20261201, cause 1 likelier in group C) for
the competing-risks tasks. Per size it times

  task      ours                                  R                                     lifelines / statsmodels
  KM        KaplanMeier by group + median CIs     summary(survfit(~ group, log-log))$table  KaplanMeierFitter / SurvfuncRight
  logrank   3-group log-rank                      survdiff(~ group)                     multivariate_logrank_test / survdiff
  cox       Cox age + x + group, Efron, with      -                                     CoxPHFitter / PHReg(ties="efron")
            profile CIs and term LR tests                                               (neither gives profile CIs)
  cox-fit   the same fit without profile CIs      coxph(~ age + x + group, efron)       -
            and term tests (Wald/LR/score, C)
  zph       CoxModel.zph on the fitted model      cox.zph(fit, transform = "km")        -
  cif       CumulativeIncidence: AJ, jackknife    cmprsk::cuminc(time, status, group)   -
            s.e., bands, Gray's test per cause
  finegray  FineGray, cause 1                     cmprsk::crr(time, status, X)          -

R runs only when ``Rscript`` is on the PATH (with survival, cmprsk and jsonlite; Debian:
r-base-core r-cran-survival r-cran-cmprsk r-cran-jsonlite), at the sizes of ``--r-sizes``: the data
are written to one CSV per size and each R call runs in its own ``Rscript benchmarks/stats_speed.R``
process, which reports R's ``system.time`` of the call alone (not reading the file); ours is timed
the same way, in this process, after the data are in memory. An R call still running after
``--r-timeout`` seconds is stopped and shown as "R > 300 s"; the same task is then not started at
the larger sizes (shown "R > 300 s, not run"). ``ours / R`` below 1: we are faster.
A lifelines or statsmodels call is skipped at a size when its time at the previous size, scaled
linearly, predicts more than 60 s ("skipped").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

SEED = 20261127
CAUSE_SEED = 20261201
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
    event = (t_event <= t_cens).astype(int)
    # the causes from their own stream, so the survival columns are those of the single-cause data
    p1 = np.where(group == "C", 0.6, 0.4)
    status = np.where(event == 1, np.where(np.random.default_rng(CAUSE_SEED).random(n) < p1, 1, 2), 0)
    return pd.DataFrame({"time": time_, "event": event, "status": status, "group": group, "age": age, "x": x})


# --------------------------------------------------------------------------- ours
def ours_km(d):
    from analysis.stats import KaplanMeier

    KaplanMeier(conf_type="log-log").fit(d["time"], d["event"], d["group"]).median_ci("log-log")


def ours_logrank(d):
    from analysis.stats import logrank_test

    logrank_test(d["time"], d["event"], d["group"])


def ours_cox(d):
    from analysis.stats import CoxModel

    CoxModel().fit(d, "time", "event", ["age", "x", "group"])


def ours_cox_fit_only(d):
    from analysis.stats import CoxModel

    return CoxModel().fit(d, "time", "event", ["age", "x", "group"], profile_ci=False, term_tests=False)


def ours_zph(d) -> float:
    fit = ours_cox_fit_only(d)
    start = time.perf_counter()  # R's figure is cox.zph alone, on a fitted model
    fit.zph()
    return time.perf_counter() - start


def ours_cif(d):
    from analysis.stats import CumulativeIncidence

    CumulativeIncidence().fit(d["time"], d["status"], d["group"])


def ours_finegray(d):
    from analysis.stats import FineGray

    X = np.column_stack([d["age"], d["x"], d["group"] == "B", d["group"] == "C"]).astype(float)
    FineGray().fit(d["time"], d["status"], X, names=["age", "x", "groupB", "groupC"], of_cause=1)


# --------------------------------------------------------------------------- lifelines, statsmodels
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


# task: (ours, R task of stats_speed.R, lifelines, statsmodels)
TASKS = {
    "KM": (ours_km, "km", lifelines_km, statsmodels_km),
    "logrank": (ours_logrank, "logrank", lifelines_logrank, statsmodels_logrank),
    "cox": (ours_cox, None, lifelines_cox, statsmodels_cox),
    "cox-fit": (ours_cox_fit_only, "cox", None, None),
    "zph": (ours_zph, "zph", None, None),
    "cif": (ours_cif, "cif", None, None),
    "finegray": (ours_finegray, "finegray", None, None),
}


def timed(fn, d) -> float:
    """Seconds of fn(d), or the seconds fn reports itself (a task that times only part of its work)."""
    start = time.perf_counter()
    out = fn(d)
    return out if isinstance(out, float) else time.perf_counter() - start


def r_seconds(csv: Path, task: str, timeout: float) -> float | str:
    """R's seconds for one call, in its own Rscript process; a message when it failed or ran too long."""
    # its own session, so that a timeout stops R and anything it started, and nothing else
    proc = subprocess.Popen(["Rscript", str(HERE / "stats_speed.R"), str(csv), task], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return f"R > {timeout:.0f} s"
    if proc.returncode != 0:
        return "R failed: " + (err.strip().splitlines() or ["?"])[-1][:40]
    reply = json.loads(out)
    r_seconds.version = f"{reply['R']}, survival {reply['survival']}, cmprsk {reply['cmprsk']}"
    return float(reply["seconds"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--r-sizes", type=int, nargs="*", default=[100_000, 1_000_000],
                        help="sizes (among --sizes) at which R runs too (default 100000 1000000)")
    parser.add_argument("--r-timeout", type=float, default=300.0, help="seconds before an R call is stopped")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs of ours and the libraries (default 1)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    have_r = shutil.which("Rscript") is not None
    warm = make_data(300)
    for task in args.tasks:  # imports and first-call set-up are not timed
        for fn in (TASKS[task][0], *TASKS[task][2:]):
            if fn is not None:
                fn(warm)
    previous: dict[tuple, tuple[int, float]] = {}
    r_gave_up: dict[str, str] = {}
    header = (f"{'n':>9} {'task':<9} {'ours (s)':>9} {'R (s)':>18} {'ours / R':>9} {'lifelines (s)':>14} "
              f"{'statsmodels (s)':>16}")
    print(header)
    print("-" * len(header), flush=True)
    with tempfile.TemporaryDirectory(prefix="stats-speed-") as work:
        for n in args.sizes:
            d = make_data(n)
            csv = None
            if have_r and n in args.r_sizes:
                csv = Path(work) / f"data_{n}.csv"
                d.to_csv(csv, index=False)
            for task in args.tasks:
                ours, r_task, *libs = TASKS[task]
                mine = min(timed(ours, d) for _ in range(args.repeat))
                theirs: float | str = "-"
                if r_task is not None and n in args.r_sizes:
                    if not have_r:
                        theirs = "no Rscript"
                    elif task in r_gave_up:
                        theirs = f"{r_gave_up[task]}, not run"
                    else:
                        theirs = r_seconds(csv, r_task, args.r_timeout)
                        if isinstance(theirs, str) and theirs.startswith("R >"):
                            r_gave_up[task] = theirs
                cells = []
                for lib, fn in zip(("lifelines", "statsmodels"), libs):
                    prev = previous.get((task, lib))
                    if fn is None:
                        cells.append("-")
                    elif prev and prev[1] * n / prev[0] > LIMIT_S:
                        cells.append("skipped")
                    else:
                        best = min(timed(fn, d) for _ in range(args.repeat))
                        previous[(task, lib)] = (n, best)
                        cells.append(f"{best:.3f}")
                ratio = f"{mine / theirs:.3g}" if isinstance(theirs, float) and theirs > 0 else ""
                shown = f"{theirs:.3f}" if isinstance(theirs, float) else theirs
                print(f"{n:>9,} {task:<9} {mine:9.3f} {shown:>18} {ratio:>9} {cells[0]:>14} {cells[1]:>16}",
                      flush=True)
    print(f"\nseeds {SEED} (data), {CAUSE_SEED} (causes); 'skipped' = predicted > {LIMIT_S:.0f} s from the "
          "previous size (linear scaling).")
    print("ours/cox includes profile-likelihood CIs for 4 coefficients, 3 term LR refits, score test, concordance;"
          " R's times are its system.time of the call alone, each in its own process.")
    if getattr(r_seconds, "version", None):
        print(f"R: {r_seconds.version}")
    elif args.r_sizes:
        print("R: " + ("no call succeeded" if have_r else "Rscript not found, R columns empty"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
