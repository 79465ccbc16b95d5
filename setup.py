"""Ship the book's sources inside the package, so that ``pip install .`` (not only ``-e``) builds it.

Everything else is in ``pyproject.toml``. A regular (non-editable) build copies the files the book
is made of (``_config.yml``, ``_toc.yml``, ``book/``, ``data/``, ``vendor/``) into
``analysis/_book/`` of the wheel; ``analysis.paths`` finds them there when the package does not
sit in a checkout. An editable install reads the checkout itself, so nothing is copied.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BOOK_SOURCES = ("_config.yml", "_toc.yml", "book", "data", "vendor")
SKIPPED = shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "__pycache__", ".*")


class BuildPyWithBook(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        here = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "analysis" / "_book"
        shutil.rmtree(target, ignore_errors=True)
        for name in BOOK_SOURCES:
            source = here / name
            if source.is_dir():
                shutil.copytree(source, target / name, ignore=SKIPPED)
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildPyWithBook})
