"""Cumulative incidence curves of competing causes of death (from the Aalen-Johansen table)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.study import CAUSES
from analysis.pages.plots.style import FONT_SIZE, LINE_STYLES, OKABE_ITO, SMALL_FONT_SIZE


def cif_plot(table: pd.DataFrame, xlabel: str = "Days since diagnosis of CNS metastases"):
    """Cumulative incidence curves: one panel per cause, one step line per group (Okabe-Ito colours,
    distinct line styles, so the curves stay apart in grey print). ``table`` is
    :func:`analysis.study.aalen_johansen`'s: group, time and one ``cif_<cause>`` column per cause; with
    ``lower_<cause>``/``upper_<cause>`` columns (:class:`analysis.stats.CumulativeIncidence`) each curve
    gets its pointwise band, shaded lightly."""
    import matplotlib.pyplot as plt

    causes = [int(col.split("_")[1]) for col in table.columns if col.startswith("cif_")]
    fig, axes = plt.subplots(1, len(causes), figsize=(7.5, 3.6), sharey=True, squeeze=False)
    groups = list(dict.fromkeys(table["group"]))
    for ax, k in zip(axes[0], causes):
        for i, g in enumerate(groups):
            block = table[table["group"] == g]
            x = np.concatenate([[0.0], block["time"].to_numpy()])
            y = np.concatenate([[0.0], block[f"cif_{k}"].to_numpy()])
            colour = OKABE_ITO[i % len(OKABE_ITO)]
            ax.step(x, y, where="post", color=colour,
                    linestyle=LINE_STYLES[i % len(LINE_STYLES)], linewidth=1.8, label=f"Group {g}")
            if f"lower_{k}" in block:  # survfit's pointwise 95% band, where the table carries it
                lo = np.concatenate([[0.0], block[f"lower_{k}"].fillna(0.0).to_numpy()])
                hi = np.concatenate([[0.0], block[f"upper_{k}"].fillna(0.0).clip(upper=1).to_numpy()])
                ax.fill_between(x, lo, hi, step="post", color=colour, alpha=0.12, linewidth=0)
        name = CAUSES.get(k, f"cause {k}")
        ax.set_title(f"Death from {name[0].lower() + name[1:] if name.startswith('Other') else name}",
                     fontsize=FONT_SIZE)
        ax.set_xlabel(xlabel, fontsize=SMALL_FONT_SIZE)
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=SMALL_FONT_SIZE)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("Cumulative incidence", fontsize=FONT_SIZE)
    axes[0][-1].legend(fontsize=SMALL_FONT_SIZE, frameon=False, loc="upper left")
    fig.tight_layout()
    return fig
