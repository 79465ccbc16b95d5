"""Figures of the immortal-time chapter: the schematic of one treated patient, and the forest plot of
the therapy's hazard ratio under each analysis."""

from __future__ import annotations

import pandas as pd

from analysis.paper import published_value
from analysis.pages.plots.forest import forest_plot
from analysis.pages.plots.style import KM_FIGSIZE, KM_FONT_SIZE, KM_SMALL_FONT_SIZE, OKABE_ITO

# The survival figures' width and type, so the words stay legible on a 390 px phone.
FONT_SIZE, SMALL_FONT_SIZE = KM_FONT_SIZE, KM_SMALL_FONT_SIZE


def immortal_time_diagram():
    """A schematic (no data): one treated patient's follow-up as the naive model and the
    time-varying model see it."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(KM_FIGSIZE[0], 2.9))
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
    ax.set_xlim(-5.6, 11.3)
    ax.set_ylim(-0.9, 2.3)
    ax.axis("off")
    fig.tight_layout()
    return fig


# The paper fitted only the naive model: its hazard ratio (no interval printed) marks that row.
PAPER_NAIVE_ID = "risk_factors.all_cns.subsequent_systemic_therapy"


def immortal_time_forest(comparison: pd.DataFrame):
    """The therapy's hazard ratio under each analysis (the section's ``comparison`` table), with the
    paper's value beside the naive model, the only one the paper fitted (its first row)."""
    published = published_value(PAPER_NAIVE_ID)
    paper = None
    if len(comparison) and str(comparison.index[0]).startswith("Naive") and "hr" in published:
        paper = pd.DataFrame({"hr": [published["hr"]], "lower": [float("nan")], "upper": [float("nan")],
                              "p": [published.get("p", float("nan"))]}, index=comparison.index[:1])
    return forest_plot(comparison, lower="lower", upper="upper", p="p", paper=paper,
                       title="Subsequent systemic therapy: hazard ratio for death")
