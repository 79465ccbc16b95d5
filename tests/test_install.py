"""A regular ``pip install .`` (not only ``-e``) carries the book and builds it anywhere.

The wheel is built from a copy of the tracked files (so the checkout gets no ``build/`` folder),
installed into an empty folder, and the book is built from a working folder with nothing in it:
the figures must be those of the checkout's own build.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from analysis.paths import PROJECT_ROOT


def tracked_copy(into: Path) -> Path:
    files = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    for name in files:
        source = PROJECT_ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


def test_installed_package_builds_the_book_from_an_empty_folder(tmp_path, built_book):
    source = tracked_copy(tmp_path / "source")
    wheels, site, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "work"
    work.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)],
                   check=True, capture_output=True)
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), *map(str, wheels.glob("*.whl"))],
                   check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "import analysis.paths as p; print(p.INSTALLED, p.PROJECT_ROOT)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert where[0] == "True" and Path(where[1]).is_relative_to(site), where
    run = subprocess.run([sys.executable, "-m", "analysis", "build"], cwd=work, env=env, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert (work / "_build" / "html" / "index.html").is_file()
    installed = json.loads((work / "_build" / "results.json").read_text())
    assert installed == json.loads(built_book.results_json.read_text())
    # the build wrote into the working folder, never into the installation
    assert not (site / "analysis" / "_book" / "_build").exists()
