"""Competing risks matched to R: cumulative incidence with cmprsk's and survfit's variances, Gray's test.

The point estimate is the Aalen-Johansen estimator (:func:`analysis.stats.aalen_johansen`). Two
variances are in use and they differ, so both are given, each pinned to its R source:

- ``var_cmprsk``: ``cmprsk::cuminc``'s delta-method variance (Gray's ``cinc`` routine), reported by
  ``cmprsk::timepoints`` at requested times. cmprsk records it only at the jump times of the cause, so
  between jumps it does not move even when competing deaths happen; :meth:`CumulativeIncidence.at`
  does the same.
- ``std_err``: the infinitesimal-jackknife standard error that ``survfit(Surv(time, factor(status)))``
  reports along the whole curve (every distinct time): the square root of the sum over patients of
  the squared derivative of the estimate with respect to the patient's case weight.

Bands (:func:`cif_band`) default to survfit's multi-state ``log`` band on the jackknife error, the
band R draws for these curves; ``log-log`` (the transform used with cmprsk's variance, which keeps the
band inside (0, 1)) is offered too.

Why not lifelines: its ``AalenJohansenFitter`` breaks tied times by random jitter (so its estimate is
the textbook one only on untied data) and its variance is its own delta-method formula, neither
cmprsk's nor survfit's (``tests/test_competing_risks.py`` measures both facts). Gray's test exists in
no Python library we could find; it is written from Gray (1988) following cmprsk's ``crstm``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats._checks import as_groups, as_time, level_label, sorted_levels
from analysis.stats.nonparametric import aalen_johansen

__all__ = ["CumulativeIncidence", "cif_band", "cinc_variance", "aj_std_err", "gray_test", "as_causes"]


def as_causes(cause, n: int) -> np.ndarray:
    """Cause codes as int: 0 censored, 1, 2, ... the causes."""
    c = np.asarray(cause)
    if len(c) != n:
        raise ValueError(f"cause has {len(c)} values but time has {n}; expected equal lengths")
    if not np.isin(c, np.arange(0, 100)).all():
        raise ValueError(f"cause: expected integer codes 0 (censored), 1, 2, ...; found {sorted(set(c.tolist()))[:5]}")
    return c.astype(int)


def _group_labels(group, n):
    if group is None:
        return np.array(["all"] * n, dtype=object), ["all"]
    return as_groups(group), [level_label(v) for v in sorted_levels(pd.Series(group))]


def cinc_variance(time, cause, of_cause: int) -> pd.DataFrame:
    """cmprsk's estimate and variance of one cause's cumulative incidence (one group).

    Returns the jump times of ``of_cause`` with columns time, estimate, var: cmprsk's ``cinc``
    (Gray's delta-method variance, with its correction for tied deaths), which is what
    ``cuminc(...)[[g c]]$var`` and ``timepoints`` report.
    """
    t = as_time(time)
    c = as_causes(cause, len(t))
    times, inv = np.unique(t, return_inverse=True)
    d1 = np.bincount(inv, weights=(c == of_cause), minlength=len(times))
    d2 = np.bincount(inv, weights=(c > 0) & (c != of_cause), minlength=len(times))
    n_out = np.bincount(inv, minlength=len(times))
    at_risk = len(t) - np.concatenate([[0], np.cumsum(n_out)[:-1]])
    surv, f, v1, v2, v3 = 1.0, 0.0, 0.0, 0.0, 0.0
    rows = []
    # A scalar loop: each step reads the sums the previous one left, as in cmprsk's routine.
    for when, rs, a, b in zip(times, at_risk.astype(float), d1, d2):
        if a + b == 0:
            continue
        surv_next = surv * (rs - a - b) / rs
        if a > 0:
            f += surv * a / rs
        for count, own in ((b, False), (a, True)):
            if count <= 0 or (not own and surv_next <= 0):
                continue
            tie = 1 - (count - 1) / (rs - 1) if count > 1 else 1.0
            t6 = surv * surv * tie * count / (rs * rs)
            t3 = 1 / surv_next if surv_next > 0 else 0.0
            t4 = 1 + t3 * f if own else f / surv_next
            v1, v2, v3 = v1 + t4 * t4 * t6, v2 + t3 * t4 * t6, v3 + t3 * t3 * t6
        if a > 0:
            rows.append((when, f, v1 + f * f * v3 - 2 * f * v2))
        surv = surv_next
    return pd.DataFrame(rows, columns=["time", "estimate", "var"])


def aj_std_err(time, cause, causes) -> dict[int, np.ndarray]:
    """Infinitesimal-jackknife standard error of each cause's Aalen-Johansen estimate (one group),
    at every distinct time, as ``survfit`` reports it for a multi-state fit (``std.err``).

    The influence of patient i on the cause-k hazard increment at t_j is
    (dN_ik(t_j) - Y_i(t_j) d_kj / n_j) / n_j; it is carried through S(t) = prod(1 - dLambda) and
    CIF_k(t) = sum S(t_j-) dLambda_k(t_j) by the product rule. Returns {cause: array}.
    """
    t = as_time(time)
    c = as_causes(cause, len(t))
    times, inv = np.unique(t, return_inverse=True)
    # A patient's influence depends only on when it left and why (its time and cause), so the
    # patients sharing both carry one influence path, weighted by how many they are: the loop runs
    # over those patterns (at most distinct times x causes), not over every patient.
    width = int(c.max()) + 1
    key, count = np.unique(inv.astype(np.int64) * width + c, return_counts=True)  # 1-D: a fast sort
    p_time, p_cause, weight = key // width, key % width, count.astype(float)
    n_out = np.bincount(inv, minlength=len(times))
    at_risk_n = len(t) - np.concatenate([[0], np.cumsum(n_out)[:-1]])
    deaths = {k: np.bincount(inv, weights=(c == k), minlength=len(times)) for k in causes}
    surv, infl_s = 1.0, np.zeros(len(key))
    infl_f = {k: np.zeros(len(key)) for k in causes}
    out = {k: np.empty(len(times)) for k in causes}
    for j in range(len(times)):
        at_risk = p_time >= j
        here = p_time == j
        n = float(at_risk_n[j])
        dl = {k: deaths[k][j] / n for k in causes}
        dl_all = sum(dl.values())
        u_all = (((p_cause > 0) & here) - at_risk * dl_all) / n
        for k in causes:
            u_k = (((p_cause == k) & here) - at_risk * dl[k]) / n
            infl_f[k] = infl_f[k] + infl_s * dl[k] + surv * u_k
            out[k][j] = np.sqrt(np.sum(weight * infl_f[k] ** 2))
        infl_s = infl_s * (1 - dl_all) - surv * u_all
        surv *= 1 - dl_all
    return out


def cif_band(estimate, std_err, conf_level: float = 0.95, conf_type: str = "log"):
    """Pointwise band of a cumulative incidence from its standard error: (lower, upper).

    ``log`` is survfit's multi-state band, exp(log F +- z se / F), the upper limit not cut at 1, as
    ``survfit`` leaves it for a state probability; ``log-log`` is F^exp(+-z se / (F log F)), which
    stays inside (0, 1). NaN where F is 0 (and, for log-log, 1), as R's NA.
    """
    f = np.asarray(estimate, dtype=float)
    se = np.asarray(std_err, dtype=float)
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log":
            x = np.where(f == 0, np.nan, f)
            width = z * np.where(se == 0, 0.0, se / x)
            return np.exp(np.log(x) - width), np.exp(np.log(x) + width)
        if conf_type == "log-log":
            x = np.where((f == 0) | (f == 1), np.nan, f)
            width = z * np.where(se == 0, 0.0, se / x) / np.log(x)
            return np.exp(-np.exp(np.log(-np.log(x)) - width)), np.exp(-np.exp(np.log(-np.log(x)) + width))
    raise ValueError(f"conf_type: expected 'log' or 'log-log', got {conf_type!r}")


def gray_test(time, cause, group, of_cause: int, rho: float = 0.0) -> dict:
    """Gray's test that the cumulative incidence of ``of_cause`` is the same in every group, as
    ``cmprsk::cuminc(...)$Tests`` (no strata): {stat, p, df}.

    The score compares each group's subdistribution hazard with the pooled one, weighted by
    (1 - F(t-))^rho; the statistic s' V^-1 s on k - 1 df drops the last group. stat is -1 (p 1)
    when V is singular, as cmprsk reports it.
    """
    t = as_time(time)
    c = as_causes(cause, len(t))
    labels, order = _group_labels(group, len(t))
    g = pd.Categorical(labels, categories=order).codes.astype(int)  # a vectorised order.index
    ng = len(order)
    if ng < 2:
        raise ValueError("group: Gray's test needs at least two groups")
    times, inv = np.unique(t, return_inverse=True)
    d = np.zeros((3, len(times), ng))
    kind = np.where(c == of_cause, 1, np.where(c > 0, 2, 0))
    np.add.at(d, (kind, inv, g), 1)
    rs = np.bincount(g, minlength=ng).astype(float)
    f1m, skmm, fm = np.zeros(ng), np.ones(ng), 0.0
    s, v = np.zeros(ng - 1), np.zeros((ng - 1, ng - 1))
    v3, v2, cc = np.zeros(ng), np.zeros((ng - 1, ng)), np.zeros((ng, ng))
    for j in range(len(times)):
        d1, d2 = d[1, j], d[2, j]
        nd1, nd2 = d1.sum(), d2.sum()
        if nd1 + nd2 > 0:
            live = rs > 0
            safe, sk = np.where(live, rs, 1.0), np.where(live, skmm, 1.0)
            skm = np.where(live, skmm * (rs - d1 - d2) / safe, skmm)
            tr = np.sum(np.where(live, rs / sk, 0.0))
            tq = np.sum(np.where(live, rs * (1 - f1m) / sk, 0.0))
            f = fm + nd1 / tr
            fb = (1 - fm) ** rho
            t1 = np.where(live, rs / sk, 0.0)
            a = -fb * np.outer(t1, t1) / tr
            a[np.diag_indices(ng)] = fb * t1 * (1 - t1 / tr)
            cc += a * nd1 / (tr * (1 - fm))
            s += np.where(live, fb * (d1 - nd1 * rs * (1 - f1m) / (sk * tq)), 0.0)[:-1]
            for k in range(ng):
                if nd1 > 0 and live[k]:
                    t4 = 1 - (1 - f) / skm[k] if skm[k] > 0 else 1.0
                    tie = 1 - (nd1 - 1) / (tr * skmm[k] - 1) if nd1 > 1 else 1.0
                    t3 = tie * skmm[k] * nd1 / (tr * rs[k])
                    w = a[:-1, k] - t4 * cc[:-1, k]
                    v3[k] += t4 * t4 * t3
                    v2[:, k] += w * t4 * t3
                    v += t3 * np.outer(w, w)
                if nd2 > 0 and skm[k] > 0 and d2[k] > 0:
                    t4 = (1 - f) / skm[k]
                    tie = 1 - (d2[k] - 1) / (rs[k] - 1) if d2[k] > 1 else 1.0
                    t3 = tie * skmm[k] ** 2 * d2[k] / rs[k] ** 2
                    w = t4 * cc[:-1, k]
                    v3[k] += t4 * t4 * t3
                    v2[:, k] -= w * t4 * t3
                    v += t3 * np.outer(w, w)
            f1m = np.where(live, f1m + skmm * d1 / safe, f1m)
            fm, skmm = f, skm
        rs = rs - d[:, j].sum(axis=0)
    extra = cc[:-1] @ (cc[:-1] * v3).T + cc[:-1] @ v2.T + v2 @ cc[:-1].T
    v = v + extra
    try:
        stat = float(s @ np.linalg.solve(v, s)) if np.linalg.matrix_rank(v) == ng - 1 else -1.0
    except np.linalg.LinAlgError:
        stat = -1.0
    return {"stat": stat, "p": float(stats.chi2.sf(stat, ng - 1)) if stat >= 0 else 1.0, "df": ng - 1}


class CumulativeIncidence:
    """Cumulative incidence of competing causes per group, with R's variances, bands and Gray's test.

    Parameters
    ----------
    conf_level : float
        Level of the pointwise bands (default 0.95).
    conf_type : {"log", "log-log"}
        Transform of the band (default ``log``, survfit's multi-state band; see :func:`cif_band`).

    Attributes
    ----------
    table_ : DataFrame
        :func:`aalen_johansen`'s table (group, time, n_risk, n_event, surv, ``cif_<k>``) with, per
        cause k, ``se_<k>`` (survfit's infinitesimal-jackknife standard error) and the band
        ``lower_<k>``, ``upper_<k>``.
    causes_ : list of int
    groups_ : list of str
        Sorted as R sorts a factor's levels; ``["all"]`` when fitted without groups.
    n_ : dict
        Patients per group.
    tests_ : DataFrame or None
        Gray's test per cause (index cause; stat, p, df); None without groups.

    Examples
    --------
    >>> ci = CumulativeIncidence().fit([1, 2, 2, 3, 4], [1, 2, 1, 0, 2])
    >>> round(float(ci.at([2]).loc[0, "estimate"]), 3)
    0.4
    """

    def __init__(self, conf_level: float = 0.95, conf_type: str = "log"):
        self.conf_level = conf_level
        self.conf_type = conf_type

    def fit(self, time, cause, group=None) -> "CumulativeIncidence":
        t = as_time(time)
        c = as_causes(cause, len(t))
        labels, self.groups_ = _group_labels(group, len(t))
        self.causes_ = sorted(k for k in set(c.tolist()) if k > 0)
        table = aalen_johansen(t, c, None if group is None else labels)
        self._data = {g: (t[labels == g], c[labels == g]) for g in self.groups_}
        self.n_ = {g: int(len(self._data[g][0])) for g in self.groups_}
        for k in self.causes_:
            table[f"se_{k}"] = np.nan
        for g in self.groups_:
            rows = (table["group"] == g).to_numpy()
            se = aj_std_err(*self._data[g], self.causes_)
            for k in self.causes_:
                table.loc[rows, f"se_{k}"] = se[k]
        for k in self.causes_:
            table[f"lower_{k}"], table[f"upper_{k}"] = cif_band(table[f"cif_{k}"], table[f"se_{k}"],
                                                                self.conf_level, self.conf_type)
        self.table_ = table
        self.tests_ = None
        if group is not None and len(self.groups_) > 1:
            self.tests_ = pd.DataFrame([{"cause": k, **gray_test(t, c, labels, k)} for k in self.causes_]
                                       ).set_index("cause")
        return self

    def at(self, times) -> pd.DataFrame:
        """Estimate and cmprsk's variance at ``times``, as ``cmprsk::timepoints``: the value at the
        last jump at or before each time, NaN past the group's largest follow-up time.

        Columns: group, cause, time, estimate, var_cmprsk.
        """
        if not hasattr(self, "table_"):
            raise RuntimeError("CumulativeIncidence: call fit() first")
        when = np.sort(np.unique(np.asarray(times, dtype=float)))
        rows = []
        for g in self.groups_:
            t, c = self._data[g]
            for k in self.causes_:
                jumps = cinc_variance(t, c, k)
                idx = np.searchsorted(jumps["time"].to_numpy(), when, side="right") - 1
                for x, i in zip(when, idx):
                    beyond = x > t.max() or x < 0
                    est = np.nan if beyond else (0.0 if i < 0 else float(jumps["estimate"].iloc[i]))
                    var = np.nan if beyond else (0.0 if i < 0 else float(jumps["var"].iloc[i]))
                    rows.append({"group": g, "cause": k, "time": x, "estimate": est, "var_cmprsk": var})
        return pd.DataFrame(rows)
