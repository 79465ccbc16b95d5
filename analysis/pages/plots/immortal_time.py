"""Figures of the immortal-time chapter: the schematic of one treated patient, and the forest plot of
the therapy's hazard ratio under each analysis."""

from __future__ import annotations

import pandas as pd

from analysis.pages.plots.forest import forest_plot
from analysis.pages.plots.style import FONT_SIZE, OKABE_ITO, SMALL_FONT_SIZE


def immortal_time_diagram():
    """A schematic (no data): one treated patient's follow-up as the naive model and the
    time-varying model see it."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 2.6))
    start, death = 4.0, 10.0
    rows = [("Naive model", [(0, death, OKABE_ITO[2], "counted as treated")]),
            ("Time-varying model", [(0, start, OKABE_ITO[4], "untreated"),
                                    (start, death, OKABE_ITO[2], "treated")])]
    for y, (label, pieces) in zip((1.0, 0.0), rows):
        for left, right, colour, text in pieces:
            ax.add_patch(plt.Rectangle((left, y - 0.25), right - left, 0.5, color=colour, alpha=0.35))
            ax.text((left + right) / 2, y, text, ha="center", va="center", fontsize=SMALL_FONT_SIZE)
        ax.text(-0.3, y, label, ha="right", va="center", fontsize=FONT_SIZE)
    ax.annotate("immortal time:\nthe patient had to\nsurvive to be treated", xy=(start / 2, 1.27),
                xytext=(start / 2, 1.75), ha="center", fontsize=SMALL_FONT_SIZE,
                arrowprops={"arrowstyle": "->", "color": "black"})
    for x, text in ((0, "CNS diagnosis"), (start, "therapy starts"), (death, "death")):
        ax.axvline(x, color="grey", linewidth=0.8, linestyle=":")
        ax.text(x, -0.55, text, ha="center", va="top", fontsize=SMALL_FONT_SIZE)
    ax.set_xlim(-4.5, 11)
    ax.set_ylim(-0.9, 2.3)
    ax.axis("off")
    fig.tight_layout()
    return fig


def immortal_time_forest(comparison: pd.DataFrame):
    """The therapy's hazard ratio under each analysis (the section's ``comparison`` table)."""
    return forest_plot(comparison, lower="lower", upper="upper", p="p",
                       title="Subsequent systemic therapy: hazard ratio for death")
