"""Executing chapters with papermill: one kernel per worker process, reused chapter after chapter.

Each worker keeps one kernel (:class:`ChapterRunner`): the scientific stack is imported once per
worker, not once per chapter; every chapter starts with a cleared namespace in its own folder,
and its executed notebook is the same as a fresh kernel would give.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Callable

from analysis.build.chapters import BuildError, Chapter


@dataclasses.dataclass
class ChapterOutcome:
    chapter: str
    status: str  # "executed", "skipped" or "failed"
    seconds: float = 0.0
    cell: int | None = None  # 1-based among the chapter's own code cells
    line: int | None = None
    error: str = ""


# --------------------------------------------------------------------------- execution
def _line_of(source_text: str, cell_source: str) -> int | None:
    """1-based line in the .md where a failing cell's code starts (for the error report)."""
    first = next((line for line in cell_source.splitlines() if line.strip()), None)
    if first is None:
        return None
    for number, line in enumerate(source_text.splitlines(), start=1):
        if line.strip() == first.strip():
            return number
    return None


def _ipc_kernel_manager():
    """A kernel manager on local IPC sockets: the kernel then does not warn about unencrypted TCP."""
    import tempfile

    from jupyter_client.manager import KernelManager

    class IPCKernelManager(KernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.transport = "ipc"
            self.socket_dir = Path(tempfile.mkdtemp(prefix="book-kernel-"))
            self.ip = str(self.socket_dir / "kernel")

    return IPCKernelManager


# Run first in a reused kernel: forget the previous chapter's names and figures, and work in the
# chapter's folder, so the chapter sees what a fresh kernel started there would show it.
_FRESH_START = """\
%reset -f
import gc as _gc, os as _os, sys as _sys
if "matplotlib.pyplot" in _sys.modules:
    _sys.modules["matplotlib.pyplot"].close("all")
_os.chdir({folder!r})
_gc.collect()
del _gc, _os, _sys
"""
_FRESH_START_TAG = "book-fresh-start"


def _shared_kernel_engine():
    """A papermill engine that runs a notebook in an already started kernel and leaves it running.

    Papermill's own engine starts a kernel per notebook; importing the scientific stack then costs
    about as much as a small chapter. Reusing one kernel per worker pays it once.
    """
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    class SharedKernelEngine(NBClientEngine):
        kernel_manager = None  # set by ChapterRunner

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            client = PapermillNotebookClient(
                nb_man, km=cls.kernel_manager, kernel_name=kernel_name, timeout=execution_timeout,
                startup_timeout=start_timeout, log_output=log_output, stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            try:
                return client.execute()
            finally:
                if client.kc is not None:  # the kernel stays; this notebook's connection to it goes
                    client.kc.stop_channels()

    papermill_engines.register("book-shared-kernel", SharedKernelEngine)
    return SharedKernelEngine


class ChapterRunner:
    """Executes chapters one after another in one kernel (restarted only if it dies).

    Each chapter starts with a cell that clears the namespace and changes to the chapter's folder;
    that cell is removed from the executed notebook and execution counts are renumbered from 1,
    so the staged notebook is the same whichever chapters ran before it in this kernel.
    """

    def __init__(self, kernel: str = "python3"):
        self.kernel = kernel
        self.engine = _shared_kernel_engine()
        self.km = None

    def _ensure_kernel(self):
        if self.km is not None and self.km.is_alive():
            return
        self.close()
        self.km = _ipc_kernel_manager()(kernel_name=self.kernel)
        self.km.start_kernel()
        self.engine.kernel_manager = self.km

    def run(self, chapter: Chapter, params: dict, output: Path) -> ChapterOutcome:
        """Execute one chapter with papermill; never raises: a failure is returned as an outcome."""
        self._ensure_kernel()
        return execute_chapter(chapter, params, output, self.kernel)

    def close(self):
        if self.km is not None:
            try:
                self.km.shutdown_kernel(now=True)
            except Exception:  # already gone: nothing to clean
                pass
            shutil.rmtree(self.km.socket_dir, ignore_errors=True)  # the kernel's IPC sockets
            self.km = None


def execute_chapter(chapter: Chapter, params: dict, output: Path, kernel: str) -> ChapterOutcome:
    """Run one chapter with papermill in :class:`ChapterRunner`'s kernel (call it through the runner);
    never raises: a failure is returned as an outcome."""
    import jupytext
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    start = time.perf_counter()
    nb = jupytext.read(chapter.source)
    code_cells = [c.source for c in nb.cells if c.cell_type == "code"]
    fresh = nbformat.v4.new_code_cell(_FRESH_START.format(folder=str(chapter.source.parent)))
    fresh.metadata["tags"] = [_FRESH_START_TAG, "remove-cell"]
    nb.cells.insert(0, fresh)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".partial.ipynb")
    try:
        executed = papermill.execute_notebook(
            nb, str(partial), parameters=params, kernel_name=kernel, progress_bar=False,
            log_output=False, report_mode=False, engine_name="book-shared-kernel",
        )
    except PapermillExecutionError as exc:
        partial.unlink(missing_ok=True)
        cell = code_cells.index(exc.source) + 1 if exc.source in code_cells else None
        return ChapterOutcome(
            chapter.docname,
            "failed",
            time.perf_counter() - start,
            cell=cell,
            line=_line_of(chapter.source.read_text(encoding="utf-8"), exc.source),
            error=f"{exc.ename}: {exc.evalue}",
        )
    except Exception as exc:  # kernel died, bad notebook, ...: report it with the others
        partial.unlink(missing_ok=True)
        return ChapterOutcome(
            chapter.docname, "failed", time.perf_counter() - start, error=f"{type(exc).__name__}: {exc}"
        )
    executed.cells = [c for c in executed.cells if _FRESH_START_TAG not in c.get("metadata", {}).get("tags", [])]
    _renumber_executions(executed)
    _hide_injected_parameters(executed)
    _scrub_run_details(executed, params)
    _merge_streams(executed)
    _number_cells(executed)
    nbformat.write(executed, str(partial))
    partial.replace(output)
    return ChapterOutcome(chapter.docname, "executed", time.perf_counter() - start)


def _renumber_executions(nb) -> None:
    """Execution counts 1, 2, ... as in a fresh kernel (a reused kernel keeps counting)."""
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.get("execution_count") is None:
            continue
        count += 1
        cell.execution_count = count
        for out in cell.get("outputs", []):
            if "execution_count" in out:
                out["execution_count"] = count


def _merge_streams(nb) -> None:
    """A cell's consecutive prints as one output, joined exactly: the kernel flushes stdout in chunks
    whose borders depend on timing, so unmerged the same cell's page differed between builds
    (myst-nb's own ``nb_merge_streams`` strips each chunk's whitespace, and with it a blank line or not)."""
    for cell in nb.cells:
        merged = []
        for out in cell.get("outputs", []):
            last = merged[-1] if merged else None
            if (out.get("output_type") == "stream" and last is not None
                    and last.get("output_type") == "stream" and last.get("name") == out.get("name")):
                last["text"] += out["text"]
            else:
                merged.append(out)
        if "outputs" in cell:
            cell.outputs = merged


def _number_cells(nb) -> None:
    """Cell ids by position (jupytext draws random ones), so the published notebook is the same
    file on every build of the same inputs."""
    for index, cell in enumerate(nb.cells, start=1):
        cell["id"] = f"cell-{index}"


def _hide_injected_parameters(nb) -> None:
    """Papermill tags its cell ``injected-parameters`` only; the book must not show it."""
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")


def _die_with_parent(parent: int) -> None:
    """Have the kernel send SIGTERM to this worker when the build process dies (even by kill -9),
    so no worker or kernel goes on writing into the output folder after its build is gone."""
    import ctypes
    import signal

    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(143)


def _scrub_run_details(nb, params: dict) -> None:
    """Keep machine paths and run times out of the executed notebook (it is published as the page's
    source): papermill's and the kernel's timing metadata go, and the injected parameters name the
    cohort and results files by their file names only, never their folders."""
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if "injected-parameters" not in cell.metadata.get("tags", []):
            continue
        lines = ["# Parameters"]
        for name, value in params.items():
            if isinstance(value, str) and (Path(value).is_absolute() or os.sep in value):
                value = Path(value).name
            lines.append(f"{name} = {value!r}")
        cell.source = "\n".join(lines) + "\n"


def _chapter_worker(jobs, done, kernel: str, parent: int) -> None:
    """A worker process: one kernel, chapters taken from ``jobs`` until a None arrives.

    Ctrl-C reaches the whole terminal's process group: the worker ignores it and is stopped by
    its build instead (SIGTERM), which it answers by shutting its kernel down and leaving.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    _die_with_parent(parent)
    runner = ChapterRunner(kernel)
    try:
        while (job := jobs.get()) is not None:
            index, chapter, params, output = job
            done.put((index, runner.run(chapter, params, output)))
    finally:
        runner.close()


def run_chapters(jobs: list[tuple[Chapter, dict, Path]], workers: int, kernel: str,
                 report: Callable[[int, ChapterOutcome], None]) -> list[ChapterOutcome]:
    """Execute the chapters on ``workers`` processes, each with its own kernel reused across chapters.

    Chapters are handed out in order as workers become free; ``report(index, outcome)`` is called
    as each finishes (the progress the user sees). Returns the outcomes in the order of ``jobs``.
    """
    import multiprocessing
    import queue

    # fork where it is safe (Linux): it works from any caller, a script read from stdin or a notebook
    # included; spawn re-imports the caller's main module, which such callers do not have
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    context = multiprocessing.get_context(method)
    pending, done = context.Queue(), context.Queue()
    for index, (chapter, params, output) in enumerate(jobs):
        pending.put((index, chapter, params, output))
    workers = max(1, min(workers, len(jobs)))
    for _ in range(workers):
        pending.put(None)
    processes = [context.Process(target=_chapter_worker, args=(pending, done, kernel, os.getpid()), daemon=True)
                 for _ in range(workers)]
    for process in processes:
        process.start()
    outcomes: list[ChapterOutcome | None] = [None] * len(jobs)
    try:
        for _ in range(len(jobs)):
            while True:
                try:
                    index, outcome = done.get(timeout=1.0)
                    break
                except queue.Empty:  # check that the workers are still there
                    if not any(p.is_alive() for p in processes) and done.empty():
                        codes = ", ".join(str(p.exitcode) for p in processes)
                        raise BuildError(f"the chapter workers stopped unexpectedly (exit codes {codes}); "
                                         "their error is printed above") from None
            outcomes[index] = outcome
            report(index, outcome)
    except BaseException:  # interrupted or failed: stop the workers now (each shuts its kernel down)
        for process in processes:
            process.terminate()
        raise
    finally:
        for process in processes:
            process.join(timeout=2)
            if process.is_alive():
                process.kill()
    return outcomes
