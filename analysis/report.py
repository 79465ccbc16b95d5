"""Turn computed sections into what a chapter shows: glued figures and HTML tables.

Chapters call three things: :func:`record` (figures -> results.json and glue), :func:`comparison`
(the paper's figure beside the computed one) and :func:`html_table` (any summary table as a real
HTML table with a caption). No patient-level row ever passes through here: every table is a summary.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from analysis.results import Results
from analysis.scorecard import scorecard

STATUS_MARK = {
    "exact": "exact",
    "within tolerance": "within tolerance",
    "differs": "differs",
    "paper issue": "paper issue",
    "not computable": "not computable",
}


def fmt(value: Any, digits: int = 1) -> str:
    """A figure as the book prints it: CI pairs as 'a-b', p-values with 4 significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "\u2013".join(fmt(v, digits) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:d}"
    return f"{value:.{digits}f}"


def fmt_p(p: Any) -> str:
    if isinstance(p, str):
        return p
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "NA"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def digits_for(dotted: str) -> int:
    last = dotted.rsplit(".", 1)[-1]
    if last == "hr" or ".risk_of_" in dotted or dotted.startswith("risk_factors"):
        return 3
    return 1


def record(figures: dict[str, Any], results_path: str | Path | None) -> Results:
    """Record every figure in this chapter's results file and glue it for the prose.

    Besides the raw value (``id``), a formatted text is glued as ``id.txt`` (CIs as 'a-b',
    p-values as printed by the book) so prose never formats numbers by hand.
    """
    from myst_nb import glue

    results = Results("", results_path)
    for dotted, value in figures.items():
        results.add(dotted, value)
        text = fmt_p(value) if dotted.endswith(".p") else fmt(value, digits_for(dotted))
        glue(f"{dotted}.txt", text, display=False)
    return results


def html_table(frame: pd.DataFrame, caption: str, *, index: bool = True, notes: Iterable[str] = ()):
    """A summary table as an HTML table with a caption (and footnotes), for display in a chapter."""
    from IPython.display import HTML

    body = frame.to_html(index=index, escape=True, border=0, classes="table book-table",
                         na_rep="\u2013")
    foot = "".join(f"<p class='table-note'>{html.escape(n)}</p>" for n in notes)
    return HTML(f"<figure class='book-table'><figcaption>{html.escape(caption)}</figcaption>"
                f"{body}{foot}</figure>")


def comparison_frame(figures: dict[str, Any], prefix: str, labels: dict[str, str] | None = None
                     ) -> pd.DataFrame:
    """The paper's figures under ``prefix`` beside the computed ones, with difference and status."""
    card = scorecard(figures)
    card = card[card["id"].str.startswith(prefix)]
    labels = labels or {}
    rows = []
    for row in card.itertuples():
        digits = digits_for(row.id)
        fmt_value = fmt_p if row.kind == "p" else (lambda v, d=digits: fmt(v, d))
        rows.append({
            "figure": labels.get(row.id, row.id[len(prefix):].lstrip(".")),
            "paper": fmt_value(row.paper),
            "computed": fmt_value(row.computed),
            "difference": fmt(row.difference, digits) if row.difference is not None else "",
            "status": STATUS_MARK[row.status],
        })
    return pd.DataFrame(rows, columns=["figure", "paper", "computed", "difference", "status"])


def comparison(figures: dict[str, Any], prefix: str, caption: str, labels: dict[str, str] | None = None,
               notes: Iterable[str] = ()):
    """Display the paper-versus-computed table of one block of figures."""
    return html_table(comparison_frame(figures, prefix, labels), caption, index=False, notes=notes)


def logrank_frame(test) -> pd.DataFrame:
    """A log-rank result as a table: patients, observed and expected events, their ratio."""
    table = test.table.copy()
    table["observed / expected"] = table["observed"] / table["expected"]
    table = table.rename(columns={"n": "patients", "observed": "observed events",
                                  "expected": "expected events"})
    table = table.set_index("group") if "group" in table.columns else table
    return table.round({"expected events": 1, "observed / expected": 2})


def paper_hazard_ratios(prefix: str) -> pd.DataFrame:
    """The paper's hazard ratios under ``prefix`` (hr, lower, upper), for a forest plot beside ours.

    Indexed by the book's label of each term (as the rows of a section's Cox table);
    bounds are NaN when the paper gives none.
    """
    from analysis.published import published_value
    from analysis.reproduction import TERM_LABELS

    block = published_value(prefix)
    rows = {}
    for term, values in block.items():
        if isinstance(values, dict) and "hr" in values:
            lower, upper = values.get("ci", [float("nan"), float("nan")])
            rows[TERM_LABELS.get(term, term)] = {"hr": values["hr"], "lower": lower, "upper": upper}
    return pd.DataFrame.from_dict(rows, orient="index")


def cox_frame(coefficients: pd.DataFrame) -> pd.DataFrame:
    """Cox coefficients as a table: HR with profile CI and LR p, then the Wald versions.

    ``coefficients`` is a section's Cox table (rows labelled by
    :data:`analysis.reproduction.TERM_LABELS`) or a model's ``coefficients_``.
    """
    c = coefficients
    frame = pd.DataFrame({
        "HR": c["hr"].map(lambda v: fmt(v, 3)),
        "95% CI (profile)": [fmt([lo, up], 3) for lo, up in zip(c["hr_profile_lower"], c["hr_profile_upper"])],
        "p (likelihood ratio)": c["p_lr"].map(fmt_p),
        "95% CI (Wald)": [fmt([lo, up], 3) for lo, up in zip(c["hr_lower"], c["hr_upper"])],
        "p (Wald)": c["p"].map(fmt_p),
    }, index=c.index.rename("term"))
    return frame


def zph_frame(fits: dict) -> pd.DataFrame:
    """cox.zph of every fitted Cox model in ``fits`` (name -> CoxModel), one block per model."""
    blocks = []
    for name, fit in fits.items():
        if not hasattr(fit, "zph"):
            continue
        from analysis.reproduction import COLUMN_LABELS

        z = fit.zph().copy().rename(index=COLUMN_LABELS)
        z["model"] = name
        blocks.append(z.reset_index().rename(columns={"index": "term"}))
    if not blocks:
        return pd.DataFrame(columns=["model", "term", "chi-squared", "df", "p"])
    table = pd.concat(blocks, ignore_index=True)
    table = table.rename(columns={"chisq": "chi-squared"})
    table.columns = ["term" if c in ("term", "level_0") else c for c in table.columns]
    table["chi-squared"] = table["chi-squared"].round(3)
    table["p"] = table["p"].map(fmt_p)
    return table.set_index(["model", "term"])[["chi-squared", "df", "p"]]


def glue_figure(name: str, figure) -> None:
    """Glue a matplotlib figure as a PNG image (for a ``{glue:figure}`` directive) and close it.

    Rendered here rather than by the notebook's display hooks, so it works whatever the
    matplotlib backend; metadata is dropped so the same figure gives the same bytes.
    """
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image
    from myst_nb import glue

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    glue(name, Image(data=buffer.getvalue(), format="png"), display=False)
