"""Why a Kaplan-Meier median has no upper confidence limit: the note beside the tables that show NA.

The paper prints upper limits for group BL that R's default (log) band cannot give: with 13 deaths
and nobody censored the band stays above 0.5 until the curve reaches 0
(``data/paper-interpretation.yaml``, ``bl_upper_confidence_limits``). A reader meets the NA in the
comparison table, so the argument is made there, from the fit itself, not only on the critique page.
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["open_upper_limit_notes"]


def open_upper_limit_notes(km, counts: bool = True) -> list[str]:
    """One note per group whose median has a lower but no upper limit, saying why (from ``km``, a
    fitted ``KaplanMeier``). ``counts=False`` (disclosure control in force) leaves the group's
    numbers of patients and deaths out of the words."""
    if km is None:  # the cohort could not support the fit; the section's notes say why
        return []
    summary, table = km.summary_, km.table_
    notes = []
    for group, row in summary.iterrows():
        if not (pd.notna(row["median"]) and pd.notna(row["median_lower"]) and pd.isna(row["median_upper"])):
            continue
        steps = table[(table["group"] == group) & (table["surv"] > 0)]
        lowest = float(steps["upper"].min()) if len(steps) else math.nan
        n, events = int(row["n"]), int(row["events"])
        if counts and n == events and n > 1 and pd.notna(lowest):
            notes.append(
                f"NA (group {group}): all {n} patients died and none was censored. After {n - 1} of the {n} "
                f"deaths the curve is at 1/{n} = {1 / n:.3f}, and the upper limit of R's log band is "
                f"1/{n} × exp(1.96 × √({n - 1}/{n})) = {lowest:.3f}, still above 0.5; the last death takes "
                "the curve to 0, where the band is not defined. The band never falls below 0.5, so R gives "
                "no upper limit, and an upper limit printed in the paper cannot come from this band "
                "(see [Reading the paper critically](critique.html))."
            )
        else:
            notes.append(
                f"NA (group {group}): the upper limit of R's log band stays above 0.5 while the curve is above "
                "0, so the median has no upper confidence limit (R reports NA)."
            )
    return notes
