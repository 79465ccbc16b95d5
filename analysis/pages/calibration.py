"""The calibration page: the synthetic cohort's report (every paper figure, the cohort's, the verdict)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from analysis.paths import BUNDLED_COHORT
from analysis.study import calibration_report, calibration_summary
from analysis.pages.chapter import html_table
from analysis.pages.format import figure_text, significant
from analysis.pages.labels import figure_label


def _decimals(printed: str) -> int:
    return len(printed.split(".")[1]) if "." in printed else 0


def _achieved(value, paper: str, rule: str) -> str:
    """The computed value at the decimals the paper printed (a p checked against a bound: 3 significant
    digits; CSI survival days as the list)."""
    if isinstance(value, list):
        return ", ".join(figure_text(v, _decimals(paper)) for v in value)
    if rule.startswith("bound holds"):
        return significant(value)
    return figure_text(value, _decimals(paper))


def _note(text: str) -> str:
    """A note in words: an interpretation-file key ('paper-interpretation.yaml, os_from_cns_L_ci')
    becomes the reading it names."""
    return re.sub(r"(?:see )?paper-interpretation\.yaml,? ?([a-z0-9_]+)?",
                  lambda m: "the book's reading" + (f" \u201c{m.group(1).replace('_', ' ')}\u201d" if m.group(1) else ""),
                  str(text))


def calibration_frame(report):
    """The report in words: the figure named (not its id), its computed value as printed."""
    return pd.DataFrame({
        "Figure": [figure_label(i) for i in report["id"]],
        "Paper": [str(p).replace("[", "").replace("]", "") for p in report["paper"]],
        "Synthetic cohort": [_achieved(v, p, r) for v, p, r in zip(report["achieved"], report["paper"], report["rule"])],
        "Rule": report["rule"], "Status": report["status"], "Note": [_note(n) for n in report["note"]],
    })


def calibration_tables(cohort, page=None):
    """The calibration page's two displays: totals by status and the full report.

    Only for the bundled synthetic cohort (the file the generator writes); for any other cohort, a
    note pointing to the scorecard is returned instead of both tables, so a user's counts are never
    shown here without the small-cell rule the chapters apply. With ``page`` (the chapter's
    :class:`analysis.pages.ChapterPage`), each table comes with its CSV link and goes into the
    build's workbook.
    """
    from IPython.display import Markdown

    if Path(cohort).resolve() != BUNDLED_COHORT.resolve():
        note = Markdown("*This build uses another cohort; see the reproduction scorecard for its comparison "
                        "with the paper.*")
        return note, None
    report = calibration_report(cohort)
    table = page.table if page is not None else html_table
    return (table(calibration_summary(report), "Calibration targets by status", index=False),
            table(calibration_frame(report), "Every calibration target: the paper's figure, the cohort's, the rule and the status",
                       index=False, notes=["Confidence limits are checked one by one (lower and upper limit). "
                                           "A note that begins \u201cassumption\u201d marks a target set by the "
                                           "book's reading of a misprint."]))
