"""Kaplan-Meier estimation matching R's ``survival::survfit`` and its summaries.

Product-limit estimate with Greenwood's variance; pointwise bands ``log``
(R's default), ``log-log`` and ``plain`` built as R's ``survfit`` does; the
median and its confidence interval by R's ``quantile.survfit`` rule
(Brookmeyer-Crowley inversion of the band, with R's 1.49e-8 tolerance and its
midpoint rule on flat stretches at 0.5; NaN where R gives NA); restricted mean
survival time with R's standard error (``print.survfit``'s rmean).

The curve itself is the textbook product limit; it is computed here rather
than taken from statsmodels/lifelines because R's summaries need every
distinct time (censoring times included, with their censor counts) and R's NA
conventions where S(t) = 0. The tests check the curve and its standard error
against statsmodels' ``SurvfuncRight`` as well as against R.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats._checks import as_event, as_groups, as_time, level_label, sorted_levels
from analysis.stats.timefix import aeq_times

__all__ = ["KaplanMeier", "CONF_TYPES", "km_curve", "km_median_ci", "aalen_johansen", "cif_at"]

CONF_TYPES = ("log", "log-log", "plain")
# R: quantile.survfit(tolerance = sqrt(.Machine$double.eps))
_R_TOLERANCE = np.sqrt(np.finfo(float).eps)


def _band(surv, se_log, conf_level, conf_type):
    """Pointwise band of R's survfit (``survfit_confint`` with logse=TRUE).

    ``se_log`` is Greenwood's standard error of log S. log: exp(log S -/+ z se),
    upper capped at 1; log-log: exp(-exp(log(-log S) -/+ z se / log S)), NA where
    S is 0 or 1; plain: S -/+ z se S, clipped to [0, 1].
    """
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    surv = np.asarray(surv, dtype=float)
    se_log = np.asarray(se_log, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log":
            xx = np.where(surv == 0, np.nan, surv)
            lower = np.exp(np.log(xx) - z * se_log)
            upper = np.minimum(np.exp(np.log(xx) + z * se_log), 1.0)
        elif conf_type == "log-log":
            xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
            se2 = z * se_log / np.log(xx)
            lower = np.exp(-np.exp(np.log(-np.log(xx)) - se2))
            upper = np.exp(-np.exp(np.log(-np.log(xx)) + se2))
        elif conf_type == "plain":
            half = z * se_log * surv
            lower = np.maximum(surv - half, 0.0)
            upper = np.minimum(surv + half, 1.0)
            bad = np.isnan(half)
            lower[bad] = np.nan
            upper[bad] = np.nan
        else:
            raise ValueError(f"conf_type: expected one of {CONF_TYPES}, got {conf_type!r}")
    return lower, upper


def _quantile_time(x, y, p, tol=_R_TOLERANCE):
    """Time where the CDF-like step curve ``y`` (0 at ``x[0]``) reaches ``p``.

    R's ``findq`` of ``quantile.survfit``: drop repeated y values (censoring
    times), take the first point with y >= p - tol and the first with
    y >= p + tol and average their times (the midpoint rule on a flat at p);
    a flat at p that lasts to the end uses the last time. NaN when the curve
    never reaches p (a band that never crosses gives NA, never the last time).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return np.nan
    xmax = x[-1]
    # R's !duplicated(y): the first occurrence of each value (NaNs count as equal) is kept
    keep = np.zeros(len(y), dtype=bool)
    keep[np.unique(y, return_index=True)[1]] = True
    x, y = x[keep], y[keep]
    ok = ~np.isnan(y)

    def first_at_least(level):
        hit = np.flatnonzero(ok & (y >= level))
        return hit[0] if len(hit) else None

    i1 = first_at_least(p - tol)
    i2 = first_at_least(p + tol)
    quant = np.nan if i1 is None or i2 is None else (x[i1] + x[i2]) / 2
    if not np.isnan(y[-1]) and abs(p - y[-1]) < tol and i1 is not None:
        quant = (x[i1] + xmax) / 2
    return float(quant)


def km_curve(time, event) -> dict[str, np.ndarray]:
    """Product-limit curve of one sample (numpy kernel of :class:`KaplanMeier`).

    Parameters
    ----------
    time : 1-d float array, non-negative
    event : 1-d 0/1 array

    Returns
    -------
    dict of arrays, one entry per distinct time (events and censorings): time, n_risk, n_event,
    n_censor, surv, se_log (Greenwood's standard error of log S; inf once S reaches 0, R's NA).
    """
    t = np.asarray(time, dtype=float)
    e = np.asarray(event)
    times, inv = np.unique(t, return_inverse=True)
    n_event = np.bincount(inv, weights=e).astype(np.int64)
    n_total = np.bincount(inv).astype(np.int64)
    n_risk = len(t) - np.concatenate([[0], np.cumsum(n_total)[:-1]])
    surv = np.cumprod(1.0 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Greenwood: sum d / (n (n - d)); infinite once the curve reaches 0 (R: NA)
        term = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event).astype(float)), 0.0)
        se_log = np.sqrt(np.cumsum(term))
    return {"time": times, "n_risk": n_risk, "n_event": n_event, "n_censor": n_total - n_event,
            "surv": surv, "se_log": se_log}


def median_from_curve(times, surv, se_log, conf_level=0.95, conf_type="log") -> tuple[float, float, float]:
    """(median, lower, upper) of a curve by R's ``quantile.survfit`` rule: the band inverted
    (Brookmeyer-Crowley); NaN where R gives NA."""
    lower, upper = _band(surv, se_log, conf_level, conf_type)
    x = np.concatenate([[0.0], np.asarray(times, dtype=float)])
    return (_quantile_time(x, np.concatenate([[0.0], 1 - np.asarray(surv, dtype=float)]), 0.5),
            _quantile_time(x, np.concatenate([[0.0], 1 - lower]), 0.5),
            _quantile_time(x, np.concatenate([[0.0], 1 - upper]), 0.5))


def km_median_ci(time, event, conf_level=0.95, conf_type="log") -> tuple[float, float, float]:
    """Kaplan-Meier median of one sample and its confidence interval (numpy kernel).

    Parameters
    ----------
    time : 1-d float array, non-negative
    event : 1-d 0/1 array
    conf_level : float
    conf_type : {"log", "log-log", "plain"}

    Returns
    -------
    (median, lower, upper) : floats, NaN where R reports NA.

    Examples
    --------
    >>> km_median_ci(np.array([2.0, 4, 6, 8]), np.ones(4))[0]
    5.0
    """
    curve = km_curve(time, event)
    return median_from_curve(curve["time"], curve["surv"], curve["se_log"], conf_level, conf_type)


class KaplanMeier:
    """Kaplan-Meier (product-limit) estimator per group, as R's ``survfit``.

    Parameters
    ----------
    conf_level : float
        Level of the pointwise bands and of the median's interval.
    conf_type : {"log", "log-log", "plain"}
        Band used by ``table_``, ``survival_at`` and the median CI in
        ``summary_`` (R's default is "log").

    Attributes
    ----------
    summary_ : DataFrame
        Indexed by group (str; "all" without groups): n, events, median,
        median_lower, median_upper (NaN where R gives NA).
    table_ : DataFrame
        One row per group and distinct time (events and censorings): group,
        time, n_risk, n_event, n_censor, surv, std_err (of S, Greenwood),
        lower, upper.
    groups_ : list of str
        Group keys in R's factor order.

    Examples
    --------
    >>> KaplanMeier().fit(df["time"], df["event"], df["arm"]).summary_["median"]  # doctest: +SKIP
    """

    def __init__(self, conf_level: float = 0.95, conf_type: str = "log"):
        if conf_type not in CONF_TYPES:
            raise ValueError(f"conf_type: expected one of {CONF_TYPES}, got {conf_type!r}")
        if not 0 < conf_level < 1:
            raise ValueError(f"conf_level: expected a number in (0, 1), got {conf_level!r}")
        self.conf_level = conf_level
        self.conf_type = conf_type

    def fit(self, time, event, group=None) -> "KaplanMeier":
        """Product-limit estimate and Greenwood variance for each group.

        Times equal to within R's ``aeqSurv`` tolerance (about 1.5e-8, absolute or relative to
        the mean time, over all groups together) are merged first, as ``survfit`` does
        (:func:`~analysis.stats.timefix.aeq_times`); the numpy kernels take times as given.
        """
        t = aeq_times(as_time(time))
        e = as_event(event)
        if len(t) != len(e):
            raise ValueError(f"time has {len(t)} values but event has {len(e)}; expected equal lengths")
        if len(t) == 0:
            raise ValueError("time: no rows; expected at least one observation")
        if group is None:
            labels = np.array(["all"] * len(t), dtype=object)
            order = ["all"]
        else:
            labels = as_groups(group)
            if len(labels) != len(t):
                raise ValueError(f"group has {len(labels)} values but time has {len(t)}; expected equal lengths")
            order = [level_label(v) for v in sorted_levels(pd.Series(group))]
        self.groups_ = order
        self._data = {}
        tables = []
        for g in order:
            m = labels == g
            if not m.any():
                raise ValueError(f"group {g!r} has no rows")
            self._data[g] = (t[m], e[m])
            tables.append(self._curve(g, t[m], e[m]))
        self._curves = {tab["group"].iloc[0]: tab for tab in tables}
        self.table_ = pd.concat(tables, ignore_index=True)
        self.table_["lower"], self.table_["upper"] = _band(
            self.table_["surv"], self.table_["_se_log"], self.conf_level, self.conf_type
        )
        self.table_ = self.table_.drop(columns="_se_log")
        med = self.median_ci(self.conf_type).set_index("group")
        self.summary_ = pd.DataFrame(
            {
                "n": [len(self._data[g][0]) for g in order],
                "events": [int(self._data[g][1].sum()) for g in order],
                "median": med["median"].to_numpy(),
                "median_lower": med["lower"].to_numpy(),
                "median_upper": med["upper"].to_numpy(),
            },
            index=pd.Index(order, name="group"),
        )
        return self

    @staticmethod
    def _curve(g, t, e) -> pd.DataFrame:
        curve = km_curve(t, e)
        with np.errstate(invalid="ignore"):
            std_err = curve["surv"] * curve["se_log"]  # 0 * inf once the curve reaches 0: NaN (R's NA)
        return pd.DataFrame(
            {
                "group": g,
                "time": curve["time"],
                "n_risk": curve["n_risk"],
                "n_event": curve["n_event"],
                "n_censor": curve["n_censor"],
                "surv": curve["surv"],
                "std_err": std_err,
                "_se_log": curve["se_log"],
            }
        )

    def _check_fitted(self):
        if not hasattr(self, "table_"):
            raise ValueError("KaplanMeier: call fit() first")

    def median_ci(self, conf_type: str | None = None) -> pd.DataFrame:
        """Median and its CI for a band (Brookmeyer-Crowley inversion, R's
        ``quantile.survfit`` rule): group, median, lower, upper."""
        self._check_fitted()
        conf_type = conf_type or self.conf_type
        rows = []
        for g in self.groups_:
            c = self._curves[g]
            median, lower, upper = median_from_curve(c["time"].to_numpy(), c["surv"].to_numpy(),
                                                     c["_se_log"].to_numpy(), self.conf_level, conf_type)
            rows.append({"group": g, "median": median, "lower": lower, "upper": upper})
        return pd.DataFrame(rows)

    def survival_at(self, times, conf_type: str | None = None) -> pd.DataFrame:
        """S(t), its standard error and band at given times, as R's
        ``summary(fit, times, extend = TRUE)``: the step function's value at the
        last distinct time <= t; n_risk counts rows with time >= t. At a time
        before the group's first time (event or censoring) S = 1, std_err = 0
        and lower = upper = 1 for every band, as R; at or after it a stretch
        where S = 1 has log-log bounds NaN (R's NA) and log/plain bounds 1.
        Columns: group, time, n_risk, surv, std_err, lower, upper."""
        self._check_fitted()
        conf_type = conf_type or self.conf_type
        times = np.atleast_1d(np.asarray(times, dtype=float))
        if np.isnan(times).any() or (times < 0).any():
            raise ValueError(f"times: expected non-negative numbers, got {times.tolist()}")
        out = []
        for g in self.groups_:
            c = self._curves[g]
            t_g = self._data[g][0]
            idx = np.searchsorted(c["time"].to_numpy(), times, side="right") - 1
            before = idx < 0
            surv = np.where(before, 1.0, c["surv"].to_numpy()[np.maximum(idx, 0)])
            se_log = np.where(before, 0.0, c["_se_log"].to_numpy()[np.maximum(idx, 0)])
            with np.errstate(invalid="ignore"):
                std_err = surv * se_log
            lower, upper = _band(surv, se_log, self.conf_level, conf_type)
            # before the group's first time (event or censoring) R's summary.survfit reads the
            # curve's start row, whose band survfit sets to 1 for every conf.type; from the first
            # time on, a stretch with S = 1 keeps log-log's NA (log(-log 1) is undefined)
            lower[before], upper[before] = 1.0, 1.0
            n_risk = len(t_g) - np.searchsorted(np.sort(t_g), times, side="left")
            out.append(
                pd.DataFrame(
                    {"group": g, "time": times, "n_risk": n_risk, "surv": surv, "std_err": std_err,
                     "lower": lower, "upper": upper}
                )
            )
        return pd.concat(out, ignore_index=True)

    def risk_table(self, times) -> pd.DataFrame:
        """Number at risk (R's n.risk: rows with time >= t), cumulative events and
        cumulative censorings up to and including t. Columns: group, time,
        n_risk, n_events, n_censored."""
        self._check_fitted()
        times = np.atleast_1d(np.asarray(times, dtype=float))
        out = []
        for g in self.groups_:
            t_g, e_g = self._data[g]
            ev = np.sort(t_g[e_g == 1])
            ce = np.sort(t_g[e_g == 0])
            out.append(
                pd.DataFrame(
                    {
                        "group": g,
                        "time": times,
                        "n_risk": len(t_g) - np.searchsorted(np.sort(t_g), times, side="left"),
                        "n_events": np.searchsorted(ev, times, side="right"),
                        "n_censored": np.searchsorted(ce, times, side="right"),
                    }
                )
            )
        return pd.concat(out, ignore_index=True)

    def rmst(self, tau: float | None = None) -> pd.DataFrame:
        """Restricted mean survival time up to ``tau`` (default: the largest time
        of all groups) and its standard error, as R's ``print(fit, rmean=tau)``:
        area under the step curve on [0, tau] (extended flat past a group's last
        time); variance sum over event times t_i <= tau of
        A(t_i, tau)^2 d_i / (n_i (n_i - d_i)), the term being 0 when n_i = d_i.
        Columns: group, tau, rmean, rmean_se."""
        self._check_fitted()
        if tau is None:
            tau = float(max(self._data[g][0].max() for g in self.groups_))
        if not np.isfinite(tau) or tau <= 0:
            raise ValueError(f"tau: expected a positive number, got {tau!r}")
        rows = []
        for g in self.groups_:
            c = self._curves[g]
            tt = c["time"].to_numpy()
            s = c["surv"].to_numpy()
            inside = tt < tau
            knots = np.concatenate([[0.0], tt[inside], [tau]])
            heights = np.concatenate([[1.0], s[inside]])
            pieces = heights * np.diff(knots)
            rmean = pieces.sum()
            # area from each knot to tau
            area_after = np.cumsum(pieces[::-1])[::-1]  # area from knots[i] to tau
            d = c["n_event"].to_numpy()[inside]
            n = c["n_risk"].to_numpy()[inside]
            with np.errstate(divide="ignore", invalid="ignore"):
                h = np.where(n - d == 0, 0.0, d / (n * (n - d).astype(float)))
            var = np.sum(area_after[1:] ** 2 * h)
            rows.append({"group": g, "tau": tau, "rmean": rmean, "rmean_se": np.sqrt(var)})
        return pd.DataFrame(rows)


# --------------------------------------------------------------------------- competing risks
# Kept beside the Kaplan-Meier (as scikit-survival keeps its two estimators together): the
# Aalen-Johansen estimator is the product-limit curve of all causes, split by cause. It is written out
# because lifelines' ``AalenJohansenFitter`` breaks tied times by random jitter, so it matches the
# textbook estimator only on untied data (tests/test_competing_risks.py checks both facts).

def aalen_johansen(time, cause, group=None) -> pd.DataFrame:
    """Aalen-Johansen estimate of the cumulative incidence of each cause, per group.

    Parameters
    ----------
    time : array-like of non-negative times
    cause : array-like of integers, 0 = censored, k > 0 = event of cause k
    group : array-like or None

    Returns
    -------
    DataFrame
        One row per group and distinct time: group, time, n_risk, n_event (all causes),
        surv (all-cause Kaplan-Meier), and ``cif_<k>`` for each cause k present.

    Examples
    --------
    >>> aalen_johansen([1, 2, 2, 3, 4], [1, 2, 1, 0, 2])["cif_1"].iloc[-1]
    0.4
    """
    t = as_time(time)
    c = np.asarray(cause)
    if len(c) != len(t):
        raise ValueError(f"cause has {len(c)} values but time has {len(t)}; expected equal lengths")
    if not np.isin(c, np.arange(0, 100)).all():
        raise ValueError(f"cause: expected integer codes 0 (censored), 1, 2, ...; found {sorted(set(c.tolist()))[:5]}")
    c = c.astype(int)
    causes = sorted(k for k in set(c.tolist()) if k > 0)
    if group is None:
        labels, order = np.array(["all"] * len(t), dtype=object), ["all"]
    else:
        labels = as_groups(group)
        order = [level_label(v) for v in sorted_levels(pd.Series(group))]
    blocks = []
    for g in order:
        m = labels == g
        times, inv = np.unique(t[m], return_inverse=True)
        n_total = np.bincount(inv, minlength=len(times))
        n_risk = m.sum() - np.concatenate([[0], np.cumsum(n_total)[:-1]])
        d = {k: np.bincount(inv, weights=(c[m] == k), minlength=len(times)) for k in causes}
        d_all = sum(d.values()) if causes else np.zeros(len(times))
        surv = np.cumprod(1 - d_all / n_risk)
        surv_before = np.concatenate([[1.0], surv[:-1]])
        block = pd.DataFrame({"group": g, "time": times, "n_risk": n_risk, "n_event": d_all.astype(int),
                              "surv": surv})
        for k in causes:
            block[f"cif_{k}"] = np.cumsum(surv_before * d[k] / n_risk)
        blocks.append(block)
    return pd.concat(blocks, ignore_index=True)


def cif_at(table: pd.DataFrame, times) -> pd.DataFrame:
    """The step functions of :func:`aalen_johansen` read at ``times`` (value at the last time <= t).

    Columns: group, time, and the ``cif_<k>`` columns (0 before the first time).
    """
    cif_columns = [col for col in table.columns if col.startswith("cif_")]
    rows = []
    for g, block in table.groupby("group", sort=False):
        idx = np.searchsorted(block["time"].to_numpy(), np.asarray(times, dtype=float), side="right") - 1
        for when, i in zip(times, idx):
            row = {"group": g, "time": when}
            for col in cif_columns:
                row[col] = 0.0 if i < 0 else float(block[col].iloc[i])
            rows.append(row)
    return pd.DataFrame(rows)
