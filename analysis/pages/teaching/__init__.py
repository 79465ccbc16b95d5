"""The primer as a course: loaders that work in any folder, three tools side by side, the later
chapters' worked examples and a figure that responds to the reader without a kernel."""

from analysis.pages.teaching.courses import (
    DAYS_PER_MONTH, cns_causes, competing_figures, nelson_aalen_by_hand, nelson_aalen_figures, rmst_figures,
    time_varying_figures, tv_frames,
)
from analysis.pages.teaching.data import R_REFERENCE, r_reference, synthetic_cohort, synthetic_cohort_path
from analysis.pages.teaching.live import censoring_slider, slider_frames
from analysis.pages.teaching.tools import SNIPPETS, run_snippet, three_tools, tool_figures

__all__ = [
    "synthetic_cohort", "synthetic_cohort_path", "r_reference", "R_REFERENCE",
    "SNIPPETS", "run_snippet", "three_tools", "tool_figures",
    "DAYS_PER_MONTH", "nelson_aalen_by_hand", "nelson_aalen_figures", "rmst_figures", "cns_causes",
    "competing_figures", "tv_frames", "time_varying_figures",
    "censoring_slider", "slider_frames",
]
