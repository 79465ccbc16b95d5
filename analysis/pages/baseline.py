"""The baseline table of the CNS patients by group (the paper's Table 2)."""

from __future__ import annotations

import pandas as pd

from analysis.pages.format import p_cell
from analysis.pages.table_one import table_one

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
TEST_MARKS = ("\u1d43", "\u1d47", "\u1d9c", "\u1d48")  # superscript a, b, c, d


def baseline_table(cohort) -> tuple[pd.DataFrame, list[str]]:
    """Characteristics at CNS diagnosis by group, with p-values and the tests named.

    Categorical rows give n (% of the group's non-missing values) and use Fisher's exact test
    when an expected count is below 5, else chi-squared without continuity correction (skull
    involvement: chi-squared, as the paper); age gives median (IQR) and the Kruskal-Wallis test.
    Each p-value carries a superscript letter naming its test in the notes. Variables whose column
    the file lacks are left out, with a note.
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
    table = table_one(data, "group", variables, tests=tests, labels=labels, overall=False,
                      categorical=[v for v in variables if v != "age_at_cns"])
    # The test of each p-value is a superscript letter with a footnote (a column of test names
    # would push the table past the text width).
    letters = {name: TEST_MARKS[i] for i, name in enumerate(dict.fromkeys(t for t in table["test"] if t))}
    footnotes = table.attrs.get("footnotes", [])
    explained = {name: note.split(": ", 1)[1] for note in footnotes for name in letters
                 if note.startswith(f"{name}: ")}
    table["p"] = [f"{p_cell(p)}{letters.get(test, '')}" if pd.notna(p) else ""
                  for p, test in zip(table["p"], table["test"])]
    notes = [f"{mark} {explained.get(name, name)}" for name, mark in letters.items()] + [
        note for note in footnotes if not any(note.startswith(f"{name}: ") for name in letters)] + notes
    table = table.drop(columns="test").rename(columns={"variable": "characteristic", "level": ""})
    return table.set_index(["characteristic", ""]), notes
