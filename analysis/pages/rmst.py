"""The restricted-mean-survival table: each group's RMST and its difference from the reference group."""

from __future__ import annotations

import pandas as pd

from analysis.pages.format import figure_text, p_cell

RMST_METHOD = ("Restricted mean survival time: the area under each group's Kaplan-Meier curve up to the "
               "horizon, with R's standard error (print(survfit, rmean = tau)); differences from the "
               "reference group with a normal 95% interval and z test (independent groups, as survRM2's "
               "rmst2). No proportional-hazards assumption.")


def rmst_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The section's ``rmst`` table for reading: days, one decimal; the reference row has no difference."""
    rows = []
    for r in frame.itertuples():
        has_diff = r.diff is not None and r.diff == r.diff
        rows.append({
            "group": r.group,
            "RMST, days (s.e.)": f"{figure_text(r.rmst, 1)} ({figure_text(r.se, 1)})",
            "difference from reference, days (95% CI)":
                f"{figure_text(r.diff, 1)} ({figure_text([r.lower, r.upper], 1)})" if has_diff else "reference",
            "p": p_cell(r.p) if has_diff else "",
        })
    return pd.DataFrame(rows).set_index("group")
