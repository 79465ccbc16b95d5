"""What the synthetic cohort aims at: the paper's published figures and the book's readings of them.

Read from ``data/published-statistics.yaml`` and ``data/paper-interpretation.yaml``; no target number
is typed into the generator's modules (tests/test_synth.py checks every one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

GROUPS = ("B", "BL", "L")
ABC_SITES = ("lung", "liver", "soft_tissue", "bone")


def load_yaml(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def lookup(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"{dotted!r} is missing from the targets")
        node = node[part]
    return node


def interpretation_value(interp: dict[str, Any], key: str) -> Any:
    """The machine-readable value of one interpretation item."""
    item = interp["items"][key]
    if "value" not in item:
        raise KeyError(f"paper-interpretation.yaml item {key!r} has no 'value'")
    return item["value"]


def printed_p(printed: Any) -> tuple[str, float]:
    """('=', p) for a printed value, ('<', bound) for a printed bound such as "<0.01"."""
    if isinstance(printed, str) and printed.strip().startswith("<"):
        return "<", float(printed.strip()[1:])
    return "=", float(printed)


@dataclass
class Targets:
    """The numbers the search aims at, read from the two YAML files."""

    pub: dict[str, Any]
    interp: dict[str, Any]

    def km(self, kind: str, group: str) -> tuple[float, float | None, float | None]:
        """(median, lower, upper) for kind in {t1, os_cns, os_abc}; None where there is no target."""
        if kind == "t1":
            node = (lookup(self.pub, "cohort.time_abc_to_cns_all") if group == "all"
                    else lookup(self.pub, f"backgrounds.time_abc_to_cns_by_group.{group}"))
            ci = node["ci"]
        elif kind == "os_cns":
            node = lookup(self.pub, f"outcomes.os_from_cns.{group}")
            ci = node.get("ci") or interpretation_value(self.interp, f"os_from_cns_{group}_ci")
        else:
            node = lookup(self.pub, f"outcomes.os_from_abc.{group}")
            ci = node["ci"]
        return float(node["median"]), float(ci[0]), float(ci[1])
