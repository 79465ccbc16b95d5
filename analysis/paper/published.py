"""The paper's published figures: the project's own copy, read-only, for comparison.

``data/published-statistics.yaml`` is a verbatim copy of what the paper reports (with its
ambiguities under ``paper_issues``). Paper figures enter the code only through this module.
Ids are dotted paths into the YAML (``outcomes.os_from_cns.B.median``), the same ids the
chapters record in ``results.json``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from analysis.paths import PUBLISHED_PATH



@lru_cache(maxsize=4)
def load_published(path: str | Path = PUBLISHED_PATH) -> dict[str, Any]:
    """The whole YAML as nested dicts."""
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> {dotted id: leaf}; lists (e.g. a CI) stay whole."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, dotted))
        else:
            flat[dotted] = value
    return flat


def published_value(dotted_id: str, path: str | Path = PUBLISHED_PATH) -> Any:
    """One published figure by id; KeyError names the id when it does not exist."""
    node: Any = load_published(path)
    for part in dotted_id.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"{dotted_id!r} is not in {Path(path).name}")
        node = node[part]
    return node


def paper_issues(path: str | Path = PUBLISHED_PATH) -> list[str]:
    return list(load_published(path).get("paper_issues", []))
