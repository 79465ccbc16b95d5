"""Does a computed figure match the paper's? The one judge, its tolerances and its statuses.

Both the reproduction scorecard (:func:`scorecard`, one row per published figure) and the synthetic
cohort's calibration report (``analysis.study.calibration``, confidence limits one by one) ask
:func:`judge`; a known misprint turns a mismatch into "paper issue" through :func:`explained`.

Every leaf of ``data/published-statistics.yaml`` (outside ``study`` and ``paper_issues``) is one
row: the paper's value as printed, the computed value under the same id, the difference, and a
status. The rules depend on the kind of figure (the last part of its id):

=====================  ==========================================================  ==============
kind                   "exact" when                                                "within
                                                                                   tolerance"
=====================  ==========================================================  ==============
counts (n, of, ...)    equal                                                        never
percentages (pct)      equal at the paper's one decimal                             never
medians, min, max      equal                                                        never
median CI (ci)         both bounds equal                                            each within 5%
hazard ratio (hr)      equal at the paper's three decimals                          within 5%
HR CI (ci under a HR)  both bounds equal at three decimals                          each within 10%
p-value (p)            equal at the paper's digits                                  within 25%
printed bound "<x"     the computed p is below x                                    (holds)
=====================  ==========================================================  ==============

Anything else is "differs"; a figure with no computed value is "not computable", and one the
paper itself prints impossibly (see ``paper_issues``) is "paper issue". A differing figure is shown,
never hidden. "Met" (:data:`MET`) is exact, within tolerance or paper issue.

A target the book had to *read* (a misprint read through ``data/paper-interpretation.yaml``) is not a
status of its own: the agreement is judged like any other figure's, and the reading is a note beside
it. So the scorecard and the calibration report count in one vocabulary.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

from analysis.paper.published import flatten, load_published

EXACT, WITHIN, DIFFERS, PAPER_ISSUE, NOT_COMPUTABLE = (
    "exact", "within tolerance", "differs", "paper issue", "not computable")
STATUSES = (EXACT, WITHIN, DIFFERS, PAPER_ISSUE, NOT_COMPUTABLE)
#: the statuses under which a figure counts as reproduced
MET = (EXACT, WITHIN, PAPER_ISSUE)
SKIPPED_SECTIONS = ("study", "paper_issues")
COUNT_KEYS = {"n", "of", "n_abc", "chemotherapy", "endocrine", "did_not_complete", "prior_srs_in_BL"}
#: How far a computed figure may sit from the printed one and still reproduce it (relative), in one
#: place: the scorecard, the calibration report and the synthetic generator's search all read it.
TOLERANCES = {
    "hr": 0.05,         # hazard ratios
    "hr_ci": 0.10,      # their confidence limits
    "p": 0.25,          # printed p-values
    "median_ci": 0.05,  # Kaplan-Meier median CI limits where not exactly achievable
}
# Ids whose printed value cannot be a real result; the scorecard says so instead of comparing.
PAPER_ISSUE_IDS = {
    "outcomes.os_from_cns.L.ci_as_printed": "outcomes.os_from_cns.L.ci",
}
# Median CIs whose printed upper limit R's log band cannot give (it is NA with 13 uncensored times:
# paper-interpretation.yaml, bl_upper_confidence_limits). Where the computed upper limit is NA and
# the lower limit is met, the figure is the paper's issue, as the calibration report records it.
NA_UPPER_LIMIT_IDS = {
    "backgrounds.time_abc_to_cns_by_group.BL.ci", "outcomes.os_from_cns.BL.ci", "outcomes.os_from_abc.BL.ci",
}
FOLLOWUP_PLAIN_MEDIAN = "cohort.followup_from_abc.median"
# Shares the paper rounded so that the three groups add up to 100% (13/102 is 12.7%, printed 12.8%).
ROUNDED_TO_TOTAL = {"cohort.groups.BL.pct"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not (
        isinstance(value, float) and math.isnan(value))


def _decimals(printed: Any) -> int:
    text = repr(printed) if isinstance(printed, float) else str(printed)
    return len(text.split(".")[1]) if "." in text else 0


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b) if b else (0.0 if a == b else math.inf)


def kind_of(dotted: str, parent_has_hr: bool) -> str:
    last = dotted.rsplit(".", 1)[-1]
    if ".survival_days." in dotted:
        return "times"
    if last in COUNT_KEYS or dotted.endswith(".n"):
        return "count"
    if last == "pct":
        return "pct"
    if last in {"median", "min", "max"}:
        return "time"
    if last == "ci":
        return "hr_ci" if parent_has_hr else "median_ci"
    if last == "hr":
        return "hr"
    if last == "p":
        return "p"
    if last == "survival_days":
        return "times"
    return "text"


def judge(kind: str, paper: Any, computed: Any) -> tuple[str, float | None]:
    """Status and difference (computed - paper, or the worse bound's) for one figure."""
    if computed is None or (isinstance(computed, float) and math.isnan(computed)):
        return NOT_COMPUTABLE, None
    if kind == "text" or isinstance(paper, bool):
        return "not computable", None
    if kind == "p" and isinstance(paper, str):
        match = re.fullmatch(r"\s*<\s*([0-9.eE-]+)\s*", paper)
        if not match:
            return "not computable", None
        return ("within tolerance" if computed < float(match.group(1)) else "differs"), None
    if kind in {"median_ci", "hr_ci", "times"}:
        if not isinstance(computed, (list, tuple)) or len(computed) != len(paper):
            return "differs", None
        if any(c is None or (isinstance(c, float) and math.isnan(c)) for c in computed):
            return "not computable", None  # a limit R reports as NA
        digits = 3 if kind == "hr_ci" else _decimals(paper[0])
        diffs = [c - p for c, p in zip(computed, paper)]
        worst = max(diffs, key=abs)
        if all(round(c, digits) == round(p, digits) for c, p in zip(computed, paper)):
            return "exact", worst
        if kind == "times":
            return "differs", worst
        tol = TOLERANCES[kind]
        ok = all(_rel(c, p) <= tol for c, p in zip(computed, paper))
        return ("within tolerance" if ok else "differs"), worst
    if not _is_number(paper) or not _is_number(computed):
        return "differs", None
    diff = computed - paper
    if kind in {"count", "time"}:
        return ("exact" if computed == paper else "differs"), diff
    if kind == "pct":
        return ("exact" if round(computed, 1) == round(paper, 1) else "differs"), diff
    digits = _decimals(paper)
    if round(computed, digits) == round(paper, digits):
        return "exact", diff
    return ("within tolerance" if _rel(computed, paper) <= TOLERANCES[kind] else "differs"), diff


def judge_limit(kind: str, paper: Any, computed: Any) -> tuple[str, float | None]:
    """One confidence limit of a ``median_ci`` or ``hr_ci`` figure, judged as :func:`judge` judges the
    pair (exact at the printed digits, else within the kind's tolerance); ``computed`` may be None."""
    return judge(kind, [paper], [computed] if computed is not None else None)


def explained(status: str, issue: str | None) -> str:
    """A figure that is not met but whose mismatch a documented paper issue explains is "paper issue"."""
    return PAPER_ISSUE if issue and status not in MET else status


def rule_text(kind: str, paper: Any = None) -> str:
    """The rule :func:`judge` applies to a figure of this kind, in words (the calibration report's column)."""
    if kind == "p" and isinstance(paper, str):
        return f"bound holds (p {paper})"
    return {
        "median_ci": f"exact (else within {TOLERANCES['median_ci']:.0%})",
        "hr": f"within {TOLERANCES['hr']:.0%} relative",
        "hr_ci": f"within {TOLERANCES['hr_ci']:.0%} relative (profile likelihood)",
        "p": f"within {TOLERANCES['p']:.0%} relative",
    }.get(kind, "exact")


def scorecard(computed: dict[str, Any], published: dict | None = None) -> pd.DataFrame:
    """One row per published figure: id, paper, computed, difference, status, rule.

    ``computed`` maps ids to values (``results.json`` or
    :func:`analysis.study.reproduction.all_figures`).
    """
    published = published or load_published()
    rows = []
    for section, tree in published.items():
        if section in SKIPPED_SECTIONS or not isinstance(tree, dict):
            continue
        flat = flatten(tree, section)
        for dotted, paper in flat.items():
            parent = dotted.rsplit(".", 1)[0]
            kind = kind_of(dotted, f"{parent}.hr" in flat)
            if kind == "text" and dotted not in PAPER_ISSUE_IDS:
                continue  # words (methods, findings, notes) are not figures
            if dotted in PAPER_ISSUE_IDS:
                value = computed.get(PAPER_ISSUE_IDS[dotted])
                rows.append(dict(id=dotted, paper=paper, computed=value, difference=None,
                                 status="paper issue", kind="median_ci"))
                continue
            value = computed.get(dotted)
            status, diff = judge(kind, paper, value)
            if dotted == FOLLOWUP_PLAIN_MEDIAN and status == "differs" and _decimals(paper) and \
                    float(paper) % 1 == 0.5:
                status = "paper issue"  # a plain median of an odd count of whole days cannot end in .5
            if dotted in ROUNDED_TO_TOTAL and status == "differs" and abs(diff) <= 0.1 + 1e-9:
                status = "paper issue"
            if dotted in NA_UPPER_LIMIT_IDS and status == NOT_COMPUTABLE and isinstance(value, (list, tuple)):
                lower, _ = judge_limit(kind, paper[0], value[0])
                status = explained(status, "bl_upper_confidence_limits" if lower in MET else None)
            rows.append(dict(id=dotted, paper=paper, computed=value, difference=diff, status=status,
                             kind=kind))
    # object dtype: a count stays an int, a CI stays a list
    return pd.DataFrame(rows, columns=["id", "paper", "computed", "difference", "status", "kind"], dtype=object)


def totals(card: pd.DataFrame) -> pd.Series:
    """Figures per status, in the fixed order of STATUSES (zeros kept)."""
    return card["status"].value_counts().reindex(list(STATUSES), fill_value=0)
