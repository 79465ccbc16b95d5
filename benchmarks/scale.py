"""Build the whole book on synthetic cohorts of growing size; print wall time and peak memory.

    python benchmarks/scale.py [--sizes 1000 10000 100000]

For each size: ``python -m analysis synth --n-patients N`` writes a cohort (not calibrated, same
structure), then ``python -m analysis build --force`` builds the book from it into a fresh folder.
Peak memory is sampled every 0.1 s over the whole process tree (the build and its notebook
kernels), so it is the memory the machine needs, not one process's.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def run_measured(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak summed RSS (GiB) of ``command`` and all its descendants."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        parent = psutil.Process(process.pid)
        while not done.is_set():
            try:
                tree = [parent, *parent.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    done.set()
    sampler.join()
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr.decode()[-3000:]}")
    return time.perf_counter() - started, peak / 2**30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="book-scale-"))
    rows = []
    try:
        for n in args.sizes:
            cohort = work / f"cohort_{n}.csv"
            synth_s, _ = run_measured([sys.executable, "-m", "analysis", "synth", "--n-patients", str(n),
                                       "--out", str(cohort)])
            build_s, peak = run_measured([sys.executable, "-m", "analysis", "build", "--cohort", str(cohort),
                                          "--out", str(work / f"book_{n}"), "--force"])
            rows.append((n, synth_s, build_s, peak))
            print(f"{n:>8,} patients: synth {synth_s:6.1f} s, build {build_s:6.1f} s, peak memory {peak:5.2f} GiB",
                  flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| patients | synth (s) | build (s) | peak memory (GiB) |\n|---:|---:|---:|---:|")
    for n, synth_s, build_s, peak in rows:
        print(f"| {n:,} | {synth_s:.1f} | {build_s:.1f} | {peak:.2f} |")


if __name__ == "__main__":
    main()
