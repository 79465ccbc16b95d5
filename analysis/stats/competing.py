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

    Computed in O(distinct times x causes), not O(patients x times): a patient's influence depends
    only on the index tau of its time and its cause c. Before tau it is a sequence B_k(t) shared by
    everyone still at risk; from tau on it is H + G CIF_k(t), with G = (influence on S at tau) / S(tau)
    (a Greenwood-type sum, finite even where S is small) and H the rest. The sum of squares over
    patients is then B_k(t)^2 times the number still at risk, plus running sums over tau of
    w H^2, w H G and w G^2 (w: patients per (tau, c)) combined with CIF_k(t) and CIF_k(t)^2.
    """
    t = as_time(time)
    c = as_causes(cause, len(t))
    times, inv = np.unique(t, return_inverse=True)
    n_times = len(times)
    n_out = np.bincount(inv, minlength=n_times).astype(float)
    n = len(t) - np.concatenate([[0.0], np.cumsum(n_out)[:-1]])  # at risk at each time
    d_all = np.bincount(inv, weights=(c > 0), minlength=n_times)
    dl_all = d_all / n
    surv = np.cumprod(1 - dl_all)
    surv_left = np.concatenate([[1.0], surv[:-1]])
    # influence on S(t_j) of a patient still at risk after t_j: A_j = A_{j-1}(1 - dL_j) + S_{j-1} dL_j / n_j
    # = S_j sum_l d_l / (n_l (n_l - d_l)); the sum itself is G's at-risk part
    left = n - d_all
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(np.where(left > 0, d_all / (n * left), 0.0))
        inv_left = np.where(left > 0, 1 / left, 0.0)
    a_infl = surv * greenwood
    a_left = np.concatenate([[0.0], a_infl[:-1]])
    # the patterns (tau, c) and how many patients share each
    width = int(c.max()) + 1
    key, count = np.unique(inv.astype(np.int64) * width + c, return_counts=True)  # 1-D: a fast sort
    tau, p_cause, w = key // width, key % width, count.astype(float)
    # G: influence on S at tau over S(tau); 0 where everyone left at risk died (nothing follows)
    g = np.where(left[tau] > 0, greenwood[tau] - (p_cause > 0) * inv_left[tau], 0.0)
    still = n - n_out  # at risk after t_j: those whose influence is still the shared sequence
    out = {}
    for k in causes:
        dl_k = np.bincount(inv, weights=(c == k), minlength=n_times) / n
        cif = np.cumsum(surv_left * dl_k)
        b = np.cumsum(a_left * dl_k - surv_left * dl_k / n)
        h = b[tau] + surv_left[tau] * (p_cause == k) / n[tau] - g * cif[tau]
        hh = np.cumsum(np.bincount(tau, weights=w * h * h, minlength=n_times))
        hg = np.cumsum(np.bincount(tau, weights=w * h * g, minlength=n_times))
        gg = np.cumsum(np.bincount(tau, weights=w * g * g, minlength=n_times))
        var = b * b * still + hh + 2 * cif * hg + cif * cif * gg
        out[k] = np.sqrt(np.maximum(var, 0.0))  # a sum of squares: only rounding can take it below 0
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
    if len(order) < 2:
        raise ValueError("group: Gray's test needs at least two groups")
    return _gray(t, c, g, len(order), of_cause, rho)


def _gray(t, c, g, ng, of_cause, rho=0.0) -> dict:
    """:func:`gray_test` on checked arrays: times, int causes, group codes 0 .. ng - 1."""
    times, inv = np.unique(t, return_inverse=True)
    kind = np.where(c == of_cause, 1, np.where(c > 0, 2, 0))
    # counts per (kind, time, group): one bincount of the flat index (np.add.at is far slower)
    d = np.bincount((kind * len(times) + inv) * ng + g, minlength=3 * len(times) * ng).reshape(3, len(times), ng)
    d = d.astype(float)
    # crstm's loop over times, vectorised: every sequence it carries from one time to the next
    # (risk sets, each group's KM and cause-k CIF, the pooled F, the running matrix cc) is a
    # cumulative sum or product over times, so the per-time terms are arrays and their sums einsums.
    rs_all = np.bincount(g, minlength=ng) - np.vstack([np.zeros(ng), np.cumsum(d.sum(axis=0), axis=0)[:-1]])
    ev = (d[1] + d[2]).sum(axis=1) > 0  # crstm skips times with no death
    d1, d2, rs = d[1][ev], d[2][ev], rs_all[ev]
    nd1, nd2 = d1.sum(axis=1), d2.sum(axis=1)
    live = rs > 0
    safe = np.where(live, rs, 1.0)
    skm = np.cumprod(np.where(live, (rs - d1 - d2) / safe, 1.0), axis=0)
    skmm = np.vstack([np.ones(ng), skm[:-1]])
    f1 = np.cumsum(np.where(live, skmm * d1 / safe, 0.0), axis=0)
    f1m = np.vstack([np.zeros(ng), f1[:-1]])
    sk = np.where(live, skmm, 1.0)
    t1 = np.where(live, rs / sk, 0.0)
    tr = t1.sum(axis=1)
    tq = np.sum(np.where(live, rs * (1 - f1m) / sk, 0.0), axis=1)
    f = np.cumsum(nd1 / tr)
    fm = np.concatenate([[0.0], f[:-1]])
    fb = (1 - fm) ** rho
    a = -fb[:, None, None] * t1[:, :, None] * t1[:, None, :] / tr[:, None, None]
    diag = np.arange(ng)
    a[:, diag, diag] = fb[:, None] * t1 * (1 - t1 / tr[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        cc_all = np.cumsum(a * (nd1 / (tr * (1 - fm)))[:, None, None], axis=0)  # cc after time j's update
        s = np.sum(np.where(live, fb[:, None] * (d1 - nd1[:, None] * rs * (1 - f1m) / (sk * tq[:, None])), 0.0),
                   axis=0)[:-1]
        # the cause's own deaths, each group k at risk
        own = (nd1[:, None] > 0) & live
        pos = skm > 0
        t4 = np.where(pos, 1 - (1 - f[:, None]) / np.where(pos, skm, 1.0), 1.0)
        tie = np.where(nd1[:, None] > 1, 1 - (nd1[:, None] - 1) / (tr[:, None] * skmm - 1), 1.0)
        t3 = np.where(own, tie * skmm * nd1[:, None] / (tr[:, None] * safe), 0.0)
        # the competing deaths of group k
        other = (nd2[:, None] > 0) & pos & (d2 > 0)
        u4 = np.where(other, (1 - f[:, None]) / np.where(pos, skm, 1.0), 0.0)
        tie2 = np.where(d2 > 1, 1 - (d2 - 1) / (safe - 1), 1.0)
        u3 = np.where(other, tie2 * skmm ** 2 * d2 / safe ** 2, 0.0)
    cc_k = np.transpose(cc_all[:, :-1, :], (0, 2, 1))  # [j, k, :] = cc[:-1, k] at time j
    w_own = np.transpose(a[:, :-1, :], (0, 2, 1)) - t4[:, :, None] * cc_k
    w_own = np.where(own[:, :, None], w_own, 0.0)
    w_other = np.where(other[:, :, None], u4[:, :, None] * cc_k, 0.0)
    v3 = np.sum(t4 * t4 * t3 + u4 * u4 * u3, axis=0)
    v2 = (np.einsum("jkp,jk->pk", w_own, t4 * t3) - np.einsum("jkp,jk->pk", w_other, u4 * u3))
    v = np.einsum("jk,jkp,jkq->pq", t3, w_own, w_own) + np.einsum("jk,jkp,jkq->pq", u3, w_other, w_other)
    cc = cc_all[-1]
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
        codes = pd.Categorical(labels, categories=self.groups_).codes.astype(int)
        self.causes_ = [int(k) for k in np.unique(c) if k > 0]
        table = aalen_johansen(t, c, None if group is None else labels)
        self._data = {g: (t[codes == i], c[codes == i]) for i, g in enumerate(self.groups_)}
        self.n_ = {g: int(len(self._data[g][0])) for g in self.groups_}
        se = {k: np.full(len(table), np.nan) for k in self.causes_}
        table_group = table["group"].to_numpy()
        for g in self.groups_:
            rows = table_group == g
            for k, values in aj_std_err(*self._data[g], self.causes_).items():
                se[k][rows] = values
        for k in self.causes_:
            table[f"se_{k}"] = se[k]
        for k in self.causes_:
            table[f"lower_{k}"], table[f"upper_{k}"] = cif_band(table[f"cif_{k}"], table[f"se_{k}"],
                                                                self.conf_level, self.conf_type)
        self.table_ = table
        self.tests_ = None
        if group is not None and len(self.groups_) > 1:
            ng = len(self.groups_)
            self.tests_ = pd.DataFrame([{"cause": k, **_gray(t, c, codes, ng, k)} for k in self.causes_]
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
