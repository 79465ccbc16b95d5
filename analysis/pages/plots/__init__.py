"""Figures of the book, one module per figure: Kaplan-Meier curves with numbers at risk (``km``), the
forest plot of hazard ratios (``forest``), the patient-flow diagram (``flow``), cumulative incidence
(``cif``), the immortal-time figures (``immortal_time``), the book's survival figure in one call
(``survival``: months, breaks, medians, log-rank p, the paper's medians), the proportional-hazards
residual plot (``zph``), their alt texts (``alt_text``), all in one
style (``style``: palette, line styles, fonts, contrast).

Plots consume the tables of the statistics layer (``KaplanMeier.table_``, ``KaplanMeier.risk_table()``,
``KaplanMeier.summary_``, ``CoxModel.coefficients_``); they never recompute a statistic. Numbers in
labels are written by :mod:`analysis.pages.format`.
"""

from analysis.pages.plots.alt_text import alt_text_forest, alt_text_km
from analysis.pages.plots.cif import cif_plot
from analysis.pages.plots.flow import flow_diagram
from analysis.pages.plots.forest import forest_plot
from analysis.pages.plots.immortal_time import immortal_time_diagram, immortal_time_forest
from analysis.pages.plots.km import hidden_risk_rows, km_plot, risk_times
from analysis.pages.plots.survival import paper_medians, survival_figure, unit_breaks
from analysis.pages.plots.zph import ph_reading, ph_texts, ph_verdict, scaled_schoenfeld, zph_plot, zph_smooth
from analysis.pages.plots.style import (
    CI_ALPHA, DAYS_PER_UNIT, FONT_SIZE, KM_FIGSIZE, KM_FIGSIZE_NO_TABLE, LINE_STYLES, MAX_CENSOR_MARKS,
    MIN_TICK_GAP, OKABE_ITO, SMALL_FONT_SIZE, TEXT_CONTRAST, _text_colour, contrast_ratio,
)

__all__ = [
    "OKABE_ITO", "LINE_STYLES", "FONT_SIZE", "SMALL_FONT_SIZE", "KM_FIGSIZE", "KM_FIGSIZE_NO_TABLE", "CI_ALPHA",
    "MAX_CENSOR_MARKS", "MIN_TICK_GAP", "TEXT_CONTRAST", "contrast_ratio",
    "DAYS_PER_UNIT", "hidden_risk_rows", "km_plot", "risk_times", "survival_figure", "unit_breaks", "paper_medians",
    "scaled_schoenfeld", "zph_plot", "zph_smooth", "ph_reading", "ph_verdict", "ph_texts", "forest_plot", "flow_diagram", "cif_plot", "immortal_time_diagram",
    "immortal_time_forest", "alt_text_km", "alt_text_forest",
]
