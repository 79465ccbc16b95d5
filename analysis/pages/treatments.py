"""The treatments chapter's table in the shape of the paper's Table 3: n (%) per group, the
treatments in clinical order (radiotherapy from widest field to most focal, then surgery, then
best supportive care), a total row, N in each header."""

from __future__ import annotations

import pandas as pd

from analysis.cohort import load_schema
from analysis.pages.format import figure_text
from analysis.pages.labels import level_label
from analysis.pages.disclosure import Disclosure

TREATMENT_WORDS = {"WBRT": "Whole-brain RT (WBRT)", "SRS": "Stereotactic radiosurgery (SRS)",
                   "focal_RT": "Other focal RT", "CSI": "Craniospinal irradiation (CSI)",
                   "surgery": "Surgery", "BSC": "Best supportive care, no RT (BSC)"}


def initial_treatment_table(counts: pd.DataFrame, min_cell: "int | Disclosure" = 0, links=()) -> pd.DataFrame:
    """``counts`` (treatment x group, patients) as 'n (%)' of each group, in the schema's order of
    ``initial_cns_treatment`` (the clinical order), with a total row.

    Disclosure (``min_cell``: the build's :class:`Disclosure`, or a number): each group's column adds
    up to its size (the total row), each treatment's row to its total, taken as published unless
    ``links`` say which counts the prose publishes; small counts and the cells that would give them
    back are suppressed, and a column with a suppressed cell or a suppressed size shows no
    percentages. ``links``: (cells,
    published) of the figures the prose prints as sums of cells ((treatment, group) pairs; see
    :meth:`analysis.pages.ChapterPage.linked`), protected with the table.
    """
    order = [t for t in load_schema()["initial_cns_treatment"].allowed if t in counts.index]
    order += [t for t in counts.index if t not in order]
    counts = counts.reindex(order).fillna(0).astype(int)
    totals = counts.sum()
    rule = min_cell if isinstance(min_cell, Disclosure) else Disclosure.decide(
        int(min_cell or 0), {"cns": int(totals.sum()), "all": int(totals.sum()), **totals.astype(int).to_dict()})
    rows, groups = len(order), list(counts.columns)
    values = [int(counts.iloc[r, c]) for r in range(rows) for c in range(len(groups))] + [int(totals[g]) for g in groups]
    at = lambda r, c: r * len(groups) + c  # noqa: E731 (the cell of treatment r, group c; row `rows` = totals)
    lines = [([at(r, c) for r in range(rows)], at(rows, c)) for c in range(len(groups))]
    implied = []
    if links:  # the prose's figures say which totals are published: a treatment's total is otherwise not
        for r in range(rows):
            implied.append(len(values))
            values.append(sum(values[at(r, c)] for c in range(len(groups))))
            lines.append(([at(r, c) for c in range(len(groups))], implied[-1]))
        lines.append(([at(rows, c) for c in range(len(groups))], None))
    else:  # without them, every treatment's total is taken as published (CSI patients, BSC patients)
        lines += [([at(r, c) for c in range(len(groups))], None) for r in range(rows + 1)]
    forced = [at(rows, c) for c, g in enumerate(groups) if str(g) in rule.suppressed_sizes]
    sizes = [at(rows, c) for c in range(len(groups))]
    withheld = [at(r, c) for r in range(rows) for c, g in enumerate(groups) if str(g) in rule.suppressed_sizes]
    linked = [([at(order.index(t), groups.index(g)) for t, g in cells if t in order and g in groups], published)
              for cells, published in links]
    texts, _, _ = rule.grid_texts(values, lines, forced=forced, sizes=sizes, withheld=withheld, implied=implied,
                                  links=linked) if rule.min_cell else ([None] * len(values), 0, 0)
    columns = {}
    for c, g in enumerate(groups):
        whole = not any(texts[at(r, c)] for r in range(rows + 1))  # a share only where the column is whole

        def cell(r, of=int(totals[g])):
            n = values[at(r, c)]
            if texts[at(r, c)]:
                return texts[at(r, c)]
            return f"{n}\u00a0({figure_text(100 * n / of, 1)}%)" if of and whole else str(n)

        size = texts[at(rows, c)] or str(int(totals[g]))
        columns[f"Group {g} (N\u00a0=\u00a0{size})"] = [cell(r) for r in range(rows)] + [size]
    table = pd.DataFrame(columns, index=[TREATMENT_WORDS.get(t, level_label(t)) for t in order] + ["Total"])
    return table.rename_axis("Initial CNS treatment")
