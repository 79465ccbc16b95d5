"""How long ``python -m analysis synth`` takes: the calibrated default cohort and uncalibrated cohorts of
1,000, 10,000 and 100,000 patients (generation plus writing the CSV).

Run: ``.venv/bin/python benchmarks/synth_speed.py [--skip-calibrated]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from analysis.cohort.synth import generator as synth
def timed(n_patients: int, out: Path) -> float:
    started = time.perf_counter()
    synth.write_csv(synth.generate(n_patients, synth.DEFAULT_SEED), out)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-calibrated", action="store_true", help="time only the uncalibrated sizes")
    args = parser.parse_args()
    sizes = [1_000, 10_000, 100_000] + ([] if args.skip_calibrated else [synth.calibrated_size()])
    with tempfile.TemporaryDirectory() as folder:
        for n in sizes:
            seconds = timed(n, Path(folder) / f"cohort_{n}.csv")
            kind = "calibrated" if n == synth.calibrated_size() else "uncalibrated"
            print(f"{n:>7} patients ({kind}): {seconds:6.2f} s")


if __name__ == "__main__":
    main()
