"""How each step of the book grows with the cohort: time per step at growing n, and the exponent.

    python benchmarks/step_growth.py [--sizes 10000 100000 1000000]

For each size an uncalibrated synthetic cohort is generated (``analysis.cohort.synth.generator``, its default seed)
and every computation a chapter makes is timed on it, once, in this process (no kernels, no
rendering: the build's fixed costs are measured by ``benchmarks/scale.py``). The last columns give
the growth exponent b of time ~ n^b between consecutive sizes: n log n shows as b slightly above 1
(1.1 from 100k to 1M), a quadratic step as b near 2. Steps under 50 ms at the smaller size are
dominated by fixed costs; their exponent is printed in brackets.
"""

from __future__ import annotations

import argparse
import io
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def steps():
    """(name, callable(cohort path) -> None): what the chapters compute, one entry per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.cohort import load as cohort_module  # its per-process cache is cleared below
    from analysis.pages import baseline_table, km_plot, median_ci_by_band
    from analysis.study import (
        competing_risks_section, critique_figures, immortal_time_section, rmst_section, sensitivity_section,
    )
    from analysis.study.reproduction import SECTIONS  # the sections by name (the face lists them one by one)

    def load(path):
        cohort_module._LAST_LOADED.clear()  # time the validation, not the per-process cache
        return cohort_module.load_cohort(path)

    def km_figure(cohort):
        km = SECTIONS["outcomes"](cohort).fits["os_from_cns"]
        figure = km_plot(km.table_, km.risk_table([0, 365, 730, 1095]))
        figure.savefig(io.BytesIO(), format="png")
        plt.close(figure)

    listed = [("validate and load", None)]
    listed += [(f"section {name}", compute) for name, compute in SECTIONS.items()]
    listed += [
        ("baseline table", baseline_table),
        ("KM plot (PNG)", km_figure),
        ("median CI by band", lambda c: median_ci_by_band(c.data)),
        ("immortal time", immortal_time_section),
        ("competing risks", competing_risks_section),
        ("sensitivity", sensitivity_section),
        ("critique", critique_figures),
        ("restricted mean survival", rmst_section),
    ]
    return load, listed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    load, listed = steps()
    times: dict[str, dict[int, float]] = {name: {} for name, _ in listed}
    with tempfile.TemporaryDirectory(prefix="book-growth-") as work:
        for n in args.sizes:
            path = Path(work) / f"cohort_{n}.csv"
            subprocess.run([sys.executable, "-m", "analysis", "synth", "--n-patients", str(n), "--out", str(path)],
                           cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            started = time.perf_counter()
            cohort = load(path)
            times["validate and load"][n] = time.perf_counter() - started
            for name, compute in listed[1:]:
                started = time.perf_counter()
                compute(cohort)
                times[name][n] = time.perf_counter() - started
            print(f"{n:>9,} patients: " + ", ".join(f"{k} {v[n]:.2f} s" for k, v in times.items()), flush=True)

    sizes = args.sizes
    head = "| step | " + " | ".join(f"{n:,} (s)" for n in sizes) + " | " + " | ".join(
        f"b {a:,}->{b:,}" for a, b in zip(sizes, sizes[1:])) + " |"
    print("\n" + head + "\n|---|" + "---:|" * (2 * len(sizes) - 1))
    for name, by_n in times.items():
        cells = [f"{by_n[n]:.2f}" for n in sizes]
        for a, b in zip(sizes, sizes[1:]):
            exponent = math.log(max(by_n[b], 1e-6) / max(by_n[a], 1e-6)) / math.log(b / a)
            cells.append(f"{exponent:.2f}" if by_n[a] >= 0.05 else f"({exponent:.2f})")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
