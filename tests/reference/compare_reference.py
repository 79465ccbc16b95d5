"""Compare a regeneration of the R reference results with the committed files.

    python compare_reference.py NEW_DIR [--rtol 1e-6]

Every key, string and number of NEW_DIR/{lung,edge}_R.json is checked against
the file of the same name beside this script: the same keys in the same order,
the same strings, null where null, numbers equal at a relative tolerance of 1e-6
(a committed 0 must be matched within 1e-12 absolute).  Each difference is
printed with its path; exit status 1 if there is any.  Standard library only.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = ("lung_R.json", "edge_R.json")


def is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def compare(old, new, path: str, rtol: float, out: list[str]) -> None:
    """Append a line to ``out`` for every difference between ``old`` (committed) and ``new``."""
    if isinstance(old, dict) and isinstance(new, dict):
        if list(old) != list(new):
            missing = [k for k in old if k not in new]
            extra = [k for k in new if k not in old]
            if missing:
                out.append(f"{path}: keys missing {missing}")
            if extra:
                out.append(f"{path}: keys not in the committed file {extra}")
            if not missing and not extra:
                out.append(f"{path}: key order {list(new)} instead of {list(old)}")
        for key in old:
            if key in new:
                compare(old[key], new[key], f"{path}.{key}", rtol, out)
    elif isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            out.append(f"{path}: {len(new)} elements instead of {len(old)}")
        for i, (a, b) in enumerate(zip(old, new)):
            compare(a, b, f"{path}[{i}]", rtol, out)
    elif is_number(old) and is_number(new):
        if not math.isclose(old, new, rel_tol=rtol, abs_tol=1e-12):
            rel = abs(new - old) / abs(old) if old else math.inf
            out.append(f"{path}: {new!r} instead of {old!r} (relative difference {rel:.3g})")
    elif type(old) is not type(new) or old != new:
        out.append(f"{path}: {json.dumps(new)} instead of {json.dumps(old)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("new_dir", type=Path, help="folder holding the regenerated *_R.json")
    parser.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance (default 1e-6)")
    args = parser.parse_args(argv)
    total = 0
    for name in FILES:
        new_path = args.new_dir / name
        if not new_path.is_file():
            print(f"{name}: not found in {args.new_dir}")
            total += 1
            continue
        old_text = (HERE / name).read_text()
        new_text = new_path.read_text()
        diffs: list[str] = []
        compare(json.loads(old_text), json.loads(new_text), name, args.rtol, diffs)
        for line in diffs:
            print(line)
        same_bytes = "byte-identical" if old_text == new_text else "not byte-identical"
        print(f"{name}: {len(diffs)} difference(s); {same_bytes}")
        total += len(diffs)
    print(f"total: {total} difference(s)")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
