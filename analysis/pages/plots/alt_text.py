"""One-sentence alt texts of the figures, written from the same tables the figures are drawn from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from analysis.stats import require_columns
from analysis.pages.format import days_text, label_number, p_prose, word_list
from analysis.pages.plots.style import _group_order


def alt_text_km(summary: pd.DataFrame, what: str, *, groups_order: Sequence | None = None,
                labels: Mapping | None = None, unit: str = "days") -> str:
    """One-sentence alt text of a Kaplan-Meier figure from ``KaplanMeier.summary_``.

    Example: "Kaplan-Meier curves of overall survival from CNS diagnosis for
    groups B, BL and L; medians 295, 146 and 99 days." A median that is NaN is
    "not reached".
    """
    require_columns(summary, ["median"], "summary column")
    summary = summary.set_axis([str(i) for i in summary.index])
    groups = _group_order(list(summary.index), groups_order)
    labels = {str(k): str(v) for k, v in (labels or {}).items()}
    names = [labels.get(g, g) for g in groups]
    medians = [days_text(summary.loc[g, "median"]) for g in groups]
    what = what.strip().rstrip(".")
    if len(groups) == 1:
        median = medians[0]
        tail = f"median {median}" + (f" {unit}" if median != "not reached" else "")
        return f"Kaplan-Meier curve of {what}; {tail}."
    reached = [m for m in medians if m != "not reached"]
    tail = f"medians {word_list(medians)}" + (f" {unit}" if reached else "")
    return f"Kaplan-Meier curves of {what} for groups {word_list(names)}; {tail}."


def alt_text_forest(coefficients: pd.DataFrame, what: str, *, label_col: str | None = None, hr: str = "hr",
                    lower: str = "hr_profile_lower", upper: str = "hr_profile_upper", p: str | None = "p_lr",
                    digits: int = 2) -> str:
    """One-sentence alt text of a forest plot from ``CoxModel.coefficients_``.

    Example: "Forest plot of hazard ratios (95% CI) for overall survival: age
    1.01 (0.99-1.03; p = 0.2290), sex 0.58 (0.41-0.80; p = 0.0007)."
    """
    columns = [hr, lower, upper] + ([p] if p is not None else []) + ([label_col] if label_col else [])
    require_columns(coefficients, columns, "coefficients column")
    row_labels = [str(v) for v in (coefficients[label_col] if label_col else coefficients.index)]
    parts = []
    for i, name in enumerate(row_labels):
        row = coefficients.iloc[i]
        details = [f"{label_number(row[lower], digits)}\u2013{label_number(row[upper], digits)}"]
        if p is not None:
            details.append(f"p {p_prose(row[p])}")
        parts.append(f"{name} {label_number(row[hr], digits)} ({'; '.join(details)})")
    what = what.strip().rstrip(".")
    return f"Forest plot of hazard ratios (95% CI) for {what}: {', '.join(parts)}."
