"""The immortal-time chapter's table: the therapy's hazard ratio under each analysis."""

from __future__ import annotations

import pandas as pd

from analysis.pages.format import figure_text, p_cell


def immortal_time_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """The section's ``comparison`` table: patients, deaths, treated, HR (95% CI) and p per analysis."""
    table = comparison.copy()
    table["HR (95% CI)"] = [f"{figure_text(r.hr, 3, trim=True)} ({figure_text([r.lower, r.upper], 3, trim=True)})"
                            for r in table.itertuples()]
    table["p"] = table["p"].map(p_cell)
    return table[["patients", "deaths", "treated", "HR (95% CI)", "p"]]
