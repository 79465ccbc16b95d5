"""Forest plot of hazard ratios: log-scale axis, whiskers (arrows for open bounds), text columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.textpath import TextPath

from analysis.stats import require_columns
from analysis.pages.format import label_number, p_cell
from analysis.pages.plots.style import FONT_SIZE, OKABE_ITO, SMALL_FONT_SIZE, _new_figure


def _finite_positive(values) -> np.ndarray:
    arr = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    return arr[np.isfinite(arr) & (arr > 0)]


def _draw_interval(ax, y, point, low, high, x_min, x_max, colour, hollow, gid):
    """One estimate with its whiskers; a NaN or infinite bound runs to the axis
    edge and ends in an arrowhead (open interval), a missing point is left out."""
    finite_point = np.isfinite(point) and point > 0
    low_open = not (np.isfinite(low) and low > 0)
    high_open = not np.isfinite(high)
    left = x_min if low_open else max(low, x_min)
    right = x_max if high_open else min(high, x_max)
    low_open = low_open or low < x_min
    high_open = high_open or high > x_max
    if not finite_point and pd.isna(low) and pd.isna(high):
        return
    anchor = point if finite_point else (x_max if point == np.inf else x_min)
    if not (pd.isna(low) and pd.isna(high)):
        line_style = (0, (3, 1.5)) if hollow else "-"
        # Whiskers as two halves from the point so each can end in its own arrow.
        for end, is_open in ((left, low_open), (right, high_open)):
            if is_open:
                ax.annotate("", xy=(end, y), xytext=(anchor, y),
                            arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.4, "linestyle": line_style,
                                        "shrinkA": 0, "shrinkB": 0, "mutation_scale": 10},
                            annotation_clip=False, gid=f"{gid}-arrow")
            else:
                ax.plot([anchor, end], [y, y], color=colour, linewidth=1.4, linestyle=line_style,
                        solid_capstyle="butt", gid=f"{gid}-ci")
    if finite_point:
        ax.plot([point], [y], marker="s" if not hollow else "o", markersize=6.5,
                markerfacecolor="white" if hollow else colour, markeredgecolor=colour, markeredgewidth=1.4,
                linestyle="none", gid=f"{gid}-point", zorder=3)
    elif point in (np.inf, 0.0):
        # An infinite (or zero) hazard ratio: a triangle at the edge, pointing outwards.
        ax.plot([anchor], [y], marker=">" if point == np.inf else "<", markersize=7, color=colour,
                markerfacecolor="white" if hollow else colour, linestyle="none", clip_on=False,
                gid=f"{gid}-point", zorder=3)


def forest_plot(
    coefficients: pd.DataFrame,
    *,
    label_col: str | None = None,
    hr: str = "hr",
    lower: str = "hr_profile_lower",
    upper: str = "hr_profile_upper",
    p: str | None = "p_lr",
    paper: pd.DataFrame | None = None,
    title: str | None = None,
    digits: int = 2,
) -> Figure:
    """Forest plot of hazard ratios: log-scale x axis, reference line at HR = 1,
    a point and confidence whiskers per term, text columns "HR (95% CI)" and p.

    Parameters
    ----------
    coefficients : DataFrame
        ``CoxModel.coefficients_`` (one row per term, index = term) or any table
        with the columns named by ``hr``, ``lower``, ``upper`` (and ``p``).
        Defaults show the profile-likelihood CI and the likelihood-ratio p.
    label_col : str, optional
        Column with row labels (default: the index).
    hr, lower, upper, p : str
        Column names; ``p=None`` omits the p column.
    paper : DataFrame, optional
        Published values with the same index and columns hr, lower, upper (and
        optionally p, number or string like "<0.0001"); drawn as a hollow marker
        just below each computed estimate, listed in the text column in grey,
        and labelled "paper" in the legend. Rows absent or NaN are skipped.
    title : str, optional
    digits : int
        Decimals of the printed hazard ratios.

    Notes
    -----
    A NaN or infinite confidence bound (e.g. a profile interval that never
    closes under monotone likelihood) is drawn as a whisker running to the axis
    edge with an arrowhead, and printed as NA or the infinity sign; an infinite
    hazard ratio is a triangle at the edge.

    Returns
    -------
    matplotlib.figure.Figure
    """
    columns = [hr, lower, upper] + ([p] if p is not None else []) + ([label_col] if label_col else [])
    require_columns(coefficients, columns, "coefficients column")
    if paper is not None:
        require_columns(paper, ["hr", "lower", "upper"], "paper column")
        unknown = [i for i in paper.index if i not in set(coefficients.index)]
        if unknown:
            raise ValueError(
                f"paper: index value(s) {', '.join(map(repr, unknown))} not in the coefficients' index "
                f"({', '.join(map(repr, coefficients.index))})"
            )
    n_rows = len(coefficients)
    if n_rows == 0:
        raise ValueError("coefficients: no rows to plot; expected at least one term")
    row_labels = [str(v) for v in (coefficients[label_col] if label_col else coefficients.index)]

    def col(frame, name):
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)

    est, est_low, est_high = col(coefficients, hr), col(coefficients, lower), col(coefficients, upper)
    if paper is not None:
        paper = paper.reindex(coefficients.index)
        pap, pap_low, pap_high = col(paper, "hr"), col(paper, "lower"), col(paper, "upper")
    finite = np.concatenate([_finite_positive(est), _finite_positive(est_low), _finite_positive(est_high),
                             *([_finite_positive(pap), _finite_positive(pap_low), _finite_positive(pap_high)]
                               if paper is not None else []), [1.0]])
    # Keep absurd bounds (1e-9 under separation) from squashing the plot: arrows show them.
    finite = finite[(finite > 1e-3) & (finite < 1e3)]
    x_min, x_max = float(finite.min()), float(finite.max())
    span = np.log10(x_max / x_min) if x_max > x_min else 1.0
    pad = max(0.08 * span, 0.08)
    x_min, x_max = x_min / 10**pad, x_max * 10**pad

    offset = 0.0 if paper is None else 0.17
    computed_colour, paper_colour = OKABE_ITO[0], "#555555"
    # Text cells first (y, column, text, colour, gid), so the columns can be sized to their content.
    p_values = coefficients[p].tolist() if p is not None else [None] * n_rows
    cells = []
    for i in range(n_rows):
        y = n_rows - 1 - i
        cells.append((y + offset, "hr", _hr_text(est[i], est_low[i], est_high[i], digits), "black",
                      f"forest-text-{i}"))
        if p is not None:
            cells.append((y + offset, "p", p_cell(p_values[i]), "black", f"forest-p-{i}"))
        if paper is not None and np.isfinite(pap[i]):
            cells.append((y - offset, "hr", "paper " + _hr_text(pap[i], pap_low[i], pap_high[i], digits + 1, True),
                          paper_colour, f"forest-paper-text-{i}"))
            if "p" in paper.columns and not pd.isna(paper["p"].iloc[i]):
                cells.append((y - offset, "p", p_cell(paper["p"].iloc[i]), paper_colour, f"forest-paper-p-{i}"))
    header = {"hr": "HR (95% CI)", "p": "p"}
    column_width = {  # points
        column: max([_text_width(header[column], FONT_SIZE, bold=True)]
                    + [_text_width(c[2], SMALL_FONT_SIZE) for c in cells if c[1] == column])
        for column in (("hr", "p") if p is not None else ("hr",))
    }
    gap = 12.0  # points between the two text columns
    text_width = sum(column_width.values()) + gap * (len(column_width) - 1) + 4
    label_width = max(_text_width(label, FONT_SIZE) for label in row_labels) + 12
    figure_width = 7.5
    plot_width = max(figure_width * 72 - 30 - label_width - text_width, 2.2 * 72)

    row_height = 0.42 if paper is None else 0.55
    fig = _new_figure((figure_width, 1.3 + row_height * n_rows))
    ax, ax_text = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [plot_width, text_width]})
    fig.get_layout_engine().set(wspace=0.03)  # room between an edge arrow and the text column
    ax.set_xscale("log")
    ax.set_xlim(x_min, x_max)
    for i in range(n_rows):
        y = n_rows - 1 - i
        _draw_interval(ax, y + offset, est[i], est_low[i], est_high[i], x_min, x_max, computed_colour, False,
                       f"forest-{i}")
        if paper is not None:
            _draw_interval(ax, y - offset, pap[i], pap_low[i], pap_high[i], x_min, x_max, paper_colour, True,
                           f"forest-paper-{i}")
    ax.axvline(1.0, color="0.3", linewidth=0.9, linestyle=(0, (4, 2)), zorder=1)
    ax.set_ylim(-0.7, n_rows - 0.3)
    ax.set_yticks(range(n_rows))
    ax.set_yticklabels(list(reversed(row_labels)), fontsize=FONT_SIZE)
    ax.tick_params(axis="y", length=0)
    ax.tick_params(axis="x", labelsize=SMALL_FONT_SIZE)
    # Denser ticks on narrow ranges so that every plot has at least three labelled ticks.
    decades = np.log10(x_max / x_min)
    subs = (1.0, 2.0, 5.0) if decades > 1.5 else (1.0, 1.5, 2.0, 3.0, 5.0, 7.0) if decades > 0.6 else (
        1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=subs))
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("Hazard ratio (log scale)", fontsize=FONT_SIZE)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    if title:
        fig.suptitle(title, fontsize=FONT_SIZE + 1, x=0.02, ha="left")

    # Text columns in their own axes; x in points from its left edge (axes width = text_width points).
    ax_text.set_xlim(0, text_width)
    ax_text.axis("off")
    column_x = {"hr": 2.0, "p": 2.0 + column_width["hr"] + gap}
    header_y = n_rows - 0.3
    for column in column_width:
        ax_text.text(column_x[column], header_y, header[column], fontsize=FONT_SIZE, fontweight="bold",
                     va="bottom", style="italic" if column == "p" else "normal")
    for y, column, text, colour, gid in cells:
        ax_text.text(column_x[column], y, text, fontsize=SMALL_FONT_SIZE, va="center", color=colour, gid=gid)
    if paper is not None:
        handles = [
            Line2D([], [], color=computed_colour, marker="s", markersize=6.5, linewidth=1.4, label="computed"),
            Line2D([], [], color=paper_colour, marker="o", markerfacecolor="white", markersize=6.5,
                   linewidth=1.4, linestyle=(0, (3, 1.5)), label="paper"),
        ]
        fig.legend(handles=handles, fontsize=SMALL_FONT_SIZE, frameon=False, loc="outside lower center",
                   ncols=2)
    return fig


def _text_width(text: str, size: float, bold: bool = False) -> float:
    """Width in points of ``text`` in the default font (measured from its glyph
    outlines: no renderer needed, the same on every backend)."""
    properties = FontProperties(size=size, weight="bold" if bold else "normal")
    return float(TextPath((0, 0), text, prop=properties).get_extents().width) if text else 0.0


def _hr_text(point, low, high, digits, omit_missing_ci=False) -> str:
    """'1.98 (1.25-3.10)' with an en dash; NA / infinity where a value is missing or infinite."""
    if pd.isna(low) and pd.isna(high):
        # The paper often prints no CI (omit it); a computed estimate without one says NA.
        return label_number(point, digits) if omit_missing_ci else f"{label_number(point, digits)} (NA)"
    return f"{label_number(point, digits)} ({label_number(low, digits)}\u2013{label_number(high, digits)})"

