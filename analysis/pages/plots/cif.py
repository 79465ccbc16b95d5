"""Cumulative incidence curves of competing causes of death (from the Aalen-Johansen table).

Under disclosure control (``min_cell`` > 0) the curves are redrawn by
:func:`analysis.stats.aggregate_cif` from events and censorings grouped, cause by cause, into
periods of at least ``min_cell`` events of the cause, as the Kaplan-Meier figures are.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from analysis.stats import AggregatedCIF, aggregate_cif

from analysis.study import CAUSES
from analysis.pages.plots.style import (DAYS_PER_UNIT, KM_FIGSIZE_NO_TABLE, KM_FONT_SIZE, KM_SMALL_FONT_SIZE,
                                        LINE_STYLES, OKABE_ITO)


def _cause_name(k: int) -> str:
    name = CAUSES.get(k, f"cause {k}")
    return name[0].lower() + name[1:] if name.startswith("Other") else name


def cif_disclosure_note(disclosure: AggregatedCIF, width: int | None = 110) -> str:
    """The method under a figure drawn under disclosure control (and for its caption or alt text)."""
    k = disclosure.min_events
    months = disclosure.period / DAYS_PER_UNIT["months"]
    grid = "1-month" if abs(months - 1) < 1e-9 else f"{disclosure.period:g}-day"
    text = (f"Disclosure control: for each cause, deaths grouped into periods of at least {k} deaths of "
            f"that cause ({grid} grid) and censorings moved to the end of their period before the curves "
            f"were computed, so each step is {k} or more deaths.")
    if disclosure.withheld:
        hidden = "; ".join(f"group {g}, death from {_cause_name(c)}" for g, c in disclosure.withheld)
        text += f" Not drawn (fewer than {k} deaths): {hidden}."
    return text if width is None else textwrap.fill(text, width)


def cif_plot(table: pd.DataFrame, xlabel: str = "Days since diagnosis of CNS metastases", *,
             min_cell: int = 0, period: float | None = None):
    """Cumulative incidence curves: one panel per cause, one step line per group (Okabe-Ito colours,
    distinct line styles, so the curves stay apart in grey print). ``table`` is
    :func:`analysis.study.aalen_johansen`'s: group, time and one ``cif_<cause>`` column per cause; with
    ``lower_<cause>``/``upper_<cause>`` columns (:class:`analysis.stats.CumulativeIncidence`) each curve
    gets its pointwise band, shaded lightly.

    ``min_cell`` = k > 0: disclosure control. The curves and bands are recomputed from the data
    grouped by :func:`analysis.stats.aggregate_cif` (``period`` days a grid cell, default one
    month), a curve with 1..k-1 deaths of its cause is not drawn, and a note under the figure says
    so (gid ``"cif-disclosure-note"``). The figure prints no counts (no numbers at risk)."""
    import matplotlib.pyplot as plt

    if int(min_cell) != min_cell or min_cell < 0:
        raise ValueError(f"min_cell: expected a whole number >= 0, got {min_cell!r}")
    disclosure = None
    if min_cell:
        disclosure = aggregate_cif(table, int(min_cell), DAYS_PER_UNIT["months"] if period is None else period)
        table = disclosure.fit.table_
    withheld = set(disclosure.withheld) if disclosure else set()

    causes = [int(col.split("_")[1]) for col in table.columns if col.startswith("cif_")]
    # One panel per cause, stacked, at the survival figures' width and type size (style.KM_FONT_SIZE):
    # side by side at the page's width, their text was about 7 px high on a 390 px phone.
    width, height = KM_FIGSIZE_NO_TABLE
    fig, axes = plt.subplots(len(causes), 1, figsize=(width, 0.72 * height * len(causes) + 0.4), sharex=True,
                             sharey=True, squeeze=False)
    axes = axes.T
    groups = list(dict.fromkeys(table["group"]))
    for ax, k in zip(axes[0], causes):
        for i, g in enumerate(groups):
            block = table[table["group"] == g]
            if (str(g), k) in withheld:  # fewer than k deaths of this cause: its steps would show them
                block = block.iloc[:0]
            x = np.concatenate([[0.0], block["time"].to_numpy()])
            y = np.concatenate([[0.0], block[f"cif_{k}"].to_numpy()])
            colour = OKABE_ITO[i % len(OKABE_ITO)]
            ax.step(x, y, where="post", color=colour,
                    linestyle=LINE_STYLES[i % len(LINE_STYLES)], linewidth=1.8, label=f"Group {g}")
            if f"lower_{k}" in block:  # survfit's pointwise 95% band, where the table carries it
                lo = np.concatenate([[0.0], block[f"lower_{k}"].fillna(0.0).to_numpy()])
                hi = np.concatenate([[0.0], block[f"upper_{k}"].fillna(0.0).clip(upper=1).to_numpy()])
                ax.fill_between(x, lo, hi, step="post", color=colour, alpha=0.12, linewidth=0)
        ax.set_title(f"Death from {_cause_name(k)}", fontsize=KM_FONT_SIZE, loc="left")
        ax.set_ylabel("Cumulative incidence", fontsize=KM_FONT_SIZE)
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=KM_SMALL_FONT_SIZE)
        ax.grid(alpha=0.3)
    axes[0][-1].set_xlabel(xlabel, fontsize=KM_FONT_SIZE)
    # in the panel and corner the curves leave emptiest (matplotlib's "best": deterministic)
    axes[0][-1].legend(fontsize=KM_SMALL_FONT_SIZE, frameon=False, loc="best")
    fig.tight_layout()
    if disclosure is not None:  # wrapped to the figure's width, below the axes (savefig's tight box takes it in)
        fig.text(0.01, 0.0, cif_disclosure_note(disclosure, width=62), ha="left", va="top",
                 fontsize=KM_SMALL_FONT_SIZE - 1, gid="cif-disclosure-note")
    return fig
