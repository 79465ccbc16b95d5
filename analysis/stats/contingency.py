"""Contingency-table tests, matching R (the Table-1 builder that uses them is ``analysis.pages.table_one``).

- ``chi_squared``: Pearson's chi-squared test of independence as R's
  ``chisq.test`` (``scipy.stats.chi2_contingency``; Yates' continuity
  correction only on 2x2 tables and only when ``correct=True``).
- ``fisher_exact``: exact Fisher-Freeman-Halton test for r x c tables by full
  enumeration of the tables with the observed margins (column by column,
  log-factorial weights, the last two columns joined by sorted prefix sums)
  while that is small, and beyond it by the network algorithm of
  :mod:`analysis.stats.fisher_network` (as R's FEXACT; the same p to ~1e-10);
  the p-value sums the tables whose probability is
  <= the observed one times (1 + 1e-7), as R's ``fisher.test``. For 2x2 also
  the conditional maximum-likelihood odds ratio and its exact interval
  (noncentral hypergeometric, R's root finder reproduced).
- ``kruskal_wallis`` (``scipy.stats.kruskal``, tie-corrected as R's
  ``kruskal.test``) and ``wilcoxon_rank_sum`` (R's ``wilcox.test`` rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import gammaln

from analysis.stats._checks import level_label, require_columns, sorted_levels
from analysis.stats.fisher_network import TableTooLargeError, _count_compositions, network_p

__all__ = [
    "TestResult",
    "chi_squared",
    "fisher_exact",
    "kruskal_wallis",
    "wilcoxon_rank_sum",
    "crosstab",
    "TableTooLargeError",
]

# R: fisher.test's relErr
_REL_ERR = 1 + 1e-7
# Exact enumeration is bounded so that refusing takes well under a second and at most a few hundred MB;
# a table past these bounds goes to the network algorithm, which has its own (named) refusal.
_MAX_PAIRS = 50_000_000  # partial tables x fillings of the next column compared
_MAX_TABLES = 5_000_000
_MAX_JOIN = 5_000_000  # about 0.5 s of the final join; a 2 x 3 table with n = 24,000 needs 12 million


class _EnumerationTooLarge(ValueError):
    """Full enumeration would be too slow: the network algorithm takes the table."""


@dataclass(frozen=True)
class TestResult:
    """Result of a test: method name, statistic/df (None when not defined), p, details."""

    __test__ = False  # not a pytest class

    method: str
    statistic: float | None
    df: int | None
    p: float
    details: dict = field(default_factory=dict)


def _as_counts(table) -> np.ndarray:
    arr = np.asarray(table.to_numpy() if isinstance(table, pd.DataFrame) else table, dtype=float)
    if arr.ndim != 2 or min(arr.shape) < 2:
        raise ValueError(f"table: expected a 2-D table with at least 2 rows and 2 columns, got shape {arr.shape}")
    if np.isnan(arr).any() or (arr < 0).any() or not np.all(arr == np.round(arr)):
        raise ValueError("table: expected non-negative integer counts")
    return arr


def chi_squared(table, correct: bool = False) -> TestResult:
    """Pearson's chi-squared test of independence (R ``chisq.test``).

    Yates' continuity correction (|O - E| reduced by min(0.5, |O - E|)) is used
    only for 2x2 tables and only when ``correct`` is True. ``details`` holds n,
    dim, expected counts, min_expected and R's warning when an expected count
    is below 5.

    Parameters
    ----------
    table : 2-d array-like or DataFrame of non-negative integer counts (at least 2 x 2)
    correct : bool
        Yates' continuity correction (2x2 only).

    Returns
    -------
    TestResult
        method, statistic, df, p, details.

    Examples
    --------
    >>> chi_squared([[10, 20], [20, 10]]).p  # doctest: +SKIP
    """
    obs = _as_counts(table)
    if (obs.sum(axis=0) == 0).any() or (obs.sum(axis=1) == 0).any():
        raise ValueError("table: a row or column has no observations; expected counts would be 0")
    stat, p, df, expected = stats.chi2_contingency(obs, correction=bool(correct) and obs.shape == (2, 2))
    details = {
        "n": int(obs.sum()),
        "dim": list(obs.shape),
        "expected": expected,
        "min_expected": float(expected.min()),
        "correct": bool(correct) and obs.shape == (2, 2),
    }
    if expected.min() < 5:
        details["warnings"] = ["Chi-squared approximation may be incorrect"]
    method = "Pearson's chi-squared" + (" with Yates' continuity correction" if details["correct"] else "")
    return TestResult(method, float(stat), int(df), float(p), details)


def _fisher_sum(rows: np.ndarray, cols: np.ndarray, const: float, log_threshold: float) -> tuple[float, int]:
    """Sum of the probabilities exp(const - sum log x_ij!) of all tables with the
    given margins whose log weight -sum log x_ij! is <= ``log_threshold``, and the
    number of tables in total.

    Full enumeration, column by column, vectorised: every partial table is a row
    of remaining row totals with its log weight. The last two columns are joined
    per distinct state by sorting the completions and using prefix sums, so the
    cost is (partial tables + completions) x log, not their product.
    """
    rows = rows.astype(np.int64)
    cols = cols.astype(np.int64)
    remaining = rows[None, :]
    weight = np.zeros(1)
    for c in cols[:-2]:
        if len(remaining) * _count_compositions(int(c), rows) * len(rows) > _MAX_PAIRS:  # counted, not built
            raise _EnumerationTooLarge("table too large for exact enumeration")
        comps = _compositions(int(c), rows)
        if len(remaining) * len(comps) > _MAX_PAIRS:  # refuse before the work, not after it
            raise _EnumerationTooLarge(f"table too large for exact enumeration ({len(remaining)} partial tables x "
                             f"{len(comps)} column fillings > {_MAX_PAIRS}); use chi_squared")
        chunk = max(1, 20_000_000 // max(1, comps.size))  # bound the memory of the comparison
        pairs = [np.nonzero((comps[None, :, :] <= remaining[i : i + chunk, None, :]).all(axis=2))
                 for i in range(0, len(remaining), chunk)]
        part = np.concatenate([pp + i * chunk for i, (pp, _) in enumerate(pairs)])
        comp = np.concatenate([cc for _, cc in pairs])
        if len(part) > _MAX_TABLES:
            raise _EnumerationTooLarge(f"table too large for exact enumeration (> {_MAX_TABLES} partial tables); use chi_squared")
        weight = weight[part] - gammaln(comps + 1).sum(axis=1)[comp]
        remaining = remaining[part] - comps[comp]
    if _count_compositions(int(cols[-2]), rows) > _MAX_JOIN:
        raise _EnumerationTooLarge("table too large for exact enumeration")
    last_comps = _compositions(int(cols[-2]), rows)
    states, which = np.unique(remaining, axis=0, return_inverse=True)
    # the join below loops over states: its cost grows with the square of the counts
    if len(states) * len(last_comps) > _MAX_JOIN:
        raise _EnumerationTooLarge(f"table too large for exact enumeration ({len(states)} x {len(last_comps)} partial "
                         f"tables to join, > {_MAX_JOIN}); use chi_squared")
    which = which.ravel()
    order = np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[order], np.arange(len(states) + 1))
    total, count = 0.0, 0
    for u, state in enumerate(states):
        w = weight[order[bounds[u] : bounds[u + 1]]]
        # the second-last column takes x, the last column what remains (must be >= 0)
        x = last_comps[(last_comps <= state).all(axis=1)]
        v = np.sort(-(gammaln(x + 1).sum(axis=1) + gammaln(state - x + 1).sum(axis=1)))
        top = v[-1]  # scale so that exp() neither overflows nor loses the large terms
        prefix = np.concatenate([[0.0], np.cumsum(np.exp(v - top))])
        idx = np.searchsorted(v, log_threshold - w, side="right")
        total += float(np.sum(np.exp(w + const + top) * prefix[idx]))
        count += len(w) * len(v)
    return total, count


def _compositions(total: int, caps: np.ndarray) -> np.ndarray:
    """All vectors x (as rows) with 0 <= x <= caps and sum(x) = total."""
    if len(caps) == 1:
        return np.array([[total]]) if total <= caps[0] else np.zeros((0, 1), dtype=np.int64)
    rest = int(caps[1:].sum())
    blocks = []
    for first in range(max(0, total - rest), min(total, int(caps[0])) + 1):
        tail = _compositions(total - first, caps[1:])
        blocks.append(np.column_stack([np.full(len(tail), first), tail]))
    return np.concatenate(blocks) if blocks else np.zeros((0, len(caps)), dtype=np.int64)


def fisher_exact(table, conf_level: float = 0.95, max_work: int | None = None) -> TestResult:
    """Exact Fisher(-Freeman-Halton) test of independence for an r x c table
    (R ``fisher.test``): p = sum of the hypergeometric probabilities of the tables
    with the observed margins that are <= observed * (1 + 1e-7). Small tables are
    enumerated; larger ones go to the network algorithm
    (:func:`analysis.stats.fisher_network.network_p`), which answers every table
    R's ``fisher.test(workspace = 2e8)`` answers (tests/reference/fisher_R.json)
    and raises :class:`~analysis.stats.fisher_network.TableTooLargeError` (a
    ValueError) beyond its own bound. For 2x2 the details add the conditional-MLE
    odds ratio and its exact CI.

    Parameters
    ----------
    table : 2-d array-like or DataFrame of non-negative integer counts
    conf_level : float
        Level of the 2x2 odds ratio's interval.
    max_work : int, optional
        The network algorithm's budget (default :data:`~analysis.stats.fisher_network.MAX_WORK`,
        enough for what R answers); a caller that must stay fast, such as a report on a large
        cohort, gives a smaller one and falls back to chi-squared when it is exceeded.

    Returns
    -------
    TestResult
        method, p, details (n, dim, algorithm "enumeration" with n_tables, or "network";
        odds_ratio_cmle, odds_ratio_ci for 2x2).

    Examples
    --------
    >>> fisher_exact([[3, 1], [1, 3]]).p  # doctest: +SKIP
    """
    obs = _as_counts(table)
    obs = obs[obs.sum(axis=1) > 0][:, obs.sum(axis=0) > 0]  # R drops empty margins
    if min(obs.shape) < 2:
        p = 1.0
        return TestResult("Fisher's exact", None, None, p, {"n": int(obs.sum()), "dim": list(obs.shape)})
    rows, cols = obs.sum(axis=1), obs.sum(axis=0)
    # enumerate along the smaller dimension's complement: fewer row states
    if len(rows) > len(cols):
        rows, cols, work = cols, rows, obs.T
    else:
        work = obs
    n = rows.sum()
    # P(table) = prod r_i! prod c_j! / (n! prod x_ij!) = exp(const - sum log x_ij!)
    const = gammaln(rows + 1).sum() + gammaln(cols + 1).sum() - gammaln(n + 1)
    log_weight_obs = -gammaln(work + 1).sum()
    # the product of the columns' filling counts bounds the number of tables: past 2e6 enumeration
    # is slower than the network algorithm (same p to ~1e-10), below it the enumeration is kept
    bound = np.prod([float(_count_compositions(int(c), rows)) for c in cols[:-1]])
    try:
        if bound > 2e6:
            raise _EnumerationTooLarge("network algorithm faster")
        p, n_tables = _fisher_sum(rows, cols, const, log_weight_obs + np.log(_REL_ERR))
        details = {"n": int(n), "dim": list(obs.shape), "algorithm": "enumeration", "n_tables": int(n_tables)}
    except _EnumerationTooLarge:
        p = network_p(rows, cols, log_weight_obs + np.log(_REL_ERR),
                      **({} if max_work is None else {"max_work": max_work}))
        details = {"n": int(n), "dim": list(obs.shape), "algorithm": "network"}
    p = min(1.0, p)
    if obs.shape == (2, 2):
        or_, lo, hi = _odds_ratio_cmle(obs, conf_level)
        details.update({"odds_ratio_cmle": or_, "odds_ratio_ci": [lo, hi], "conf_level": conf_level})
    return TestResult("Fisher's exact", None, None, p, details)


# --- 2x2 conditional MLE odds ratio (noncentral hypergeometric) --------------------
def _zeroin(f, ax, bx, fa, fb, tol, maxit=1000):
    """Brent's root finder as R's ``uniroot`` runs it (R_zeroin2), reproduced so
    the odds-ratio figures agree with R's to the last digits (R stops at
    tol = eps^0.25, so a more precise root would *not* match R)."""
    eps = np.finfo(float).eps
    a, b = ax, bx
    c, fc = a, fa
    if fa == 0:
        return a
    if fb == 0:
        return b
    for _ in range(maxit + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * eps * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b


def _uniroot(f, lower, upper):
    return _zeroin(f, lower, upper, f(lower), f(upper), np.finfo(float).eps ** 0.25)


def _odds_ratio_cmle(obs, conf_level):
    """Conditional MLE of the odds ratio and its exact two-sided CI, following
    R ``fisher.test``: roots of the noncentral hypergeometric mean / tail
    probabilities in psi (searched on (0, 1] and on 1/psi)."""
    x = int(obs[0, 0])
    m = int(obs[:, 0].sum())
    n = int(obs[:, 1].sum())
    k = int(obs[0, :].sum())
    lo, hi = max(0, k - n), min(k, m)
    support = np.arange(lo, hi + 1)
    logdc = stats.hypergeom.logpmf(support, m + n, m, k)
    tiny = np.finfo(float).eps

    def dnhyper(ncp):
        d = logdc + np.log(ncp) * support
        d = np.exp(d - d.max())
        return d / d.sum()

    def mnhyper(ncp):
        if ncp == 0:
            return lo
        if ncp == np.inf:
            return hi
        return float((support * dnhyper(ncp)).sum())

    def pnhyper(q, ncp, upper_tail=False):
        if ncp == 1:
            return float(stats.hypergeom.sf(x - 1, m + n, m, k) if upper_tail else stats.hypergeom.cdf(x, m + n, m, k))
        if ncp == 0:
            return float(q <= lo if upper_tail else q >= lo)
        if ncp == np.inf:
            return float(q <= hi if upper_tail else q >= hi)
        d = dnhyper(ncp)
        return float(d[support >= q].sum() if upper_tail else d[support <= q].sum())

    def mle():
        if x == lo:
            return 0.0
        if x == hi:
            return np.inf
        mu = mnhyper(1)
        if mu > x:
            return _uniroot(lambda t: mnhyper(t) - x, 0.0, 1.0)
        if mu < x:
            return 1 / _uniroot(lambda t: mnhyper(1 / t) - x, tiny, 1.0)
        return 1.0

    alpha = (1 - conf_level) / 2

    def ncp_upper():
        if x == hi:
            return np.inf
        p = pnhyper(x, 1)
        if p < alpha:
            return _uniroot(lambda t: pnhyper(x, t) - alpha, 0.0, 1.0)
        if p > alpha:
            return 1 / _uniroot(lambda t: pnhyper(x, 1 / t) - alpha, tiny, 1.0)
        return 1.0

    def ncp_lower():
        if x == lo:
            return 0.0
        p = pnhyper(x, 1, upper_tail=True)
        if p > alpha:
            return _uniroot(lambda t: pnhyper(x, t, upper_tail=True) - alpha, 0.0, 1.0)
        if p < alpha:
            return 1 / _uniroot(lambda t: pnhyper(x, 1 / t, upper_tail=True) - alpha, tiny, 1.0)
        return 1.0

    return float(mle()), float(ncp_lower()), float(ncp_upper())


def _split_by_group(values, group):
    vals = pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce")
    grp = pd.Series(np.asarray(group, dtype=object))
    if len(vals) != len(grp):
        raise ValueError(f"values has {len(vals)} entries but group has {len(grp)}; expected equal lengths")
    keep = vals.notna() & grp.notna()
    levels = sorted_levels(grp[keep])
    samples = [vals[keep & (grp == lev)].to_numpy(dtype=float) for lev in levels]
    return [level_label(v) for v in levels], samples


def kruskal_wallis(values, group) -> TestResult:
    """Kruskal-Wallis rank-sum test with the tie correction (R ``kruskal.test``,
    via ``scipy.stats.kruskal``). Missing values are dropped."""
    labels, samples = _split_by_group(values, group)
    if len(samples) < 2:
        raise ValueError(f"group: found {len(samples)} level(s) with data; expected at least 2")
    stat, p = stats.kruskal(*samples)
    return TestResult(
        "Kruskal-Wallis", float(stat), len(samples) - 1, float(p),
        {"groups": labels, "n": [len(s) for s in samples]},
    )


def wilcoxon_rank_sum(values, group) -> TestResult:
    """Wilcoxon rank-sum (Mann-Whitney) test as R ``wilcox.test``: exact when both
    groups have < 50 values and there are no ties, else the normal approximation
    with tie-corrected variance and continuity correction."""
    labels, samples = _split_by_group(values, group)
    if len(samples) != 2:
        raise ValueError(f"group: found {len(samples)} levels {labels}; expected exactly 2")
    a, b = samples
    ties = len(np.unique(np.concatenate([a, b]))) < len(a) + len(b)
    exact = len(a) < 50 and len(b) < 50 and not ties
    res = stats.mannwhitneyu(a, b, alternative="two-sided", use_continuity=True,
                             method="exact" if exact else "asymptotic")
    return TestResult("Wilcoxon rank-sum", float(res.statistic), None, float(res.pvalue),
                      {"groups": labels, "exact": exact})


def crosstab(df: pd.DataFrame, row: str, col: str) -> pd.DataFrame:
    """Counts of ``row`` x ``col`` (rows with a missing value in either dropped),
    levels in R's factor order (numeric order for numbers)."""
    require_columns(df, [row, col])
    data = df[[row, col]].dropna()
    r_levels = sorted_levels(data[row])
    c_levels = sorted_levels(data[col])
    tab = pd.crosstab(data[row], data[col]).reindex(index=r_levels, columns=c_levels, fill_value=0)
    tab.index = [level_label(v) for v in tab.index]
    tab.columns = [level_label(v) for v in tab.columns]
    tab.index.name, tab.columns.name = row, col
    return tab
