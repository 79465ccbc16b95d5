"""How it becomes a book: chapters and parameters, the cache, the papermill runner, rendering, PDF.

``build_book`` is the whole pipeline (``python -m analysis build``); see :mod:`analysis.build.runner`.
"""

from analysis.build.runner import BuildError, BuildResult, build_book, toc_files

__all__ = ["build_book", "BuildResult", "BuildError", "toc_files"]
