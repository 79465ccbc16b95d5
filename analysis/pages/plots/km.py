"""Kaplan-Meier curves with pointwise bands, censor marks, a legend, median marks and a numbers-at-risk table.

Drawn from ``KaplanMeier.table_`` and ``KaplanMeier.risk_table()``; nothing is recomputed, except
under disclosure control (``min_cell`` > 0): then the curves, bands, medians and numbers at risk are
all recomputed by :func:`analysis.stats.aggregate_km` from events and censorings grouped into periods
of at least ``min_cell`` events, so that no step of a curve shows fewer.
"""

from __future__ import annotations

import contextlib
import contextvars

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from analysis.stats import AggregatedKM, aggregate_km, require_columns
from analysis.pages.format import p_prose
from analysis.pages.disclosure_tables import protect_risk_row
from analysis.pages.small_cells import mask_count
from analysis.pages.plots.style import (
    CI_ALPHA, DAYS_PER_UNIT, KM_FIGSIZE, KM_FIGSIZE_NO_TABLE, KM_FONT_SIZE, KM_SMALL_FONT_SIZE, MAX_CENSOR_MARKS,
    MIN_TICK_GAP,
    _group_order, _new_figure, _style, _text_colour,
)


def disclosure_note(disclosure: AggregatedKM, width: int | None = 88) -> str:
    """The sentences stating how a figure drawn under disclosure control was made (the figure's
    note; captions and alt texts can use it too).

    Parameters
    ----------
    disclosure : AggregatedKM
        The :func:`analysis.stats.aggregate_km` result the figure was drawn from.
    width : int or None
        Wrap into lines of at most this many characters (88 fit a 6.4 in figure at 9 pt); None
        gives one line.
    """
    k = disclosure.min_events
    months = disclosure.period / DAYS_PER_UNIT["months"]
    grid = "1-month" if abs(months - 1) < 1e-9 else f"{disclosure.period:g}-day"
    text = (f"Disclosure control: events and censorings grouped into periods of at least {k} events "
            f"({grid} grid) before the curves were computed, so each step is {k} or more events; "
            f"numbers at risk and medians from the grouped data, counts 1\u2013{k - 1} shown as <{k}; "
            "no censoring marks.")
    if disclosure.withheld:
        text += f" Groups with fewer than {k} events are not drawn."
    return text if width is None else textwrap.fill(text, width)


def _disclosed(table, risk_table, medians, min_cell: int, period: float | None, conf_type: str):
    """``table``, ``risk_table`` (at its own times) and ``medians`` recomputed from the grouped data."""
    disclosure = aggregate_km(table, min_cell, DAYS_PER_UNIT["months"] if period is None else period,
                              conf_type=conf_type)
    km = disclosure.km
    if risk_table is not None:
        risk_table = km.risk_table(np.sort(pd.unique(risk_table["time"].astype(float))))
    if medians is not None:
        # A median read off a curve that is not drawn, or of a group under k patients, would tell
        # more than the figure does: withheld (no line).
        medians = km.summary_.copy()
        hidden = [str(g) in set(disclosure.withheld) | set(disclosure.small) for g in medians.index]
        medians.loc[hidden, ["median", "median_lower", "median_upper"]] = np.nan
    return disclosure, km.table_, risk_table, medians


def _masked_count(count, min_cell: int) -> str:
    """A count for the risk table, with the pages' small-cell rule (blank when missing)."""
    return "" if pd.isna(count) else str(mask_count(int(count), min_cell))


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
    time_unit: str = "days",
    medians: pd.DataFrame | None = None,
    pvalue: float | None = None,
    paper: Mapping | None = None,
    risk_labels: Mapping | None = None,
    ax=None,
    period: float | None = None,
    conf_type: str = "log",
) -> Figure:
    """Kaplan-Meier step curves with pointwise bands, censor marks, a legend of the groups above the
    plot and an aligned numbers-at-risk table; optionally median lines, the log-rank p and the
    paper's published medians.

    Parameters
    ----------
    table : DataFrame
        ``KaplanMeier.table_``: columns group, time, n_risk, n_event, n_censor,
        surv, lower, upper; one row per group and distinct time, times in days. Each curve
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
        Shade the pointwise confidence band (``lower``/``upper``) as a light step band.
    censor_marks : bool
        Mark times with ``n_censor > 0`` by a '|' on the curve (at most MAX_CENSOR_MARKS per curve:
        the first censoring time in each equal slice of the axis).
    min_cell : int
        Disclosure control; 0 disables it. With k = ``min_cell`` > 0 the curves are recomputed
        from events and censorings rounded up to periods holding at least k events
        (:func:`analysis.stats.aggregate_km`): bands and medians come from the grouped curve,
        the risk table is recounted from the grouped data at ``risk_table``'s times (its own counts
        are not used) and printed with counts 1..k-1 as ``<k`` (0 stays 0), censor marks are
        not drawn, a group with 1..k-1 events gets no curve and a group under k patients no
        median; a note under the figure says so (gid ``"km-disclosure-note"``).
    period : float, optional
        Grid of the periods under disclosure control, in days (default one month).
    conf_type : {"log", "log-log", "plain"}
        Band of the grouped curve under disclosure control: pass the original fit's.
    risk_columns : sequence of str
        Risk-table columns printed per cell: ``("n_risk",)`` prints "62";
        ``("n_risk", "n_events")`` prints "62 (65)" (at risk, cumulative events).
    time_unit : {"days", "weeks", "months", "years"}
        Unit of the x axis; the tables stay in days and are divided by ``DAYS_PER_UNIT``.
    medians : DataFrame, optional
        ``KaplanMeier.summary_`` (column ``median``, indexed by group): a dotted line at S = 0.5 to
        each reached median and down to the axis (survminer's ``surv.median.line = "hv"``).
    pvalue : float, optional
        The log-rank p, printed in the lower left of the plot.
    paper : mapping, optional
        Published value per group: a mapping with ``median`` and optionally ``ci`` (lower, upper),
        in days. Drawn as a hollow diamond at S = 0.5 with its interval as a thin bar; an interval
        that does not contain its median (a misprint) is left out.
    risk_labels : mapping, optional
        Shorter row names for the risk table (default: ``labels``), so that long group names in
        the legend do not squeeze the plot sideways.
    ax : matplotlib Axes, optional
        Draw into this axes; the risk table then goes into an inset axes just
        below it (leave room for it). Default: a new KM_FIGSIZE figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; its curve lines carry ``gid`` ``"km-curve-<group>"``,
        censor marks ``"km-censor-<group>"``, legend texts ``"km-label-<group>"``, median lines
        ``"km-median-<group>"``, paper marks ``"km-paper-<group>"``, the p-value ``"km-pvalue"``
        and risk-table cells ``"risk-<group>-<time in days>"`` (for tests and post-processing).
    """
    require_columns(table, ["group", "time", "n_event", "n_censor", "surv", "lower", "upper"], "table column")
    if min_cell < 0 or int(min_cell) != min_cell:
        raise ValueError(f"min_cell: expected a whole number >= 0, got {min_cell!r}")
    if time_unit not in DAYS_PER_UNIT:
        raise ValueError(f"time_unit: expected one of {', '.join(DAYS_PER_UNIT)}, got {time_unit!r}")
    min_cell = int(min_cell)
    disclosure = None
    if min_cell:
        disclosure, table, risk_table, medians = _disclosed(table, risk_table, medians, min_cell, period,
                                                            conf_type)
        censor_marks = False  # one mark per censoring would show what the grouping hides
    withheld = set(disclosure.withheld) if disclosure else set()
    scale = DAYS_PER_UNIT[time_unit]
    table = table.assign(group=table["group"].map(str), time=table["time"].astype(float) / scale)
    groups = _group_order(list(pd.unique(table["group"])), groups_order)
    labels = {str(k): str(v) for k, v in (labels or {}).items()}
    names = {g: labels.get(g, g) + (" (not drawn)" if g in withheld else "") for g in groups}
    row_names = {g: str((risk_labels or {}).get(g, names[g])) for g in groups}

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
                                       gridspec_kw={"height_ratios": [4.2, 0.5 + 0.3 * len(groups)]})
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
        x_max = max(x_max, float(risk_table["time"].max()) / scale)
    if not np.isfinite(x_max) or x_max <= 0:
        x_max = 1.0

    for position, group in enumerate(groups):
        colour, style = _style(position)
        rows = table[table["group"] == group]
        if group in withheld:  # fewer than k events in all: no curve, only its legend entry
            rows = rows.iloc[:0]
        points = _step_points(rows)
        ax.plot(points["time"], points["surv"], drawstyle="steps-post", color=colour, linestyle=style,
                linewidth=1.8, gid=f"km-curve-{group}", label=names[group], solid_joinstyle="miter")
        if ci and group not in withheld:
            band_time, band_lower, band_upper = _band_steps(points)
            ax.fill_between(band_time, band_lower, band_upper, step="post", color=colour, alpha=CI_ALPHA,
                            linewidth=0, gid=f"km-ci-{group}")
        if censor_marks:
            censored = _thinned_marks(rows[rows["n_censor"] > 0], x_max)
            ax.plot(censored["time"], censored["surv"], linestyle="none", marker="|", markersize=7,
                    markeredgewidth=1.2, color=colour, gid=f"km-censor-{group}")
    if medians is not None:
        _draw_medians(ax, medians, groups, scale)
    if paper:
        _draw_paper(ax, paper, groups, scale)
    if pvalue is not None:
        # Upper right: falling curves leave it empty (lower left is where a group at 0 runs along).
        ax.text(0.98, 0.97, f"Log-rank p {p_prose(pvalue)}", transform=ax.transAxes, ha="right", va="top",
                fontsize=KM_FONT_SIZE, gid="km-pvalue")
    # The groups are named in a legend above the plot, never on it: a direct label at the end of a
    # curve that stops early ends up among the other curves, and a leader line to the margin reads
    # as the curve rising. The legend line shows colour and dash, so no group is told by colour alone.
    if len(groups) > 1:
        _legend(ax, groups, names, bool(paper), fig.get_figwidth())

    ax.set_ylim(-0.02, 1.04)
    ax.set_xlim(-0.01 * x_max, x_max * 1.01)
    ax.yaxis.set_major_locator(ticker.MultipleLocator(0.2))
    ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%.1f"))
    ax.set_ylabel(ylabel, fontsize=KM_FONT_SIZE)
    ax.set_xlabel(xlabel, fontsize=KM_FONT_SIZE)
    ax.tick_params(labelsize=KM_SMALL_FONT_SIZE)
    ax.grid(axis="y", color="0.85", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    if risk_table is not None:
        tick_times = np.sort(pd.unique(risk_table["time"].astype(float))) / scale
        ax.set_xticks(tick_times)
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{round(v, 6):g}"))
        _draw_risk_table(ax, ax_risk, risk_table, groups, row_names, min_cell, risk_columns, scale)
    if disclosure is not None:
        # A figure-level label: constrained layout makes room for it under everything else.
        fig.supxlabel(disclosure_note(disclosure), x=0.01, ha="left", fontsize=KM_SMALL_FONT_SIZE - 2,
                      multialignment="left", gid="km-disclosure-note")
    return fig


def _legend(ax, groups, names, with_paper: bool, fig_width: float) -> None:
    """The groups' legend above the axes: one row when it fits the figure's width, else two columns."""
    handles = [next(line for line in ax.lines if line.get_gid() == f"km-curve-{g}") for g in groups]
    texts = [names[g] for g in groups]
    if with_paper:
        handles.append(Line2D([], [], linestyle="none", marker="D", markerfacecolor="white",
                              markeredgecolor="black", markersize=6))
        texts.append("Paper's median (95% CI)")
    # About 0.65 em per bold character plus the line sample and spacing: one row when all entries
    # fit, else two columns when the two widest fit side by side, else one column.
    widths = sorted((0.65 * KM_SMALL_FONT_SIZE * len(t) + 50) / 72 for t in texts)
    room = 0.92 * fig_width
    ncols = len(texts) if sum(widths) <= room else 2 if sum(widths[-2:]) <= room else 1
    legend = ax.legend(handles, texts, loc="lower left", bbox_to_anchor=(0.0, 1.01), ncols=ncols,
                       frameon=False, fontsize=KM_SMALL_FONT_SIZE, handlelength=2.6, borderaxespad=0.2,
                       columnspacing=1.4)
    for text, group in zip(legend.get_texts(), groups):
        text.set_color(_text_colour(_style(groups.index(group))[0]))
        text.set_fontweight("bold")
        text.set_gid(f"km-label-{group}")


def _draw_medians(ax, medians: pd.DataFrame, groups, scale: float) -> None:
    """Dotted grey lines from S = 0.5 across to each reached median and down to the axis."""
    index = [str(i) for i in medians.index]
    reached = {g: float(medians["median"].iloc[index.index(g)]) / scale for g in groups
               if g in index and np.isfinite(medians["median"].iloc[index.index(g)])}
    if not reached:
        return
    line = dict(color="0.35", linestyle=(0, (1, 2)), linewidth=0.9, zorder=1)
    ax.plot([0, max(reached.values())], [0.5, 0.5], gid="km-median-line", **line)
    for group, median in reached.items():
        ax.plot([median, median], [0, 0.5], gid=f"km-median-{group}", **line)


def _draw_paper(ax, paper: Mapping, groups, scale: float) -> None:
    """The published median of each group as a hollow diamond at S = 0.5, its interval as a bar.

    The marks of different groups are stacked a little above and below 0.5 so their bars do not
    cover each other; the diamond's x is the published value exactly."""
    shown = [g for g in groups if g in {str(k) for k in paper}]
    paper = {str(k): v for k, v in paper.items()}
    for rank, group in enumerate(shown):
        value = paper[group]
        median = value.get("median")
        if median is None or not np.isfinite(float(median)):
            continue
        median = float(median) / scale
        y = 0.5 + 0.025 * (rank - (len(shown) - 1) / 2)
        colour = _style(groups.index(group))[0]
        interval = value.get("ci")
        if interval is not None and float(interval[0]) <= median * scale <= float(interval[1]):
            ax.plot([float(interval[0]) / scale, float(interval[1]) / scale], [y, y], color=colour,
                    linewidth=1.1, solid_capstyle="butt", zorder=4, gid=f"km-paper-ci-{group}")
        ax.plot([median], [y], linestyle="none", marker="D", markersize=6, markerfacecolor="white",
                markeredgecolor=_text_colour(colour), markeredgewidth=1.4, zorder=5, gid=f"km-paper-{group}")


# Groups whose size the build suppresses (set by ChapterPage.figure while it draws): their numbers at
# risk print as '·', since even '<5 (<5)' tells a reader that such a group has two patients or more.
# Death counts it suppresses ride along (group -> deaths): a cumulative-events cell that reaches one
# would print it.
_HIDDEN_ROWS: contextvars.ContextVar = contextvars.ContextVar("hidden_risk_rows", default=(frozenset(), {}))


@contextlib.contextmanager
def hidden_risk_rows(groups, deaths=None):
    """Within the block, the at-risk rows of ``groups`` (group labels) show no counts ('·'), and a
    cumulative-events cell equal to a group's suppressed death count (``deaths``: group -> count)
    is suppressed."""
    token = _HIDDEN_ROWS.set((frozenset(str(g) for g in groups), {str(g): int(d) for g, d in (deaths or {}).items()}))
    try:
        yield
    finally:
        _HIDDEN_ROWS.reset(token)


def _draw_risk_table(ax, ax_risk, risk_table, groups, names, min_cell, risk_columns, scale=1.0) -> None:
    """Numbers at risk under the curves: one row per group, cells at the tick times."""
    hidden, hidden_deaths = _HIDDEN_ROWS.get() if min_cell else (frozenset(), {})
    for row_index, group in enumerate(groups):
        colour, style = _style(row_index)
        y = len(groups) - 1 - row_index  # first group on top, as in the legend order
        rows = risk_table[risk_table["group"] == group].sort_values("time", kind="stable")
        protected = None
        if min_cell and tuple(risk_columns) == ("n_risk", "n_events") and len(rows) and not rows[
                list(risk_columns)].isna().any().any():  # at risk + events + censored so far = the group
            n = int(rows["n_risk"].iloc[0] + rows["n_events"].iloc[0])
            protected = protect_risk_row(n, list(zip(rows["n_risk"], rows["n_events"])), min_cell,
                                         hidden_deaths.get(str(group)))
        for j, (_, cell) in enumerate(rows.iterrows()):
            counts = [_masked_count(cell[c], min_cell) for c in risk_columns]
            if protected is not None:
                counts = [shown or count for shown, count in zip(protected[j], counts)]
            text = counts[0] + "".join(f" ({c})" for c in counts[1:]) if str(group) not in hidden else "\u00b7"
            ax_risk.text(float(cell["time"]) / scale, y, text, ha="center", va="center", fontsize=KM_SMALL_FONT_SIZE,
                         color="black", clip_on=False, gid=f"risk-{group}-{float(cell['time']):g}")
    ax_risk.set_ylim(-0.6, len(groups) - 0.4)
    ax_risk.set_yticks(range(len(groups)))
    ax_risk.set_yticklabels([names[g] for g in reversed(groups)], fontsize=KM_SMALL_FONT_SIZE, fontweight="bold")
    for tick_label, group in zip(ax_risk.get_yticklabels(), reversed(groups)):
        tick_label.set_color(_text_colour(_style(groups.index(group))[0]))
    # Cells are centred on their times, so the first (time-0) cell reaches left of
    # the axes: pad the row labels by its half-width (about 0.6 em per character).
    first_time = risk_table["time"].min() / scale
    first_cells = [t.get_text() for t in ax_risk.texts if t.get_position()[0] == first_time]
    half_width = 0.6 * KM_SMALL_FONT_SIZE * max((len(t) for t in first_cells), default=0) / 2
    ax_risk.tick_params(axis="y", length=0, pad=6 + half_width)
    ax_risk.tick_params(axis="x", which="both", bottom=False, labelbottom=False)
    for spine in ax_risk.spines.values():
        spine.set_visible(False)
    title = "Number at risk" + (" (cumulative events)" if "n_events" in risk_columns[1:] else "")
    ax_risk.set_title(title, loc="left", fontsize=KM_SMALL_FONT_SIZE, pad=4)
    # sharex hides nothing on the main axes by default in a 2-row grid: keep its tick labels.
    ax.tick_params(axis="x", labelbottom=True)

