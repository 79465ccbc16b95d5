"""The disclosure rule applied to the count tables whose shape a page knows (see
:mod:`analysis.pages.disclosure` for the rule): a cross-table of counts, a log-rank table, events
among patients, and the numbers at risk under a curve. Each builds the table's linear relations and
lets :meth:`Disclosure.grid_texts` choose the suppressions."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from analysis.pages.disclosure import SECONDARY, SIZE_KEYS, WITHHELD, Disclosure, whole_count, mask_cell, sensitive


def protect_crosstab(frame, rule: Disclosure, *, size_columns: bool = True, links=()):
    """A table of counts (rows x columns, every row and column total taken as published) with
    primary and secondary suppression; a column named after a suppressed group has its size
    suppressed. ``links``: (cells, published) of figures printed elsewhere as sums of cells
    ((row, column) labels), protected with the table. Returns the frame as text cells."""
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
    # a column adding up to a group's deaths that the build suppresses (the causes of death by group)
    # must not give them back: its total is unknown too, as in the log-rank table
    # (a total that is also the group's published size is known whatever the table counts)
    death_totals = [c for c, name in enumerate(frame.columns)
                    if c not in totals and rule.deaths_hidden(name, values[:, c].sum())
                    and not (str(name) not in rule.suppressed_sizes and values[:, c].sum() == rule.sizes.get(str(name)))]
    extra = []
    for c in totals + death_totals:  # the column's total becomes a cell of its own, suppressed with its group
        t = len(flat) + len(extra)
        extra.append(int(values[:, c].sum()))
        lines[rows + c] = (lines[rows + c][0], t)
    index, columns = [str(r) for r in frame.index], [str(c) for c in frame.columns]
    linked = [([index.index(str(r)) * cols + columns.index(str(c)) for r, c in cells
                if str(r) in index and str(c) in columns], published) for cells, published in links]
    texts, _, _ = rule.grid_texts(flat + extra, lines, forced=range(len(flat), len(flat) + len(extra)),
                                  implied=range(len(flat), len(flat) + len(extra)),
                                  withheld=[r * cols + c for c in totals for r in range(rows)], links=linked)
    out = pd.DataFrame([[texts[r * cols + c] or str(flat[r * cols + c]) for c in range(cols)] for r in range(rows)],
                       index=frame.index, columns=frame.columns)
    return out


def protect_logrank(frame, rule: Disclosure):
    """A log-rank table (patients, observed, expected, O/E by group). Lines: the patients add up to
    the cohort's (published), the observed events to the sum of the expected ones (a log-rank
    identity), and each group's observed events and censored patients (not printed) to its
    patients. A group size the build suppresses stays suppressed; O/E goes with its observed."""
    if not rule.min_cell:
        return frame
    rows = list(frame.index)
    n = len(rows)
    values = [whole_count(v) or 0 for v in frame["patients"]] + [whole_count(v) or 0 for v in frame["observed events"]]
    values += [values[i] - values[n + i] for i in range(n)]              # censored: implied
    lines = [(list(range(n)), None), (list(range(n, 2 * n)), None)]
    lines += [([n + i, 2 * n + i], i) for i in range(n)]
    # The expected events add up to the observed (the identity above), so with the patients they
    # print the survivors of the whole test: when those are 1 to k - 1, expected and O/E are
    # withheld and the observed total becomes a cell of its own, not printed.
    few_survivors = sensitive(sum(values[:n]) - sum(values[n:2 * n]), rule.min_cell)
    if few_survivors:
        observed_total = len(values)
        values += [sum(values[n:2 * n]), sum(values[:n]) - sum(values[n:2 * n])]
        lines[1] = (list(range(n, 2 * n)), observed_total)
        lines.append(([observed_total, observed_total + 1], None))
    forced = [i for i, g in enumerate(rows) if str(g) in rule.suppressed_sizes]
    sizes = [i for i, g in enumerate(rows) if str(g) in SIZE_KEYS]
    # a group's observed events are its deaths when the test holds the whole group: suppressed or
    # published as the build decided (Disclosure.decide_deaths), like the group sizes
    whole = [i for i, g in enumerate(rows) if str(g) in rule.deaths and values[i] == rule.sizes.get(str(g))]
    deaths_forced = [n + i for i in whole if i not in forced and rule.deaths_hidden(rows[i], values[n + i])]
    deaths_fixed = [n + i for i in whole if i not in forced and rule.deaths_published(rows[i], values[n + i])]
    texts, _, _ = rule.grid_texts(values, lines, forced=forced + deaths_forced, implied=range(2 * n, len(values)),
                                  sizes=sizes + deaths_forced + deaths_fixed, withheld=[n + i for i in forced])
    out = frame.astype(object).copy()
    out["patients"] = [texts[i] or values[i] for i in range(n)]
    out["observed events"] = [texts[n + i] or values[n + i] for i in range(n)]
    if "observed / expected" in out:
        out["observed / expected"] = [SECONDARY if texts[n + i] else v for i, v in enumerate(out["observed / expected"])]
    if few_survivors:
        for column in ("expected events", "observed / expected"):
            if column in out:
                out[column] = WITHHELD
    return out


def protect_events(frame, rule: Disclosure, total: str, parts: Sequence[str]):
    """Rows of counts where each of ``parts`` (deaths, treated) is a subset of ``total`` (patients):
    the complement of each part is a count too (not printed)."""
    if not rule.min_cell:
        return frame
    out = frame.astype(object).copy()
    for r, row in enumerate(frame.index):
        values = [whole_count(frame.loc[row, total]) or 0] + [whole_count(frame.loc[row, p]) or 0 for p in parts]
        values += [values[0] - v for v in values[1:]]
        k = len(parts)
        lines = [([1 + j, 1 + k + j], 0) for j in range(k)]
        texts, _, _ = rule.grid_texts(values, lines, implied=range(1 + k, 1 + 2 * k))
        for j, column in enumerate([total, *parts]):
            if texts[j]:
                out.iloc[r, list(frame.columns).index(column)] = texts[j]
    return out


def protect_risk_row(n: int, cells: Sequence[tuple[int, int]], k: int,
                     hidden_events: int | None = None) -> list[tuple[str | None, str | None]]:
    """A group's numbers at risk and cumulative events under a curve, time by time: at risk + events
    so far + censored so far (not printed) = the group's ``n``, so each column is protected as a line
    (primary, then secondary: '<5 (11)' among 12 patients would give back the one patient at risk).
    ``hidden_events``: a death count the build suppresses (Disclosure.decide_deaths); a time whose
    cumulative events reach it would print it, so that cell is suppressed too.
    Returns (at-risk text, events text) per time, None where the count is printed as it is."""
    rule = Disclosure(int(k))
    out = []
    for at_risk, events in cells:
        values = [int(n), int(at_risk), int(events), max(int(n) - int(at_risk) - int(events), 0)]
        forced = [2] if hidden_events is not None and int(events) == int(hidden_events) and int(events) else []
        texts, _, _ = rule.grid_texts(values, [([1, 2, 3], 0)], forced=forced, implied=[3], sizes=[0])
        out.append((texts[1], texts[2]))
    return out


def protect_table(frame, rule: Disclosure, links=()):
    """The disclosure rule for a table of counts whose shape the page knows: log-rank, events among
    patients, a cross-table of counts (with its ``links``, see :func:`protect_crosstab`); else the
    primary rule cell by cell."""
    if not rule.min_cell:
        return frame
    columns = set(frame.columns)
    if {"patients", "observed events"} <= columns:
        return protect_logrank(frame, rule)
    if {"patients", "deaths"} <= columns:
        return protect_events(frame, rule, "patients", [c for c in ("deaths", "treated") if c in columns])
    if len(frame) and all(whole_count(v) is not None for v in frame.to_numpy().ravel()):
        return protect_crosstab(frame, rule, links=links)
    return frame.map(lambda v: mask_cell(v, rule.min_cell))
