"""Which analysis gives which figure: a ``Cohort`` in, a ``Section`` of numbers and fits out.

Sections hold numbers, tables and fitted models, never display strings; ``pages`` shows them.
"""

from analysis.study.calibration import calibration_tables
from analysis.study.competing_risks import CIF_DAYS, cif_plot, competing_risks_section
from analysis.study.critique import critique_figures
from analysis.study.immortal_time import LANDMARKS, immortal_time_diagram, immortal_time_section
from analysis.study.reproduction import (
    COLUMN_LABELS, EXTRA_IDS, METHODS, TERM_LABELS, Section, all_figures, all_sections, backgrounds_figures,
    cohort_figures, firth_refit, outcomes_figures, risk_factor_figures, treatments_figures,
)
from analysis.study.sensitivity import CONVENTION_LABELS, VARIANT_LABELS, moved_table, sensitivity_section

__all__ = [
    "Section", "METHODS", "TERM_LABELS", "COLUMN_LABELS", "EXTRA_IDS",
    "cohort_figures", "backgrounds_figures", "treatments_figures", "outcomes_figures", "risk_factor_figures",
    "all_sections", "all_figures", "firth_refit",
    "competing_risks_section", "cif_plot", "CIF_DAYS",
    "immortal_time_section", "immortal_time_diagram", "LANDMARKS",
    "sensitivity_section", "moved_table", "CONVENTION_LABELS", "VARIANT_LABELS",
    "critique_figures", "calibration_tables",
]
