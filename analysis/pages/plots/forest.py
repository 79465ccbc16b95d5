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
from analysis.pages.plots.style import KM_FIGSIZE, KM_FONT_SIZE, KM_SMALL_FONT_SIZE, OKABE_ITO, _new_figure

# As the survival figures: 6.4 in wide with 12/11 pt text, so that on a 390 px phone (the image shrunk
# to about 330 px) the words keep about 8 px. Each term's label sits on its own line above its
# whiskers, so a long label takes no width from the plot.
FONT_SIZE, SMALL_FONT_SIZE = KM_FONT_SIZE, KM_SMALL_FONT_SIZE
FIGURE_WIDTH = KM_FIGSIZE[0]
TICK_GAP = 8.0  # points between two tick labels of the hazard-ratio axis


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

    # Rows from the top: label line, computed estimate, paper's value (data units, one unit per term).
    label_dy, est_dy, pap_dy = (0.30, -0.02, 0.0) if paper is None else (0.36, 0.08, -0.24)
    computed_colour, paper_colour = OKABE_ITO[0], "#555555"
    # Text cells first (y, column, text, colour, gid), so the columns can be sized to their content.
    p_values = coefficients[p].tolist() if p is not None else [None] * n_rows
    # rows withheld by disclosure control (ChapterPage.figure: values NaN, labels in attrs)
    withheld = {str(v) for v in coefficients.attrs.get("withheld", ())}
    cells = []
    for i in range(n_rows):
        y = n_rows - 1 - i
        if row_labels[i] in withheld:
            cells.append((y + est_dy, "hr", "withheld", "black", f"forest-text-{i}"))
        else:
            cells.append((y + est_dy, "hr", _hr_text(est[i], est_low[i], est_high[i], digits), "black",
                          f"forest-text-{i}"))
        if p is not None and row_labels[i] not in withheld:
            cells.append((y + est_dy, "p", p_cell(p_values[i]), "black", f"forest-p-{i}"))
        if paper is not None and np.isfinite(pap[i]):
            cells.append((y + pap_dy, "hr", "paper " + _hr_text(pap[i], pap_low[i], pap_high[i], digits + 1, True),
                          paper_colour, f"forest-paper-text-{i}"))
            if "p" in paper.columns and not pd.isna(paper["p"].iloc[i]):
                cells.append((y + pap_dy, "p", p_cell(paper["p"].iloc[i]), paper_colour, f"forest-paper-p-{i}"))
    header = {"hr": "HR (95% CI)", "p": "p"}
    column_width = {  # points
        column: max([_text_width(header[column], SMALL_FONT_SIZE, bold=True)]
                    + [_text_width(c[2], SMALL_FONT_SIZE) for c in cells if c[1] == column])
        for column in (("hr", "p") if p is not None else ("hr",))
    }
    gap = 10.0  # points between the two text columns
    text_width = sum(column_width.values()) + gap * (len(column_width) - 1) + 4
    plot_width = max(FIGURE_WIDTH * 72 - 24 - text_width, 2.2 * 72)

    row_height = 0.62 if paper is None else 0.85  # inches per term: two or three lines of text
    fig = _new_figure((FIGURE_WIDTH, 1.35 + row_height * n_rows + (0.3 if title else 0.0)))
    ax, ax_text = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [plot_width, text_width]})
    fig.get_layout_engine().set(wspace=0.03)  # room between an edge arrow and the text column
    ax.set_xscale("log")
    ax.set_xlim(x_min, x_max)
    for i in range(n_rows):
        y = n_rows - 1 - i
        _draw_interval(ax, y + est_dy, est[i], est_low[i], est_high[i], x_min, x_max, computed_colour, False,
                       f"forest-{i}")
        if paper is not None:
            _draw_interval(ax, y + pap_dy, pap[i], pap_low[i], pap_high[i], x_min, x_max, paper_colour, True,
                           f"forest-paper-{i}")
        # The label spans the plot and the text column: nothing else is drawn on its line.
        ax.text(0.0, y + label_dy, row_labels[i], transform=ax.get_yaxis_transform(), ha="left",
                va="bottom", fontsize=FONT_SIZE, clip_on=False, gid=f"forest-label-{i}", zorder=4,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0})  # over the HR = 1 line
    ax.axvline(1.0, color="0.3", linewidth=0.9, linestyle=(0, (4, 2)), zorder=1)
    ax.set_ylim(-0.55, n_rows - 0.25)
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=SMALL_FONT_SIZE)
    ticks = _ticks(x_min, x_max, 0.85 * plot_width)  # the layout takes margins from the plot
    ax.xaxis.set_major_locator(ticker.FixedLocator(ticks))
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: _tick_text(v)))
    ax.set_xlabel("Hazard ratio (log scale)", fontsize=SMALL_FONT_SIZE)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    if title:
        fig.suptitle(title, fontsize=FONT_SIZE, fontweight="bold", x=0.01, ha="left")

    # Text columns in their own axes; x in points from its left edge (axes width = text_width points).
    ax_text.set_xlim(0, text_width)
    ax_text.axis("off")
    column_x = {"hr": 2.0, "p": 2.0 + column_width["hr"] + gap}
    header_y = n_rows - 0.25
    for column in column_width:
        ax_text.text(column_x[column], header_y, header[column], fontsize=SMALL_FONT_SIZE, fontweight="bold",
                     va="bottom", style="italic" if column == "p" else "normal")
    for y, column, text, colour, gid in cells:
        ax_text.text(column_x[column], y, text, fontsize=SMALL_FONT_SIZE, va="center", color=colour, gid=gid)
    if withheld and coefficients.attrs.get("withheld_note"):  # what was withheld and why, under the plot
        import textwrap

        # above the title: the layout keeps the legend's row at the bottom edge whatever sits below it
        fig.text(0.01, 1.0, textwrap.fill(coefficients.attrs["withheld_note"], 100), ha="left", va="bottom",
                 fontsize=SMALL_FONT_SIZE - 2, gid="forest-disclosure-note")
    if paper is not None:
        handles = [
            Line2D([], [], color=computed_colour, marker="s", markersize=6.5, linewidth=1.4,
                   label="This book (95% CI)"),
            Line2D([], [], color=paper_colour, marker="o", markerfacecolor="white", markersize=6.5,
                   linewidth=1.4, linestyle=(0, (3, 1.5)), label="Paper"),
        ]
        fig.legend(handles=handles, fontsize=SMALL_FONT_SIZE, frameon=False, loc="outside lower center",
                   ncols=2)
    return fig


def _tick_text(value: float) -> str:
    return f"{value:g}"


def _ticks(x_min: float, x_max: float, width: float) -> list[float]:
    """Tick values on a log axis ``width`` points wide, none whose label would touch another's:
    1 first, then the decades, then 2 and 5 of each decade, then finer steps, each kept only if it
    leaves TICK_GAP to every tick already kept (0.005 and 0.01 side by side print as one blur)."""
    span = np.log10(x_max / x_min)
    lo, hi = int(np.floor(np.log10(x_min))), int(np.ceil(np.log10(x_max)))
    ranks = [(1.0,), (2.0, 5.0), (3.0, 1.5), (4.0, 6.0, 8.0, 2.5, 7.0)]
    candidates = [1.0] + [10.0 ** k for k in range(lo, hi + 1)]
    for subs in ranks[1:]:
        candidates += [s * 10.0 ** k for s in subs for k in range(lo, hi + 1)]
    candidates = [v for v in candidates if x_min <= v <= x_max]

    def position(v):  # points from the left edge
        return width * np.log10(v / x_min) / span

    kept: list[float] = []
    for value in candidates:
        if any(np.isclose(value, k) for k in kept):
            continue
        half = _text_width(_tick_text(value), SMALL_FONT_SIZE) / 2
        if all(abs(position(value) - position(k)) >= half + _text_width(_tick_text(k), SMALL_FONT_SIZE) / 2
               + TICK_GAP for k in kept):
            kept.append(value)
        if len(kept) >= 8:
            break
    return sorted(kept)


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

