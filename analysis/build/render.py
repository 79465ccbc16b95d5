"""The last two steps: merge the chapters' figures into ``results.json``, render the HTML."""

from __future__ import annotations

import json
from pathlib import Path

from analysis.build.chapters import BuildError, Chapter


# --------------------------------------------------------------------------- results.json
def merge_results(results_dir: Path, chapters: list[Chapter]) -> str:
    """Merge the chapters' result files into the text of ``results.json`` (sorted keys: the same
    inputs give the same bytes); an id recorded by two chapters is an error."""
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
    return json.dumps(merged, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


# --------------------------------------------------------------------------- rendering
def render_html(stage: Path, html_dir: Path, builder: str = "html") -> int:
    # doctrees live beside the rendered folder (both private to the build, see output.py)
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
