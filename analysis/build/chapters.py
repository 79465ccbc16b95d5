"""The book's chapters and their parameters: what ``_toc.yml`` lists, what each chapter declares.

A chapter is a listed ``.md`` file whose jupytext header names a kernel (a parameterized notebook);
the other files are static pages. Each chapter declares its parameters in a cell tagged
``parameters``; values given on the command line are converted with the type of the declared
default (never parsed as YAML: ``1e-3`` stays a float, ``no`` a string).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import yaml


# Parameters the build fills in itself, from its options (--cohort, --mapping, --sheet) or its own
# folders; a chapter may declare them, and they are never listed as parameters to set with -p.
BUILD_PARAMETERS = ("cohort", "results_path", "mapping", "sheet")
# The option that sets each build parameter, for the message refusing it with -p.
BUILD_OPTIONS = {"cohort": "--cohort FILE", "mapping": "--mapping FILE.yaml", "sheet": "--sheet NAME"}
# The study parameters (analysis.cohort.study_window): dates, checked for their order together.
STUDY_DATES = ("cutoff_date", "abc_from", "abc_to")


def _is_iso_date(value: object) -> bool:
    import datetime as dt
    import re

    text = str(value)
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


# What a parameter's value must be beyond its type, checked before any chapter runs (a bad value
# must not be found by the sixteenth chapter): name -> (test, what the value must be)
PARAMETER_RULES = {
    "min_cell": (lambda value: value >= 0, "a whole number, 0 (no suppression) or more"),
    **{name: (_is_iso_date, "a date written YYYY-MM-DD (e.g. 2017-12-31)") for name in STUDY_DATES},
}


# Chapters about the bundled synthetic cohort itself, left out of the build, and of its table of
# contents, for any other cohort file, whose report they would misdescribe: the calibration chapter
# (how the bundled cohort was generated) and the primer, which teaches on the bundled cohort whatever
# cohort the book is built on (a teacher assigns the bundled book; a user's report is about the
# user's patients only). A name ending in "/" stands for every chapter in that folder.
BUNDLED_ONLY = ("book/calibration", "book/primer/")


def is_bundled_only(docname: str, names: tuple[str, ...] = BUNDLED_ONLY) -> bool:
    """Whether the page ``docname`` is one of ``names`` (by default, about the bundled cohort only);
    a name ending in "/" matches every page in that folder."""
    return any(docname.startswith(name) if name.endswith("/") else docname == name for name in names)


def toc_without(toc_text: str, left_out: tuple[str, ...]) -> str:
    """The text of a ``_toc.yml`` with the entries for ``left_out`` docnames (or folders, ending in
    "/") removed."""
    if not left_out:
        return toc_text
    toc = yaml.safe_load(toc_text)

    def keep(entries):
        kept = []
        for entry in entries or []:
            if is_bundled_only(str(Path(str(entry.get("file", ""))).with_suffix("")), left_out):
                continue
            for key in ("sections", "chapters"):
                if key in entry:
                    entry[key] = keep(entry[key])
            kept.append(entry)
        return kept

    for part in toc.get("parts", []) or []:
        part["chapters"] = keep(part.get("chapters"))
    # a part whose every chapter is left out goes too (an empty caption is not a part)
    if "parts" in toc:
        toc["parts"] = [part for part in toc["parts"] if part["chapters"]]
    if "chapters" in toc:
        toc["chapters"] = keep(toc["chapters"])
    return "# staged by the build, with the bundled cohort's own chapters left out\n" + \
        yaml.safe_dump(toc, sort_keys=False, allow_unicode=True)


class BuildError(Exception):
    """A problem that stops the build; its message is meant for the user as is."""


@dataclasses.dataclass(frozen=True)
class Chapter:
    docname: str  # path without suffix, relative to the book root, as in _toc.yml
    source: Path

    @property
    def key(self) -> str:
        return self.docname.replace("/", "__")


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
    """Per chapter, the parameters to inject: only those it declares.

    ``given`` holds the user's ``-p`` values and, under ``cohort``, the build's own cohort path;
    the build's parameters are set by options (``--cohort``) or by the build, never with ``-p``.
    """
    known = sorted({name for params in declared.values() for name in params} - set(BUILD_PARAMETERS))
    unknown = sorted(set(given) - set(known) - set(BUILD_PARAMETERS))
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
                if name in PARAMETER_RULES and not PARAMETER_RULES[name][0](params[name]):
                    raise BuildError(f"parameter {name!r}: must be {PARAMETER_RULES[name][1]}, got {value!r}")
        per_chapter[chapter.docname] = params
    check_study_dates(given)
    return per_chapter


def check_study_dates(given: dict[str, str]) -> None:
    """The study dates' order (window inside, ending on or before the cut-off), before any chapter runs."""
    dates = {name: given.get(name) for name in STUDY_DATES}
    if not any(dates.values()):
        return
    for name, value in dates.items():
        if value is not None and not _is_iso_date(value):
            raise BuildError(f"parameter {name!r}: must be {PARAMETER_RULES[name][1]}, got {value!r}")
    from analysis.cohort import StudyParameters

    try:
        StudyParameters.of(**dates)
    except ValueError as exc:
        raise BuildError(f"study parameters: {exc}") from None


def default_cohort(chapters: list[Chapter], declared: dict[str, dict[str, dict]]) -> Path:
    """The cohort the chapters name by default, relative to the chapter's folder."""
    import ast

    for chapter in chapters:
        if "cohort" in declared[chapter.docname]:
            default = ast.literal_eval(declared[chapter.docname]["cohort"]["default"])
            return chapter.source.parent / str(default)
    raise BuildError("no chapter declares a cohort parameter")
