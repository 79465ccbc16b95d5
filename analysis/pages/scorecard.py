"""The scorecard page: totals by status and every published figure, grouped by the chapter section
that shows it (a linked heading row each), recorded for results.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from analysis.pages.comparison import comparison_html, comparison_rows
from analysis.pages.labels import CHAPTERS
from analysis.results import Results
from analysis.paper import STATUSES, scorecard, totals

# figure block (chapter.block) -> (section heading, its anchor on the chapter page); a block not
# listed links to the top of its chapter. tests/test_browser.py checks that every anchor resolves.
SECTIONS = {
    "cohort.n_abc": ("From the whole cohort to the three groups", "from-the-whole-cohort-to-the-three-groups"),
    "cohort.n_cns": ("From the whole cohort to the three groups", "from-the-whole-cohort-to-the-three-groups"),
    "cohort.groups": ("From the whole cohort to the three groups", "from-the-whole-cohort-to-the-three-groups"),
    "cohort.followup_from_abc": ("How long were patients followed?", "how-long-were-patients-followed"),
    "cohort.followup_from_cns": ("How long were patients followed?", "how-long-were-patients-followed"),
    "cohort.time_abc_to_cns_all": ("Time from advanced disease to CNS metastases",
                                   "time-from-advanced-disease-to-cns-metastases"),
    "backgrounds.bone_involvement_at_cns_L": ("The patients at the CNS diagnosis", "the-patients-at-the-cns-diagnosis"),
    "backgrounds.skull_involvement": ("The patients at the CNS diagnosis", "the-patients-at-the-cns-diagnosis"),
    "backgrounds.lobular_histology": ("The patients at the CNS diagnosis", "the-patients-at-the-cns-diagnosis"),
    "backgrounds.time_abc_to_cns_by_group": ("Time from advanced disease to CNS metastases, by group",
                                             "time-from-advanced-disease-to-cns-metastases-by-group"),
    "backgrounds.risk_of_bm_multivariate": ("Which sites at diagnosis went with later CNS metastases?",
                                            "which-sites-at-diagnosis-went-with-later-cns-metastases"),
    "backgrounds.risk_of_lm_multivariate": ("Which sites at diagnosis went with later CNS metastases?",
                                            "which-sites-at-diagnosis-went-with-later-cns-metastases"),
    "treatments.initial_rt": ("Initial treatment", "initial-treatment"),
    "treatments.bsc_without_rt": ("Initial treatment", "initial-treatment"),
    "treatments.prior_srs_in_BL": ("Initial treatment", "initial-treatment"),
    "treatments.systemic_before_rt": ("Systemic therapy before RT", "systemic-therapy-before-rt"),
    "treatments.craniospinal_irradiation": ("Craniospinal irradiation and intrathecal therapy",
                                            "craniospinal-irradiation-and-intrathecal-therapy"),
    "treatments.intrathecal_therapy": ("Craniospinal irradiation and intrathecal therapy",
                                       "craniospinal-irradiation-and-intrathecal-therapy"),
    "treatments.subsequent_systemic_therapy": ("Subsequent systemic therapy", "subsequent-systemic-therapy"),
    "outcomes.deaths_at_cutoff": ("Deaths at the cut-off", "deaths-at-the-cut-off"),
    "outcomes.os_from_cns": ("Survival from the diagnosis of CNS metastases",
                             "survival-from-the-diagnosis-of-cns-metastases"),
    "outcomes.os_from_abc": ("Survival from the diagnosis of advanced breast cancer",
                             "survival-from-the-diagnosis-of-advanced-breast-cancer"),
    "outcomes.cause_of_death": ("Cause of death", "cause-of-death"),
    "risk_factors.all_cns": ("All patients with CNS metastases", "all-patients-with-cns-metastases"),
    "risk_factors.l_group": ("Group L", "group-l"),
}


def _section(stem: str) -> tuple[str, str]:
    chapter, block = (stem.split(".") + [""])[:2]
    title, anchor = SECTIONS.get(f"{chapter}.{block}", ("", ""))
    name = CHAPTERS.get(chapter, chapter)
    return (f"{name}: {title}" if title else name), f"{chapter}.html" + (f"#{anchor}" if anchor else "")


def scorecard_tables(figures: dict[str, Any], results_path: str | Path | None, min_cell: int = 0
                     ) -> tuple[pd.DataFrame, str]:
    """Totals per status (recorded as ``scorecard.<status>``) and the full table as HTML, one
    readable row per figure (a count with its share, a median with its CI...) under a linked row
    naming the chapter section that shows it."""
    counts = totals(scorecard(figures))
    results = Results("scorecard", results_path)
    results.add("total", int(counts.sum()))
    for status, n in counts.items():
        results.add(status.replace(" ", "_"), int(n))
    rows = comparison_rows(figures, "", min_cell=min_cell)
    sections = {}
    for row in rows:  # group by section: the heading row is keyed by what it links to
        title, href = _section(row["stem"])
        row["chapter"] = href
        sections[href] = (title, href)
    table = comparison_html(rows, "Every published figure: paper and this book", sections=sections,
                            notes=["Times in days. CI: 95% confidence interval. HR: hazard ratio. A row's "
                                   "agreement is that of its worst part, named in brackets. Methods as in the "
                                   "chapters and the Methods page."])
    order = [s for s in STATUSES if s in counts.index] + [s for s in counts.index if s not in STATUSES]
    return counts.reindex(order).rename_axis("Status").to_frame("Figures"), table
