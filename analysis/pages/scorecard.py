"""The scorecard page: totals by status and every published figure, grouped by the chapter section
that shows it (a linked heading row each), recorded for results.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from analysis.pages.comparison import comparison_html, comparison_rows
from analysis.pages.labels import CHAPTERS
from analysis.pages.takeaway import comparison_frame, neutral_comparison_html
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


def scorecard_tables(figures: dict[str, Any], results_path: str | Path | None, min_cell: int = 0,
                     own: bool = False, store=None) -> tuple[pd.DataFrame, str]:
    """Totals per status (recorded as ``scorecard.<status>``) and the full table as HTML, one
    readable row per figure (a count with its share, a median with its CI...) under a linked row
    naming the chapter section that shows it.

    ``own``: a user's cohort, which is not expected to reproduce the paper: the table sets this
    cohort's figures beside the paper's without a verdict, and the totals count what could be
    computed (statuses are still recorded in results.json, for whoever wants them). ``store``: the
    page's :class:`analysis.pages.takeaway.TableStore`, which puts the full table's CSV link under it
    (and the table in the build's workbook).
    """
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
    def link(caption: str, notes: list[str]) -> str:
        return store.link(comparison_frame(rows, own), caption, notes, index=False) if store is not None else ""

    if own:
        caption = "Every published figure: this cohort, and the paper for comparison"
        notes = ["Times in days. CI: 95% confidence interval. HR: hazard ratio. Methods as in the chapters "
                 "and the Methods page. NA: this cohort file lacks what the figure needs, or the figure is "
                 "undefined on it."]
        table = neutral_comparison_html(rows, caption, sections=sections, notes=notes) + link(caption, notes)
        computable = int(counts.sum() - counts.get("not computable", 0))
        frame = pd.DataFrame({"Figures": [computable, int(counts.get("not computable", 0))]},
                             index=pd.Index(["computed from this cohort", "not computable from this cohort"],
                                            name="Published figures"))
        return frame, table
    caption = "Every published figure: paper and this book"
    notes = ["Times in days. CI: 95% confidence interval. HR: hazard ratio. A row's agreement is that of its "
             "worst part, named in brackets. Methods as in the chapters and the Methods page."]
    table = comparison_html(rows, caption, sections=sections, notes=notes) + link(caption, notes)
    order = [s for s in STATUSES if s in counts.index] + [s for s in counts.index if s not in STATUSES]
    return counts.reindex(order).rename_axis("Status").to_frame("Figures"), table


TITLES = {False: "Reproduction scorecard", True: "Comparison with the published study"}


def scorecard_text(counts: pd.DataFrame, own: bool) -> str:
    """The page's reading guide (MyST): for the reproduction, the totals in a sentence and the rules
    of the statuses; for a user's cohort, what the comparison is and is not."""
    if not own:
        return RULES.format(**_totals(counts))
    return ("Every figure the paper prints, set beside the value computed from this cohort. This cohort is "
            "not the paper's: the two are expected to differ, and a difference is a finding about the "
            "cohorts (their patients, their care, their follow-up), not an error. A count is shown with "
            "its denominator and share, a median with its interval and a hazard ratio with its interval "
            "and p, in one row; the rows are grouped under a link to the chapter section that shows them.")


def scorecard_intro(own: bool) -> str:
    """The page's first paragraph (the reproduction's; a user's cohort gets :func:`scorecard_text`)."""
    return "" if own else INTRO


def _totals(counts: pd.DataFrame) -> dict[str, int]:
    n = counts["Figures"]
    get = lambda status: int(n.get(status, 0))  # noqa: E731
    return dict(total=int(n.sum()), exact=get("exact"), within=get("within tolerance"),
                differs=get("differs"), issue=get("paper issue"), na=get("not computable"))


INTRO = """Every figure the paper prints, beside the value this book computes from the cohort file, and whether
the two agree. Nothing is left out: a figure that differs is listed as differing. A count is shown with
its denominator and share, a median with its interval and a hazard ratio with its interval and p, in one
row; the rows are grouped under a link to the chapter section that shows them."""


RULES = """Of the {total} figures the paper prints, {exact} are reproduced
exactly and {within} within tolerance;
{differs} differ, {issue} are printed in a way no data
could reproduce (see {{doc}}`critique`) and
{na} cannot be computed from this cohort file.

The statuses follow fixed rules, the same for every cohort:

exact
: counts, medians and ranges equal; percentages equal at the paper's one decimal; hazard ratios and
  p-values equal at the paper's printed digits.

within tolerance
: median confidence limits within 5%, hazard ratios within 5%, their confidence limits within 10%,
  p-values within 25% (relative); a printed bound such as "<0.01" holds.

differs
: outside those tolerances.

paper issue
: the printed figure is impossible (a confidence limit on the wrong side of its median; a plain median
  of an odd number of whole days ending in .5).

not computable
: the cohort file lacks what the figure needs, or the figure is undefined (R would say NA).
"""
