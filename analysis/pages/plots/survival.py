"""The book's survival figure in one call: a fitted ``KaplanMeier`` drawn by :func:`km_plot` in months
with regular breaks, the risk table as ``n.risk (cum.events)``, median lines, the log-rank p and the
paper's published medians (read from :mod:`analysis.paper`, never typed in).

It only chooses what :func:`km_plot` draws; every number comes from the fit, the test or the paper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.paper import published_value
from analysis.pages.plots.km import km_plot
from analysis.pages.labels import group_legend
from analysis.pages.plots.style import DAYS_PER_UNIT

# Risk-table rows keep the short names (the legend above gives the long ones): long row names would
# take a third of a phone-width figure from the plot.
RISK_ROW_LABELS = {"no_cns": "No CNS"}

# Break steps tried in order, per unit: the first that gives at most MAX_BREAKS ticks is used, so a
# long follow-up gets 0, 24, 48 ... months rather than 17 crowded columns of counts.
BREAK_STEPS = {"days": (30, 60, 90, 180, 365, 730), "weeks": (4, 8, 13, 26, 52),
               "months": (3, 6, 12, 24, 36, 48, 60), "years": (1, 2, 5, 10)}
# Six columns of "267 (196)" at 11 pt fill the 6.4 in figure: more would print on each other.
MAX_BREAKS = 6


def unit_breaks(table: pd.DataFrame, unit: str = "months", step: float | None = None) -> list[float]:
    """Risk-table times, in days, at 0, step, 2 step ... ``unit`` up to the end of follow-up of
    ``table`` (``KaplanMeier.table_``, times in days). ``step`` defaults to the first of
    ``BREAK_STEPS[unit]`` that gives at most ``MAX_BREAKS`` breaks."""
    if unit not in DAYS_PER_UNIT:
        raise ValueError(f"unit: expected one of {', '.join(DAYS_PER_UNIT)}, got {unit!r}")
    scale = DAYS_PER_UNIT[unit]
    x_max = float(table["time"].max()) / scale if len(table) else 0.0
    if step is None:
        step = next((s for s in BREAK_STEPS[unit] if x_max / s + 1 <= MAX_BREAKS), BREAK_STEPS[unit][-1])
    if step <= 0:
        raise ValueError(f"step: expected a positive number, got {step!r}")
    count = int(np.floor(x_max / step + 1e-9)) + 1
    return [k * step * scale for k in range(count)]


def paper_medians(prefix: str, groups: Sequence[str]) -> dict[str, dict]:
    """The paper's median (and interval, when it printed a usable one) per group, in days, from
    ``analysis.paper`` (e.g. ``prefix="outcomes.os_from_cns"``). Groups the paper has no median for
    are left out; a printed interval that is not an interval (``ci_as_printed``) is not used."""
    out = {}
    for group in groups:
        try:
            node = published_value(f"{prefix}.{group}")
        except KeyError:
            continue
        if isinstance(node, Mapping) and node.get("median") is not None:
            out[str(group)] = {"median": float(node["median"]), "ci": node.get("ci")}
    return out


def survival_figure(km, logrank=None, *, paper: str | None = None, unit: str = "months",
                    step: float | None = None, ci: bool = False, medians: bool = True,
                    labels: Mapping | None = None, **kwargs) -> Figure:
    """A fitted ``KaplanMeier`` as the book draws it.

    ``logrank`` (a ``logrank_test`` result) prints its p; ``paper`` (a published-statistics prefix)
    marks the paper's medians; ``ci`` shades the bands (off by default: with three or four groups
    the bands cover each other; ask for them where one or two curves are compared). The x axis is
    in ``unit`` with breaks from :func:`unit_breaks`; the risk table prints at risk (cumulative
    events). The legend names each group in the label registry's words
    (:func:`analysis.pages.labels.group_legend`) unless ``labels`` says otherwise. Other keywords
    (xlabel, ylabel, min_cell, groups_order ...) go to :func:`km_plot`.

    With ``min_cell`` = k > 0 the curves, medians and risk table are redrawn from events grouped
    into periods of at least k on a one-month grid (see :func:`km_plot`), with the fit's own
    confidence type for any band; the log-rank p and the paper's medians are drawn as without it.
    """
    table = km.table_
    groups = [str(g) for g in pd.unique(table["group"])]
    breaks = unit_breaks(table, unit, step)
    return km_plot(
        table, km.risk_table(breaks), time_unit=unit, ci=ci, risk_columns=("n_risk", "n_events"),
        labels={**{g: group_legend(g) for g in groups}, **(labels or {})},
        medians=km.summary_ if medians else None,
        pvalue=None if logrank is None or len(groups) < 2 else float(logrank.p),
        paper=paper_medians(paper, groups) if paper else None,
        risk_labels={g: RISK_ROW_LABELS.get(g, g) for g in groups},
        **{"conf_type": getattr(km, "conf_type", "log"), **kwargs},
    )
