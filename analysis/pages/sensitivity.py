"""The sensitivity chapter's tables: which published figures move with each convention, in words.

The numbers (values under each convention, whether each moves, statuses against the paper) come from
:func:`analysis.study.sensitivity_section`; here they become readable labels and printed figures.
"""

from __future__ import annotations

import pandas as pd

from analysis.study import CONVENTIONS, TERM_LABELS
from analysis.pages.format import id_text

CONVENTION_LABELS = {
    "median_ci": "Median CI band",
    "ties": "Tied death times",
    "intervals": "HR intervals and p-values",
    "penalty": "Penalty of the Cox likelihood",
}
VARIANT_LABELS = {"log": "log", "log-log": "log-log", "plain": "plain", "efron": "Efron", "breslow": "Breslow",
                  "profile": "profile", "wald": "Wald", "none": "ordinary", "firth": "Firth"}
# id prefix -> short readable name (the sensitivity tables list many figures)
_PREFIX_LABELS = {
    "cohort.time_abc_to_cns_all": "Time ABC to CNS, all",
    "backgrounds.time_abc_to_cns_by_group": "Time ABC to CNS",
    "outcomes.os_from_cns": "OS from CNS",
    "outcomes.os_from_abc": "OS from ABC",
    "backgrounds.risk_of_bm_multivariate": "Risk of BM",
    "backgrounds.risk_of_lm_multivariate": "Risk of LM",
    "risk_factors.all_cns": "OS, all CNS",
    "risk_factors.l_group": "OS, group L",
}
_LAST_LABELS = {"ci": "95% CI", "hr": "HR", "p": "p"}


def figure_label(dotted: str) -> str:
    """A short readable name of a published figure id: 'OS from CNS, B: 95% CI',
    'Risk of BM, lung: HR'."""
    for prefix, label in _PREFIX_LABELS.items():
        if dotted.startswith(prefix + "."):
            middle, last = dotted[len(prefix) + 1:].rsplit(".", 1) if "." in dotted[len(prefix) + 1:] \
                else ("", dotted[len(prefix) + 1:])
            middle = TERM_LABELS.get(middle, middle).replace("no_cns", "no CNS")
            what = _LAST_LABELS.get(last, last)
            return f"{label}, {middle}: {what}" if middle else f"{label}: {what}"
    return dotted


def summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The section's ``summary`` (figures compared, moving, changing status, per alternative) in words."""
    table = summary.reset_index()
    table["convention"] = table["convention"].map(CONVENTION_LABELS)
    table["variant"] = table["variant"].map(VARIANT_LABELS)
    return table.rename(columns={"variant": "alternative", "figures": "figures compared",
                                 "move": "figures that move", "status_changes": "status changes"})


def moved_table(effects: pd.DataFrame, convention: str) -> pd.DataFrame:
    """The figures of one convention that move under at least one alternative, one row each:
    figure (readable label), paper, the book's value, the value under each alternative (as printed),
    and the status against the paper ("differs", or "exact (book), differs (Firth)" when it changes)."""
    rows = effects[effects["convention"] == convention]
    moving = rows.groupby("figure")["moves"].any()
    rows = rows[rows["figure"].isin(moving[moving].index)]
    declared, alternatives = CONVENTIONS[convention]
    book = f"book ({VARIANT_LABELS[declared]})"
    if rows.empty:
        return pd.DataFrame(columns=["figure", "paper", book])
    first = rows.drop_duplicates("figure").set_index("figure")
    table = pd.DataFrame({"paper": [id_text(f, v) for f, v in first["paper"].items()],
                          book: [id_text(f, v) for f, v in first["declared"].items()]}, index=first.index)
    statuses = {"book": first["status_declared"]}
    for variant in alternatives:
        block = rows[rows["variant"] == variant].set_index("figure")
        table[VARIANT_LABELS[variant]] = pd.Series({f: id_text(f, v) for f, v in block["alternative"].items()},
                                                   dtype=object)
        statuses[VARIANT_LABELS[variant]] = block["status_alternative"]
    status = pd.DataFrame(statuses).reindex(table.index)
    table["status against the paper"] = [
        row.iloc[0] if row.nunique() == 1 else ", ".join(f"{v} ({k})" for k, v in row.items())
        for _, row in status.iterrows()]
    table.index = [figure_label(i) for i in table.index]
    return table.rename_axis("figure").reset_index()
