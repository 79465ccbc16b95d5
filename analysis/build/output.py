"""The output folder: owned, locked, and published whole.

* **Owned.** ``--out`` must be new, empty, or made by this tool (it carries the marker file
  ``.cns-mets-book`` with a format version). Anything else is refused and left untouched: the
  build only ever deletes what it made.
* **Locked.** One build per folder at a time: an exclusive ``flock`` on ``.lock`` (which holds the
  pid, for the message). The kernel releases the lock when the process dies, so a stale lock of a
  killed build is taken over without any guessing; worker processes inherit it and hold it until
  they are gone too, so nothing writes into a folder another build has taken.
* **Published whole.** Chapters run and the book renders in private folders (``stage``, ``state``,
  ``results``, ``.render``); only when everything succeeded are the HTML folder and
  ``results.json`` swapped into place. A failed or interrupted build leaves the previous book as
  it was.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import Iterator

from analysis.build.chapters import BuildError

MARKER = ".cns-mets-book"
FORMAT = 1
LOCK = ".lock"
# What a folder made by an earlier version of the tool (before the marker) contains
_LEGACY_SIGNS = ("state", "stage")


def _describe(path: Path) -> str:
    return str(path)


def claim(out: Path) -> None:
    """Make ``out`` ours, or refuse: it must be new, empty, or carry this tool's marker."""
    if out.exists() and not out.is_dir():
        raise BuildError(f"--out {_describe(out)} is a file, not a folder; choose a folder for the book")
    marker = out / MARKER
    if marker.is_file():
        try:
            made = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            made = {}
        if made.get("format") != FORMAT:
            raise BuildError(
                f"{_describe(out)} was made by another version of this tool (format {made.get('format')!r}, "
                f"this one writes {FORMAT}); choose a new --out or remove that folder yourself"
            )
        return
    if out.is_dir():
        entries = [p.name for p in out.iterdir()]
        legacy = all((out / name).is_dir() for name in _LEGACY_SIGNS) and any((out / "state").glob("*.sha256"))
        if entries and not legacy:
            shown = ", ".join(sorted(entries)[:5]) + (" ..." if len(entries) > 5 else "")
            raise BuildError(
                f"refusing to build into {_describe(out)}: it is not empty ({shown}) and was not made by "
                f"this tool (no {MARKER} file). Choose a new or empty folder; nothing in it was touched."
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"made_by": "cns-mets-book", "format": FORMAT}) + "\n", encoding="utf-8")
    except OSError as exc:
        raise BuildError(f"cannot write into {_describe(out)}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold the folder's lock for the ``with`` block, or refuse at once if another build has it."""
    path = out / LOCK
    try:
        handle = open(path, "a+", encoding="utf-8")
    except OSError as exc:
        raise BuildError(f"cannot write into {_describe(out)}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise BuildError(
                f"another build (pid {holder}) is writing into {_describe(out)}; wait for it to finish "
                "or choose another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # releases the lock (inherited copies release theirs when those processes end)


def publish(out: Path, rendered: Path, builder: str, results_text: str) -> Path:
    """Swap a finished render and its ``results.json`` into place; return the published folder.

    The new HTML is copied next to the old one first, so the only moment the reader's folder is
    missing is between two renames; ``results.json`` is replaced atomically after it.
    """
    target = out / builder
    incoming = out / f".incoming-{builder}-{os.getpid()}"
    outgoing = out / f".outgoing-{builder}-{os.getpid()}"
    shutil.rmtree(incoming, ignore_errors=True)
    shutil.copytree(rendered, incoming)
    if target.exists():
        target.rename(outgoing)
    incoming.rename(target)
    shutil.rmtree(outgoing, ignore_errors=True)
    partial = out / f".results-{os.getpid()}.json"
    partial.write_text(results_text, encoding="utf-8")
    partial.replace(out / "results.json")
    return target


def published_book(out: Path, builder: str = "html") -> Path | None:
    """The book a previous successful build left in ``out``, if any."""
    index = out / builder / "index.html"
    return index if index.is_file() else None
