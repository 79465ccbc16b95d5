"""Disclosure control: what a build may publish about the patients of a real cohort.

With ``min_cell = k`` (0: off, every figure shown):

* primary suppression: a count from 1 to k - 1 (patients, events, deaths) is shown as '<k', and no
  percentage of it is shown. A count that is published only implicitly (the survivors of
  "37 deaths among 40 patients") is protected the same way, by suppressing a published cell.
* secondary (complementary) suppression, so that no suppressed cell can be worked out from the
  margins: the least-cost heuristic of tau-Argus and sdcTable on the table's linear relations
  (each line is "members sum to a total"): while a line holds a sensitive or suppressed cell and
  only one unknown, the cheapest other cell of that line (cost = its value, zeros last) is
  suppressed too; then an integer programme (scipy's milp) bounds every suppressed cell given what
  is published, and a cell whose minimum equals its maximum gets one more suppression in its lines.
  A cell suppressed this way is shown as 'x' (it is not small: '<k' would misstate it).
* group sizes (all, CNS, no CNS, B, BL, L) are decided once per build from the cohort
  (:class:`Disclosure`): a suppressed group size is suppressed on every page, in every header and
  denominator, and the percentages of that group are not shown (count / share gives the size back).
* single-patient values are withheld: ranges (min/max), lists of individual times, and medians,
  quartiles and incidence of a group smaller than k.

What stays the publisher's job is said on the methods page (Disclosure control).
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Iterable, Sequence

import numpy as np

SECONDARY = "x"                       # a cell suppressed to protect another (tables)
SUPPRESSED = "suppressed"             # the same in prose and results.json
WITHHELD = "withheld"                 # a single-patient value
NOT_SHOWN = "\u00b7"                  # a cell of a group whose size is suppressed (any value, small or not)
ZERO_COST = 10 ** 9                   # a zero protects little (cells are >= 0): chosen last
SIZE_KEYS = ("all", "cns", "no_cns", "B", "BL", "L")


def primary(k: int) -> str:
    return f"<{k}"


def sensitive(value: Any, k: int) -> bool:
    """A count from 1 to k - 1 (0 is not identifying)."""
    return bool(k) and isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and not (isinstance(value, float) and math.isnan(value)) and 0 < value < k and float(value).is_integer()


def mask_count(value: Any, min_cell: int) -> Any:
    """A count from 1 to min_cell - 1 becomes the text '<min_cell'."""
    return primary(min_cell) if sensitive(value, min_cell) else value


# --------------------------------------------------------------------------- the engine
@dataclasses.dataclass
class Grid:
    """The cells of one exhibit and its linear relations.

    ``values``: every cell's true count; ``published``: False for a cell the exhibit implies but
    does not print (the survivors of a 'deaths of patients' row); ``lines``: (members, total) with
    ``total`` a cell index, or None when the total is published elsewhere (a known constant).
    """

    values: list[int]
    published: list[bool]
    lines: list[tuple[list[int], int | None]]
    unsafe: bool = False  # set by protect when no suppression pattern is safe: show no counts at all

    def add(self, value: int, published: bool = True) -> int:
        self.values.append(int(value))
        self.published.append(published)
        return len(self.values) - 1


def _cells(line) -> list[int]:
    members, total = line
    return list(members) + ([total] if total is not None else [])


def _cost(grid: Grid, i: int) -> tuple:
    return (grid.values[i] if grid.values[i] else ZERO_COST, i)


def protect(grid: Grid, k: int, forced: Iterable[int] = (), fixed: Iterable[int] = ()) -> tuple[set[int], set[int]]:
    """(primary, secondary) suppressed cells of ``grid`` (published cells only).

    ``forced``: cells suppressed whatever their value (a group size the build suppresses);
    ``fixed``: cells published elsewhere (the other group sizes), never chosen as secondary.
    """
    fixed = set(fixed)
    if not k:
        return set(), set()
    n = len(grid.values)
    small = {i for i in range(n) if sensitive(grid.values[i], k)}
    first = {i for i in small if grid.published[i]}
    suppressed = first | set(forced)

    def unknown(i):
        return i in suppressed or not grid.published[i]

    for _ in range(4 * n + 4):
        changed = False
        for line in grid.lines:
            cells = _cells(line)
            if not any(i in small or i in suppressed for i in cells):
                continue
            unknowns = [i for i in cells if unknown(i)]
            candidates = [i for i in cells if not unknown(i) and i not in fixed]
            if len(unknowns) == 1 and candidates:
                suppressed.add(min(candidates, key=lambda i: _cost(grid, i)))
                changed = True
        if changed:
            continue
        disclosed = audit(grid, suppressed | {i for i in small if not grid.published[i]}, k, first)
        if not disclosed:
            break
        candidates = []
        for cell in disclosed:  # the cheapest cell sharing a line with a disclosed one
            candidates = sorted({i for line in grid.lines if cell in _cells(line) for i in _cells(line)
                                 if not unknown(i) and i not in fixed}, key=lambda i: _cost(grid, i))
            if candidates:
                break
        if not candidates:  # every line of every disclosed cell is spent: widen to the whole exhibit
            candidates = sorted((i for i in range(n) if grid.published[i] and not unknown(i) and i not in fixed),
                                key=lambda i: _cost(grid, i))
        if not candidates:  # cell suppression cannot protect this exhibit (a group of a handful)
            grid.unsafe = True
            break
        suppressed.add(candidates[0])
    return first, suppressed - first


def cell_bounds(values_known: dict[int, float], unknown: dict[int, tuple[float, float, bool]],
                lines: Sequence[tuple[Sequence[int], int | None, float]]) -> dict[int, tuple[float, float]]:
    """The attacker: min and max of each unknown cell given the published ones.

    ``unknown``: cell -> (lower, upper, secondary); a secondary cell is known not to be small, so
    it is 0 or at least the threshold carried as ``lower`` (modelled with a binary variable).
    ``lines``: (members, total or None, constant): members sum to the total cell, or to
    ``constant`` when total is None. Integer linear programme (scipy.optimize.milp).
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    cells = list(unknown)
    if not cells:
        return {}
    index = {c: j for j, c in enumerate(cells)}
    binaries = [c for c in cells if unknown[c][2]]
    nvar = len(cells) + len(binaries)
    rows, rhs = [], []
    for members, total, constant in lines:
        row = np.zeros(nvar)
        known = 0.0
        for i, sign in [(m, 1.0) for m in members] + ([(total, -1.0)] if total is not None else []):
            if i in index:
                row[index[i]] += sign
            else:
                known += sign * values_known[i]
        if total is None:
            known -= constant
        if row.any():
            rows.append(row)
            rhs.append(-known)
    big = 10.0 ** 7
    lower = np.zeros(nvar)
    upper = np.full(nvar, np.inf)
    for c in cells:
        low, up, secondary = unknown[c]
        lower[index[c]], upper[index[c]] = (0.0, big) if secondary else (low, up)
    for b, c in enumerate(binaries):  # x = 0 or x >= threshold: x >= t*z, x <= big*z, z in {0, 1}
        z = len(cells) + b
        lower[z], upper[z] = 0, 1
        threshold = unknown[c][0]
        for coeffs, lo, up in (({index[c]: 1.0, z: -threshold}, 0, np.inf), ({index[c]: 1.0, z: -big}, -np.inf, 0)):
            row = np.zeros(nvar)
            for j, v in coeffs.items():
                row[j] = v
            rows.append(row)
            rhs.append((lo, up))
    constraints = []
    for row, r in zip(rows, rhs):
        lo, up = r if isinstance(r, tuple) else (r, r)
        constraints.append(LinearConstraint(row.reshape(1, -1), lo, up))
    out = {}
    for c in cells:
        ends = []
        for sign in (1.0, -1.0):
            objective = np.zeros(nvar)
            objective[index[c]] = sign
            result = milp(objective, constraints=constraints, integrality=np.ones(nvar),
                          bounds=Bounds(lower, upper))
            ends.append(sign * result.fun if result.status == 0 else sign * math.inf)
        out[c] = (ends[0], ends[1])
    return out


def audit(grid: Grid, hidden: set[int], k: int, first: set[int]) -> list[int]:
    """Suppressed cells of ``grid`` whose value follows from what is published (min == max)."""
    known = {i: grid.values[i] for i in range(len(grid.values)) if i not in hidden and grid.published[i]}
    unknown = {}
    for i in range(len(grid.values)):
        if i in known:
            continue
        if i in first:
            unknown[i] = (1.0, float(k - 1), False)
        elif grid.published[i]:
            unknown[i] = (float(k), math.inf, True)
        else:
            unknown[i] = (0.0, math.inf, False)
    lines = [(m, t, 0.0) if t is not None else (m, None, float(sum(grid.values[i] for i in m)))
             for m, t in grid.lines]
    bounds = cell_bounds(known, unknown, lines)
    return [i for i, (lo, up) in bounds.items()
            if i in hidden and (grid.published[i] or sensitive(grid.values[i], k)) and abs(lo - up) < 1e-6]


# --------------------------------------------------------------------------- one decision per build
@dataclasses.dataclass
class Disclosure:
    """The build's rule: ``min_cell`` and the group sizes suppressed on every page."""

    min_cell: int = 0
    sizes: dict[str, int] = dataclasses.field(default_factory=dict)
    suppressed_sizes: frozenset[str] = frozenset()

    @classmethod
    def decide(cls, min_cell: int, sizes: dict[str, int]) -> "Disclosure":
        """Protect the flow of patients (all = CNS + no CNS, CNS = B + BL + L) once."""
        k = int(min_cell or 0)
        sizes = {key: int(sizes.get(key, 0)) for key in SIZE_KEYS}
        if not k:
            return cls(0, sizes)
        grid = Grid([], [], [])
        at = {key: grid.add(sizes[key]) for key in SIZE_KEYS}
        grid.lines = [([at["cns"], at["no_cns"]], at["all"]), ([at[g] for g in ("B", "BL", "L")], at["cns"])]
        first, second = protect(grid, k)
        hidden = {key for key, i in at.items() if i in first | second}
        return cls(k, sizes, frozenset(hidden))

    @classmethod
    def from_cohort(cls, cohort, min_cell: int) -> "Disclosure":
        data = getattr(cohort, "data", cohort)
        if data is None or "cns" not in getattr(data, "columns", ()):
            return cls(int(min_cell or 0))
        cns = data[data["cns"] == 1]
        groups = cns["group"].astype(str).value_counts() if "group" in cns else {}
        sizes = {"all": len(data), "cns": len(cns), "no_cns": len(data) - len(cns),
                 **{g: int(groups.get(g, 0)) for g in ("B", "BL", "L")}}
        return cls.decide(min_cell, sizes)

    @classmethod
    def from_figures(cls, figures: dict[str, Any], min_cell: int) -> "Disclosure":
        """The same decision from the cohort chapter's figures (the scorecard has no cohort object)."""
        n_cns = figures.get("cohort.n_cns.n")
        if not isinstance(n_cns, (int, np.integer)) or not isinstance(figures.get("cohort.n_abc"), (int, np.integer)):
            return cls(int(min_cell or 0))
        sizes = {"all": figures["cohort.n_abc"], "cns": n_cns, "no_cns": figures["cohort.n_abc"] - n_cns,
                 **{g: figures.get(f"cohort.groups.{g}.n", 0) for g in ("B", "BL", "L")}}
        return cls.decide(min_cell, sizes)

    def size_text(self, key: str) -> str:
        """A group size as every page prints it."""
        n = self.sizes.get(key)
        if key in self.suppressed_sizes:
            return primary(self.min_cell) if sensitive(n, self.min_cell) else SECONDARY
        return str(n)

    def small_group(self, key: str) -> bool:
        """Fewer than min_cell patients: its medians, quartiles and ranges are single-patient values."""
        return bool(self.min_cell) and key in self.sizes and self.sizes[key] < self.min_cell

    def note(self) -> str:
        return (f"Counts from 1 to {self.min_cell - 1} are suppressed (shown as <{self.min_cell}); "
                f"{SECONDARY} marks a count suppressed so that none can be worked out from the totals, "
                f"{NOT_SHOWN} a count of a group whose size is suppressed, "
                "and no percentage is shown beside a suppressed cell or in a column that holds one "
                "(see Methods, Disclosure control).")

    # ------------------------------------------------------------------ tables
    def grid_texts(self, counts, lines, *, forced=(), implied=(), sizes=(), withheld=()) -> tuple[list[str | None], set, set]:
        """Protect a flat array of counts with ``lines``; returns (text or None per cell, primary, secondary).

        ``implied``: indices that are not printed (complements); ``sizes``: cells that print a group
        size, suppressed exactly when the build suppresses it (``forced``), else published as is.
        ``withheld``: the cells of a group whose size is suppressed, not shown at all (a secondary
        'x' is known not to be small, so in a group of fewer than k patients every 'x' would be 0).
        None means 'print the count'.
        """
        hidden = set(implied) | set(withheld)
        grid = Grid([int(v) for v in counts], [i not in hidden for i in range(len(counts))], list(lines))
        forced = set(forced)
        first, second = protect(grid, self.min_cell, forced, fixed=set(sizes) - forced)
        first -= set(sizes) - forced  # a size the build publishes is published here too
        texts = [primary(self.min_cell) if i in first else SECONDARY if i in second
                 else NOT_SHOWN if i in set(withheld) else None for i in range(len(counts))]
        if grid.unsafe:  # every count but the group sizes the build publishes goes
            texts = [texts[i] if i in set(sizes) else NOT_SHOWN for i in range(len(counts))]
        return texts, first, second


_GROUP_SEGMENT = re.compile(r"(?:^|\.)(B|BL|L|no_cns)(?:\.|$)")
_SUFFIX_GROUP = re.compile(r"[._](?:n|pct)_(B|BL|L)$")
_MEDIAN_PARTS = {"median", "ci", "q1", "q3", "iqr"}
_STATISTIC_OF = {"critique.l_ci": "L"}  # ids of the critique that name their group in words
_ENDS_IN_GROUP = re.compile(r"_(B|BL|L)$")


def _group_of(dotted: str) -> str | None:
    match = _GROUP_SEGMENT.search(dotted) or _SUFFIX_GROUP.search(dotted)
    return match.group(1) if match else None


def mask_figures(figures: dict[str, Any], rule: "Disclosure | int", *, counts: bool | None = None) -> dict[str, Any]:
    """The figures as a build publishes them (results.json, glue, comparison tables).

    ``counts``: None, ids that name a count (the paper's ids) are counts; True, every integer is;
    False, none is (the primer's made-up numbers). Primary, then the complement of each n/of pair,
    then sibling counts (one suppressed among siblings gets the cheapest sibling), then the group
    sizes of the build, then the single-patient values.
    """
    from analysis.paper import kind_of

    rule = rule if isinstance(rule, Disclosure) else Disclosure.from_figures(figures, int(rule or 0))
    k = rule.min_cell
    if not k:
        return dict(figures)
    shown = dict(figures)

    def is_count(dotted, value):
        if counts is False or isinstance(value, bool) or not isinstance(value, (int, float, np.integer)):
            return False
        if counts is True:
            return isinstance(value, (int, np.integer))
        return kind_of(dotted, parent_has_hr=False) == "count"

    hidden: set[str] = set()
    for dotted, value in figures.items():
        if is_count(dotted, value) and sensitive(value, k):
            shown[dotted] = primary(k)
            hidden.add(dotted)
    # the complement of n of `of` (survivors of deaths among patients) is a count too
    for dotted, value in figures.items():
        if dotted.endswith(".n") and f"{dotted[:-2]}.of" in figures and is_count(dotted, value):
            rest = figures[f"{dotted[:-2]}.of"] - value
            if sensitive(rest, k) and dotted not in hidden:
                shown[dotted] = SUPPRESSED
                hidden.add(dotted)
    # siblings (B/BL/L of one figure; the causes of one death count): totals are published elsewhere
    parents: dict[str, list[str]] = {}
    for dotted, value in figures.items():
        if is_count(dotted, value) and not dotted.endswith(".of"):
            head, _, last = dotted.rpartition(".")
            if last == "n" and _group_of(head):   # prefix.G.n: siblings across groups
                base, _, group = head.rpartition(".")
                parents.setdefault(f"{base}.*.n", []).append(dotted)
            elif last not in ("n", "of"):
                parents.setdefault(head, []).append(dotted)
    for members in parents.values():
        if len(members) > 1 and sum(m in hidden for m in members) == 1:
            rest = [m for m in members if m not in hidden]
            cheapest = min(rest, key=lambda m: (figures[m] if figures[m] else ZERO_COST, m))
            shown[cheapest] = SUPPRESSED
            hidden.add(cheapest)
    for dotted, value in figures.items():
        group = _group_of(dotted)
        head, _, last = dotted.rpartition(".")
        kind = kind_of(dotted, parent_has_hr=False)
        size_hidden = group in rule.suppressed_sizes and (last in ("of", "pct") or _SUFFIX_GROUP.search(dotted)
                                                          or head.endswith(f"groups.{group}"))
        if dotted in ("cohort.n_cns.n", "critique.n_cns") and "cns" in rule.suppressed_sizes:
            size_hidden = True
        if size_hidden:
            shown[dotted] = rule.size_text(group or "cns") if last in ("n", "of") or "n_" in last else SUPPRESSED
            hidden.add(dotted)
        elif kind == "pct" and (f"{head}.n" in hidden or f"{head}.of" in hidden):
            shown[dotted] = SUPPRESSED
        elif kind == "times" or last in ("min", "max"):
            shown[dotted] = WITHHELD
        elif group and rule.small_group(group) and f"{head}.hr" not in figures \
                and (last in _MEDIAN_PARTS or ".cif." in dotted):
            shown[dotted] = WITHHELD
        elif kind != "count" and not isinstance(value, str) and rule.small_group(
                _STATISTIC_OF.get(dotted) or (m.group(1) if (m := _ENDS_IN_GROUP.search(last)) else "")):
            shown[dotted] = WITHHELD
    return shown


def mask_cell(value: Any, min_cell: int) -> Any:
    """A small count in a table cell, alone or with its percentage, becomes '<min_cell'."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return mask_count(int(value), min_cell)
    if isinstance(value, str):
        match = _COUNT_CELL.fullmatch(value.strip())
        if match and 0 < int(match.group(1)) < min_cell:
            return primary(min_cell)
    return value


# A count as tables print it: "7", or "7 (12.5%)" with its share of the group (no-break space)
_COUNT_CELL = re.compile(r"(\d+)(?:[ \u00a0]\([^()]*%\))?")


def protect_crosstab(frame, rule: Disclosure, *, size_columns: bool = True):
    """A table of counts (rows x columns, every row and column total taken as published) with
    primary and secondary suppression; a column named after a suppressed group has its size
    suppressed. Returns the frame as text cells."""
    import pandas as pd

    if not rule.min_cell:
        return frame
    values = frame.to_numpy()
    if not all(isinstance(v, (int, np.integer)) or (isinstance(v, float) and float(v).is_integer())
               for v in values.ravel()):
        return frame.map(lambda v: mask_cell(v, rule.min_cell))
    rows, cols = values.shape
    flat = [int(v) for v in values.ravel()]
    lines = [([r * cols + c for c in range(cols)], None) for r in range(rows)]
    lines += [([r * cols + c for r in range(rows)], None) for c in range(cols)]
    # a column total is a group size when the table covers a whole group: keep it hidden if the build does
    totals = []
    for c, name in enumerate(frame.columns):
        if size_columns and str(name) in rule.suppressed_sizes:
            totals.append(c)
    extra = []
    for c in totals:  # the column's total becomes a cell of its own, suppressed with its group
        t = len(flat) + len(extra)
        extra.append(int(values[:, c].sum()))
        lines[rows + c] = (lines[rows + c][0], t)
    texts, _, _ = rule.grid_texts(flat + extra, lines, forced=range(len(flat), len(flat) + len(extra)),
                                  implied=range(len(flat), len(flat) + len(extra)),
                                  withheld=[r * cols + c for c in totals for r in range(rows)])
    out = pd.DataFrame([[texts[r * cols + c] or str(flat[r * cols + c]) for c in range(cols)] for r in range(rows)],
                       index=frame.index, columns=frame.columns)
    return out


def _as_int(value) -> int | None:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)) and not math.isnan(value) and float(value).is_integer():
        return int(value)
    return None


def protect_logrank(frame, rule: Disclosure):
    """A log-rank table (patients, observed, expected, O/E by group). Lines: the patients add up to
    the cohort's (published), the observed events to the sum of the expected ones (a log-rank
    identity), and each group's observed events and censored patients (not printed) to its
    patients. A group size the build suppresses stays suppressed; O/E goes with its observed."""
    if not rule.min_cell:
        return frame
    rows = list(frame.index)
    n = len(rows)
    values = [_as_int(v) or 0 for v in frame["patients"]] + [_as_int(v) or 0 for v in frame["observed events"]]
    values += [values[i] - values[n + i] for i in range(n)]              # censored: implied
    lines = [(list(range(n)), None), (list(range(n, 2 * n)), None)]
    lines += [([n + i, 2 * n + i], i) for i in range(n)]
    forced = [i for i, g in enumerate(rows) if str(g) in rule.suppressed_sizes]
    sizes = [i for i, g in enumerate(rows) if str(g) in SIZE_KEYS]
    texts, _, _ = rule.grid_texts(values, lines, forced=forced, implied=range(2 * n, 3 * n), sizes=sizes,
                                  withheld=[n + i for i in forced])
    out = frame.astype(object).copy()
    out["patients"] = [texts[i] or values[i] for i in range(n)]
    out["observed events"] = [texts[n + i] or values[n + i] for i in range(n)]
    if "observed / expected" in out:
        out["observed / expected"] = [SECONDARY if texts[n + i] else v for i, v in enumerate(out["observed / expected"])]
    return out


def protect_events(frame, rule: Disclosure, total: str, parts: Sequence[str]):
    """Rows of counts where each of ``parts`` (deaths, treated) is a subset of ``total`` (patients):
    the complement of each part is a count too (not printed)."""
    if not rule.min_cell:
        return frame
    out = frame.astype(object).copy()
    for r, row in enumerate(frame.index):
        values = [_as_int(frame.loc[row, total]) or 0] + [_as_int(frame.loc[row, p]) or 0 for p in parts]
        values += [values[0] - v for v in values[1:]]
        k = len(parts)
        lines = [([1 + j, 1 + k + j], 0) for j in range(k)]
        texts, _, _ = rule.grid_texts(values, lines, implied=range(1 + k, 1 + 2 * k))
        for j, column in enumerate([total, *parts]):
            if texts[j]:
                out.iloc[r, list(frame.columns).index(column)] = texts[j]
    return out


def protect_table(frame, rule: Disclosure):
    """The disclosure rule for a table of counts whose shape the page knows: log-rank, events among
    patients, a cross-table of counts; else the primary rule cell by cell."""
    if not rule.min_cell:
        return frame
    columns = set(frame.columns)
    if {"patients", "observed events"} <= columns:
        return protect_logrank(frame, rule)
    if {"patients", "deaths"} <= columns:
        return protect_events(frame, rule, "patients", [c for c in ("deaths", "treated") if c in columns])
    if len(frame) and all(_as_int(v) is not None for v in frame.to_numpy().ravel()):
        return protect_crosstab(frame, rule)
    return frame.map(lambda v: mask_cell(v, rule.min_cell))
