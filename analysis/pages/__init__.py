"""How it is shown: chapter pages, tables, figures and their text.

A chapter builds one :class:`ChapterPage` and calls it (``record``, ``table``, ``optional``,
``figure``, ``comparison``); every number it prints is glued from computation and written by
:mod:`analysis.pages.format`. Each chapter's own tables and figures are built by one module here
(``competing_risks``, ``immortal_time``, ``sensitivity``, ``calibration``...), figures by ``plots``.
"""

from analysis.pages import plots
from analysis.pages.baseline import baseline_table
from analysis.pages.calibration import calibration_tables
from analysis.pages.chapter import (
    ChapterPage, cox_frame, firth_frame, glue_figure, glue_paper, html_table, logrank_frame, note_figure,
    paper_hazard_ratios, zph_frame,
)
from analysis.pages.competing_risks import cause_specific_table, cif_table, fine_gray_table
from analysis.pages.critique import paper_issues_table
from analysis.pages.disclosure import Disclosure
from analysis.pages.format import (
    days_text, figure_text, id_text, label_number, p_cell, p_phrase, p_prose, percent_text, word_list,
)
from analysis.pages.immortal_time import immortal_time_table
from analysis.pages.landing import cohort_scope, landing_figures
from analysis.pages.labels import column_label, group_label, group_legend, header_words, level_label, words
from analysis.pages.labels import figure_label as figure_words
from analysis.pages.median_limits import open_upper_limit_notes
from analysis.pages.methods import interpretation_table, methods_table
from analysis.pages.plots import (
    FONT_SIZE, LINE_STYLES, OKABE_ITO, SMALL_FONT_SIZE, cif_plot, flow_diagram, forest_plot, immortal_time_diagram,
    immortal_time_forest, km_plot, ph_texts, risk_times, survival_figure, zph_plot,
)
from analysis.pages.primer import (
    bands_by_hand, bands_plot, censoring_figures, ci_figures, cox_figures, crossing_hazards_sample,
    exponential_survival, follow_up_plot, km_by_hand, km_figures, log_minus_log_plot, logrank_by_hand,
    logrank_figures, median_ci_by_band, naive_survival, ph_figures, toy_cox, toy_table,
)
from analysis.pages.provenance import provenance
from analysis.pages.takeaway import is_bundled_cohort, neutral_comparison_html
from analysis.pages.teaching import (
    DAYS_PER_MONTH, censoring_slider, cns_causes, competing_figures, nelson_aalen_by_hand, nelson_aalen_figures,
    r_reference, rmst_figures, run_snippet, synthetic_cohort, synthetic_cohort_path, three_tools, time_varying_figures, tool_figures,
    tv_frames,
)
from analysis.pages.rerun import broken_example
from analysis.pages.rmst import RMST_METHOD, rmst_table
from analysis.pages.scorecard import TITLES as SCORECARD_TITLES, scorecard_intro, scorecard_tables, scorecard_text
from analysis.pages.sensitivity import CONVENTION_LABELS, VARIANT_LABELS, figure_label, moved_table, summary_table
from analysis.pages.table_one import table_one
from analysis.pages.treatments import initial_treatment_table

__all__ = [
    "rmst_table", "RMST_METHOD", "open_upper_limit_notes", "Disclosure",
    "ChapterPage", "html_table", "glue_figure", "glue_paper", "note_figure",
    "cox_frame", "firth_frame", "logrank_frame", "zph_frame", "paper_hazard_ratios",
    "figure_text", "id_text", "p_cell", "p_phrase", "p_prose", "label_number", "days_text", "percent_text", "word_list",
    "plots", "km_plot", "forest_plot", "flow_diagram", "risk_times", "cif_plot", "immortal_time_diagram",
    "immortal_time_forest", "survival_figure", "zph_plot", "ph_texts", "OKABE_ITO", "LINE_STYLES", "FONT_SIZE", "SMALL_FONT_SIZE",
    "cohort_scope", "is_bundled_cohort", "neutral_comparison_html",
    "baseline_table", "table_one", "landing_figures", "methods_table", "interpretation_table", "broken_example",
    "scorecard_tables", "scorecard_intro", "scorecard_text", "SCORECARD_TITLES", "calibration_tables", "paper_issues_table",
    "cif_table", "cause_specific_table", "fine_gray_table", "immortal_time_table",
    "moved_table", "summary_table", "figure_label", "CONVENTION_LABELS", "VARIANT_LABELS",
    "initial_treatment_table", "words", "header_words", "column_label", "group_label", "group_legend", "level_label", "provenance", "figure_words",
    "toy_table", "km_by_hand", "bands_by_hand", "naive_survival", "logrank_by_hand", "exponential_survival",
    "crossing_hazards_sample", "bands_plot", "log_minus_log_plot", "follow_up_plot", "median_ci_by_band",
    "toy_cox", "censoring_figures", "km_figures", "ci_figures", "logrank_figures", "cox_figures", "ph_figures",
    "synthetic_cohort", "synthetic_cohort_path", "r_reference", "three_tools", "run_snippet", "tool_figures", "censoring_slider",
    "DAYS_PER_MONTH", "nelson_aalen_by_hand", "nelson_aalen_figures", "rmst_figures", "cns_causes",
    "competing_figures", "tv_frames", "time_varying_figures",
]
