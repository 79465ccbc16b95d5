"""Time the statistics layer against R's survival and cmprsk on the same data, side by side.

    python benchmarks/speed_vs_R.py [--sizes 100000 1000000] [--timeout 600]

Data as ``benchmarks/stats_speed.py`` (seed 20261127: three groups, age, a binary x, whole-day
times with many ties), plus a competing cause (status 1 or 2, 0 censored) for the cumulative
incidence and Fine-Gray tasks. For each size the CSV is written once; each R task runs in its own
``Rscript benchmarks/speed_vs_R.R`` process and reports R's ``system.time`` of the call alone (not
reading the file); ours is timed the same way, in this process, after the data are in memory.

  km       survfit(~ group, conf.type = "log-log") + its summary table | KaplanMeier + median CIs
  logrank  survdiff(~ group)                                           | logrank_test
  cox      coxph(~ age + x + group, ties = "efron")                    | CoxModel, no profile CIs or term tests
  zph      cox.zph(fit, transform = "km")                              | CoxModel.zph
  cif      cmprsk::cuminc(time, status, group)                          | CumulativeIncidence (+ Gray's test)
  finegray cmprsk::crr(time, status, X, failcode = 1)                   | FineGray

A task whose R call runs past ``--timeout`` seconds is reported as such. Fine-Gray runs only up to
``--finegray-max`` rows: both crr and ours hold (patients x failure times) matrices, so its time and
memory grow with n times the number of distinct failure days (crr took 45 s at 10,000 rows here). Needs ``Rscript`` with
survival, cmprsk and jsonlite (Debian: r-base-core r-cran-survival r-cran-cmprsk r-cran-jsonlite);
without it, only our times are printed. The ratio is ours / R (below 1: we are faster).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from stats_speed import make_data  # noqa: E402  (the same data as the other benchmark)

TASKS = ("km", "logrank", "cox", "zph", "cif", "finegray")


def with_causes(d, seed: int = 20261201):
    """Split the events into two causes (status 1 or 2; 0 censored), cause 1 more likely in group C."""
    rng = np.random.default_rng(seed)
    p1 = np.where(d["group"] == "C", 0.6, 0.4)
    d = d.copy()
    d["status"] = np.where(d["event"] == 1, np.where(rng.random(len(d)) < p1, 1, 2), 0)
    return d


def ours(task: str, d) -> float:
    from analysis.stats import CoxModel, CumulativeIncidence, FineGray, KaplanMeier, logrank_test

    start = time.perf_counter()
    if task == "km":
        KaplanMeier(conf_type="log-log").fit(d["time"], d["event"], d["group"]).median_ci("log-log")
    elif task == "logrank":
        logrank_test(d["time"], d["event"], d["group"])
    elif task in ("cox", "zph"):
        fit = CoxModel().fit(d, "time", "event", ["age", "x", "group"], profile_ci=False, term_tests=False)
        if task == "zph":
            start = time.perf_counter()  # R's figure is cox.zph alone, on a fitted model
            fit.zph()
    elif task == "cif":
        CumulativeIncidence().fit(d["time"], d["status"], d["group"])
    elif task == "finegray":
        X = np.column_stack([d["age"], d["x"], d["group"] == "B", d["group"] == "C"]).astype(float)
        FineGray().fit(d["time"], d["status"], X, names=["age", "x", "groupB", "groupC"], of_cause=1)
    return time.perf_counter() - start


def r_seconds(csv: Path, task: str, timeout: float) -> str | float:
    try:
        run = subprocess.run(["Rscript", str(HERE / "speed_vs_R.R"), str(csv), task], capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"> {timeout:.0f} s"
    if run.returncode != 0:
        return "failed: " + (run.stderr.strip().splitlines() or ["?"])[-1]
    return float(json.loads(run.stdout)["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--finegray-max", type=int, default=20_000)
    args = parser.parse_args()
    have_r = shutil.which("Rscript") is not None
    print(f"{'task':<9} {'n':>9} {'ours (s)':>10} {'R (s)':>12} {'ours / R':>9}")
    with tempfile.TemporaryDirectory(prefix="speed-vs-r-") as work:
        for n in args.sizes:
            d = with_causes(make_data(n))
            csv = Path(work) / f"data_{n}.csv"
            d.to_csv(csv, index=False)
            for task in args.tasks:
                if task == "finegray" and n > args.finegray_max:
                    print(f"{task:<9} {n:>9,} {'(skipped: above --finegray-max)':>33}", flush=True)
                    continue
                mine = ours(task, d)
                theirs = r_seconds(csv, task, args.timeout) if have_r else "no Rscript"
                ratio = f"{mine / theirs:9.2f}" if isinstance(theirs, float) and theirs > 0 else f"{'':>9}"
                shown = f"{theirs:12.3f}" if isinstance(theirs, float) else f"{theirs:>12}"
                print(f"{task:<9} {n:>9,} {mine:10.3f} {shown} {ratio}", flush=True)


if __name__ == "__main__":
    main()
