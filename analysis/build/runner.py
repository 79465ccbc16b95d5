"""Build the book: execute the chapters with papermill, then render HTML with Jupyter Book.

The pipeline (``python -m analysis build``):

1. Read ``_toc.yml``; every listed ``.md`` file whose jupytext header names a kernel is a
   *chapter* (a parameterized notebook); the other files are static pages.
2. Check the parameters: each chapter declares its own in a cell tagged ``parameters``. A name
   that no chapter declares is refused. Values given on the command line are converted with the
   type of the declared default (never parsed as YAML: ``1e-3`` stays a float, ``no`` a string).
3. Validate the cohort file (when a chapter takes a ``cohort`` parameter) before anything runs, read
   with the mapping file (``--mapping``) and the sheet (``--sheet``) when given, and apply the study
   parameters (``-p cutoff_date``, ``-p abc_from``, ``-p abc_to``): their counts go to the build log.
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
import contextlib
import dataclasses
import hashlib
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Callable

from analysis.build.cache import chapter_hash, environment_fingerprint, stage_static
from analysis.build.chapters import (
    BUILD_OPTIONS, BUILD_PARAMETERS, STUDY_DATES, BuildError, cached_declared_parameters, default_cohort,
    find_chapters, is_bundled_only, resolve_parameters,
)
from analysis.build.execute import ChapterOutcome, run_chapters
from analysis.build.output import claim, locked, publish, published_book
from analysis.build.render import merge_results, render_html
from analysis.build.tables import publish_workbook
from analysis.paths import BUNDLED_COHORT, PROJECT_ROOT, default_out

# Counts from 1 to this minus one are suppressed in a book built on a user's cohort, unless the user
# chooses otherwise (a common registry threshold; OpenSAFELY's and many NHS outputs use 5 or more)
USER_COHORT_MIN_CELL = 5


@dataclasses.dataclass
class BuildResult:
    out: Path
    html_index: Path
    results_json: Path
    outcomes: list[ChapterOutcome]


# --------------------------------------------------------------------------- the build
def validate_input(cohort: Path, log: Callable[[str], None], *, mapping: Path | None = None,
                   sheet: str | None = None, study: dict[str, str] | None = None) -> list[str]:
    """Stop before any chapter runs when the cohort file (or the mapping) has problems (all listed).

    Returns the lines logged: the file's warnings and what the study parameters changed.
    """
    from analysis.cohort import CohortValidationError, MappingError, load_cohort

    try:
        loaded = load_cohort(cohort, sheet=sheet, mapping=mapping, **(study or {}))
    except (CohortValidationError, MappingError) as exc:
        raise BuildError(str(exc)) from None
    except ValueError as exc:  # study dates; already checked by resolve_parameters, never a traceback
        raise BuildError(f"study parameters: {exc}") from None
    lines = [f"warning: {warning}" for warning in loaded.warnings]
    lines += [f"study: {line}" for line in (loaded.study.lines() if loaded.study else [])]
    for line in lines:
        log(line)
    return lines


def validate_once(cohort: Path, state: Path, env_fp: str, log: Callable[[str], None], *,
                  mapping: Path | None = None, sheet: str | None = None, study: dict[str, str] | None = None) -> None:
    """Validate the cohort unless this very file already passed with this very package code, mapping,
    sheet and study parameters; a skipped validation logs what it logged the last time."""
    h = hashlib.sha256(cohort.read_bytes() + env_fp.encode())
    h.update(b"\0" + (mapping.read_bytes() if mapping is not None else b"-"))
    h.update(f"\0{sheet!r}\0{sorted((study or {}).items())!r}".encode())
    digest = h.hexdigest()
    stamp = state / "cohort.validated"
    if stamp.exists():
        saved = stamp.read_text().split("\n")
        if saved[0] == digest:
            for line in saved[1:]:
                log(line)
            return
    stamp.unlink(missing_ok=True)
    lines = validate_input(cohort, log, mapping=mapping, sheet=sheet, study=study)
    stamp.write_text("\n".join([digest, *lines]))


def _is_bundled(cohort: Path) -> bool:
    """The bundled synthetic cohort, recognised by its bytes (a copy is still synthetic)."""
    return BUNDLED_COHORT.is_file() and cohort.read_bytes() == BUNDLED_COHORT.read_bytes()


def suppression_in_force(cohort: Path, given: str | None, log: Callable[[str], None]) -> int:
    """The ``min_cell`` a build uses, said in the log: 0 for the bundled synthetic cohort (no real
    patient), ``USER_COHORT_MIN_CELL`` for any other file unless ``-p min_cell`` chose a value, 0
    included. The bundled cohort is recognised by its bytes, not its path (a copy is still synthetic;
    a file that merely sits at that path and differs is not)."""
    bundled = BUNDLED_COHORT.is_file() and cohort.read_bytes() == BUNDLED_COHORT.read_bytes()
    if given is not None:
        value = int(given)
        why = "as chosen with -p min_cell" + (" (suppression off)" if value == 0 and not bundled else "")
    elif bundled:
        value, why = 0, "the bundled synthetic cohort has no real patient"
    else:
        value = USER_COHORT_MIN_CELL
        why = "the default for a cohort other than the bundled synthetic one; -p min_cell 0 turns it off"
    log(f"small-count suppression: min_cell {value} ({why})")
    return value


def build_book(
    root: Path = PROJECT_ROOT,
    out: Path | None = None,
    cohort: Path | None = None,
    params: dict[str, str] | None = None,
    force: bool = False,
    mapping: Path | None = None,
    sheet: str | None = None,
    jobs: int | None = None,
    kernel: str = "python3",
    builder: str = "html",
    validate: bool = True,
    log: Callable[[str], None] = print,
) -> BuildResult:
    """Execute every chapter that needs it and render the book; raise BuildError on failure.

    ``out`` must be new, empty or made by this tool, and is locked for the build (output.py); the
    book and ``results.json`` there change only when the whole build succeeded. ``mapping`` (a mapping
    file) and ``sheet`` say how to read the cohort file; chapters declaring them receive them.
    """
    root = Path(root).resolve()
    out = Path(out).resolve() if out else (default_out() if root == PROJECT_ROOT.resolve() else root / "_build")
    claim(out)
    with locked(out):
        return _build(root, out, cohort, params, force, jobs, kernel, builder, validate, log, mapping, sheet)


def _build(root: Path, out: Path, cohort: Path | None, params: dict[str, str] | None, force: bool,
           jobs: int | None, kernel: str, builder: str, validate: bool, log: Callable[[str], None],
           mapping: Path | None = None, sheet: str | None = None) -> BuildResult:
    stage, state, results_dir = out / "stage", out / "state", out / "results"
    for folder in (stage, state, results_dir):
        folder.mkdir(parents=True, exist_ok=True)

    given = dict(params or {})
    for name in BUILD_PARAMETERS:  # before the chapters are inspected: refused at once
        if name in given:
            how = f"give it with {BUILD_OPTIONS[name]}" if name in BUILD_OPTIONS else "the build chooses it"
            raise BuildError(f"{name!r} is not a chapter parameter to set with -p: {how}")
    chapters = find_chapters(root)
    declared = {c.docname: cached_declared_parameters(c, state) for c in chapters}
    env_fp = environment_fingerprint()
    resolve_parameters(chapters, given, declared)  # every -p value checked before the cohort is read
    study = {name: given[name] for name in STUDY_DATES if name in given}
    if cohort is not None:
        given["cohort"] = str(cohort)
    if mapping is not None:
        mapping = Path(mapping).resolve()
        if not mapping.is_file():
            raise BuildError(f"mapping file not found: {mapping}")
        given["mapping"] = str(mapping)
    if sheet is not None:
        given["sheet"] = sheet
    takes_cohort = any("cohort" in d for d in declared.values())
    if takes_cohort:
        cohort_path = Path(given["cohort"]) if "cohort" in given else default_cohort(chapters, declared)
        cohort_path = cohort_path.resolve()
        if not cohort_path.is_file():
            raise BuildError(f"cohort file not found: {cohort_path}")
        given["cohort"] = str(cohort_path)
        if validate:
            validate_once(cohort_path, state, env_fp, log, mapping=mapping, sheet=sheet, study=study)
        if any("min_cell" in d for d in declared.values()):
            given["min_cell"] = str(suppression_in_force(cohort_path, given.get("min_cell"), log))
    per_chapter = resolve_parameters(chapters, given, declared)
    # a user's cohort: the chapters about the bundled synthetic cohort (calibration, primer) are not built
    own_cohort = takes_cohort and not (_is_bundled(Path(given["cohort"])) and mapping is None)
    left_out = tuple(c.docname for c in chapters if is_bundled_only(c.docname)) if own_cohort else ()
    if left_out:
        log(f"left out for a cohort other than the bundled one: {', '.join(left_out)}")

    stage_changed = stage_static(root, stage, chapters, state / "staged.txt", left_out, own_cohort)
    chapters = [c for c in chapters if c.docname not in left_out]
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
    results_text = merge_results(results_dir, chapters)

    html_dir = out / builder
    rendered = state / f"rendered.{builder}"
    unchanged = (not jobs_to_run and not stage_changed and rendered.exists() and published_book(out, builder)
                 and results_json.is_file() and results_json.read_text(encoding="utf-8") == results_text)
    if unchanged:
        publish_workbook(results_dir, chapters, out)
        log(f"nothing changed since the last {builder} render")
        return BuildResult(out, html_dir / "index.html", results_json, ordered)
    rendered.unlink(missing_ok=True)
    started = time.perf_counter()
    private = out / ".render" / builder  # rendered here, published only when complete
    if stage_changed:
        # Sphinx never removes the page of a document that left the book (a page deleted, or a
        # chapter left out for this cohort): it would be published beside the new pages
        shutil.rmtree(private, ignore_errors=True)
    status = render_html(stage, private, builder)
    if status != 0:
        raise BuildError("Jupyter Book reported warnings or errors (shown above)")
    publish(out, private, builder, results_text)
    publish_workbook(results_dir, chapters, out)  # every table of the book, as shown, in one workbook
    rendered.write_text("ok\n")
    log(f"rendered {builder} in {time.perf_counter() - started:.1f} s")
    return BuildResult(out, html_dir / "index.html", results_json, ordered)


# --------------------------------------------------------------------------- command line
class _Stopped(Exception):
    def __init__(self, signal_number: int):
        super().__init__(signal_number)
        self.signal_number = signal_number
        self.signal_name = "Ctrl-C" if signal_number == signal.SIGINT else signal.Signals(signal_number).name


@contextlib.contextmanager
def _terminate_as_interrupt():
    """Ctrl-C and SIGTERM stop the build through the same clean-up path (workers and kernels
    stopped by run_chapters' ``finally``), then the command prints one line."""
    def stop(number, _frame):
        raise _Stopped(number)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except KeyboardInterrupt:
        raise _Stopped(signal.SIGINT) from None
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _previous_book(out: Path, builder: str) -> str:
    book = published_book(out, builder)
    if book is None:
        return "no book was written."
    return f"the previous book is unchanged: {book}"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cohort", type=Path, help="cohort file (CSV, XLSX or Parquet); "
                        "default: the bundled synthetic cohort, data/synthetic_cohort.csv")
    parser.add_argument("--mapping", type=Path, metavar="FILE.yaml", default=None,
                        help="how to read the cohort file: column names, labels, flags, date formats, header "
                             "row, sheet (python -m analysis map FILE drafts one); the file is never changed")
    parser.add_argument("--sheet", metavar="NAME", default=None,
                        help="the sheet of an .xlsx cohort to read (needed when several sheets have values)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"),
                        help="set a chapter parameter (repeatable), e.g. -p min_cell 5, -p cutoff_date 2017-12-31 "
                             "(later events censored at it), -p abc_from 2002-10-01 -p abc_to 2017-12-31 (the "
                             "window of ABC diagnosis dates)")
    parser.add_argument("--out", type=Path, help="output folder (default: _build)")
    parser.add_argument("--force", action="store_true", help="re-execute every chapter")
    # another book, and no cohort check: for the build's own tests on a fixture book
    parser.add_argument("--root", type=Path, default=PROJECT_ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--no-validate", dest="validate", action="store_false", help=argparse.SUPPRESS)
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
    out = Path(args.out).resolve() if args.out else default_out()
    try:
        with _terminate_as_interrupt():
            result = build_book(
                root=args.root, out=out, cohort=args.cohort, params=params, force=args.force,
                jobs=args.jobs, builder=args.builder, validate=args.validate,
                mapping=args.mapping, sheet=args.sheet,
            )
    except BuildError as exc:
        print(f"\nbuild failed: {exc}", file=sys.stderr)
        print(_previous_book(out, args.builder), file=sys.stderr)
        return 1
    except _Stopped as exc:
        print(f"\nbuild stopped ({exc.signal_name}); {_previous_book(out, args.builder)}", file=sys.stderr)
        return 128 + exc.signal_number
    except OSError as exc:  # disk full, permissions...: the system's own words, never a traceback
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"\nbuild failed: {exc.strerror or exc}{where}", file=sys.stderr)
        print(_previous_book(out, args.builder), file=sys.stderr)
        return 1
    print(f"built in {time.perf_counter() - started:.1f} s")
    print(f"results: {result.results_json}")
    print(f"book:    {result.html_index}")
    return 0
