"""Build the book: execute the chapters with papermill, then render HTML with Jupyter Book.

The pipeline (``python -m analysis build``):

1. Read ``_toc.yml``; every listed ``.md`` file whose jupytext header names a kernel is a
   *chapter* (a parameterized notebook); the other files are static pages.
2. Check the parameters: each chapter declares its own in a cell tagged ``parameters``. A name
   that no chapter declares is refused. Values given on the command line are converted with the
   type of the declared default (never parsed as YAML: ``1e-3`` stays a float, ``no`` a string).
3. Validate the cohort file (when a chapter takes a ``cohort`` parameter) before anything runs.
4. Execute each chapter with papermill into a staging folder, unless a content hash of its
   source, its parameters, the ``analysis`` package, the input data and the library versions is
   unchanged since the last successful run (``--force`` re-executes). Failures of all chapters
   are collected and reported together. Each worker process keeps one kernel and runs its
   chapters in it one after another (:class:`ChapterRunner`): the scientific stack is imported
   once per worker, not once per chapter; every chapter starts with a cleared namespace in its
   own folder, and its executed notebook is the same as a fresh kernel would give.
5. Merge the per-chapter ``results/*.json`` into ``results.json`` (sorted keys, so the same
   inputs give the same bytes).
6. Render the staged book with ``execute_notebooks: off``, warnings as errors, nitpicky, keep
   going: what the reader sees is exactly what papermill computed.

Why not let Jupyter Book execute the notebooks (its cache mode)? Its cache hashes code-cell text
only, so a different cohort file, parameter or package change would serve stale results.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Callable

import yaml
from analysis.paths import PACKAGE_DIR, PROJECT_ROOT

# Parameters the build fills in itself; a chapter may declare them.
BUILD_PARAMETERS = ("cohort", "results_path")
# Library versions that change numbers or rendering: part of every chapter's hash.
HASHED_DISTRIBUTIONS = (
    "numpy", "scipy", "pandas", "lifelines", "statsmodels", "matplotlib", "seaborn", "pandera",
)
STAGED_FOLDERS = ("book", "vendor")


class BuildError(Exception):
    """A problem that stops the build; its message is meant for the user as is."""


@dataclasses.dataclass(frozen=True)
class Chapter:
    docname: str  # path without suffix, relative to the book root, as in _toc.yml
    source: Path

    @property
    def key(self) -> str:
        return self.docname.replace("/", "__")


@dataclasses.dataclass
class ChapterOutcome:
    chapter: str
    status: str  # "executed", "skipped" or "failed"
    seconds: float = 0.0
    cell: int | None = None  # 1-based among the chapter's own code cells
    line: int | None = None
    error: str = ""


@dataclasses.dataclass
class BuildResult:
    out: Path
    html_index: Path
    results_json: Path
    outcomes: list[ChapterOutcome]


# --------------------------------------------------------------------------- book layout
def toc_files(root: Path) -> list[str]:
    """Docnames listed in ``_toc.yml`` (root first), in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))
            for part in entry.get("parts", []) or []:
                walk(part.get("chapters"))
            walk(entry.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []) or []:
        walk(part.get("chapters"))
    return [str(Path(n).with_suffix("")) if n.endswith((".md", ".ipynb")) else n for n in names]


def is_notebook_source(path: Path) -> bool:
    """A MyST ``.md`` file is a notebook when its front matter names a kernelspec."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return False
    end = text.find("\n---", 3)
    front = yaml.safe_load(text[3:end]) if end > 0 else None
    return isinstance(front, dict) and "kernelspec" in front


def find_chapters(root: Path) -> list[Chapter]:
    chapters = []
    for docname in toc_files(root):
        source = root / f"{docname}.md"
        if source.exists() and is_notebook_source(source):
            chapters.append(Chapter(docname, source))
    return chapters


# --------------------------------------------------------------------------- parameters
def declared_parameters(chapter: Chapter) -> dict[str, dict]:
    """The chapter's ``parameters`` cell, as papermill reads it: name -> {default, type}."""
    import jupytext
    import papermill

    nb = jupytext.read(chapter.source)
    tmp = _scratch_notebook_path(chapter)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    jupytext.write(nb, tmp, fmt="ipynb")
    try:
        found = papermill.inspect_notebook(str(tmp))
    finally:
        tmp.unlink(missing_ok=True)
    return {
        name: {"default": spec["default"], "type": spec["inferred_type_name"]}
        for name, spec in found.items()
    }


def cached_declared_parameters(chapter: Chapter, state: Path) -> dict[str, dict]:
    """``declared_parameters``, remembered per chapter source (inspecting costs a notebook round trip)."""
    digest = hashlib.sha256(chapter.source.read_bytes()).hexdigest()
    cache = state / f"{chapter.key}.parameters.json"
    if cache.exists():
        saved = json.loads(cache.read_text(encoding="utf-8"))
        if saved.get("source") == digest:
            return saved["parameters"]
    parameters = declared_parameters(chapter)
    cache.write_text(json.dumps({"source": digest, "parameters": parameters}, sort_keys=True), encoding="utf-8")
    return parameters


def _scratch_notebook_path(chapter: Chapter) -> Path:
    import tempfile

    return Path(tempfile.gettempdir()) / f"analysis-inspect-{os.getpid()}-{chapter.key}.ipynb"


def convert_value(name: str, raw: str, declared_default: str) -> object:
    """Convert a command-line value with the type of the chapter's declared default.

    The default is the literal text of the parameters cell (e.g. ``"0"``, ``"0.95"``,
    ``"'log'"``, ``"None"``). Values are never parsed as YAML.
    """
    default = declared_default.strip()
    try:
        import ast

        literal = ast.literal_eval(default)
    except (ValueError, SyntaxError):
        literal = None
    if isinstance(literal, bool):
        lowered = raw.strip().lower()
        if lowered in {"true", "1", "yes", "on"}:
            return True
        if lowered in {"false", "0", "no", "off"}:
            return False
        raise BuildError(f"parameter {name!r}: expected true or false, got {raw!r}")
    if isinstance(literal, int):
        try:
            return int(raw)
        except ValueError:
            raise BuildError(f"parameter {name!r}: expected an integer, got {raw!r}") from None
    if isinstance(literal, float):
        try:
            return float(raw)
        except ValueError:
            raise BuildError(f"parameter {name!r}: expected a number, got {raw!r}") from None
    return raw


def resolve_parameters(
    chapters: list[Chapter], given: dict[str, str], declared: dict[str, dict[str, dict]]
) -> dict[str, dict[str, object]]:
    """Per chapter, the parameters to inject: only those it declares."""
    known = sorted({name for params in declared.values() for name in params})
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise BuildError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))}: no chapter declares "
            f"{'it' if len(unknown) == 1 else 'them'}. Known parameters: "
            f"{', '.join(known) if known else '(none)'}"
        )
    per_chapter = {}
    for chapter in chapters:
        params = {}
        for name, spec in declared[chapter.docname].items():
            if name in given:
                value = given[name]
                params[name] = (
                    value if name in BUILD_PARAMETERS else convert_value(name, value, spec["default"])
                )
        per_chapter[chapter.docname] = params
    return per_chapter


def default_cohort(chapters: list[Chapter], declared: dict[str, dict[str, dict]]) -> Path:
    """The cohort the chapters name by default, relative to the chapter's folder."""
    import ast

    for chapter in chapters:
        if "cohort" in declared[chapter.docname]:
            default = ast.literal_eval(declared[chapter.docname]["cohort"]["default"])
            return chapter.source.parent / str(default)
    raise BuildError("no chapter declares a cohort parameter")


# --------------------------------------------------------------------------- hashing
def _hash_files(h: "hashlib._Hash", files: list[Path], base: Path) -> None:
    for path in sorted(files):
        h.update(path.relative_to(base).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")


def environment_fingerprint() -> str:
    """Hash of the package code, data schema files and library versions (shared by chapters)."""
    h = hashlib.sha256()
    code = [p for p in PACKAGE_DIR.rglob("*") if p.suffix in {".py", ".yaml", ".json"}]
    _hash_files(h, [p for p in code if "__pycache__" not in p.parts], PACKAGE_DIR.parent)
    for dist in HASHED_DISTRIBUTIONS:
        try:
            h.update(f"{dist}={metadata.version(dist)}\n".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist}=absent\n".encode())
    h.update(sys.version.encode())
    return h.hexdigest()


def chapter_hash(chapter: Chapter, params: dict, root: Path, env_fingerprint: str) -> str:
    h = hashlib.sha256()
    h.update(env_fingerprint.encode())
    h.update(chapter.source.read_bytes())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    data_files = [p for p in (root / "data").glob("*.yaml")] if (root / "data").exists() else []
    _hash_files(h, data_files, root)
    cohort = params.get("cohort")
    if cohort and Path(str(cohort)).is_file():
        h.update(Path(str(cohort)).read_bytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- staging
def copy_if_changed(src: Path, dst: Path) -> bool:
    """Copy only when the bytes differ, so Sphinx's incremental build sees no change."""
    if dst.exists() and dst.read_bytes() == src.read_bytes():
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return True


def stage_static(root: Path, stage: Path, chapters: list[Chapter]) -> bool:
    """Copy config, TOC and every non-chapter file of the book folders into the stage.

    Returns whether anything in the stage changed (copied or removed).
    """
    chapter_sources = {c.source.resolve() for c in chapters}
    changed = False
    for name in ("_config.yml", "_toc.yml"):
        changed |= copy_if_changed(root / name, stage / name)
    expected = {stage / "_config.yml", stage / "_toc.yml"}
    for folder in STAGED_FOLDERS:
        for src in sorted((root / folder).rglob("*")) if (root / folder).exists() else []:
            if src.is_dir() or src.resolve() in chapter_sources or _is_hidden(src, root):
                continue
            if src.suffix == ".ipynb":  # executed notebooks never come from the source tree
                continue
            dst = stage / src.relative_to(root)
            changed |= copy_if_changed(src, dst)
            expected.add(dst)
    expected |= {stage / f"{c.docname}.ipynb" for c in chapters}
    # Remove what no longer exists in the source (a deleted page must not linger).
    for path in sorted(stage.rglob("*"), reverse=True):
        if path.is_file() and path not in expected:
            path.unlink()
            changed = True
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return changed


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


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
            self.ip = str(Path(tempfile.mkdtemp(prefix="book-kernel-")) / "kernel")

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


def _hide_injected_parameters(nb) -> None:
    """Papermill tags its cell ``injected-parameters`` only; the book must not show it."""
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")


def _chapter_worker(jobs, done, kernel: str) -> None:
    """A worker process: one kernel, chapters taken from ``jobs`` until a None arrives."""
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
    processes = [context.Process(target=_chapter_worker, args=(pending, done, kernel), daemon=True)
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
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
    return outcomes


# --------------------------------------------------------------------------- results.json
def merge_results(results_dir: Path, chapters: list[Chapter], target: Path) -> dict:
    """Merge the chapters' result files; an id recorded by two chapters is an error."""
    merged: dict[str, object] = {}
    owner: dict[str, str] = {}
    for chapter in chapters:
        path = results_dir / f"{chapter.key}.json"
        if not path.exists():
            continue
        for key, value in json.loads(path.read_text(encoding="utf-8")).items():
            if key in merged and merged[key] != value:
                raise BuildError(
                    f"result id {key!r} is recorded by both {owner[key]} and {chapter.docname}"
                )
            merged[key] = value
            owner[key] = chapter.docname
    text = json.dumps(merged, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return merged


# --------------------------------------------------------------------------- rendering
def render_html(stage: Path, html_dir: Path, builder: str = "html") -> int:
    """Render with Jupyter Book 1.x, as ``jupyter-book build -W -n --keep-going`` does."""
    from jupyter_book.sphinx import build_sphinx

    result = build_sphinx(
        str(stage),
        str(html_dir),
        noconfig=True,
        path_config=str(stage / "_config.yml"),
        confoverrides={
            "external_toc_path": (stage / "_toc.yml").as_posix(),
            "nitpicky": True,
            "latex_individualpages": False,
        },
        builder=builder,
        warningiserror=True,
        keep_going=True,
        doctreedir=str(html_dir.parent / "doctrees" / builder),
        quiet=True,
    )
    return result if isinstance(result, int) else 1


# --------------------------------------------------------------------------- the build
def validate_input(cohort: Path, log: Callable[[str], None]) -> None:
    """Stop before any chapter runs when the cohort file has problems (all listed)."""
    from analysis.cohort import validate_cohort

    report = validate_cohort(cohort)
    if not report.ok:
        raise BuildError(report.format())
    for warning in getattr(report, "warnings", []):
        log(f"warning: {warning}")


def validate_once(cohort: Path, state: Path, env_fp: str, log: Callable[[str], None]) -> None:
    """Validate the cohort unless this very file already passed with this very package code."""
    digest = hashlib.sha256(cohort.read_bytes() + env_fp.encode()).hexdigest()
    stamp = state / "cohort.validated"
    if stamp.exists() and stamp.read_text() == digest:
        return
    stamp.unlink(missing_ok=True)
    validate_input(cohort, log)
    stamp.write_text(digest)


def build_book(
    root: Path = PROJECT_ROOT,
    out: Path | None = None,
    cohort: Path | None = None,
    params: dict[str, str] | None = None,
    force: bool = False,
    jobs: int | None = None,
    kernel: str = "python3",
    builder: str = "html",
    validate: bool = True,
    log: Callable[[str], None] = print,
) -> BuildResult:
    """Execute every chapter that needs it and render the book; raise BuildError on failure."""
    root = Path(root).resolve()
    out = Path(out).resolve() if out else root / "_build"
    stage, state, results_dir = out / "stage", out / "state", out / "results"
    for folder in (stage, state, results_dir):
        folder.mkdir(parents=True, exist_ok=True)

    chapters = find_chapters(root)
    declared = {c.docname: cached_declared_parameters(c, state) for c in chapters}
    env_fp = environment_fingerprint()
    given = dict(params or {})
    if cohort is not None:
        given["cohort"] = str(cohort)
    takes_cohort = any("cohort" in d for d in declared.values())
    if takes_cohort:
        cohort_path = Path(given["cohort"]) if "cohort" in given else default_cohort(chapters, declared)
        cohort_path = cohort_path.resolve()
        if not cohort_path.is_file():
            raise BuildError(f"cohort file not found: {cohort_path}")
        given["cohort"] = str(cohort_path)
        if validate:
            validate_once(cohort_path, state, env_fp, log)
    per_chapter = resolve_parameters(chapters, given, declared)

    stage_changed = stage_static(root, stage, chapters)
    jobs_to_run, outcomes = [], {}
    for chapter in chapters:
        p = dict(per_chapter[chapter.docname])
        if "results_path" in declared[chapter.docname]:
            p["results_path"] = str(results_dir / f"{chapter.key}.json")
        per_chapter[chapter.docname] = p
        digest = chapter_hash(chapter, p, root, env_fp)
        executed = stage / f"{chapter.docname}.ipynb"
        stamp = state / f"{chapter.key}.sha256"
        fresh = stamp.exists() and stamp.read_text() == digest and executed.exists()
        if fresh and not force:
            outcomes[chapter.docname] = ChapterOutcome(chapter.docname, "skipped")
            log(f"  {chapter.docname:<28} unchanged, not re-executed")
        else:
            stamp.unlink(missing_ok=True)
            results_file = results_dir / f"{chapter.key}.json"
            results_file.unlink(missing_ok=True)
            jobs_to_run.append((chapter, p, executed, kernel, digest))

    if jobs_to_run:
        # Longest first (by the last run's time; never-timed chapters first, in book order), so a
        # long chapter does not start last while the other kernels sit idle.
        def last_seconds(job) -> float:
            timing = state / f"{job[0].key}.seconds"
            return float(timing.read_text()) if timing.exists() else float("inf")

        jobs_to_run.sort(key=last_seconds, reverse=True)  # stable: ties keep book order
        workers = max(1, min(jobs or os.cpu_count() or 1, len(jobs_to_run)))
        log(f"executing {len(jobs_to_run)} chapter(s) with papermill ({workers} kernel(s), reused)")
        finished = 0

        def report(index: int, outcome: ChapterOutcome) -> None:
            nonlocal finished
            finished += 1
            chapter, digest = jobs_to_run[index][0], jobs_to_run[index][4]
            outcomes[chapter.docname] = outcome
            progress = f"[{finished:>{len(str(len(jobs_to_run)))}}/{len(jobs_to_run)}]"
            if outcome.status == "executed":
                (state / f"{chapter.key}.sha256").write_text(digest)
                (state / f"{chapter.key}.seconds").write_text(f"{outcome.seconds:.2f}\n")
                log(f"  {progress} {chapter.docname:<34} executed in {outcome.seconds:5.1f} s")
            else:
                log(f"  {progress} {chapter.docname:<34} FAILED after {outcome.seconds:5.1f} s")

        run_chapters([job[:3] for job in jobs_to_run], workers, kernel, report)

    ordered = [outcomes[c.docname] for c in chapters]
    failed = [o for o in ordered if o.status == "failed"]
    if failed:
        lines = [f"{len(failed)} of {len(chapters)} chapter(s) failed:"]
        for o in failed:
            where = f"code cell {o.cell}" if o.cell is not None else "no cell identified"
            if o.line is not None:
                where += f", line {o.line} of {o.chapter}.md"
            lines.append(f"  - {o.chapter}: {where}\n      {o.error}")
        raise BuildError("\n".join(lines))

    results_json = out / "results.json"
    merge_results(results_dir, chapters, results_json)

    html_dir = out / builder
    rendered = state / f"rendered.{builder}"
    if not jobs_to_run and not stage_changed and rendered.exists() and (html_dir / "index.html").exists():
        log(f"nothing changed since the last {builder} render")
        return BuildResult(out, html_dir / "index.html", results_json, ordered)
    rendered.unlink(missing_ok=True)
    started = time.perf_counter()
    status = render_html(stage, html_dir, builder)
    if status != 0:
        raise BuildError(
            f"Jupyter Book reported warnings or errors (shown above); HTML in {html_dir} is incomplete"
        )
    rendered.write_text("ok\n")
    log(f"rendered {builder} in {time.perf_counter() - started:.1f} s")
    return BuildResult(out, html_dir / "index.html", results_json, ordered)


# --------------------------------------------------------------------------- command line
def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cohort", type=Path, help="cohort file (CSV, XLSX or Parquet); "
                        "default: the bundled synthetic cohort, data/synthetic_cohort.csv")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="set a chapter parameter (repeatable)")
    parser.add_argument("--out", type=Path, help="output folder (default: _build)")
    parser.add_argument("--force", action="store_true", help="re-execute every chapter")
    parser.add_argument("--jobs", type=int, default=None, help="chapters executed at once")
    parser.add_argument("--builder", default="html", choices=["html", "singlehtml"],
                        help="Sphinx builder (singlehtml is used for the PDF)")


def run(args: argparse.Namespace) -> int:
    params = {}
    for name, value in args.parameter:
        if name in params:
            print(f"error: parameter {name!r} given twice", file=sys.stderr)
            return 2
        params[name] = value
    started = time.perf_counter()
    try:
        result = build_book(
            out=args.out, cohort=args.cohort, params=params, force=args.force,
            jobs=args.jobs, builder=args.builder,
        )
    except BuildError as exc:
        print(f"\nbuild failed: {exc}", file=sys.stderr)
        return 1
    print(f"built in {time.perf_counter() - started:.1f} s")
    print(f"results: {result.results_json}")
    print(f"book:    {result.html_index}")
    return 0
