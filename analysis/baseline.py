"""The baseline table of the CNS patients by group (the paper's Table 2)."""

from __future__ import annotations

import pandas as pd

from analysis.report import fmt_p
from analysis.tables import table_one

# column -> (label, analysis of schema.yaml that needs it, test)
BASELINE_VARIABLES = {
    "age_at_cns": ("Age at CNS diagnosis (years)", None, "kruskal"),
    "ecog_at_cns": ("ECOG performance status", "performance_status", None),
    "cns_symptoms": ("Neurological symptoms", "cns_symptoms", None),
    "bone_mets_at_cns": ("Bone involvement", "bone_involvement", None),
    "skull_mets_at_cns": ("Skull involvement", "skull_involvement", "chisq"),
    "soft_tissue_mets_at_cns": ("Soft-tissue metastasis", None, None),
    "histology": ("Histology", "lobular_histology", None),
    "csf_cytology": ("CSF cytology", "csf_cytology", None),
}
FLAG_LEVELS = {0: "no", 1: "yes"}


def baseline_table(cohort) -> tuple[pd.DataFrame, list[str]]:
    """Characteristics at CNS diagnosis by group, with p-values and the tests named.

    Categorical rows give n (% of the group's non-missing values) and use Fisher's exact test
    when an expected count is below 5, else chi-squared without continuity correction (skull
    involvement: chi-squared, as the paper); age gives median (IQR) and the Kruskal-Wallis test.
    Variables whose column the file lacks are left out, with a note.
    """
    data = cohort.data[cohort.data["cns"] == 1].copy()
    data["group"] = data["group"].astype(str)
    variables, labels, tests, notes = [], {}, {}, []
    for column, (label, analysis, test) in BASELINE_VARIABLES.items():
        if column not in data.columns or (analysis and cohort.switched_off_note(analysis)):
            notes.append(f"{label}: not in this cohort file.")
            continue
        if data[column].notna().sum() == 0:
            continue
        if column not in ("age_at_cns", "histology", "csf_cytology"):
            data[column] = data[column].map(
                lambda v: FLAG_LEVELS.get(v, str(v)) if pd.notna(v) and column != "ecog_at_cns"
                else (str(int(v)) if pd.notna(v) else None))
        elif column != "age_at_cns":
            data[column] = data[column].astype(object).where(data[column].notna(), None)
        else:
            data[column] = data[column].astype(float)
        variables.append(column)
        labels[column] = label
        if test:
            tests[column] = test
    table = table_one(data, "group", variables, tests=tests, labels=labels,
                      categorical=[v for v in variables if v != "age_at_cns"])
    notes = list(table.attrs.get("footnotes", [])) + notes
    table["p"] = [fmt_p(p) if pd.notna(p) else "" for p in table["p"]]
    table = table.rename(columns={"variable": "characteristic", "level": ""})
    return table.set_index(["characteristic", ""]), notes
