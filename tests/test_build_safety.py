"""The build never harms the user's files or mixes results (the fixture book, through the command).

Faults: a foreign or file ``--out``, an unwritable one, two builds at once, Ctrl-C, SIGTERM and
``kill -9`` mid-build, a failing chapter. After each, the user's folder is byte for byte as it was
and the previous book is intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "mini_book"


@pytest.fixture()
def book(tmp_path):
    root = tmp_path / "book_root"
    shutil.copytree(FIXTURE, root)
    return root


def command(book: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "analysis", "build", "--root", str(book), "--no-validate", "--jobs", "1",
            "--out", str(out), *extra]


def build(book: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(book, out, *extra), capture_output=True, text=True, timeout=300)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file below a folder with the hash of its bytes (the folder's state, to compare)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def book_snapshot(out: Path) -> dict[str, str]:
    """The published book: the HTML folder and results.json."""
    files = snapshot(out / "html")
    files["results.json"] = hashlib.sha256((out / "results.json").read_bytes()).hexdigest()
    return files


def running_kernel(build_pid: int, timeout: float = 60) -> list[psutil.Process]:
    """Wait until the build runs a kernel; return the build's worker and kernel processes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tree = psutil.Process(build_pid).children(recursive=True)
        if any("ipykernel" in " ".join(p.cmdline()) for p in tree if p.is_running()):
            time.sleep(2.0)  # the chapter is under way (the kernel is executing it)
            return psutil.Process(build_pid).children(recursive=True)
        time.sleep(0.1)
    raise AssertionError("the build started no kernel")


def descendants_gone(pid_tree: list[psutil.Process], within: float) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(pid_tree, timeout=within)
    return alive


def test_a_foreign_folder_is_refused_and_left_untouched(book, tmp_path):
    mine = tmp_path / "my_results"
    mine.mkdir()
    (mine / "results.json").write_text('{"mine": 1}\n')
    (mine / "cohort.csv").write_text("patient_id\nA\n")
    before = snapshot(mine)
    run = build(book, mine)
    assert run.returncode == 1
    assert "not made by this tool" in run.stderr and "Traceback" not in run.stderr
    assert snapshot(mine) == before and sorted(p.name for p in mine.iterdir()) == ["cohort.csv", "results.json"]


def test_out_that_is_a_file_or_unwritable_gets_one_message(book, tmp_path):
    a_file = tmp_path / "report.txt"
    a_file.write_text("keep me\n")
    run = build(book, a_file)
    assert run.returncode == 1 and "is a file, not a folder" in run.stderr and "Traceback" not in run.stderr
    assert a_file.read_text() == "keep me\n"
    # /proc refuses new folders even to root: an output folder that cannot be written
    run = build(book, Path("/proc/cns-book-out"))
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "cannot" in run.stderr.lower() or "no such" in run.stderr.lower() or "denied" in run.stderr.lower()


def test_a_user_file_in_the_stage_is_not_deleted(book, tmp_path):
    out = tmp_path / "out"
    assert build(book, out).returncode == 0
    kept = out / "stage" / "my_notes.csv"
    kept.write_text("important\n")
    run = build(book, out)
    assert run.returncode == 1 and "did not write" in run.stderr
    assert kept.read_text() == "important\n"


def test_a_failed_build_leaves_the_previous_book_as_it_was(book, tmp_path):
    out = tmp_path / "out"
    assert build(book, out).returncode == 0
    before = book_snapshot(out)
    run = build(book, out, "-p", "fail", "true", "-p", "greeting", "changed")
    assert run.returncode == 1
    assert "the previous book is unchanged" in run.stderr
    assert book_snapshot(out) == before
    leftovers = [p.name for p in out.iterdir() if p.name.startswith((".incoming", ".outgoing", ".results-"))]
    assert not leftovers


def test_two_builds_into_one_folder_the_second_is_refused_at_once(book, tmp_path):
    out = tmp_path / "out"
    first = subprocess.Popen(command(book, out, "-p", "pause", "20"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out / ".lock").exists() or not (out / ".lock").read_text().strip():
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.1)
        started = time.monotonic()
        second = build(book, out, "-p", "greeting", "other")
        assert time.monotonic() - started < 15
        assert second.returncode == 1 and "another build" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)


@pytest.mark.parametrize("stop, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_build_prints_one_line_stops_its_children_and_keeps_the_book(book, tmp_path, stop, code):
    out = tmp_path / "out"
    assert build(book, out).returncode == 0
    before = book_snapshot(out)
    running = subprocess.Popen(command(book, out, "-p", "pause", "60"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    children = running_kernel(running.pid)
    if stop == signal.SIGINT:  # Ctrl-C goes to the whole foreground process group
        os.killpg(running.pid, signal.SIGINT)
    else:
        running.send_signal(stop)
    _, err = running.communicate(timeout=30)
    assert running.returncode == code, err
    assert "Traceback" not in err and "build stopped" in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1, err
    assert not descendants_gone(children, within=2.0)
    assert book_snapshot(out) == before


def test_killed_build_leaves_no_worker_writing(book, tmp_path):
    out = tmp_path / "out"
    running = subprocess.Popen(command(book, out, "-p", "pause", "60"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    children = running_kernel(running.pid)
    running.kill()
    running.wait(timeout=10)
    assert not descendants_gone(children, within=5.0), "workers or kernels outlived their build"
    # and the folder is free again for the next build
    run = build(book, out)
    assert run.returncode == 0, run.stderr
    assert json.loads((out / "results.json").read_text())["fixture.rows"] == 3


def test_no_machine_path_or_run_time_reaches_the_published_book(book, tmp_path):
    private = tmp_path / "home" / "dr_smith" / "exports"
    private.mkdir(parents=True)
    cohort = private / "ward7_patients.csv"
    shutil.copy(book / "data" / "cohort.csv", cohort)
    out = tmp_path / "published"
    run = build(book, out, "--cohort", str(cohort))
    assert run.returncode == 0, run.stderr
    for path in [out / "results.json", *(out / "html").rglob("*")]:
        if path.is_file() and path.suffix in {".html", ".ipynb", ".json", ".txt", ".js", ".md"}:
            text = path.read_text(encoding="utf-8", errors="ignore")
            for machine in (str(private), str(out), str(book), "dr_smith"):
                assert machine not in text, (path, machine)
            assert '"end_time"' not in text and "iopub." not in text, path
    source = (out / "html" / "_sources" / "book" / "chapter.ipynb").read_text()
    assert "ward7_patients.csv" in source  # named by its file name only
