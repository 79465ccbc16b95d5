"""Time a clean build and a no-change rebuild of the book (python benchmarks/build_time.py).

A clean build starts from an empty output folder (every chapter executed, every page rendered);
the no-change rebuild runs the same command again, so every chapter is skipped by its content hash
and Sphinx finds nothing to re-render. Each is run in a fresh process, as a user would.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed_build(out: Path, extra: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "analysis", "build", "--out", str(out), *extra],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="no-change rebuilds to time")
    parser.add_argument("build_args", nargs="*", help="extra arguments for the build")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="book-bench-"))
    try:
        clean = timed_build(out, args.build_args)
        rebuilds = [timed_build(out, args.build_args) for _ in range(args.repeats)]
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"clean build:        {clean:6.1f} s")
    print(f"no-change rebuild:  {min(rebuilds):6.1f} s (best of {len(rebuilds)}; "
          f"all: {', '.join(f'{t:.1f}' for t in rebuilds)})")


if __name__ == "__main__":
    main()
