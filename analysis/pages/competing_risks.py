"""The competing-risks chapter's tables: cumulative incidence read at fixed days, cause-specific Cox and Fine-Gray models."""

from __future__ import annotations

import pandas as pd

from analysis.pages.format import figure_text, p_cell

CIF_COLUMNS = {"cif_1": "CNS progression (%)", "cif_2": "other causes (%)"}
CAUSE_SPECIFIC_P = "p of the group term (likelihood ratio, 2 df)"


def cif_table(read: pd.DataFrame) -> pd.DataFrame:
    """The section's ``cif_at`` table in percent, indexed by group and day."""
    table = read.rename(columns=CIF_COLUMNS)
    for column in CIF_COLUMNS.values():
        if column in table:
            table[column] = (100 * table[column]).round(1)
    return table.rename(columns={"time": "days after CNS diagnosis"}).set_index(["group", "days after CNS diagnosis"])


def cause_specific_table(models: pd.DataFrame) -> pd.DataFrame:
    """The section's ``cause_specific`` table: HR (95% CI) and the group term's p, by cause and group."""
    if models.empty:  # no model could be fitted (a small cohort): an empty table with its headings
        return pd.DataFrame(columns=["HR (95% CI)", CAUSE_SPECIFIC_P],
                            index=pd.MultiIndex.from_arrays([[], []], names=["cause", "group vs B"]))
    table = models.copy()
    table["HR (95% CI)"] = [f"{figure_text(r.HR, 3, trim=True)} ({figure_text([r.lower, r.upper], 3, trim=True)})"
                            for r in table.itertuples()]
    if CAUSE_SPECIFIC_P not in table:  # the group term could not be tested (a small cohort): say so, not a KeyError
        table[CAUSE_SPECIFIC_P] = float("nan")
    table[CAUSE_SPECIFIC_P] = table[CAUSE_SPECIFIC_P].map(p_cell)
    return table.set_index(["cause", "group vs B"])[["HR (95% CI)", CAUSE_SPECIFIC_P]]


def fine_gray_table(models: pd.DataFrame) -> pd.DataFrame:
    """The section's ``fine_gray`` table: subdistribution HR (95% CI) and its p, by cause and group."""
    if models.empty:
        return pd.DataFrame(columns=["subdistribution HR (95% CI)", "p"],
                            index=pd.MultiIndex.from_arrays([[], []], names=["cause", "group vs B"]))
    table = models.copy()
    table["subdistribution HR (95% CI)"] = [
        f"{figure_text(r.HR, 3, trim=True)} ({figure_text([r.lower, r.upper], 3, trim=True)})"
        for r in table.itertuples()]
    table["p"] = table["p (Wald, robust s.e.)"].map(p_cell)
    return table.set_index(["cause", "group vs B"])[["subdistribution HR (95% CI)", "p"]]
