"""Record the statistics a chapter computes, for ``results.json`` and for the prose.

Each chapter creates one :class:`Results` with its prefix (``cohort``, ``outcomes``...). Every
figure is recorded under a stable dotted id that mirrors ``data/published-statistics.yaml``
(``outcomes.os_from_cns.B.median``), and glued under the same id so the text can cite it with
``{glue:text}`outcomes.os_from_cns.B.median:.1f```. The build merges the chapters' files into one
``results.json``; values are plain JSON (numpy scalars converted, NaN written as null), and keys
are sorted, so the same inputs give the same bytes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def to_plain(value: Any) -> Any:
    """Convert numpy / pandas scalars and containers to JSON-ready Python values."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [to_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if math.isnan(value) or math.isinf(value) else value
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "item"):
        return to_plain(value.item())
    raise TypeError(f"cannot record a {type(value).__name__} in results.json: {value!r}")


class Results:
    """The figures one chapter computes.

    Parameters
    ----------
    prefix : str
        First part of every id (the chapter's section of the published statistics).
    path : str or Path or None
        Where the build wants this chapter's JSON; ``None`` when the chapter runs on its own
        (nothing is written, but values are still glued for the page).
    glue : bool
        Also ``myst_nb.glue`` each value (without display) so the prose can cite it.
    """

    def __init__(self, prefix: str, path: str | Path | None = None, glue: bool = True):
        self.prefix = prefix
        self.path = Path(path) if path else None
        self.glue = glue
        self.values: dict[str, Any] = {}

    def id(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def add(self, key: str, value: Any) -> Any:
        """Record ``value`` under ``prefix.key`` and return it unchanged."""
        full = self.id(key)
        plain = to_plain(value)
        self.values[full] = plain
        if self.glue:
            from myst_nb import glue

            # glue needs plain Python values: numpy 2 reprs break {glue:text} format specs.
            glue(full, plain if plain is not None else float("nan"), display=False)
        self._write()
        return value

    def add_many(self, prefix: str, mapping: dict[str, Any]) -> None:
        for key, value in mapping.items():
            self.add(f"{prefix}.{key}" if prefix else key, value)

    def _write(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.values, indent=1, sort_keys=True, allow_nan=False) + "\n"
        self.path.write_text(text, encoding="utf-8")
