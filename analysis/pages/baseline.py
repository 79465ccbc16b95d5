"""The baseline table of the CNS patients by group (the paper's Table 2)."""

from __future__ import annotations

import pandas as pd

from analysis.pages.disclosure import WITHHELD, Disclosure
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
FLAG_LEVELS = {0: "No", 1: "Yes"}
# Levels in the order clinicians read them (gtsummary prints a factor's levels in this order);
# a level not listed keeps its place after these. "Unknown" (missing) always comes last.
LEVEL_ORDER = ["Yes", "No", "positive", "negative", "not_done", "IDC", "ILC", "other", "unknown", "missing"]
LEVEL_WORDS = {"missing": "Unknown", "not_done": "Not done", "positive": "Positive", "negative": "Negative",
               "other": "Other", "unknown": "Not known", "IDC": "Invasive ductal (IDC)",
               "ILC": "Invasive lobular (ILC)", "median (IQR)": "Median (IQR)"}
TEST_MARKS = ("\u1d43", "\u1d47", "\u1d9c", "\u1d48")  # superscript a, b, c, d


def _clinical_order(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of each characteristic in LEVEL_ORDER (its p-value stays on its first row)."""
    blocks = []
    for _, block in table.groupby("variable", sort=False):
        p, test = block["p"].iloc[0], block["test"].iloc[0]
        rank = {lev: i for i, lev in enumerate(LEVEL_ORDER)}
        block = block.iloc[sorted(range(len(block)), key=lambda i: (rank.get(block["level"].iloc[i], len(rank) - 1)
                                                                      if block["level"].iloc[i] != "missing" else 99, i))]
        block = block.assign(p=[p] + [float("nan")] * (len(block) - 1), test=[test] + [""] * (len(block) - 1))
        blocks.append(block)
    return pd.concat(blocks, ignore_index=True)


def _group_header(key: str, shown: str) -> str:
    return f"{'Overall' if key == 'Overall' else f'Group {key}'} (N\u00a0=\u00a0{shown})"


def _size_key(column: str) -> str:
    return "cns" if column == "Overall" else column


def _protect(table: pd.DataFrame, sizes: pd.Series, groups: list[str], rule: Disclosure, links=()) -> dict[str, str]:
    """Primary and secondary suppression of the count cells, in place; returns each header's N.

    Lines: the levels of one characteristic (with Unknown) add up to the group's N; each row's
    groups add up to its Overall cell; the groups' N to the overall N. A percentage is kept only
    where its characteristic's column holds no suppressed cell (the shares are of the known values,
    so a share beside a suppressed Unknown would give it back). Medians and quartiles of a group
    smaller than min_cell are withheld. ``links``: (cells, published) of figures the prose prints
    as sums of cells ((cohort column, level, group)), protected with the table.
    """
    if not rule.min_cell:
        return {g: str(int(sizes[g])) for g in groups}
    values, lines, at = [], [], {}

    def add(value) -> int:
        values.append(int(value))
        return len(values) - 1

    header = {g: add(int(sizes[g])) for g in groups}
    counted = table[table["level"] != "median (IQR)"]
    for i in counted.index:
        for g in groups:
            at[i, g] = add(int(str(table.at[i, g]).split("\u00a0")[0]))
    blocks = [list(block.index) for _, block in counted.groupby("variable", sort=False)]
    by_group = [g for g in groups if g != "Overall"]
    lines += [([at[i, g] for i in block], header[g]) for block in blocks for g in groups]
    if "Overall" in groups:
        lines += [([at[i, g] for g in by_group], at[i, "Overall"]) for i in counted.index]
        lines.append(([header[g] for g in by_group], header["Overall"]))
    forced = [header[g] for g in groups if _size_key(g) in rule.suppressed_sizes]
    withheld = [at[i, g] for i in counted.index for g in groups if _size_key(g) in rule.suppressed_sizes]
    row = {(table.at[i, "variable"], table.at[i, "level"]): i for i in counted.index}
    labels = {column: label for column, (label, _, _) in BASELINE_VARIABLES.items()}
    linked = [([at[row[labels.get(column), FLAG_LEVELS.get(level, str(level))], g] for column, level, g in cells
                if (labels.get(column), FLAG_LEVELS.get(level, str(level))) in row and g in groups], published)
              for cells, published in links]
    texts, _, _ = rule.grid_texts(values, lines, forced=forced, sizes=list(header.values()), withheld=withheld,
                                  links=linked)
    # a test on a table with a suppressed cell: with the margins, its p-value can single the cell out
    table.attrs["withheld_p"] = {table.at[block[0], "variable"] for block in blocks
                                 if any(texts[at[i, g]] or texts[header[g]] for i in block for g in groups)}
    for block in blocks:
        for g in groups:
            whole = not texts[header[g]] and not any(texts[at[i, g]] for i in block)
            for i in block:
                table.at[i, g] = texts[at[i, g]] or (table.at[i, g] if whole else str(values[at[i, g]]))
    for i in table.index[table["level"] == "median (IQR)"]:
        for g in groups:
            if rule.small_group(_size_key(g)) or _size_key(g) in rule.suppressed_sizes:
                table.at[i, g] = WITHHELD
    return {g: texts[header[g]] or str(int(sizes[g])) for g in groups}


def baseline_table(cohort, min_cell: "int | Disclosure" = 0, links=()) -> tuple[pd.DataFrame, list[str]]:
    """Characteristics at CNS diagnosis by group, with p-values and the tests named.

    Categorical rows give n (% of the group's non-missing values) and use Fisher's exact test
    when an expected count is below 5, else chi-squared without continuity correction (skull
    involvement: chi-squared, as the paper); age gives median (IQR) and the Kruskal-Wallis test.
    Each p-value carries a superscript letter naming its test in the notes. Variables whose column
    the file lacks are left out, with a note. Laid out as gtsummary prints a Table 1: the group size
    in each header (masked below ``min_cell``), an Overall column, levels in clinical order with
    "Unknown" (missing) last, age in whole years, ranges with en dashes. ``min_cell``: the build's
    :class:`Disclosure` (or a number: decided here from the same cohort), see :func:`_protect`
    (``links`` too).
    """
    rule = min_cell if isinstance(min_cell, Disclosure) else Disclosure.from_cohort(cohort, min_cell)
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
    if not variables:  # no CNS patient, or none with a known characteristic: a valid cohort all the same
        empty = pd.DataFrame(columns=["Overall", "p-value"], index=pd.Index([], name="Characteristic"))
        return empty, [*notes, "No patient with CNS metastasis and a known characteristic in this cohort."]
    table = table_one(data, "group", variables, tests=tests, labels=labels, overall=True, digits=1,
                      categorical=[v for v in variables if v != "age_at_cns"])
    sizes = table.iloc[0]
    table = _clinical_order(table.iloc[1:])  # the n row becomes the N of each header
    # age in whole years: the quartiles are recomputed at 0 decimals by table_one's own rule
    if "age_at_cns" in variables:
        ages = table_one(data, "group", ["age_at_cns"], tests={"age_at_cns": "kruskal"}, overall=True,
                         digits=0, labels=labels)
        row = ages[ages["level"] == "median (IQR)"].iloc[0]
        where = table.index[(table["variable"] == labels["age_at_cns"]) & (table["level"] == "median (IQR)")]
        for key in [c for c in table.columns if c not in ("variable", "level", "p", "test")]:
            table.loc[where, key] = row[key]
    shown = _protect(table, sizes, [c for c in table.columns if c not in ("variable", "level", "p", "test")], rule,
                     links)
    for key in [c for c in table.columns if c not in ("variable", "level", "p", "test")]:
        table[key] = table[key].str.replace("\u2011", "\u2013")  # Q1–Q3 with an en dash
    # The test of each p-value is a superscript letter with a footnote (a column of test names
    # would push the table past the text width).
    withheld_p = table.attrs.get("withheld_p", set())  # their tests go unnamed: no letter, no footnote
    letters = {name: TEST_MARKS[i] for i, name in enumerate(dict.fromkeys(
        t for t, variable in zip(table["test"], table["variable"]) if t and variable not in withheld_p))}
    footnotes = table.attrs.get("footnotes", [])
    explained = {name: note.split(": ", 1)[1] for note in footnotes for name in letters
                 if note.startswith(f"{name}: ")}
    table["p"] = [WITHHELD if pd.notna(p) and variable in withheld_p else f"{p_cell(p)}{letters.get(test, '')}"
                  if pd.notna(p) else "" for p, test, variable in zip(table["p"], table["test"], table["variable"])]
    if withheld_p:
        notes.append("p-values withheld under disclosure control where the characteristic's table has a "
                     "suppressed cell: with the published totals, a p-value could single out the suppressed counts.")
    tested = {t for t in table["test"] if t}
    notes = [f"{mark} {explained.get(name, name)}" for name, mark in letters.items()] + [
        note for note in footnotes if not any(note.startswith(f"{name}: ") for name in tested)] + notes
    table["level"] = table["level"].map(lambda v: LEVEL_WORDS.get(v, v))
    groups = [c for c in table.columns if c not in ("variable", "level", "p", "test")]
    table = table.drop(columns="test").rename(columns={
        "variable": "Characteristic", "level": "", "p": "p-value",
        **{k: _group_header(k, shown[k]) for k in groups}})
    notes = [n.replace("n (% of non-missing in the group)", "n (% of the group's known values)")
              .replace("median (Q1-Q3)", "median (Q1\u2013Q3)") for n in notes]
    return _one_column(table, groups=[c for c in table.columns if c not in ("Characteristic", "", "p-value")]), notes


def _one_column(table: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """gtsummary's shape: a variable on its own row (with its p-value), its levels indented below;
    a one-row variable (age) names its statistic on the same row. One label column, not two."""
    rows, index = [], []
    for name, block in table.groupby("Characteristic", sort=False):
        if len(block) == 1:
            index.append(f"{name}, {block[''].iloc[0].replace('Median', 'median')}")
            rows.append(block.iloc[0][groups + ["p-value"]].to_dict())
            continue
        index.append(name)
        rows.append({**{g: "" for g in groups}, "p-value": block["p-value"].iloc[0]})
        for _, row in block.iterrows():
            index.append("\u00a0" * 4 + str(row[""]))  # no-break spaces (not collapsed) indent the level
            rows.append({**row[groups].to_dict(), "p-value": ""})
    return pd.DataFrame(rows, index=pd.Index(index, name="Characteristic"))
