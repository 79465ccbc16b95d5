"""Which analysis gives which figure: a ``Cohort`` in, a ``Section`` of numbers and fits out.

Sections hold numbers, tables and fitted models, never display strings or figures; ``pages`` shows
them. ``precision`` says how many decimals each figure is reported at (the pages print at it, the
sensitivity section compares at it).
"""

from analysis.study.calibration import calibration_report, summary as calibration_summary, unmet as calibration_unmet
from analysis.study.competing_risks import CAUSES, CIF_DAYS, competing_risks_section
from analysis.study.critique import critique_figures
from analysis.study.disclosure_events import EventBasis, event_bases, few_events
from analysis.study.immortal_time import LANDMARKS, immortal_time_section
from analysis.study.precision import P_DECIMALS, P_FLOOR, as_reported, reported_digits
from analysis.study.reproduction import (
    COLUMN_LABELS, EXTRA_IDS, METHODS, TERM_LABELS, Section, all_figures, all_sections, backgrounds_figures,
    cohort_figures, firth_refit, outcomes_figures, risk_factor_figures, treatments_figures,
)
from analysis.study.rmst import rmst_section
from analysis.study.sensitivity import CONVENTIONS, sensitivity_section

__all__ = [
    "Section", "METHODS", "TERM_LABELS", "COLUMN_LABELS", "EXTRA_IDS",
    "cohort_figures", "backgrounds_figures", "treatments_figures", "outcomes_figures", "risk_factor_figures",
    "all_sections", "all_figures", "firth_refit",
    "competing_risks_section", "CAUSES", "CIF_DAYS",
    "immortal_time_section", "LANDMARKS",
    "rmst_section",
    "sensitivity_section", "CONVENTIONS",
    "EventBasis", "event_bases", "few_events",
    "critique_figures", "calibration_report", "calibration_summary", "calibration_unmet",
    "P_DECIMALS", "P_FLOOR", "reported_digits", "as_reported",
]
