"""Figures of the book: Kaplan-Meier curves with a numbers-at-risk table, a
forest plot of hazard ratios, the patient-flow diagram, and their alt texts.

Plots consume the tables of the statistics layer (``KaplanMeier.table_``,
``KaplanMeier.risk_table()``, ``KaplanMeier.summary_``,
``CoxModel.coefficients_``); they never recompute a statistic.

Design rules, all enforced by tests/test_plots.py:

- nothing is conveyed by colour alone: every group has an Okabe-Ito colour
  *and* its own line style *and* a direct text label; colours are ordered so
  that lines reach 3:1 contrast on white, and text drawn in a group's colour
  is darkened (same hue) to 4.5:1 (WCAG 2 AA);
- fonts are set explicitly (>= 9 pt at the book's 7.5 in page width), never
  through ``rcParams``, so that nothing depends on or changes global state;
- a figure is created through pyplot (so the active backend, e.g. the notebook's
  inline backend, is loaded and knows how to display it) and released from
  pyplot's registry at once: no global state leaks and notebooks do not show
  it twice. Show it with ``IPython.display.display(fig)``, as a cell's last
  expression, or with myst-nb's ``glue``; save it with ``fig.savefig``;
- output is deterministic (no randomness; curves are drawn from the table's
  rows only, one vertex per distinct event time, so 100k patients stay light).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from matplotlib import ticker
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.textpath import TextPath

from analysis.stats import require_columns

__all__ = [
    "OKABE_ITO",
    "LINE_STYLES",
    "km_plot",
    "risk_times",
    "forest_plot",
    "flow_diagram",
    "alt_text_km",
    "alt_text_forest",
    "format_p",
    "p_text",
    "contrast_ratio",
]

# Okabe & Ito (2008) colour-blind-safe palette, reordered so the first colours
# have the most contrast on white (blue 5.2:1, vermillion 3.9:1, bluish green
# 3.4:1, reddish purple 3.1:1, black). Orange, sky blue and yellow (< 2.4:1)
# are left out: too faint for thin lines on a white page.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#000000")
# One dash pattern per group (solid, dashed, dotted, dash-dot, long dash-dot-dot).
LINE_STYLES = ("-", "--", ":", "-.", (0, (8, 2, 1, 2, 1, 2)))

FONT_SIZE = 10  # labels, titles
SMALL_FONT_SIZE = 9  # ticks, table cells, legends: the smallest size used
KM_FIGSIZE = (7.5, 5.5)  # inches, with the numbers-at-risk table
KM_FIGSIZE_NO_TABLE = (7.5, 4.5)
CI_ALPHA = 0.15
# At most this many censor marks per curve, one per equal slice of the time axis: beyond it the
# marks of a large cohort merge into a solid band that hides the curve.
MAX_CENSOR_MARKS = 120
# Numbers-at-risk times closer than this fraction of the time axis would print on top of each other.
MIN_TICK_GAP = 1 / 12
TEXT_CONTRAST = 4.5  # WCAG 2 AA for normal-size text
_DPI = 150


# ----------------------------------------------------------------------------- colour helpers


def _relative_luminance(colour) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""
    channels = np.asarray(to_rgb(colour), dtype=float)
    linear = np.where(channels <= 0.03928, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def contrast_ratio(colour, background="white") -> float:
    """WCAG 2 contrast ratio (1 to 21) between two colours."""
    lighter, darker = sorted((_relative_luminance(colour), _relative_luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _text_colour(colour, minimum: float = TEXT_CONTRAST) -> str:
    """The colour darkened towards black (same hue) until it reaches ``minimum``
    contrast on white, so coloured text stays readable."""
    rgb = np.asarray(to_rgb(colour), dtype=float)
    for factor in np.linspace(1.0, 0.0, 101):
        candidate = rgb * factor
        if contrast_ratio(candidate) >= minimum:
            return to_hex(candidate)
    return "#000000"


def _new_figure(figsize) -> Figure:
    """A figure made through pyplot (which loads the active backend, so notebooks
    know how to display it) and at once released from pyplot's registry: nothing
    leaks, and the inline backend does not show it a second time at cell end.
    The figure stays fully usable: display, glue or savefig it."""
    fig = plt.figure(figsize=figsize, dpi=_DPI, layout="constrained")
    plt.close(fig)
    return fig


def _style(position: int) -> tuple[str, object]:
    """Colour and line style of the group at ``position`` (cycling when there are more groups)."""
    return OKABE_ITO[position % len(OKABE_ITO)], LINE_STYLES[position % len(LINE_STYLES)]


# ----------------------------------------------------------------------------- small formatting helpers


def _join_words(words: Sequence[str]) -> str:
    """'B', 'BL', 'L' -> 'B, BL and L'."""
    words = [str(w) for w in words]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _format_number(value: float, digits: int = 2) -> str:
    """A number for a label: NA for NaN, infinity sign, ``digits`` decimals
    (three significant figures below 0.1 so small hazard ratios keep meaning)."""
    if value is None or pd.isna(value):
        return "NA"
    value = float(value)
    if np.isinf(value):
        return "\u221e" if value > 0 else "-\u221e"
    if value != 0 and abs(value) < 0.1:
        return f"{value:.{max(digits, 2)}g}"  # two significant digits for small HRs, not one
    return f"{value:.{digits}f}"


def _format_days(value) -> str:
    """A median in days: a whole day without decimals, a half day with one; NaN -> 'not reached'."""
    if value is None or pd.isna(value):
        return "not reached"
    return f"{float(value):g}"


def format_p(p) -> str:
    """A p-value as printed in the book: '<0.0001' below 1e-4, else 4 decimals;
    strings (a paper's '<0.01') pass through; NaN -> 'NA'."""
    if isinstance(p, str):
        return p
    if p is None or pd.isna(p):
        return "NA"
    p = float(p)
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def p_text(p) -> str:
    """A p-value with its relation, for prose after "p": "= 0.0123", "< 0.0001" (a paper's "<0.01"
    too), "= NA"."""
    text = format_p(p)
    return text.replace("<", "< ") if text.startswith("<") else f"= {text}"


def _masked_count(count, min_cell: int) -> str:
    """A count for the risk table; 1..min_cell-1 become '<min_cell' (small cells
    can identify patients; 0 cannot and stays 0)."""
    if pd.isna(count):
        return ""
    count = int(count)
    if min_cell > 0 and 0 < count < min_cell:
        return f"<{min_cell}"
    return str(count)


# ----------------------------------------------------------------------------- Kaplan-Meier


def _group_order(table_groups: Sequence[str], groups_order) -> list[str]:
    """Groups in drawing order: ``groups_order`` (a subset allowed) or the table's order."""
    if groups_order is None:
        return list(table_groups)
    wanted = [str(g) for g in groups_order]
    unknown = [g for g in wanted if g not in set(table_groups)]
    if unknown:
        raise ValueError(
            f"groups_order: {', '.join(map(repr, unknown))} not in the table's 'group' column "
            f"(groups are: {', '.join(map(repr, table_groups))})"
        )
    return wanted


def _step_points(rows: pd.DataFrame) -> pd.DataFrame:
    """Vertices of one group's curve: (0, S=1) then one row per distinct event
    time, plus the last time so the curve runs to the end of follow-up.

    Censoring-only rows do not change S or its Greenwood band, so leaving them
    out is exact and keeps the line at O(event times) vertices.
    """
    rows = rows.sort_values("time", kind="stable")
    keep = (rows["n_event"].to_numpy() > 0) & (rows["time"].to_numpy() > 0)
    if len(rows):
        keep[-1] = True  # end of follow-up
    kept = rows.loc[keep, ["time", "surv", "lower", "upper"]]
    start = pd.DataFrame({"time": [0.0], "surv": [1.0], "lower": [1.0], "upper": [1.0]})
    # A time-0 event row (S < 1 at 0) stays as a second vertex at 0: a vertical drop.
    at_zero = rows[(rows["time"] == 0) & (rows["n_event"] > 0)][["time", "surv", "lower", "upper"]]
    return pd.concat([start, at_zero, kept.loc[kept["time"] > 0]], ignore_index=True)


def _band_steps(points: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Band vertices for a post-step fill: where the band becomes NaN (R gives NA
    once S reaches 0), repeat the last finite values at that time, so the band's
    final step is drawn up to the drop instead of vanishing with it."""
    time = points["time"].to_numpy(dtype=float)
    lower = points["lower"].to_numpy(dtype=float)
    upper = points["upper"].to_numpy(dtype=float)
    finite = np.isfinite(lower) & np.isfinite(upper)
    starts_nan = np.flatnonzero(~finite[1:] & finite[:-1]) + 1  # first NaN vertex after a finite one
    time = np.insert(time, starts_nan, time[starts_nan])
    lower = np.insert(lower, starts_nan, lower[starts_nan - 1])
    upper = np.insert(upper, starts_nan, upper[starts_nan - 1])
    return time, lower, upper


def _spread_labels(y: Sequence[float], min_gap: float, low: float, high: float) -> np.ndarray:
    """Move label positions apart by at least ``min_gap`` (same units as y),
    keeping their order and staying inside [low, high] where possible."""
    y = np.asarray(y, dtype=float)
    order = np.argsort(y, kind="stable")
    placed = y[order].copy()
    for i in range(1, len(placed)):
        placed[i] = max(placed[i], placed[i - 1] + min_gap)
    overflow = placed[-1] - high if len(placed) else 0.0
    if overflow > 0:
        placed -= overflow
        for i in range(len(placed) - 2, -1, -1):
            placed[i] = min(placed[i], placed[i + 1] - min_gap)
    placed = np.maximum(placed, low) if len(placed) and placed[0] < low else placed
    out = np.empty_like(placed)
    out[order] = placed
    return out


def risk_times(table: pd.DataFrame, preferred: Sequence[float]) -> list[float]:
    """Times for the numbers-at-risk table: ``preferred`` fitted to the follow-up of ``table``.

    ``table`` is ``KaplanMeier.table_``. When follow-up runs beyond the last preferred time, the
    last step is repeated to cover it; then times closer than 1/12 of the axis to the previous kept
    one are dropped, so the counts never overprint. Only the times are chosen here; the counts come
    from ``KaplanMeier.risk_table(times)``.
    """
    times = sorted(float(t) for t in preferred)
    if not times or not len(table):
        return times
    x_max = float(table["time"].max())
    step = times[-1] - times[-2] if len(times) > 1 else times[-1]
    while step > 0 and times[-1] + step <= x_max:
        times.append(times[-1] + step)
    span = max(x_max, times[-1])
    kept = [times[0]]
    for t in times[1:]:
        if t - kept[-1] >= MIN_TICK_GAP * span:
            kept.append(t)
    return kept


def _thinned_marks(censored: pd.DataFrame, x_max: float) -> pd.DataFrame:
    """The first censoring time in each of MAX_CENSOR_MARKS equal slices of the axis."""
    if len(censored) <= MAX_CENSOR_MARKS or x_max <= 0:
        return censored
    slot = np.minimum(np.floor(censored["time"].to_numpy(dtype=float) / x_max * MAX_CENSOR_MARKS),
                      MAX_CENSOR_MARKS - 1)
    return censored[~pd.Series(slot, index=censored.index).duplicated()]


def km_plot(
    table: pd.DataFrame,
    risk_table: pd.DataFrame | None = None,
    *,
    groups_order: Sequence | None = None,
    labels: Mapping | None = None,
    xlabel: str = "Days since ...",
    ylabel: str = "Overall survival",
    ci: bool = True,
    censor_marks: bool = True,
    min_cell: int = 0,
    risk_columns: Sequence[str] = ("n_risk",),
    ax=None,
) -> Figure:
    """Kaplan-Meier step curves with pointwise bands, censor marks, direct labels
    and an aligned numbers-at-risk table.

    Parameters
    ----------
    table : DataFrame
        ``KaplanMeier.table_``: columns group, time, n_risk, n_event, n_censor,
        surv, lower, upper; one row per group and distinct time. Each curve
        starts at (0, 1) whether or not the table has a time-0 row.
    risk_table : DataFrame, optional
        ``KaplanMeier.risk_table(times)``: columns group, time, n_risk (and
        optionally n_events, n_censored). Its times become the x ticks and the
        counts are printed under them, one row per group.
    groups_order : sequence, optional
        Groups to draw, in this order (default: the table's order).
    labels : mapping, optional
        Display name per group (default: the group value).
    xlabel, ylabel : str
        Axis labels.
    ci : bool
        Shade the pointwise confidence band (``lower``/``upper``) as a step band.
    censor_marks : bool
        Mark times with ``n_censor > 0`` by a '|' on the curve (at most MAX_CENSOR_MARKS per curve:
        the first censoring time in each equal slice of the axis).
    min_cell : int
        Print counts 1..min_cell-1 as ``<min_cell`` (0 stays 0); 0 disables.
    risk_columns : sequence of str
        Risk-table columns printed per cell: ``("n_risk",)`` prints "62";
        ``("n_risk", "n_events")`` prints "62 (65)" (at risk, cumulative events).
    ax : matplotlib Axes, optional
        Draw into this axes; the risk table then goes into an inset axes just
        below it (leave room for it). Default: a new 7.5 x 5.5 in figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; its curve lines carry ``gid`` ``"km-curve-<group>"``,
        censor marks ``"km-censor-<group>"`` and risk-table cells
        ``"risk-<group>-<time>"`` (for tests and post-processing).
    """
    require_columns(table, ["group", "time", "n_event", "n_censor", "surv", "lower", "upper"], "table column")
    if min_cell < 0 or int(min_cell) != min_cell:
        raise ValueError(f"min_cell: expected a whole number >= 0, got {min_cell!r}")
    min_cell = int(min_cell)
    table = table.assign(group=table["group"].map(str))
    groups = _group_order(list(pd.unique(table["group"])), groups_order)
    labels = {str(k): str(v) for k, v in (labels or {}).items()}
    names = {g: labels.get(g, g) for g in groups}

    if risk_table is not None:
        require_columns(risk_table, ["group", "time", *risk_columns], "risk_table column")
        risk_table = risk_table.assign(group=risk_table["group"].map(str))
        missing = [g for g in groups if g not in set(risk_table["group"])]
        if missing:
            raise ValueError(
                f"risk_table: group(s) {', '.join(map(repr, missing))} drawn but absent from its 'group' column"
            )

    if ax is None:
        fig = _new_figure(KM_FIGSIZE if risk_table is not None else KM_FIGSIZE_NO_TABLE)
        if risk_table is not None:
            # Table height grows with the number of groups; the curve keeps most of the page.
            ax, ax_risk = fig.subplots(2, 1, sharex=True,
                                       gridspec_kw={"height_ratios": [4.2, 0.45 + 0.28 * len(groups)]})
        else:
            ax, ax_risk = fig.subplots(), None
    else:
        fig = ax.figure
        ax_risk = None
        if risk_table is not None:
            height = 0.08 + 0.06 * len(groups)
            ax_risk = ax.inset_axes([0.0, -0.2 - height, 1.0, height], sharex=ax)

    x_max = float(table.loc[table["group"].isin(groups), "time"].max()) if len(table) else 1.0
    if risk_table is not None and len(risk_table):
        x_max = max(x_max, float(risk_table["time"].max()))
    if not np.isfinite(x_max) or x_max <= 0:
        x_max = 1.0

    ends = []
    for position, group in enumerate(groups):
        colour, style = _style(position)
        rows = table[table["group"] == group]
        points = _step_points(rows)
        ax.plot(points["time"], points["surv"], drawstyle="steps-post", color=colour, linestyle=style,
                linewidth=1.8, gid=f"km-curve-{group}", label=names[group], solid_joinstyle="miter")
        if ci:
            band_time, band_lower, band_upper = _band_steps(points)
            ax.fill_between(band_time, band_lower, band_upper, step="post", color=colour, alpha=CI_ALPHA,
                            linewidth=0, gid=f"km-ci-{group}")
        if censor_marks:
            censored = _thinned_marks(rows[rows["n_censor"] > 0], x_max)
            ax.plot(censored["time"], censored["surv"], linestyle="none", marker="|", markersize=7,
                    markeredgewidth=1.2, color=colour, gid=f"km-censor-{group}")
        ends.append((float(points["time"].iloc[-1]), float(points["surv"].iloc[-1]), colour, group))

    # Direct labels at each curve's right end, pushed apart so they never overlap
    # (a single curve needs no name: the axis label says what it is).
    if len(groups) == 1:
        ends = []
    # The gap is one text line (1.3 em) in data units of this axes' (pre-layout) height.
    axes_height = ax.get_position().height * fig.get_figheight() * 72  # points
    line_gap = float(np.clip(1.3 * FONT_SIZE / max(axes_height, 1.0) * 1.06, 0.04, 0.25))
    label_y = _spread_labels([e[1] for e in ends], min_gap=line_gap, low=0.0, high=1.0)
    # Labels sit in the right margin, joined to their curve's end by a thin leader line, so a
    # label never lands on another curve that ends at the same place.
    for (x_end, y_end, colour, group), y in zip(ends, label_y):
        ax.annotate(names[group], xy=(x_end, y_end), xycoords="data", xytext=(1.015, y),
                    textcoords=("axes fraction", "data"), va="center", ha="left", fontsize=FONT_SIZE,
                    fontweight="bold", color=_text_colour(colour), annotation_clip=False,
                    arrowprops=dict(arrowstyle="-", color=colour, linewidth=0.7, linestyle=(0, (1, 1.5)),
                                    shrinkA=1, shrinkB=2),
                    gid=f"km-label-{group}")

    ax.set_ylim(-0.02, 1.04)
    ax.set_xlim(-0.01 * x_max, x_max * 1.01)
    ax.yaxis.set_major_locator(ticker.MultipleLocator(0.2))
    ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%.1f"))
    ax.set_ylabel(ylabel, fontsize=FONT_SIZE)
    ax.set_xlabel(xlabel, fontsize=FONT_SIZE)
    ax.tick_params(labelsize=SMALL_FONT_SIZE)
    ax.grid(axis="y", color="0.85", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    if risk_table is not None:
        tick_times = np.sort(pd.unique(risk_table["time"].astype(float)))
        ax.set_xticks(tick_times)
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        _draw_risk_table(ax, ax_risk, risk_table, groups, names, min_cell, risk_columns)
    return fig


def _draw_risk_table(ax, ax_risk, risk_table, groups, names, min_cell, risk_columns) -> None:
    """Numbers at risk under the curves: one row per group, cells at the tick times."""
    for row_index, group in enumerate(groups):
        colour, style = _style(row_index)
        y = len(groups) - 1 - row_index  # first group on top, as in the legend order
        rows = risk_table[risk_table["group"] == group].sort_values("time", kind="stable")
        for _, cell in rows.iterrows():
            counts = [_masked_count(cell[c], min_cell) for c in risk_columns]
            text = counts[0] + "".join(f" ({c})" for c in counts[1:])
            ax_risk.text(float(cell["time"]), y, text, ha="center", va="center", fontsize=SMALL_FONT_SIZE,
                         color="black", clip_on=False, gid=f"risk-{group}-{float(cell['time']):g}")
    ax_risk.set_ylim(-0.6, len(groups) - 0.4)
    ax_risk.set_yticks(range(len(groups)))
    ax_risk.set_yticklabels([names[g] for g in reversed(groups)], fontsize=SMALL_FONT_SIZE, fontweight="bold")
    for tick_label, group in zip(ax_risk.get_yticklabels(), reversed(groups)):
        tick_label.set_color(_text_colour(_style(groups.index(group))[0]))
    # Cells are centred on their times, so the first (time-0) cell reaches left of
    # the axes: pad the row labels by its half-width (about 0.6 em per character).
    first_time = risk_table["time"].min()
    first_cells = [t.get_text() for t in ax_risk.texts if t.get_position()[0] == first_time]
    half_width = 0.6 * SMALL_FONT_SIZE * max((len(t) for t in first_cells), default=0) / 2
    ax_risk.tick_params(axis="y", length=0, pad=6 + half_width)
    ax_risk.tick_params(axis="x", which="both", bottom=False, labelbottom=False)
    for spine in ax_risk.spines.values():
        spine.set_visible(False)
    title = "Number at risk" + (" (cumulative events)" if "n_events" in risk_columns[1:] else "")
    ax_risk.set_title(title, loc="left", fontsize=SMALL_FONT_SIZE, pad=4)
    # sharex hides nothing on the main axes by default in a 2-row grid: keep its tick labels.
    ax.tick_params(axis="x", labelbottom=True)


# ----------------------------------------------------------------------------- forest plot


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
            cells.append((y + offset, "p", format_p(p_values[i]), "black", f"forest-p-{i}"))
        if paper is not None and np.isfinite(pap[i]):
            cells.append((y - offset, "hr", "paper " + _hr_text(pap[i], pap_low[i], pap_high[i], digits + 1, True),
                          paper_colour, f"forest-paper-text-{i}"))
            if "p" in paper.columns and not pd.isna(paper["p"].iloc[i]):
                cells.append((y - offset, "p", format_p(paper["p"].iloc[i]), paper_colour, f"forest-paper-p-{i}"))
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
        return _format_number(point, digits) if omit_missing_ci else f"{_format_number(point, digits)} (NA)"
    return f"{_format_number(point, digits)} ({_format_number(low, digits)}\u2013{_format_number(high, digits)})"


# ----------------------------------------------------------------------------- flow diagram

_FLOW_KEYS = ("all", "cns", "no_cns", "B", "BL", "L")
_FLOW_TEXT = {
    "all": "All patients with\nER+/HER2\u2212 ABC",
    "cns": "CNS metastasis",
    "no_cns": "No CNS metastasis",
    "B": "B: brain metastasis\nwithout obvious LM",
    "BL": "BL: brain metastasis\nwith LM",
    "L": "L: LM without obvious\nbrain metastasis",
}


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "NA"


def flow_diagram(counts: Mapping[str, int], *, texts: Mapping[str, str] | None = None) -> Figure:
    """Box-and-arrow patient flow: all ABC patients -> with / without CNS
    metastasis -> groups B, BL and L, with counts and percentages of the parent box.

    Parameters
    ----------
    counts : mapping
        Keys all, cns, no_cns, B, BL, L with whole, non-negative counts;
        cns + no_cns must equal all and B + BL + L must equal cns.
    texts : mapping, optional
        Replacement box captions per key (counts are added below them).

    Returns
    -------
    matplotlib.figure.Figure
    """
    missing = [k for k in _FLOW_KEYS if k not in counts]
    if missing:
        raise ValueError(f"counts: key(s) {', '.join(map(repr, missing))} missing; expected keys {_FLOW_KEYS}")
    values = {}
    for key in _FLOW_KEYS:
        value = counts[key]
        if pd.isna(value) or int(value) != value or value < 0:
            raise ValueError(f"counts[{key!r}]: expected a whole number >= 0, got {value!r}")
        values[key] = int(value)
    if values["cns"] + values["no_cns"] != values["all"]:
        raise ValueError(f"counts: cns + no_cns = {values['cns'] + values['no_cns']} but all = {values['all']}; "
                         "the boxes must add up")
    if values["B"] + values["BL"] + values["L"] != values["cns"]:
        raise ValueError(f"counts: B + BL + L = {values['B'] + values['BL'] + values['L']} but "
                         f"cns = {values['cns']}; the boxes must add up")
    captions = {**_FLOW_TEXT, **(texts or {})}
    parent = {"cns": "all", "no_cns": "all", "B": "cns", "BL": "cns", "L": "cns"}

    def box_text(key):
        line = f"n = {values[key]}"
        if key in parent:
            line += f" ({_percent(values[key], values[parent[key]])})"
        return f"{captions[key]}\n{line}"

    fig = _new_figure((7.5, 4.6))
    ax = fig.subplots()
    ax.set_xlim(0, 100)
    ax.set_ylim(-6, 60)
    ax.axis("off")
    # Box centres (x, y) and widths in data units of a 100 x 64 canvas; one height for all.
    layout = {
        "all": (40, 52, 34), "cns": (40, 30.5, 28), "no_cns": (82, 30.5, 28),
        "B": (13, 8, 25.5), "BL": (40, 8, 25.5), "L": (67, 8, 25.5),
    }
    height = 11.5
    edge = {"cns": OKABE_ITO[0], "no_cns": "0.45"}
    for key, (x, y, width) in layout.items():
        ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                    boxstyle="round,pad=0,rounding_size=1.2", linewidth=1.3,
                                    edgecolor=edge.get(key, "0.2"), facecolor="white", gid=f"flow-box-{key}"))
        ax.text(x, y, box_text(key), ha="center", va="center", fontsize=FONT_SIZE, linespacing=1.3,
                gid=f"flow-text-{key}")

    def connect(src, children):
        """Orthogonal connector (CONSORT style): down from the parent to a bus, then an arrow into each child."""
        x0, y0, _ = layout[src]
        top = layout[children[0]][1] + height / 2
        bus = (y0 - height / 2 + top) / 2
        xs = [layout[c][0] for c in children]
        line = {"color": "0.25", "linewidth": 1.2, "solid_capstyle": "butt"}
        ax.plot([x0, x0], [y0 - height / 2, bus], **line)
        ax.plot([min(xs + [x0]), max(xs + [x0])], [bus, bus], **line)
        for child, x in zip(children, xs):
            ax.add_patch(FancyArrowPatch((x, bus), (x, top), arrowstyle="-|>", mutation_scale=12, linewidth=1.2,
                                         color="0.25", shrinkA=0, shrinkB=0, gid=f"flow-arrow-{src}-{child}"))

    connect("all", ["cns", "no_cns"])
    connect("cns", ["B", "BL", "L"])
    ax.text(0, -5.5, "Percentages are of the box above.\nABC, advanced breast cancer; CNS, central nervous system; "
            "LM, leptomeningeal metastasis.", fontsize=SMALL_FONT_SIZE, ha="left", va="bottom", color="0.25",
            linespacing=1.3)
    return fig


# ----------------------------------------------------------------------------- alt texts


def alt_text_km(summary: pd.DataFrame, what: str, *, groups_order: Sequence | None = None,
                labels: Mapping | None = None, unit: str = "days") -> str:
    """One-sentence alt text of a Kaplan-Meier figure from ``KaplanMeier.summary_``.

    Example: "Kaplan-Meier curves of overall survival from CNS diagnosis for
    groups B, BL and L; medians 295, 146 and 99 days." A median that is NaN is
    "not reached".
    """
    require_columns(summary, ["median"], "summary column")
    summary = summary.set_axis([str(i) for i in summary.index])
    groups = _group_order(list(summary.index), groups_order)
    labels = {str(k): str(v) for k, v in (labels or {}).items()}
    names = [labels.get(g, g) for g in groups]
    medians = [_format_days(summary.loc[g, "median"]) for g in groups]
    what = what.strip().rstrip(".")
    if len(groups) == 1:
        median = medians[0]
        tail = f"median {median}" + (f" {unit}" if median != "not reached" else "")
        return f"Kaplan-Meier curve of {what}; {tail}."
    reached = [m for m in medians if m != "not reached"]
    tail = f"medians {_join_words(medians)}" + (f" {unit}" if reached else "")
    return f"Kaplan-Meier curves of {what} for groups {_join_words(names)}; {tail}."


def alt_text_forest(coefficients: pd.DataFrame, what: str, *, label_col: str | None = None, hr: str = "hr",
                    lower: str = "hr_profile_lower", upper: str = "hr_profile_upper", p: str | None = "p_lr",
                    digits: int = 2) -> str:
    """One-sentence alt text of a forest plot from ``CoxModel.coefficients_``.

    Example: "Forest plot of hazard ratios (95% CI) for overall survival: age
    1.01 (0.99-1.03; p = 0.2290), sex 0.58 (0.41-0.80; p = 0.0007)."
    """
    columns = [hr, lower, upper] + ([p] if p is not None else []) + ([label_col] if label_col else [])
    require_columns(coefficients, columns, "coefficients column")
    row_labels = [str(v) for v in (coefficients[label_col] if label_col else coefficients.index)]
    parts = []
    for i, name in enumerate(row_labels):
        row = coefficients.iloc[i]
        details = [f"{_format_number(row[lower], digits)}\u2013{_format_number(row[upper], digits)}"]
        if p is not None:
            details.append(f"p {p_text(row[p])}")
        parts.append(f"{name} {_format_number(row[hr], digits)} ({'; '.join(details)})")
    what = what.strip().rstrip(".")
    return f"Forest plot of hazard ratios (95% CI) for {what}: {', '.join(parts)}."
