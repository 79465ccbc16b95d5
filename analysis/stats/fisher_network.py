"""Exact Fisher-Freeman-Halton p-value of an r x c table by a network algorithm (Mehta & Patel 1983,
the idea of R's FEXACT), vectorised with numpy.

The tables with the observed margins are built column by column. A node is the multiset of row
totals still to fill (rows with equal remainders are interchangeable in the rest of the table, so
the remainders are kept sorted and such partial tables share one node); each node keeps the
distinct log weights ("past path lengths", -sum log x! of the columns filled so far) of the paths
reaching it, with their counts. With weight v = -sum log x_ij! a table's probability is
exp(const + v), and the p-value is the probability of the tables with v <= log-threshold.

Each (node, past weight w) pair is settled without enumerating its completions when it can be:
the completions' weights sum to T = N! / (prod rho! prod gamma!) in closed form (the hypergeometric
normalising constant of the remaining rho x gamma table), so their largest weight is at most log T;
if w + log T is below the threshold every completion counts and the pair adds its count x
exp(const + w) T. The last two columns are solved exactly instead of enumerated: once the first
r - 2 rows of the second-last column are chosen, the last two rows form a 2 x 2 table whose entry
y is hypergeometric and unimodal in y, so the completions that count are its two tails, found by
bisection from the mode and summed by the ratio recursion of the hypergeometric pmf.

Only the comparison of each table with the threshold differs from plain enumeration, and it is
the same (log weights to ~1e-12, R's relative margin 1e-7 on the probability), so the p-value is
the enumeration's to rounding.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

__all__ = ["network_p", "TableTooLargeError", "MAX_WORK"]

# Refusal bound: array elements formed in one stage (pairs x column fillings x rows, or last-stage
# prefixes).
# About 1-2 GB and tens of seconds; R's FEXACT with workspace = 2e8 stops on tables of that size
# (a 5 x 5 table with n = 800 is refused by both).
MAX_WORK = 60_000_000
_CHUNK = 4_000_000


class TableTooLargeError(ValueError):
    """The network for this table exceeds :data:`MAX_WORK`; no exact p-value is computed."""


def _log_total(states, gammas_log_fact):
    """log of sum over completions of exp(v): log N! - sum log rho! - sum log gamma!."""
    n = states.sum(axis=1)
    return gammaln(n + 1) - gammaln(states + 1).sum(axis=1) - gammas_log_fact


def _bounds(states, gammas):
    """(lower bound of the smallest, upper bound of the largest) completion weight v of each node.

    Both relax the remaining table to its rows alone and to its columns alone (valid bounds, so
    the pruning never changes the sum). Smallest: -sum log x! is concave, so a row alone is least
    probable filled greedily into the largest columns (that vector majorises every other one).
    Largest: the real-valued even split of a row (or column), above any integer filling.
    """
    r, c = states.shape[1], len(gammas)
    g = np.sort(gammas)[::-1]
    before = np.concatenate([[0], np.cumsum(g)[:-1]])
    x = np.clip(states[:, :, None] - before[None, None, :], 0, g[None, None, :])
    low_rows = -gammaln(x + 1).sum(axis=(1, 2))
    st = states[:, ::-1]  # rows in decreasing order, for the columns' greedy fill
    before_r = np.concatenate([np.zeros((len(st), 1), dtype=np.int64), np.cumsum(st, axis=1)[:, :-1]], axis=1)
    y = np.clip(gammas[None, :, None] - before_r[:, None, :], 0, st[:, None, :])
    low_cols = -gammaln(y + 1).sum(axis=(1, 2))
    high_rows = -(c * gammaln(states / c + 1)).sum(axis=1)
    high_cols = -(r * gammaln(gammas / r + 1)).sum()
    return np.maximum(low_rows, low_cols), np.minimum(high_rows, high_cols)


def _settle(states, w, count, gammas, const, thr):
    """Pairs whose completions all count (added in closed form) or none count (dropped); returns
    the sum settled and the pairs left to expand."""
    log_t = _log_total(states, gammaln(gammas + 1).sum())
    low, high = _bounds(states, gammas)
    done = w + np.minimum(log_t, high) <= thr  # every completion is at most as probable as the threshold
    drop = w + low > thr  # no completion is
    settled = float(np.sum(count[done] * np.exp(const + w[done] + log_t[done])))
    keep = ~done & ~drop
    return settled, states[keep], w[keep], count[keep]


def _count_compositions(total, caps) -> int:
    """How many vectors 0 <= x <= caps sum to ``total`` (a DP over positions; nothing is built)."""
    ways = np.zeros(total + 1)
    ways[0] = 1.0
    for cap in np.asarray(caps, dtype=np.int64):
        csum = np.concatenate([[0.0], np.cumsum(ways)])
        lo = np.maximum(np.arange(total + 1) - int(cap), 0)
        ways = csum[np.arange(total + 1) + 1] - csum[lo]
    return int(round(ways[total]))


def _compositions(total, caps):
    """Every vector 0 <= x <= caps with sum(x) = total (rows of an int64 array)."""
    caps = np.asarray(caps, dtype=np.int64)
    out = np.zeros((1, 0), dtype=np.int64)
    left = np.array([total], dtype=np.int64)
    rest_caps = np.concatenate([np.cumsum(caps[::-1])[::-1][1:], [0]])
    for i, cap in enumerate(caps):
        lo = np.maximum(0, left - rest_caps[i])
        hi = np.minimum(cap, left)
        counts = np.maximum(hi - lo + 1, 0)
        rep = np.repeat(np.arange(len(out)), counts)
        x = lo[rep] + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
        out = np.column_stack([out[rep], x])
        left = left[rep] - x
    return out


def _merge(states, w, count):
    """Pairs with the same node and the same past weight (to 1e-9) become one, counts added."""
    key = np.column_stack([states, np.round(w * 1e9).astype(np.int64)])
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.ravel()
    w_out = np.zeros(len(uniq))
    w_out[inv] = w  # any representative: they agree to 1e-9
    return uniq[:, :-1], w_out, np.bincount(inv, weights=count, minlength=len(uniq))


def _logpmf(y, a, b, s):
    """log of the (unnormalised) weight -[log y! + log (a-y)! + log (s-y)! + log (b-s+y)!]."""
    return -(gammaln(y + 1) + gammaln(a - y + 1) + gammaln(s - y + 1) + gammaln(b - s + y + 1))


def _tail_sum(start, step, lo_end, hi_end, a, b, s):
    """sum of exp(u(y) - u(start)) over y from start in direction step (-1 or +1) to the end of the
    support, by the ratio recursion of the hypergeometric pmf (terms decay; stops at 1e-17)."""
    total = np.ones(len(start))
    term = np.ones(len(start))
    y = start.astype(float)
    active = np.ones(len(start), dtype=bool)
    while active.any():
        ya = y[active]
        aa, bb, ss = a[active], b[active], s[active]
        if step < 0:
            ratio = ya * (bb - ss + ya) / ((aa - ya + 1) * (ss - ya + 1))
            ratio[ya <= lo_end[active]] = 0.0
        else:
            ratio = (aa - ya) * (ss - ya) / ((ya + 1) * (bb - ss + ya + 1))
            ratio[ya >= hi_end[active]] = 0.0
        t = term[active] * ratio
        term[active] = t
        total[active] += t
        y[active] = ya + step
        still = (t > 1e-17 * total[active])
        idx = np.flatnonzero(active)
        active[idx[~still]] = False
    return total


def _last_two_columns(states, w, count, gamma_a, thr, const):
    """Sum over pairs of count x sum of exp(const + w + v) over the completions with w + v <= thr,
    for nodes with two columns left (the second-last column's total ``gamma_a``)."""
    r = states.shape[1]
    total = 0.0
    # choose the first r - 2 entries of the second-last column; the last two rows are a 2 x 2
    if r > 2:
        comps = _compositions_upto(gamma_a, states.max(axis=0)[: r - 2])
    else:
        comps = np.zeros((1, 0), dtype=np.int64)
    per = max(1, _CHUNK // max(1, len(comps)))
    for i in range(0, len(states), per):
        st, ww, cc = states[i : i + per], w[i : i + per], count[i : i + per]
        pi, ci = np.nonzero((comps[None, :, :] <= st[:, None, : r - 2]).all(axis=2))
        x = comps[ci]
        rho = st[pi]
        s = gamma_a - x.sum(axis=1)
        a, b = rho[:, r - 2], rho[:, r - 1]
        ok = (s >= 0) & (s <= a + b)
        pi, x, rho, s, a, b = pi[ok], x[ok], rho[ok], s[ok], a[ok], b[ok]
        base = ww[pi] - (gammaln(x + 1) + gammaln(rho[:, : r - 2] - x + 1)).sum(axis=1)
        lo_end = np.maximum(0, s - b)
        hi_end = np.minimum(a, s)
        mode = np.clip(((s + 1) * (a + 1)) // (a + b + 2), lo_end, hi_end)
        tau = thr - base  # a completion y counts when u(y) <= tau
        base = base + const  # exp(v) alone underflows; the probability does not
        u_mode = _logpmf(mode, a, b, s)
        u_lo, u_hi = _logpmf(lo_end, a, b, s), _logpmf(hi_end, a, b, s)
        contrib = np.zeros(len(s))
        everything = u_mode <= tau
        # every y counts: the whole 2 x 2 sums to (a+b)! / (a! b! s! (a+b-s)!) in closed form
        log_all = gammaln(a + b + 1) - gammaln(a + 1) - gammaln(b + 1) - gammaln(s + 1) - gammaln(a + b - s + 1)
        contrib[everything] = np.exp(base[everything] + log_all[everything])
        # lower tail [lo_end, L]: the largest y <= mode with u(y) <= tau (u rises up to the mode)
        low = ~everything & (u_lo <= tau)
        if low.any():
            lo_b, hi_b = lo_end[low].copy(), mode[low].copy()
            aa, bb, ss, tt = a[low], b[low], s[low], tau[low]
            while np.any(hi_b - lo_b > 1):
                mid = (lo_b + hi_b) // 2
                fits = _logpmf(mid, aa, bb, ss) <= tt
                lo_b = np.where(fits, mid, lo_b)
                hi_b = np.where(fits, hi_b, mid)
            u_l = _logpmf(lo_b, aa, bb, ss)
            contrib[low] += np.exp(base[low] + u_l) * _tail_sum(lo_b, -1, lo_end[low], hi_end[low], aa, bb, ss)
        high = ~everything & (u_hi <= tau)
        if high.any():
            lo_b, hi_b = mode[high].copy(), hi_end[high].copy()
            aa, bb, ss, tt = a[high], b[high], s[high], tau[high]
            while np.any(hi_b - lo_b > 1):
                mid = (lo_b + hi_b) // 2
                fits = _logpmf(mid, aa, bb, ss) <= tt
                hi_b = np.where(fits, mid, hi_b)
                lo_b = np.where(fits, lo_b, mid)
            u_u = _logpmf(hi_b, aa, bb, ss)
            contrib[high] += np.exp(base[high] + u_u) * _tail_sum(hi_b, +1, lo_end[high], hi_end[high], aa, bb, ss)
        total += float(np.bincount(pi, weights=contrib, minlength=len(st)) @ cc)
    return total


def _compositions_upto(total, caps):
    """Every vector 0 <= x <= caps with sum(x) <= total."""
    caps = np.asarray(caps, dtype=np.int64)
    grids = np.meshgrid(*[np.arange(c + 1) for c in caps], indexing="ij")
    x = np.column_stack([g.ravel() for g in grids]) if len(caps) else np.zeros((1, 0), dtype=np.int64)
    return x[x.sum(axis=1) <= total]


def network_p(rows, cols, log_threshold, max_work: int = MAX_WORK) -> float:
    """Sum of exp(const + v) over the tables with margins ``rows``, ``cols`` whose log weight
    v = -sum log x_ij! is <= ``log_threshold``; const = sum log r! + sum log c! - log n!.

    Parameters
    ----------
    rows, cols : 1-d int arrays of positive margins (at least two each)
    log_threshold : float

    Returns
    -------
    float, the p-value before capping at 1.

    Raises
    ------
    TableTooLargeError
        When a stage would form more than :data:`MAX_WORK` elements.
    """
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    cols = np.asarray(cols, dtype=np.int64)
    if len(rows) > len(cols):
        rows, cols = np.sort(cols), rows
    # small columns first: the two largest are solved in closed form at the end
    cols = np.sort(cols)
    n = int(rows.sum())
    const = gammaln(rows + 1).sum() + gammaln(cols + 1).sum() - gammaln(n + 1)
    thr = log_threshold
    states, w, count = rows[None, :], np.zeros(1), np.ones(1)
    total = 0.0
    for k in range(len(cols) - 2):
        settled, states, w, count = _settle(states, w, count, cols[k:], const, thr)
        total += settled
        if not len(states):
            return total
        n_comps = _count_compositions(int(cols[k]), states.max(axis=0))
        if len(states) * n_comps * len(rows) > max_work:  # refused before the work, not after it
            raise TableTooLargeError(
                f"table too large for the exact network algorithm ({len(states)} partial tables x "
                f"{n_comps} fillings of column {k + 1} x {len(rows)} rows > {max_work}); use chi_squared or a simulated p-value")
        comps = _compositions(int(cols[k]), states.max(axis=0))
        per = max(1, _CHUNK // max(1, comps.size))
        new_s, new_w, new_c = [], [], []
        comp_w = gammaln(comps + 1).sum(axis=1)
        for i in range(0, len(states), per):
            pi, ci = np.nonzero((comps[None, :, :] <= states[i : i + per, None, :]).all(axis=2))
            new_s.append(np.sort(states[i + pi] - comps[ci], axis=1))
            new_w.append(w[i + pi] - comp_w[ci])
            new_c.append(count[i + pi])
        states, w, count = _merge(np.concatenate(new_s), np.concatenate(new_w), np.concatenate(new_c))
    # two columns left
    settled, states, w, count = _settle(states, w, count, cols[-2:], const, thr)
    total += settled
    if len(states):
        r = states.shape[1]
        work = len(states) * int(np.prod(states.max(axis=0)[: r - 2] + 1))
        if work > max_work:
            raise TableTooLargeError(
                f"table too large for the exact network algorithm ({work} last-stage partial tables > {max_work}); "
                "use chi_squared or a simulated p-value")
        total += _last_two_columns(states, w, count, int(cols[-2]), thr, const)
    return total
