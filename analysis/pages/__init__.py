"""How it is shown: chapter pages, tables, figures and their text.

A chapter builds one :class:`ChapterPage`; every number it prints is glued from computation.
"""

from analysis.pages.baseline import baseline_table
from analysis.pages.chapter import (
    ChapterPage, cox_frame, digits_for, fmt, fmt_p, glue_figure, glue_paper, html_table, logrank_frame, note_figure,
    paper_hazard_ratios, zph_frame,
)
from analysis.pages.landing import landing_figures
from analysis.pages.methods import interpretation_table, methods_table
from analysis.pages.plots import (
    FONT_SIZE, LINE_STYLES, OKABE_ITO, SMALL_FONT_SIZE, flow_diagram, forest_plot, format_p, km_plot, p_text,
    risk_times,
)
from analysis.pages.primer import (
    bands_by_hand, bands_plot, censoring_figures, ci_figures, cox_figures, crossing_hazards_sample,
    exponential_survival, follow_up_plot, format_figure, km_by_hand, km_figures, log_minus_log_plot, logrank_by_hand,
    logrank_figures, median_ci_by_band, naive_survival, ph_figures, record, toy_cox, toy_table,
)
from analysis.pages.rerun import broken_example
from analysis.pages.scorecard import scorecard_tables

__all__ = [
    "ChapterPage", "html_table", "glue_figure", "glue_paper", "note_figure",
    "cox_frame", "logrank_frame", "zph_frame", "paper_hazard_ratios", "fmt", "fmt_p", "digits_for",
    "km_plot", "forest_plot", "flow_diagram", "risk_times", "format_p", "p_text",
    "OKABE_ITO", "LINE_STYLES", "FONT_SIZE", "SMALL_FONT_SIZE",
    "baseline_table", "landing_figures", "methods_table", "interpretation_table", "broken_example",
    "scorecard_tables",
    "toy_table", "km_by_hand", "bands_by_hand", "naive_survival", "logrank_by_hand", "exponential_survival",
    "crossing_hazards_sample", "bands_plot", "log_minus_log_plot", "follow_up_plot", "median_ci_by_band",
    "format_figure", "record", "toy_cox",
    "censoring_figures", "km_figures", "ci_figures", "logrank_figures", "cox_figures", "ph_figures",
]
