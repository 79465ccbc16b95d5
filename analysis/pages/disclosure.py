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
* deaths by CNS group are decided once per build as well (:meth:`Disclosure.decide_deaths`), the
  consistent suppression of cells common to linked tables (tau-Argus): a death count suppressed
  there is suppressed in the log-rank table, in the column totals of the causes of death and in an
  at-risk cell whose cumulative events reach it; a log-rank table whose survivors are 1 to k - 1
  withholds its expected events, which add up to the observed ones.
* single-patient values are withheld: ranges (min/max), lists of individual times, and medians,
  quartiles and incidence of a group smaller than k.
* estimates on few events are withheld (:attr:`Disclosure.few`, from :func:`analysis.study.event_bases`):
  hazard ratios, CIs and p-values of model terms whose level or reference level has 1 to k - 1 events
  or patients, medians and RMST of groups with 1 to k - 1 deaths, and cumulative incidences resting
  on 1 to k - 1 deaths of their cause; tables and forest plots say which, and why.
* numbers at risk: at risk + events so far + censored so far = the group, protected time by time
  (:func:`analysis.pages.disclosure_tables.protect_risk_row`); the rows of a group whose size is
  suppressed show no counts. The table builders are in :mod:`analysis.pages.disclosure_tables`.

What stays the publisher's job is said on the methods page (Disclosure control).
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from analysis.pages.disclosure_audit import audit, cell_bounds  # noqa: F401  (cell_bounds: part of this face)
from analysis.pages.format import word_list

SECONDARY = "x"                       # a cell suppressed to protect another (tables)
SUPPRESSED = "suppressed"             # the same in prose and results.json
WITHHELD = "withheld"                 # a single-patient value
NOT_SHOWN = "\u00b7"                  # a cell of a group whose size is suppressed (any value, small or not)
ZERO_COST = 10 ** 9                   # a zero protects little (cells are >= 0): chosen last
SIZE_KEYS = ("all", "cns", "no_cns", "B", "BL", "L")

# A withheld estimate said once: "HR withheld (95% CI withheld), p = withheld" reads as a form left
# blank, and "withheld%" as a number with a unit. Longest patterns first. "p = " may be held
# together by no-break spaces (format.p_phrase).
_WITHHELD_RUNS = [
    (re.compile(r"(?:HR )?withheld \((?:95% CI )?withheld\),? p[ \u00a0]=[ \u00a0]withheld"), WITHHELD),
    (re.compile(r"(?:HR )?withheld \((?:95% CI )?withheld, p[ \u00a0]=[ \u00a0]withheld\)"), WITHHELD),
    (re.compile(r"(?:HR )?withheld \(p[ \u00a0]=[ \u00a0]withheld(?P<rest>[;,][^)]*)?\)"), WITHHELD + r" (\g<rest>)"),
    (re.compile(r"HR withheld,? p[ \u00a0]=[ \u00a0]withheld"), WITHHELD),
    (re.compile(r"withheld \((?:95% CI )?withheld\)"), WITHHELD),
    # "withheld days for group L (95% CI withheld, p = withheld)": "withheld for group L"
    (re.compile(r" \((?:95% CI )?withheld, p[ \u00a0]=[ \u00a0]withheld\)"), ""),
    (re.compile(r"withheld (?:days|months)\b"), WITHHELD),
    (re.compile(r"\bp[ \u00a0]=[ \u00a0]withheld"), "p withheld"),
    (re.compile(r"withheld ?%"), WITHHELD),
]
# A suppressed count where prose expects a number: "suppressed patients" reads as a kind of patient.
_SUPPRESSED_COUNT = re.compile(r"\bsuppressed (patients|deaths|events)\b")
# "suppressed of <5 patients (suppressed%)": the share of a suppressed count adds nothing, and
# "suppressed of" reads as a verb
_SUPPRESSED_RUNS = [(re.compile(r" ?\(suppressed ?%\)"), ""), (re.compile(r"\bsuppressed ?%"), SUPPRESSED),
                    (re.compile(r"\bsuppressed of\b"), "a suppressed number of")]


def tidy_withheld(text: str) -> str:
    """Prose or a table cell with each withheld estimate said once ("withheld", not "HR withheld
    (95% CI withheld), p = withheld"; "withheld", not "withheld%"), and a suppressed count said as
    one ("a suppressed number of patients", not "suppressed patients"; no "(suppressed%)" after it)."""
    if SUPPRESSED in text:
        text = _SUPPRESSED_COUNT.sub(r"a suppressed number of \1", text)
        for pattern, replacement in _SUPPRESSED_RUNS:
            text = pattern.sub(replacement, text)
    if WITHHELD not in text:
        return text
    for pattern, replacement in _WITHHELD_RUNS:
        text = pattern.sub(replacement, text)
    return text.replace(" (; ", " (").replace(" (, ", " (")
COUNT_COLUMNS = {"patients", "deaths", "treated", "events", "n", "observed events"}


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
    # cells not printed ('·', a group whose size is suppressed) that must not follow from the rest
    # whatever their value: a reader who works out that none of that group died of a cause learns
    # as much as from a small count
    watched: set = dataclasses.field(default_factory=set)

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
        disclosed = audit(grid, suppressed | {i for i in small if not grid.published[i]} | grid.watched, k, first)
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


# --------------------------------------------------------------------------- one decision per build
@dataclasses.dataclass
class Disclosure:
    """The build's rule: ``min_cell`` and the group sizes suppressed on every page."""

    min_cell: int = 0
    sizes: dict[str, int] = dataclasses.field(default_factory=dict)
    suppressed_sizes: frozenset[str] = frozenset()
    # estimates resting on 1..k-1 events (analysis.study.EventBasis): model terms, medians, RMST, CIF
    few: tuple = ()
    # deaths among the CNS patients: other chapters publish them by cause (their sum gives them back)
    cns_deaths: int | None = None
    # deaths by CNS group, decided once like the sizes (linked tables): the log-rank table prints them,
    # the cause-of-death table's columns add up to them and an at-risk row can end on them, so a
    # death count one exhibit suppresses is suppressed in all of them (see decide_deaths)
    deaths: dict[str, int] = dataclasses.field(default_factory=dict)
    suppressed_deaths: frozenset[str] = frozenset()

    @classmethod
    def decide(cls, min_cell: int, sizes: dict[str, int], deaths: dict[str, int] | None = None) -> "Disclosure":
        """Protect the flow of patients (all = CNS + no CNS, CNS = B + BL + L) once, then the deaths
        of each CNS group (:meth:`decide_deaths`)."""
        k = int(min_cell or 0)
        sizes = {key: int(sizes.get(key, 0)) for key in SIZE_KEYS}
        if not k:
            return cls(0, sizes)
        grid = Grid([], [], [])
        at = {key: grid.add(sizes[key]) for key in SIZE_KEYS}
        grid.lines = [([at["cns"], at["no_cns"]], at["all"]), ([at[g] for g in ("B", "BL", "L")], at["cns"])]
        first, second = protect(grid, k)
        hidden = {key for key, i in at.items() if i in first | second}
        rule = cls(k, sizes, frozenset(hidden))
        if deaths:
            rule.decide_deaths(deaths)
        return rule

    def decide_deaths(self, deaths: dict[str, int]) -> None:
        """Which CNS groups' death counts every exhibit suppresses, decided once per build on the
        relations the exhibits share: the groups' deaths add up to the CNS patients' deaths (the
        outcomes page prints them), and each group's deaths and survivors (never printed, but a
        survivor count of 1 to k - 1 is as identifying as a death count) to its size. Sizes the
        build publishes are fixed, sizes it suppresses take their group's deaths with them."""
        k, groups = self.min_cell, ("B", "BL", "L")
        self.deaths = {g: int(deaths.get(g, 0)) for g in groups}
        total_deaths = sum(self.deaths.values())
        grid = Grid([], [], [])
        size = {g: grid.add(self.sizes[g]) for g in (*groups, "cns")}
        died = {g: grid.add(self.deaths[g]) for g in groups}
        alive = {g: grid.add(self.sizes[g] - self.deaths[g], published=False) for g in groups}
        total = grid.add(total_deaths)
        grid.lines = [([died[g] for g in groups], total), ([size[g] for g in groups], size["cns"])]
        grid.lines += [([died[g], alive[g]], size[g]) for g in groups]
        forced = {size[g] for g in size if g in self.suppressed_sizes}
        forced |= {died[g] for g in groups if g in self.suppressed_sizes}
        # the outcomes page prints the total (deaths of n) unless it or its survivors are few
        total_hidden = "cns" in self.suppressed_sizes or sensitive(total_deaths, k) or \
            sensitive(self.sizes["cns"] - total_deaths, k)
        forced |= {total} if total_hidden else set()
        fixed = {i for i in size.values() if i not in forced} | ({total} if not total_hidden else set())
        # A group in which everyone died has deaths equal to its published size: a table whose column
        # totals are sizes prints that number anyway, so those deaths stay published if they can.
        everyone = {died[g] for g in groups if self.deaths[g] == self.sizes[g] and size[g] not in forced}
        first, second = protect(grid, k, forced, fixed | everyone)
        if grid.unsafe:
            grid.unsafe = False
            first, second = protect(grid, k, forced, fixed)
        self.suppressed_deaths = frozenset(g for g in groups if died[g] in first | second | forced)

    def deaths_hidden(self, group: Any, value: Any) -> bool:
        """Whether ``value`` printed for ``group`` is that group's death count and the build
        suppresses it (a count that only happens to be equal is suppressed too: harmless)."""
        return str(group) in self.suppressed_deaths and whole_count(value) == self.deaths.get(str(group))

    def deaths_published(self, group: Any, value: Any) -> bool:
        """Whether ``value`` is ``group``'s death count as every exhibit publishes it."""
        return str(group) in self.deaths and str(group) not in self.suppressed_deaths \
            and whole_count(value) == self.deaths[str(group)]

    @classmethod
    def from_cohort(cls, cohort, min_cell: int) -> "Disclosure":
        data = getattr(cohort, "data", cohort)
        if data is None or "cns" not in getattr(data, "columns", ()):
            return cls(int(min_cell or 0))
        cns = data[data["cns"] == 1]
        groups = cns["group"].astype(str).value_counts() if "group" in cns else {}
        sizes = {"all": len(data), "cns": len(cns), "no_cns": len(data) - len(cns),
                 **{g: int(groups.get(g, 0)) for g in ("B", "BL", "L")}}
        deaths = None
        if "death" in cns and "group" in cns:
            dead = cns["death"].fillna(0).astype(int) == 1
            deaths = {g: int((dead & (cns["group"].astype(str) == g)).sum()) for g in ("B", "BL", "L")}
        rule = cls.decide(min_cell, sizes, deaths)
        rule.cns_deaths = int(cns["death"].sum()) if "death" in cns else None
        if rule.min_cell:
            from analysis.study import event_bases, few_events

            bases = event_bases(data)
            few = set(few_events(bases, rule.min_cell))
            # a percentage of a group whose size is suppressed gives the size back (count / share)
            rule.few = tuple(b for b in bases if b in few or (b.column and b.row[0] in rule.suppressed_sizes))
        return rule

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

    # ------------------------------------------------------------------ estimates on few events
    def withheld_estimate(self, dotted: str) -> bool:
        """Whether figure ``dotted`` rests on 1 to k - 1 events (a term's level or its reference,
        a group's deaths, the deaths so far of a cumulative incidence)."""
        return any(dotted == b.prefix or dotted.startswith(b.prefix + ".") for b in self.few)

    def withheld_expected_note(self, frame) -> str | None:
        """Why a log-rank table shows no expected events (protect_logrank), or None."""
        if frame is None or "expected events" not in getattr(frame, "columns", ()) or not len(frame) \
                or not (frame["expected events"] == WITHHELD).all():
            return None
        return (f"Expected events and observed / expected withheld under disclosure control: the expected "
                f"events add up to the observed ones, so with the patients they would give the number of "
                f"survivors, which is 1 to {self.min_cell - 1}.")

    def few_events_note(self, what: Iterable[str]) -> str:
        """What a table or figure withholds under disclosure control, and why."""
        k = self.min_cell
        return (f"Withheld under disclosure control: {word_list(sorted(set(what)))}. Each rests on 1 to {k - 1} "
                "events or patients (in a level, its reference level or a group), so its value would tell "
                "those patients' outcomes.")

    def withhold_rows(self, key: str, frame, columns: dict[str, str] | None = None):
        """Section table ``key`` as built for the page, its estimates on few events shown as 'withheld'.

        Rows are matched on the index (a term label, or a tuple of the index's first levels); a basis
        with a ``column`` withholds that cell only (``columns`` maps source columns to the built
        table's). Count columns (patients, deaths) are left to the count rules. Returns
        (frame, note or None).
        """
        bases = [b for b in self.few if b.table == key]
        if not bases or frame is None or not len(frame):
            return frame, None
        out = frame.astype(object).copy()
        hit = []
        for b in bases:
            rows = [i for i in out.index if i == b.row or (isinstance(i, tuple) and (
                i[0] == b.row or (isinstance(b.row, tuple) and i[:len(b.row)] == tuple(b.row))))]
            if not rows:
                continue
            targets = [(columns or {}).get(b.column, b.column)] if b.column else \
                [c for c in out.columns if str(c).lower() not in COUNT_COLUMNS]
            for r in rows:
                for c in targets:
                    if c in out.columns:
                        out.loc[[r], c] = WITHHELD
            hit.append(b.what)
        return out, (self.few_events_note(hit) if hit else None)

    def withhold_figure_rows(self, frame, column: str = "figure"):
        """Rows of a table of figures by id (the sensitivity chapter's ``effects``) without those that
        rest on 1 to k - 1 events or are a small group's single-patient values: they are withheld in
        results.json, so no other convention may print them either."""
        if not self.min_cell or frame is None or not len(frame):
            return frame
        ids = {str(i) for i in frame[column]}
        shown = mask_figures({i: 0.5 for i in ids}, self)  # 0.5: a value no rule takes for a count
        keep = [not isinstance(shown[str(i)], str) and not self.withheld_estimate(str(i)) for i in frame[column]]
        return frame[keep]

    def withhold_source(self, key: str, source):
        """A section table before a figure is drawn from it: the estimates on few events set to NaN
        (nothing to draw or print), their rows listed in ``attrs["withheld"]`` for the figure's note."""
        bases = [b for b in self.few if b.table == key and b.column is None]
        if not bases or not isinstance(source, pd.DataFrame):
            return source
        rows = [b.row for b in bases if b.row in set(source.index)]
        if not rows:
            return source
        out = source.copy()
        numeric = [c for c in out.columns if pd.api.types.is_numeric_dtype(out[c]) and str(c).lower()
                   not in COUNT_COLUMNS]
        out.loc[rows, numeric] = np.nan
        out.attrs["withheld"] = list(rows)
        out.attrs["withheld_note"] = self.few_events_note(b.what for b in bases if b.row in set(rows))
        return out

    # ------------------------------------------------------------------ tables
    def grid_texts(self, counts, lines, *, forced=(), implied=(), sizes=(), withheld=(),
                   links=()) -> tuple[list[str | None], set, set]:
        """Protect a flat array of counts with ``lines``; returns (text or None per cell, primary, secondary).

        ``implied``: indices that are not printed (complements); ``sizes``: cells that print a group
        size, suppressed exactly when the build suppresses it (``forced``), else published as is.
        ``withheld``: the cells of a group whose size is suppressed, not shown at all (a secondary
        'x' is known not to be small, so in a group of fewer than k patients every 'x' would be 0).
        ``links``: (cells, published) for each figure that another exhibit prints as the sum of
        these cells (a count in the prose, results.json): a published one is a total the reader
        knows, so a cell it is alone is never chosen as a secondary, and a suppressed one is a
        hidden total of its cells, which must not follow from the rest (linked tables).
        None means 'print the count'.
        """
        counts, lines, forced, known = [int(v) for v in counts], list(lines), set(forced), set()
        n_cells, implied, watched = len(counts), set(implied), set(withheld)
        for cells, published in links:
            cells = sorted(set(cells))
            if not cells:  # the figure adds up no cell the table prints (a level no patient has)
                continue
            if published and len(cells) == 1:
                known.add(cells[0])
            elif published:
                lines.append((cells, None))
            else:
                total = len(counts)  # printed elsewhere as suppressed: a cell the audit protects
                counts.append(sum(counts[i] for i in cells))
                forced.add(total)
                if set(cells) <= set(withheld):  # a count of a group whose size is suppressed: any value
                    implied.add(total)
                    watched.add(total)
                lines.append((cells, total))
        hidden = implied | set(withheld)
        grid = Grid(counts, [i not in hidden for i in range(len(counts))], lines, watched=watched)
        if links and self.min_cell:
            # a cell the published figures give whatever the table hides (a group's N less its RT and
            # BSC patients is its surgery) is known: suppressing it would protect nothing
            fixed = (set(sizes) - forced) | known
            open_cells = {i for i in range(len(counts)) if i not in fixed}
            small = {i for i in open_cells if grid.published[i] and sensitive(counts[i], self.min_cell)}
            known |= {i for i in audit(grid, open_cells, self.min_cell, small)
                      if grid.published[i] and i not in small and i not in forced}
        first, second = protect(grid, self.min_cell, forced, fixed=(set(sizes) - forced) | known)
        first -= set(sizes) - forced  # a size the build publishes is published here too
        texts = [primary(self.min_cell) if i in first else SECONDARY if i in second
                 else NOT_SHOWN if i in set(withheld) else None for i in range(len(counts))]
        if grid.unsafe:  # every count but the group sizes the build publishes goes
            texts = [texts[i] if i in set(sizes) else NOT_SHOWN for i in range(len(counts))]
        return texts[:n_cells], first, second


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
    # deaths by cause add up to the CNS patients' deaths, whose survivors (CNS patients - deaths) may be few
    by_cause = [d for d in ("competing_risks.deaths.cns", "competing_risks.deaths.other") if is_count(d, figures.get(d))]
    if len(by_cause) == 2 and rule.cns_deaths is not None and sensitive(rule.sizes.get("cns", 0) - rule.cns_deaths, k) \
            and not any(d in hidden for d in by_cause):
        cheapest = min(by_cause, key=lambda m: (figures[m] if figures[m] else ZERO_COST, m))
        shown[cheapest] = SUPPRESSED
        hidden.add(cheapest)
    for members in parents.values():
        if len(members) > 1 and sum(m in hidden for m in members) == 1:
            rest = [m for m in members if m not in hidden]
            cheapest = min(rest, key=lambda m: (figures[m] if figures[m] else ZERO_COST, m))
            shown[cheapest] = SUPPRESSED
            hidden.add(cheapest)
    for dotted, value in figures.items():
        group = _group_of(dotted)
        head, _, last = dotted.rpartition(".")
        # a count named after its group (treatments.prior_srs_in_BL) is that group's cell: not shown
        # when the group's size is suppressed, as in its table ('·'), even when it is 0
        own_count = group is None and is_count(dotted, value) and (m := _ENDS_IN_GROUP.search(last)) is not None
        if own_count:
            group = m.group(1)
        kind = kind_of(dotted, parent_has_hr=False)
        if rule.few and not is_count(dotted, value) and rule.withheld_estimate(dotted):
            shown[dotted] = WITHHELD  # an estimate on 1..k-1 events (Disclosure.few)
            continue
        size_hidden = group in rule.suppressed_sizes and (last in ("of", "pct") or _SUFFIX_GROUP.search(dotted)
                                                          or head.endswith(f"groups.{group}") or own_count)
        if dotted in ("cohort.n_cns.n", "critique.n_cns") and "cns" in rule.suppressed_sizes:
            size_hidden = True
        if size_hidden:
            shown[dotted] = rule.size_text(group or "cns") if not own_count and (last in ("n", "of") or "n_" in last) \
                else SUPPRESSED
            hidden.add(dotted)
        elif group in rule.suppressed_sizes and is_count(dotted, value):
            # any other count of that group ('·' in its tables) reads the same whatever its value: a
            # 0, a '<5' (which would mark the others as 0) or a count equal to the hidden size each
            # say something the suppressed size would not (the parts of treatments.*.BL.n too)
            shown[dotted] = SUPPRESSED
            hidden.add(dotted)
        elif kind == "pct" and (f"{head}.n" in hidden or f"{head}.of" in hidden):
            shown[dotted] = SUPPRESSED
        elif kind == "times" or last in ("min", "max"):
            shown[dotted] = WITHHELD
        elif group and rule.small_group(group) and f"{head}.hr" not in figures \
                and (last in _MEDIAN_PARTS or ".cif." in dotted) \
                or ".cif." in dotted and group in rule.suppressed_sizes:
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


def whole_count(value) -> int | None:
    """A count as an int (12, 12.0), else None (NaN, text, a fraction, a bool)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)) and not math.isnan(value) and float(value).is_integer():
        return int(value)
    return None
