"""Kaplan-Meier curves that reveal no fewer than ``k`` events per step (statistical disclosure control).

A curve of a small group drops once per death, so each step tells a reader that one patient died
on that day. Here the events and censorings are aggregated into periods *before* the curve is
computed, in the spirit of OpenSAFELY's ``kaplan-meier-function`` action (which rounds cumulative
counts to multiples of ``min_count``): follow-up is cut on a fixed grid (``period``, e.g. one
month), consecutive grid cells are merged until each period holds at least ``k`` events, and every
event and censoring time is rounded *up* to the end of its period. The product-limit estimate,
its Greenwood band, the medians and the numbers at risk are then recomputed from the rounded data,
so each drop of the curve is at least ``k`` events, every drawn time is a grid point and each
cumulative event count is 0 or at least ``k``.

Rounding censorings up keeps them in the risk set of their period's events (R's convention for
ties: events first), so at each period end the aggregated curve is never below the unaggregated
one; with no censoring inside a period the two agree there exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.stats._checks import require_columns
from analysis.stats.nonparametric import KaplanMeier

# Times within this fraction of a period above a grid point stay in the cell ending there, so that
# float noise (2 * 30.4375 computed two ways) never moves a time into the next period.
_GRID_TOLERANCE = 1e-9


@dataclass
class AggregatedKM:
    """A Kaplan-Meier fit on data aggregated so that every step holds at least ``min_events`` events.

    Attributes
    ----------
    km : KaplanMeier
        Fitted on the rounded times; ``km.table_``, ``km.risk_table(times)`` and ``km.summary_``
        are the aggregated curve, its numbers at risk and its medians.
    min_events : int
        The threshold ``k``.
    period : float
        Width of the grid cells, in the table's time unit.
    period_ends : dict
        Per group, the ends of its event periods (times at which the curve may drop).
    withheld : list of str
        Groups with 1 to ``k`` - 1 events in all: no period can hold ``k`` of them, so their
        curve (and median) must not be drawn.
    small : list of str
        Groups of fewer than ``k`` patients: their medians are withheld as well.
    """

    km: KaplanMeier
    min_events: int
    period: float
    period_ends: dict = field(default_factory=dict)
    withheld: list = field(default_factory=list)
    small: list = field(default_factory=list)


def _periods(cells: np.ndarray, events: np.ndarray, k: int) -> list[int]:
    """Ends (grid cell numbers) of the event periods: merge cells in time order until each period
    holds at least ``k`` events; a remainder of 1..k-1 events joins the last full period."""
    event_cells = np.sort(cells[events == 1])
    ends: list[int] = []
    held = 0
    for position, cell in enumerate(event_cells):
        held += 1
        last_in_cell = position + 1 == len(event_cells) or event_cells[position + 1] != cell
        if held >= k and last_in_cell:
            ends.append(int(cell))
            held = 0
    if held and ends:
        ends[-1] = int(event_cells[-1])  # the remainder is too few for a period of its own
    return ends  # empty when all events together are fewer than k


def aggregate_km(table: pd.DataFrame, min_events: int, period: float, *, conf_level: float = 0.95,
                 conf_type: str = "log") -> AggregatedKM:
    """Refit a Kaplan-Meier curve on events and censorings rounded up to periods of >= ``min_events`` events.

    Parameters
    ----------
    table : DataFrame
        ``KaplanMeier.table_``: one row per group and distinct time with ``n_event`` and
        ``n_censor`` (it holds every observation, so the individual times are rebuilt from it).
    min_events : int
        ``k`` >= 1: the least number of events any step of the curve may show.
    period : float
        Grid width in the table's time unit (e.g. 365.25 / 12 days). Period ends are multiples of
        it, so no drawn time is an individual's own time.
    conf_level, conf_type
        As :class:`KaplanMeier`; use the original fit's so the band is computed the same way.

    Returns
    -------
    AggregatedKM
        The refitted curve and the groups whose curve or median must be withheld. Times after a
        group's last event period (censorings only) are rounded up to the grid, one cell each.

    Notes
    -----
    The group order of ``table`` is kept. A group with no events keeps its flat curve (0 events
    reveal nobody); one with 1 to ``k`` - 1 events is listed in ``withheld``.
    """
    require_columns(table, ["group", "time", "n_event", "n_censor"], "table column")
    if int(min_events) != min_events or min_events < 1:
        raise ValueError(f"min_events: expected a whole number >= 1, got {min_events!r}")
    if not np.isfinite(period) or period <= 0:
        raise ValueError(f"period: expected a positive number, got {period!r}")
    k = int(min_events)
    order = [str(g) for g in pd.unique(table["group"])]
    times, events, groups = [], [], []
    result = AggregatedKM(km=KaplanMeier(conf_level=conf_level, conf_type=conf_type), min_events=k,
                          period=float(period))
    for group in order:
        rows = table[table["group"].map(str) == group]
        n_event = rows["n_event"].to_numpy(dtype=int)
        n_censor = rows["n_censor"].to_numpy(dtype=int)
        time = np.repeat(rows["time"].to_numpy(dtype=float), n_event + n_censor)
        event = np.concatenate([np.repeat([1, 0], [d, c]) for d, c in zip(n_event, n_censor)]) \
            if len(rows) else np.zeros(0, dtype=int)
        cells = np.ceil(time / period - _GRID_TOLERANCE).clip(min=0).astype(int)
        ends = _periods(cells, event, k)
        total = int(event.sum())
        if 0 < total < k:
            result.withheld.append(group)
        if len(time) < k:
            result.small.append(group)
        # Each observation goes to the end of the first period ending at or after its cell; after
        # the last event period (censorings only) it stays in its own grid cell.
        index = np.searchsorted(ends, cells, side="left")
        rounded = np.where(index < len(ends), np.asarray(ends + [0])[np.minimum(index, len(ends))], cells)
        result.period_ends[group] = [e * float(period) for e in ends]
        times.append(rounded * float(period))
        events.append(event)
        groups.append(np.full(len(time), group, dtype=object))
    labels = pd.Categorical(np.concatenate(groups), categories=order)
    result.km.fit(np.concatenate(times), np.concatenate(events), labels)
    return result


@dataclass
class AggregatedCIF:
    """Cumulative incidence refitted on data aggregated so that every step of each cause's curve
    holds at least ``min_events`` events of that cause.

    Attributes
    ----------
    fit : CumulativeIncidence
        Fitted on the rounded times; ``fit.table_`` is the aggregated curves with their bands.
    min_events, period : as :class:`AggregatedKM`.
    period_ends : dict
        Per (group, cause), the ends of that cause's event periods.
    withheld : list of (group, cause)
        Curves with 1 to ``k`` - 1 events of the cause: not to be drawn.
    """

    fit: object
    min_events: int
    period: float
    period_ends: dict = field(default_factory=dict)
    withheld: list = field(default_factory=list)


def _observations(rows: pd.DataFrame, causes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The individual (time, cause) of one group, rebuilt from its Aalen-Johansen rows.

    The table keeps per row the patients at risk, the events of all causes and each cause's
    cumulative incidence, whose jump is S(t-) d_k / n: so d_k = jump * n / S(t-), and the
    censorings are what the risk set loses beyond the events."""
    rows = rows.sort_values("time", kind="stable")
    n_risk = rows["n_risk"].to_numpy(dtype=float)
    n_event = rows["n_event"].to_numpy(dtype=float)
    surv_before = np.concatenate([[1.0], rows["surv"].to_numpy(dtype=float)[:-1]])
    counts = {}
    for k in causes:
        jump = np.diff(np.concatenate([[0.0], rows[f"cif_{k}"].to_numpy(dtype=float)]))
        with np.errstate(invalid="ignore", divide="ignore"):
            counts[k] = np.rint(np.where(surv_before > 0, jump * n_risk / surv_before, 0.0)).astype(int)
    n_censor = (n_risk - n_event - np.concatenate([n_risk[1:], [0.0]])).astype(int)
    per_row = [np.repeat([*causes, 0], [*(counts[k][j] for k in causes), n_censor[j]]) for j in range(len(rows))]
    time = np.repeat(rows["time"].to_numpy(dtype=float), [len(p) for p in per_row])
    cause = np.concatenate(per_row) if per_row else np.zeros(0, dtype=int)
    return time, cause.astype(int)


def aggregate_cif(table: pd.DataFrame, min_events: int, period: float, *, conf_level: float = 0.95,
                  conf_type: str = "log") -> AggregatedCIF:
    """Refit cumulative incidence on event and censoring times rounded up to periods, per cause.

    The Kaplan-Meier rule of :func:`aggregate_km`, cause by cause: the grid cells of each group are
    merged until each period holds at least ``k`` events *of that cause*, and each event is rounded
    up to the end of its cause's period. A censoring (or an event of a cause with fewer than ``k``
    events in the group, whose curve is withheld) is rounded up to the next period end of any cause,
    so it stays in the risk set of that period's events; after the last one, to its grid cell.
    Every step of a drawn curve is then ``k`` or more events of its cause, and the all-cause
    curve (their sum) drops by ``k`` or more at each step.

    ``table``: :func:`analysis.stats.aalen_johansen`'s (or ``CumulativeIncidence.table_``): group,
    time, n_risk, n_event, surv and ``cif_<k>`` per cause.
    """
    from analysis.stats.competing import CumulativeIncidence

    require_columns(table, ["group", "time", "n_risk", "n_event", "surv"], "table column")
    if int(min_events) != min_events or min_events < 1:
        raise ValueError(f"min_events: expected a whole number >= 1, got {min_events!r}")
    if not np.isfinite(period) or period <= 0:
        raise ValueError(f"period: expected a positive number, got {period!r}")
    k = int(min_events)
    causes = [int(c.split("_")[1]) for c in table.columns if c.startswith("cif_")]
    result = AggregatedCIF(fit=CumulativeIncidence(conf_level=conf_level, conf_type=conf_type), min_events=k,
                           period=float(period))
    order = [str(g) for g in pd.unique(table["group"])]
    times, codes, groups = [], [], []
    for group in order:
        time, cause = _observations(table[table["group"].map(str) == group], causes)
        cells = np.ceil(time / period - _GRID_TOLERANCE).clip(min=0).astype(int)
        rounded = cells.copy()
        drawn_ends: list[int] = []
        for c in causes:
            ends = _periods(cells, (cause == c).astype(int), k)
            result.period_ends[(group, c)] = [e * float(period) for e in ends]
            total = int((cause == c).sum())
            if 0 < total < k:
                result.withheld.append((group, c))
            if ends:
                mine = cause == c
                index = np.searchsorted(ends, cells[mine], side="left")  # every event is in a period
                rounded[mine] = np.asarray(ends)[index]
                drawn_ends += ends
        drawn_ends = sorted(set(drawn_ends))
        rest = ~np.isin(cause, [c for c in causes if result.period_ends[(group, c)]])
        if drawn_ends and rest.any():
            index = np.searchsorted(drawn_ends, cells[rest], side="left")
            later = np.asarray(drawn_ends + [0])[np.minimum(index, len(drawn_ends))]
            rounded[rest] = np.where(index < len(drawn_ends), later, cells[rest])
        times.append(rounded * float(period))
        codes.append(cause)
        groups.append(np.full(len(time), group, dtype=object))
    result.fit.fit(np.concatenate(times), np.concatenate(codes), np.concatenate(groups))
    return result
