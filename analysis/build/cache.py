"""What makes a chapter's last run still valid: content hashes, and the staged copy of the book.

A chapter is re-executed only when the hash of its source, its parameters, the ``analysis``
package, the book's data files, the cohort file, the mapping file or the library versions changes.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from importlib import metadata
from pathlib import Path

from analysis.build.chapters import BUNDLED_ONLY, BuildError, Chapter, is_bundled_only, toc_without
from analysis.paths import PACKAGE_DIR


# Library versions that change numbers or rendering: part of every chapter's hash.
HASHED_DISTRIBUTIONS = (
    "numpy", "scipy", "pandas", "lifelines", "statsmodels", "matplotlib", "seaborn", "pandera",
)
STAGED_FOLDERS = ("book", "vendor")
# Every page's footer in a book built on a user's cohort: the configuration's own footer describes the
# bundled synthetic cohort, which that book does not contain.
OWN_COHORT_FOOTER = ("Recomputed from the cohort file named on the first page, with the methods of the published "
                     "study. No patient-level row, identifier or date is shown.")


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
    # the input files by their bytes: the same path may hold another export, or another mapping of it
    for name in ("cohort", "mapping"):
        given = params.get(name)
        h.update(f"{name}\0".encode())
        if given and Path(str(given)).is_file():
            h.update(Path(str(given)).read_bytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- staging
def copy_if_changed(src: Path, dst: Path) -> bool:
    """Copy only when the bytes differ, so Sphinx's incremental build sees no change."""
    if dst.exists() and dst.read_bytes() == src.read_bytes():
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return True


# Chapters whose MyST source is offered for download beside the executed notebook
DOWNLOADABLE_SOURCES = ("book/primer/",)


def staged_config(config_text: str, own_cohort: bool) -> str:
    """The text of ``_config.yml`` as staged: for a user's cohort, with :data:`OWN_COHORT_FOOTER` as the
    footer (a line edit, so the file's comments and order stay as written)."""
    if not own_cohort:
        return config_text
    return re.sub(r"^(\s*extra_footer:).*$", lambda m: f"{m.group(1)} {json.dumps(OWN_COHORT_FOOTER)}",
                  config_text, flags=re.M)


def stage_static(root: Path, stage: Path, chapters: list[Chapter], manifest: Path,
                 left_out: tuple[str, ...] = (), own_cohort: bool = False) -> bool:
    """Copy config, TOC and every non-chapter file of the book folders into the stage.

    Returns whether anything in the stage changed (copied or removed). ``manifest`` lists what the
    last build staged: only those files are ever removed; a file in the stage that this tool did
    not put there stops the build (a user's file is never deleted, and Sphinx must not render it).
    """
    chapter_sources = {c.source.resolve() for c in chapters}
    changed = False
    # ``own_cohort``: a user's cohort, whose pages must not carry the bundled cohort's footer
    config_text = staged_config((root / "_config.yml").read_text(encoding="utf-8"), own_cohort)
    if not (stage / "_config.yml").is_file() or (stage / "_config.yml").read_text(encoding="utf-8") != config_text:
        (stage / "_config.yml").write_text(config_text, encoding="utf-8")
        changed = True
    # ``left_out``: chapters (docnames) this build does not render, removed from the staged TOC
    # and, for a user's cohort, every page about the bundled cohort only (the primer's pages that run
    # no code included)
    toc_text = toc_without((root / "_toc.yml").read_text(encoding="utf-8"),
                           left_out + (BUNDLED_ONLY if own_cohort else ()))
    if not (stage / "_toc.yml").is_file() or (stage / "_toc.yml").read_text(encoding="utf-8") != toc_text:
        (stage / "_toc.yml").write_text(toc_text, encoding="utf-8")
        changed = True
    expected = {stage / "_config.yml", stage / "_toc.yml"}
    for folder in STAGED_FOLDERS:
        for src in sorted((root / folder).rglob("*")) if (root / folder).exists() else []:
            if src.is_dir() or src.resolve() in chapter_sources or _is_hidden(src, root):
                continue
            if src.suffix == ".ipynb":  # executed notebooks never come from the source tree
                continue
            if own_cohort and src.suffix == ".md" and \
                    is_bundled_only(src.relative_to(root).with_suffix("").as_posix()):
                continue
            dst = stage / src.relative_to(root)
            changed |= copy_if_changed(src, dst)
            expected.add(dst)
    expected |= {stage / f"{c.docname}.ipynb" for c in chapters if c.docname not in left_out}
    # The primer's chapters can be downloaded as their MyST source too (a student opens it with
    # jupytext); it goes where Sphinx does not look for pages (_config.yml excludes **/_md/**)
    for chapter in chapters:
        if chapter.docname.startswith(DOWNLOADABLE_SOURCES) and chapter.docname not in left_out:
            dst = stage / Path(chapter.docname).parent / "_md" / chapter.source.name
            changed |= copy_if_changed(chapter.source, dst)
            expected.add(dst)
    # Remove what no longer exists in the source (a deleted page must not linger), if we staged it.
    staged = set(manifest.read_text(encoding="utf-8").splitlines()) if manifest.exists() else None
    foreign = []
    for path in sorted(stage.rglob("*"), reverse=True):
        if path.is_file() and path not in expected:
            name = path.relative_to(stage).as_posix()
            if staged is not None and name not in staged and not name.endswith(".partial.ipynb"):
                foreign.append(name)
                continue
            path.unlink()
            changed = True
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    if foreign:
        raise BuildError(f"{stage} holds files this tool did not write ({', '.join(sorted(foreign)[:5])}); "
                         "move them elsewhere and build again (nothing was deleted)")
    manifest.write_text("\n".join(sorted(p.relative_to(stage).as_posix() for p in expected)) + "\n",
                        encoding="utf-8")
    return changed


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)
