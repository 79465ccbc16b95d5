"""The repository reads nothing outside itself: a bare clone must build and test as it stands.

Every path the package, the tests, the benchmarks, the chapters and CI name is checked statically:
no ``../`` climbing out, no folder beside the repository (``shared``), and no ``parents[N]`` or
``.parent`` chain from ``__file__`` that rises above the repository's root. CI proves the rest by
running the suite in a fresh clone inside an empty temporary folder (``.ci/run``).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("analysis", "tests", "benchmarks", "book", ".ci", "Makefile", "_config.yml", ".github")
SUFFIXES = {".py", ".md", ".yml", ".yaml", ".toml", ".cfg", ".sh", ".R", ""}

# Patterns are assembled so that this file does not match itself.
# a quoted relative path that climbs ('../x', "..")
DOTDOT = re.compile(r"""["']((?:[^"'\s]*/)?\.\.(?:/[^"'\s]*)?)["']""")
SIBLING_NAME = "sha" + "red"
SIBLING = re.compile(r"""["'/]""" + SIBLING_NAME + r"""["'/]""")
PARENTS_INDEX = re.compile(r"__file__\)(?:\.resolve\(\))?\.parents\[(\d+)\]")
PARENT_CHAIN = re.compile(r"__file__\)(?:\.resolve\(\))?((?:\.parent\b)+)")


def tracked_files() -> list[Path]:
    """The files git tracks under the checked paths (every file there, outside a git checkout)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--", *CHECKED], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
        files = [ROOT / name for name in listed]
    except (OSError, subprocess.CalledProcessError):
        files = [p for name in CHECKED for p in (ROOT / name).rglob("*") if p.is_file()]
    return [p for p in files if p.is_file() and p.suffix in SUFFIXES and p.resolve() != Path(__file__).resolve()]


def escapes(path: Path, text: str) -> list[str]:
    """Lines of one file that name a place outside the repository."""
    depth = len(path.relative_to(ROOT).parts) - 1  # parents[depth] of the file is the repository root
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith(("#!",)):
            continue
        where = f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        if SIBLING.search(line):
            found.append(where)
        for match in DOTDOT.finditer(line):
            # relative to the file's folder (a chapter's cohort = "../data/..." stays inside)
            target = (path.parent / match.group(1)).resolve()
            if not target.is_relative_to(ROOT.resolve()):
                found.append(where)
        for match in PARENTS_INDEX.finditer(line):
            if int(match.group(1)) > depth:
                found.append(where)
        for match in PARENT_CHAIN.finditer(line):
            # Path(__file__).parent is the file's folder: k '.parent' reach parents[k - 1]
            if match.group(1).count(".parent") - 1 > depth:
                found.append(where)
    return found


def test_nothing_outside_the_repository_is_named():
    files = tracked_files()
    assert len(files) > 50, "the check found too few files to be reading the repository"
    found = [hit for path in files for hit in escapes(path, path.read_text(encoding="utf-8", errors="ignore"))]
    assert not found, "paths that leave the repository:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line, depth, leaks",
    [
        # the sibling folder's name assembled, so that a grep for it finds no real use here
        ('REFERENCE = ROOT.parent / "' + SIBLING_NAME + '" / "reference"', 1, True),
        ("data = Path('../" + SIBLING_NAME + "/reference/lung.csv')", 1, True),
        ("ROOT = Path(__file__).resolve().parents[1]", 1, False),
        ("ROOT = Path(__file__).resolve().parents[2]", 1, True),
        ("ROOT = Path(__file__).resolve().parents[2]", 2, False),
        ("ROOT = Path(__file__).parent.parent", 1, False),
        ("ROOT = Path(__file__).parent.parent.parent", 1, True),
        ('cwd = ".."', 1, False),
        ('cwd = "../.."', 1, True),
        ('cohort = "../data/synthetic_cohort.csv"', 1, False),
        ('cohort = "../../data/synthetic_cohort.csv"', 1, True),
        ("x = shared_kernel_engine()", 1, False),
    ],
)
def test_the_check_catches_escapes(tmp_path, line, depth, leaks):
    # a file 'depth' folders below a stand-in root, checked as the real files are
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        path = tmp_path.joinpath(*["sub"] * depth, "module.py")
        assert bool(escapes(path, line)) is leaks
    finally:
        ROOT = saved
