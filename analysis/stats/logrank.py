"""Log-rank and G-rho tests of k survival curves, as R's ``survival::survdiff``.

Harrington-Fleming G-rho family: each death time is weighted by S(t-)^rho,
S the pooled Kaplan-Meier curve (rho = 0: log-rank; rho = 1: Peto-Peto
modification of the Gehan-Wilcoxon test). Observed and expected counts are
the weighted sums R reports; the statistic is (O-E)' V^-1 (O-E) with the
first group dropped, df = number of groups with expected > 0 minus 1.
Pairwise tests are adjusted by Holm or Benjamini-Hochberg
(``statsmodels.stats.multitest.multipletests``).

The statistic is what statsmodels' ``survdiff`` computes (the tests check
that); it is written out here because R's weighted observed/expected table,
which survdiff does not return, comes from the same sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats._checks import as_event, as_groups, as_time, level_label, sorted_levels
from analysis.stats.timefix import aeq_times

__all__ = ["LogRankResult", "logrank_test", "pairwise_logrank", "survdiff"]


@dataclass(frozen=True)
class LogRankResult:
    """chisq, df, p and a table of group, n, observed, expected (weighted when rho != 0)."""

    chisq: float
    df: int
    p: float
    table: pd.DataFrame
    rho: float = 0.0


def _prepare(time, event, group):
    # R's survdiff(timefix = TRUE): times equal to within aeqSurv's tolerance are one time
    t = aeq_times(as_time(time))
    e = as_event(event)
    g = as_groups(group)
    if not (len(t) == len(e) == len(g)):
        raise ValueError(f"time, event and group lengths differ ({len(t)}, {len(e)}, {len(g)}); expected equal")
    order = [level_label(v) for v in sorted_levels(pd.Series(group))]
    return t, e, g, order


def survdiff(time, event, codes, k: int, rho: float = 0) -> tuple[float, int, np.ndarray, np.ndarray]:
    """G-rho statistic of k groups (numpy kernel of :func:`logrank_test`).

    Parameters
    ----------
    time : 1-d float array
    event : 1-d 0/1 array
    codes : 1-d int array, the group of each row as 0 .. k - 1
    k : int, number of groups
    rho : float, 0 for the log-rank test, 1 for Peto-Peto

    Returns
    -------
    (chisq, df, observed, expected) : the statistic, its degrees of freedom (groups with
    expected > 0, minus 1), and the (weighted) observed and expected deaths per group.
    """
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=float)
    uniq, inv = np.unique(t, return_inverse=True)
    # deaths and row counts per (distinct time, group)
    deaths = np.zeros((len(uniq), k))
    counts = np.zeros((len(uniq), k))
    np.add.at(deaths, (inv, codes), e)
    np.add.at(counts, (inv, codes), 1)
    n_risk_g = counts[::-1].cumsum(axis=0)[::-1]  # rows with time >= t, per group
    n_risk = n_risk_g.sum(axis=1)
    d = deaths.sum(axis=1)
    surv_left = np.concatenate([[1.0], np.cumprod(1 - d / n_risk)[:-1]])
    keep = d > 0
    w = surv_left[keep] ** rho
    dk, nk, n, dt = deaths[keep], n_risk_g[keep], n_risk[keep], d[keep]
    observed = (w[:, None] * dk).sum(axis=0)
    expected = (w[:, None] * dt[:, None] * nk / n[:, None]).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n > 1, w**2 * dt * (n - dt) / (n - 1), 0.0)
    frac = nk / n[:, None]
    var = np.einsum("t,ti,ij->ij", factor, frac, np.eye(k)) - np.einsum("t,ti,tj->ij", factor, frac, frac)
    usable = expected > 0
    if usable.sum() < 2:
        chisq = 0.0
    else:
        idx = np.flatnonzero(usable)[1:]
        diff = (observed - expected)[idx]
        chisq = float(diff @ np.linalg.solve(var[np.ix_(idx, idx)], diff))
    return chisq, int(usable.sum() - 1), observed, expected


def logrank_test(time, event, group, rho: float = 0) -> LogRankResult:
    """G-rho test (rho = 0 log-rank, rho = 1 Peto-Peto) of equal survival across groups,
    matching R's ``survdiff(Surv(time, event) ~ group, rho = rho)``. Times equal to within
    R's ``aeqSurv`` tolerance are merged first, as survdiff does
    (:func:`~analysis.stats.timefix.aeq_times`; the ``survdiff`` kernel takes times as given).

    Parameters
    ----------
    time : array-like of non-negative times
    event : array-like of 0/1 (1 = death)
    group : array-like of group labels (at least two levels), in R's factor order
    rho : float
        Weight S(t-)^rho of each death time: 0 log-rank, 1 Peto-Peto.

    Returns
    -------
    LogRankResult
        chisq, df, p and ``table`` (group, n, observed, expected).

    Examples
    --------
    >>> logrank_test(df["time"], df["event"], df["arm"]).p  # doctest: +SKIP
    """
    t, e, g, order = _prepare(time, event, group)
    if len(order) < 2:
        raise ValueError(f"group: found {len(order)} level(s) {order}; expected at least 2 to compare")
    k = len(order)
    code = pd.Categorical(g, categories=order).codes
    chisq, df, observed, expected = survdiff(t, e, code, k, rho)
    table = pd.DataFrame(
        {"group": order, "n": np.bincount(code, minlength=k), "observed": observed, "expected": expected}
    )
    return LogRankResult(chisq, df, float(stats.chi2.sf(chisq, df)), table, rho)


def pairwise_logrank(time, event, group, adjust: str = "holm", rho: float = 0) -> pd.DataFrame:
    """Log-rank (G-rho) test of every pair of groups, p adjusted for multiplicity
    by Holm ("holm"), Benjamini-Hochberg ("fdr_bh") or not ("none"), as survminer's
    ``pairwise_survdiff`` (``survdiff`` on each pair's rows, then ``p.adjust``).

    Times are merged as R's ``aeqSurv`` merges them within each pair, from the times as given: R's
    survdiff sees only the pair's rows, so a third group's times never bridge two times of the pair
    (1 and 1 + 2e-8 stay apart unless a 1 + 1e-8 is in the same comparison), and the relative
    tolerance is taken on the pair's own mean time.
    Columns: group1, group2, chisq, df, p, p_adjusted, adjust."""
    if adjust not in ("holm", "fdr_bh", "none"):
        raise ValueError(f"adjust: expected 'holm', 'fdr_bh' or 'none', got {adjust!r}")
    _, e, g, order = _prepare(time, event, group)
    t = as_time(time)  # unmerged: logrank_test merges each pair's times itself
    rows = []
    for a, b in combinations(order, 2):
        m = (g == a) | (g == b)
        res = logrank_test(t[m], e[m], g[m], rho=rho)
        rows.append({"group1": a, "group2": b, "chisq": res.chisq, "df": res.df, "p": res.p})
    out = pd.DataFrame(rows)
    if adjust == "none" or out.empty:
        out["p_adjusted"] = out.get("p")
    else:
        from statsmodels.stats.multitest import multipletests

        out["p_adjusted"] = multipletests(out["p"].to_numpy(), method=adjust)[1]
    out["adjust"] = adjust
    return out
