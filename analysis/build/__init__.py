"""How it becomes a book: chapters and parameters, the cache, the papermill runner, rendering, PDF.

``build_book`` is the whole pipeline (``python -m analysis build``); see :mod:`analysis.build.runner`.

=============  ==========================================================================
``chapters``   which files are chapters, what parameters they declare, value conversion
``cache``      content hashes that decide whether a chapter must run again; the stage
``execute``    papermill on one reused kernel per worker process
``render``     results.json from the chapters' figures; HTML by Jupyter Book
``runner``     the pipeline, ``build_book``, and the ``build`` command
``pdf``        the whole book as one PDF, printed by headless Chromium
=============  ==========================================================================
"""

from analysis.build.chapters import BuildError, convert_value, find_chapters, toc_files
from analysis.build.runner import BuildResult, build_book

__all__ = ["build_book", "BuildResult", "BuildError", "toc_files", "find_chapters", "convert_value"]
