"""The cohort schema, read from ``analysis/cohort/schema.yaml`` (the one place it is written down).

Gives typed access to the column specifications, the derived columns, the data-dictionary table the book
renders, and which analyses a cohort file supports given its columns (a missing optional column switches
off the analyses that need it). The CNS groups (``CNS_GROUPS``) and the treatments read as local RT come
from here, so that no other module writes them down again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import pandas as pd
import yaml
from analysis.paths import SCHEMA_PATH


COLUMN_TYPES = ("string", "date", "integer", "flag", "category")
# The cns_group value of a patient without CNS metastasis; every other allowed value is a CNS group.
NO_CNS_GROUP = "none"
TYPE_LABELS = {
    "string": "text",
    "date": "date (YYYY-MM-DD)",
    "integer": "integer",
    "flag": "0/1",
    "category": "category",
}


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the cohort file, as ``schema.yaml`` describes it."""

    name: str
    type: str
    meaning: str
    column_required: bool
    values: str  # "required", "conditional" or "optional"
    unit: str = ""
    allowed: tuple[str, ...] = ()
    range: tuple[object, object] | None = None  # (min, max); a date bound may be "today"
    required_when: str = ""
    cns_only: bool = False
    unique: bool = False

    def range_on(self, today: dt.date) -> tuple[object, object] | None:
        """The range with ``"today"`` replaced by ``today``."""
        if self.range is None:
            return None
        return tuple(today if bound == "today" else bound for bound in self.range)  # type: ignore[return-value]

    @property
    def expected(self) -> str:
        """What a valid value looks like, in words (used in error messages)."""
        if self.type == "category":
            return "one of " + ", ".join(self.allowed)
        if self.type == "flag":
            return "0 or 1"
        if self.type == "date":
            return "a date written YYYY-MM-DD (e.g. 2015-03-31)"
        if self.type == "integer":
            return "a whole number"
        return "text"

    @property
    def required_label(self) -> str:
        """The "required" cell of the data dictionary."""
        if self.values == "required":
            return "yes"
        if self.values == "conditional":
            where = "" if self.column_required else " (optional column)"
            return f"if {self.required_when}{where}"
        return "optional" + (" (CNS patients only)" if self.cns_only else "")


@dataclass(frozen=True)
class Analysis:
    """An analysis of the book and the optional columns it needs."""

    name: str
    title: str
    needs: tuple[str, ...]
    statistic: str | None = None


@dataclass(frozen=True)
class DerivedColumn:
    """A column computed on loading (``derived`` in ``schema.yaml``), never read from the file."""

    name: str
    type: str
    meaning: str
    unit: str = ""
    treatments: tuple[str, ...] = ()  # local_rt: the initial_cns_treatment values that count as RT


@dataclass(frozen=True)
class Schema:
    """The whole schema: columns in file order, derived columns, analyses, missing-value markers."""

    columns: tuple[ColumnSpec, ...]
    analyses: tuple[Analysis, ...]
    missing_values: tuple[str, ...]
    derived: tuple[DerivedColumn, ...] = ()
    by_name: dict[str, ColumnSpec] = field(repr=False, compare=False, default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def groups(self) -> tuple[str, ...]:
        """The allowed values of ``cns_group`` in their order: none, then the CNS groups."""
        return self["cns_group"].allowed

    @property
    def cns_groups(self) -> tuple[str, ...]:
        """The CNS groups (B, BL, L): every allowed ``cns_group`` except ``none``."""
        return tuple(g for g in self.groups if g != NO_CNS_GROUP)

    @property
    def derived_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.derived)

    @property
    def rt_treatments(self) -> tuple[str, ...]:
        """The ``initial_cns_treatment`` values the derived ``local_rt`` reads as local RT."""
        return next(d.treatments for d in self.derived if d.name == "local_rt")

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.column_required]

    @property
    def optional_columns(self) -> list[str]:
        return [c.name for c in self.columns if not c.column_required]

    @property
    def cns_only_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.cns_only]

    def __getitem__(self, name: str) -> ColumnSpec:
        return self.by_name[name]


def _column_from_yaml(entry: dict) -> ColumnSpec:
    name = entry["name"]
    type_ = entry["type"]
    if type_ not in COLUMN_TYPES:
        raise ValueError(f"schema.yaml: column {name!r} has type {type_!r}; expected one of {COLUMN_TYPES}")
    values = entry.get("values", "optional")
    if values not in {"required", "conditional", "optional"}:
        raise ValueError(f"schema.yaml: column {name!r} has values: {values!r}; expected required, conditional or optional")
    range_ = entry.get("range")
    if range_ is not None:
        range_ = tuple(_yaml_bound(b) for b in range_)
    return ColumnSpec(
        name=name,
        type=type_,
        meaning=" ".join(str(entry["meaning"]).split()),
        column_required=entry.get("column", "optional") == "required",
        values=values,
        unit=entry.get("unit") or "",
        allowed=tuple(str(v) for v in entry.get("allowed", ())),
        range=range_,
        required_when=entry.get("required_when", ""),
        cns_only=bool(entry.get("cns_only", False)),
        unique=bool(entry.get("unique", False)),
    )


def _derived_from_yaml(entry: dict) -> DerivedColumn:
    return DerivedColumn(
        name=entry["name"],
        type=entry["type"],
        meaning=" ".join(str(entry["meaning"]).split()),
        unit=entry.get("unit") or "",
        treatments=tuple(str(v) for v in entry.get("treatments", ())),
    )


def _yaml_bound(bound: object) -> object:
    # YAML already turns 1990-01-01 into a date; keep "today" symbolic so it is resolved at validation time.
    if isinstance(bound, str) and bound != "today":
        return dt.date.fromisoformat(bound)
    return bound


@lru_cache(maxsize=1)
def load_schema(path: str | Path = SCHEMA_PATH) -> Schema:
    """Read and check ``schema.yaml``."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    columns = tuple(_column_from_yaml(entry) for entry in raw["columns"])
    by_name = {c.name: c for c in columns}
    if len(by_name) != len(columns):
        raise ValueError("schema.yaml: a column name appears twice")
    analyses = []
    for name, entry in raw.get("analyses", {}).items():
        needs = tuple(entry.get("needs") or ())
        unknown = [n for n in needs if n not in by_name]
        if unknown:
            raise ValueError(f"schema.yaml: analysis {name!r} needs unknown column(s) {unknown}")
        analyses.append(Analysis(name=name, title=entry["title"], needs=needs, statistic=entry.get("statistic")))
    derived = tuple(_derived_from_yaml(entry) for entry in raw.get("derived", ()))
    if "cns_group" in by_name and NO_CNS_GROUP not in by_name["cns_group"].allowed:
        raise ValueError(f"schema.yaml: cns_group must allow {NO_CNS_GROUP!r} (patients without CNS metastasis)")
    treatments = by_name["initial_cns_treatment"].allowed if "initial_cns_treatment" in by_name else ()
    for d in derived:
        unknown = [t for t in d.treatments if t not in treatments]
        if unknown:
            raise ValueError(f"schema.yaml: derived {d.name!r} lists treatments {unknown} "
                             "that initial_cns_treatment does not allow")
    return Schema(
        columns=columns,
        analyses=tuple(analyses),
        missing_values=tuple(str(v) for v in raw.get("missing_values", [""])),
        derived=derived,
        by_name=by_name,
    )


# The CNS groups as the schema allows them, in order (B, BL, L); the cohort face exports this.
CNS_GROUPS: tuple[str, ...] = load_schema().cns_groups


def _allowed_label(spec: ColumnSpec) -> str:
    if spec.allowed:
        return ", ".join(spec.allowed)
    if spec.type == "flag":
        return "0, 1"
    if spec.range is not None:
        low, high = spec.range
        return f"{low} to {high}"
    if spec.unique:
        return "unique"
    return ""


def data_dictionary() -> pd.DataFrame:
    """The data dictionary: one row per column of a cohort file, in file order.

    Columns: ``name``, ``type``, ``unit``, ``allowed values``, ``required``, ``meaning``. Built from
    ``schema.yaml`` only (no patient data), for the book's data-dictionary page.
    """
    schema = load_schema()
    rows = [
        {
            "name": c.name,
            "type": TYPE_LABELS[c.type],
            "unit": c.unit,
            "allowed values": _allowed_label(c),
            "required": c.required_label,
            "meaning": c.meaning,
        }
        for c in schema.columns
    ]
    return pd.DataFrame(rows, columns=["name", "type", "unit", "allowed values", "required", "meaning"])


def derived_columns() -> pd.DataFrame:
    """Columns derived on loading (``derived`` in ``schema.yaml``): ``name``, ``type``, ``unit``, ``meaning``."""
    rows = [
        {"name": d.name, "type": TYPE_LABELS.get(d.type, d.type), "unit": d.unit, "meaning": d.meaning}
        for d in load_schema().derived
    ]
    return pd.DataFrame(rows, columns=["name", "type", "unit", "meaning"])


def analyses_table() -> pd.DataFrame:
    """Each analysis of the book and the optional columns it needs (for the data-dictionary page)."""
    rows = [
        {"analysis": a.name, "title": a.title, "needs optional columns": ", ".join(a.needs) or "(required columns only)"}
        for a in load_schema().analyses
    ]
    return pd.DataFrame(rows, columns=["analysis", "title", "needs optional columns"])


def analyses_switched_off(columns: Iterable[str]) -> dict[str, list[str]]:
    """Analyses that cannot run with these columns, each with the optional columns it misses.

    Parameters
    ----------
    columns
        Column names present in a cohort file.
    """
    present = set(columns)
    return {
        a.name: [n for n in a.needs if n not in present]
        for a in load_schema().analyses
        if any(n not in present for n in a.needs)
    }


def analyses_available(columns: Iterable[str]) -> list[str]:
    """Names of the analyses that can run with these columns, in schema order."""
    off = analyses_switched_off(columns)
    return [a.name for a in load_schema().analyses if a.name not in off]
