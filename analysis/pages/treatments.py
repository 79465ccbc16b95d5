"""The treatments chapter's table in the shape of the paper's Table 3: n (%) per group, the
treatments in clinical order (radiotherapy from widest field to most focal, then surgery, then
best supportive care), a total row, N in each header."""

from __future__ import annotations

import pandas as pd

from analysis.cohort import load_schema
from analysis.pages.format import figure_text
from analysis.pages.labels import level_label
from analysis.pages.small_cells import mask_count

TREATMENT_WORDS = {"WBRT": "Whole-brain RT (WBRT)", "SRS": "Stereotactic radiosurgery (SRS)",
                   "focal_RT": "Other focal RT", "CSI": "Craniospinal irradiation (CSI)",
                   "surgery": "Surgery", "BSC": "Best supportive care, no RT (BSC)"}


def initial_treatment_table(counts: pd.DataFrame, min_cell: int = 0) -> pd.DataFrame:
    """``counts`` (treatment x group, patients) as 'n (%)' of each group, in the schema's order of
    ``initial_cns_treatment`` (the clinical order), with a total row; small counts masked."""
    order = [t for t in load_schema()["initial_cns_treatment"].allowed if t in counts.index]
    order += [t for t in counts.index if t not in order]
    counts = counts.reindex(order).fillna(0).astype(int)
    totals = counts.sum()

    def cell(n: int, of: int) -> str:
        shown = mask_count(int(n), min_cell)
        if shown != int(n):  # a masked count gets no percentage (it would give the count away)
            return str(shown)
        return f"{n}\u00a0({figure_text(100 * n / of, 1)}%)" if of else str(n)

    table = pd.DataFrame({f"Group {g} (N\u00a0=\u00a0{mask_count(int(totals[g]), min_cell)})":
                          [cell(n, totals[g]) for n in counts[g]] + [str(mask_count(int(totals[g]), min_cell))]
                          for g in counts.columns},
                         index=[TREATMENT_WORDS.get(t, level_label(t)) for t in order] + ["Total"])
    return table.rename_axis("Initial CNS treatment")
