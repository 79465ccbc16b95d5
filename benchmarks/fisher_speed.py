"""Time the exact r x c Fisher test (``analysis.stats.fisher_exact``) against R's
``fisher.test(workspace = 2e8)`` on the reference tables of tests/reference/fisher_R.json.

    python benchmarks/fisher_speed.py [--repeat 3] [--r-timeout 120] [--only NAME ...]

Ours is timed in this process (median of ``--repeat`` runs; wall-clock and CPU seconds). R runs
only when ``Rscript`` is on the PATH: each call in its own ``Rscript`` process, which reports R's
``system.time`` of ``fisher.test`` alone (elapsed and user + system) and the p-value; the median
of ``--repeat`` processes is shown. CPU seconds are printed beside the wall-clock ones because the
machine may be shared: they are what the ratio ``ours / R`` (below 1: we are faster) is taken on
when both exist. A table R refuses (FEXACT's error) is shown as refused, and ours should refuse it
too. ``rel. diff`` is |p_ours / p_R - 1|.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.stats import fisher_exact  # noqa: E402

REFERENCE = ROOT / "tests" / "reference" / "fisher_R.json"

_R_CALL = """
m <- matrix(c({cells}), {nrow}, byrow = TRUE)
t <- system.time(p <- tryCatch(fisher.test(m, workspace = 2e8)$p.value, error = function(e) NA))
cat(sprintf("%.17g %.4f %.4f\\n", p, t[["elapsed"]], t[["user.self"]] + t[["sys.self"]]))
"""


def time_ours(table, repeat):
    """(p or None if refused, median wall s, median CPU s)."""
    walls, cpus, p = [], [], None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        try:
            p = fisher_exact(table).p
        except ValueError:  # TableTooLargeError: refused
            p = None
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return p, statistics.median(walls), statistics.median(cpus)


def time_r(table, repeat, timeout):
    """(p or None if refused, median elapsed s, median CPU s), or None when R timed out."""
    code = _R_CALL.format(cells=", ".join(str(int(v)) for v in table.ravel()), nrow=table.shape[0])
    runs = []
    for _ in range(repeat):
        try:
            out = subprocess.run(["Rscript", "--vanilla", "-e", code], capture_output=True, text=True,
                                 timeout=timeout, check=True).stdout.split()
        except subprocess.TimeoutExpired:
            return None
        runs.append((None if out[0] == "NA" else float(out[0]), float(out[1]), float(out[2])))
    return runs[0][0], statistics.median(r[1] for r in runs), statistics.median(r[2] for r in runs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--r-timeout", type=float, default=120.0)
    parser.add_argument("--only", nargs="*", help="reference table names (default: all)")
    args = parser.parse_args(argv)
    ref = json.loads(REFERENCE.read_text())
    names = [k for k in ref if k != "_meta" and (not args.only or k in args.only)]
    have_r = shutil.which("Rscript") is not None
    print(f"fisher_exact vs R fisher.test(workspace = 2e8); median of {args.repeat}; seconds wall / CPU"
          + ("" if have_r else "; Rscript not found: ours only"))
    head = f"{'table':<18} {'dim':>5} {'n':>5} {'ours wall':>10} {'ours CPU':>9} {'R wall':>8} {'R CPU':>8} {'ours/R':>7}  {'rel. diff':>9}"
    print(head)
    print("-" * len(head))
    for name in names:
        table = np.array(ref[name]["table"])
        p, wall, cpu = time_ours(table, args.repeat)
        line = f"{name:<18} {'x'.join(map(str, table.shape)):>5} {int(table.sum()):>5} {wall:>10.3f} {cpu:>9.3f}"
        if have_r:
            r = time_r(table, args.repeat, args.r_timeout)
            if r is None:
                line += f" {'> ' + str(int(args.r_timeout)):>8} {'':>8} {'':>7}"
            else:
                rp, rwall, rcpu = r
                ratio = cpu / rcpu if rcpu > 0 else float("nan")
                diff = "" if p is None or rp is None else f"{abs(p / rp - 1) if rp else abs(p):.1e}"
                line += f" {rwall:>8.3f} {rcpu:>8.3f} {ratio:>7.2f}  {diff:>9}"
                if rp is None:
                    line += "  R refused"
        if p is None:
            line += "  ours refused"
        print(line, flush=True)


if __name__ == "__main__":
    main()
