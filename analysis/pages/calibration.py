"""The calibration page: the synthetic cohort's report (every paper figure, the cohort's, the verdict)."""

from __future__ import annotations

from pathlib import Path

from analysis.paths import BUNDLED_COHORT
from analysis.study import calibration_report, calibration_summary
from analysis.pages.chapter import html_table
from analysis.pages.format import figure_text, significant


def _decimals(printed: str) -> int:
    return len(printed.split(".")[1]) if "." in printed else 0


def _achieved(value, paper: str, rule: str) -> str:
    """The computed value at the decimals the paper printed (a p checked against a bound: 3 significant
    digits; CSI survival days as the list)."""
    if isinstance(value, list):
        return str(value)
    if rule.startswith("bound holds"):
        return significant(value)
    return figure_text(value, _decimals(paper))


def calibration_frame(report):
    """The report with its computed values as printed."""
    return report.assign(achieved=[_achieved(v, p, r) for v, p, r in
                                   zip(report["achieved"], report["paper"], report["rule"])])


def calibration_tables(cohort):
    """The calibration page's two displays: totals by status and the full report.

    Only for the bundled synthetic cohort (the file the generator writes); for any other cohort, a
    note pointing to the scorecard is returned instead of both tables, so a user's counts are never
    shown here without the small-cell rule the chapters apply.
    """
    from IPython.display import Markdown

    if Path(cohort).resolve() != BUNDLED_COHORT.resolve():
        note = Markdown("*This build uses another cohort; see the reproduction scorecard for its comparison "
                        "with the paper.*")
        return note, None
    report = calibration_report(cohort)
    return (html_table(calibration_summary(report), "Calibration targets by status", index=False),
            html_table(calibration_frame(report), "Every calibration target: the paper's figure, the cohort's, the rule and the status",
                       index=False, notes=["Confidence limits are checked one by one (.ci.lower, .ci.upper). "
                                           "A note that begins \u201cassumption\u201d marks a target set by the "
                                           "book's reading of a misprint."]))
