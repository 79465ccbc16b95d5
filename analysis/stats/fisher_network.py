"""Exact Fisher-Freeman-Halton p-value of an r x c table by a network algorithm (Mehta & Patel 1983,
1986; the algorithm of R's FEXACT), vectorised with numpy.

The tables with the observed margins are built column by column (columns in increasing order of
their totals, as FEXACT does, so the two largest are left to a closed form). A node is the multiset
of row totals still to fill: rows with equal remainders are interchangeable in the rest of the
table, so the remainders are kept sorted and such partial tables share one node, keyed by one
integer (FEXACT's mixed-radix key). With the weight v = -sum log x_ij! a table's probability is
exp(const + v), and the p-value is the probability of the tables with v <= log-threshold.

1. **The network** (:func:`_network`): every node of every stage and the arcs between them (a
   column's filling, its weight -sum log x!, how many fillings give the same arc). For each node,
   the exact longest and shortest remaining path, LP = max and SP = min of the weight of the
   completions (Mehta & Patel 1986, Joe 1988), by dynamic programming backwards over the arcs
   from the last stage, where two columns are left and both are closed forms
   (:func:`_two_column_bounds`: the most probable r x 2 completion by unit exchanges, as the
   weight is separable and convex; the least probable one at a vertex of the transportation
   polytope).
2. **Past paths** (:func:`network_p`): the pairs (node, past weight w, count) travel forward.
   Each pair reaching a node is settled at once when it can be: if w + LP <= threshold every
   completion counts, and they sum in closed form to T = N! / (prod rho! prod gamma!) (the
   normalising constant of the remaining table), so the pair adds count x exp(const + w) T; if
   w + SP > threshold none counts and it is dropped. Pairs left are merged when their node and
   past weight (to 1e-9) agree, counts added (FEXACT's hash table and its tolerance on past path
   lengths).
3. **The last two columns**, whichever forms fewer elements: by node (:func:`_last_stage`: the
   weights of a node's r x 2 completions sorted with their cumulative probabilities, each pair
   taking the part at or below its threshold by a binary search) or by pair
   (:func:`_last_stage_by_pairs`: the first r - 2 rows enumerated, the last two a 2 x 2 whose
   hypergeometric tails are summed from the mode).

Only the comparison of each table with the threshold differs from plain enumeration, and it is the
same (log weights to ~1e-12, R's relative margin 1e-7 on the probability), so the p-value is the
enumeration's to rounding.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

__all__ = ["network_p", "TableTooLargeError", "MAX_WORK"]

# Refusal bound: array elements formed in one stage (nodes x column fillings x rows while the
# network is built, pairs x arcs while past paths travel, completions x rows at the last stage).
# About 1-2 GB and tens of seconds. R's FEXACT with workspace = 2e8 stops earlier on its own
# bounds (a 5 x 5 table with n = 800 is refused by both).
MAX_WORK = 60_000_000
_CHUNK = 4_000_000
# past weights closer than this are one past path (FEXACT merges within 3.5e-7; finer here so
# the p-value stays within 1e-9 of the enumeration's)
_MERGE_SCALE = 1e9
# the least probable r x 2 completion is searched over r 2^(r-1) vertices up to this many rows;
# beyond it a looser bound (still valid) stands in
_MAX_VERTEX_ROWS = 9


class TableTooLargeError(ValueError):
    """The network for this table exceeds :data:`MAX_WORK`; no exact p-value is computed."""


def _refuse(what: str, work: int, max_work: int):
    raise TableTooLargeError(
        f"table too large for the exact network algorithm ({what}: {work} > {max_work} array elements); "
        "use chi_squared or a simulated p-value")


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


def _segment_starts(sorted_ids, n):
    """Start of each id's run in a sorted id array (ids 0 .. n-1, every id present or not)."""
    return np.searchsorted(sorted_ids, np.arange(n + 1))


def _two_column_bounds(nodes, ga, lf):
    """(SP, LP): the smallest and largest weight -sum log x! of the r x 2 tables with row totals
    ``nodes`` (one node a row) and first column total ``ga``.

    LP: the weight is separable and each term log x! + log (rho - x)! is convex in x, so a filling
    is optimal when no unit moved from one row to another lowers it; start at the proportional
    filling and move units until none does. SP: the maximum of a convex function over the
    transportation polytope is at a vertex, where every row but one is wholly in one column; with
    many rows, the bound -sum log rho! (every row unsplit; valid, not always reached) instead.
    """
    rho = nodes
    m, r = rho.shape
    total = rho.sum(axis=1)
    x = (rho * ga) // np.maximum(total, 1)[:, None]
    rows_m = np.arange(m)
    with np.errstate(divide="ignore"):
        for _ in range(r):  # the floors leave at most r - 1 units to place
            need = x.sum(axis=1) < ga
            if not need.any():
                break
            up = np.where(x < rho, np.log1p(x) - np.log(rho - x), np.inf)
            j = np.argmin(up, axis=1)
            x[rows_m[need], j[need]] += 1
        while True:
            up = np.where(x < rho, np.log1p(x) - np.log(rho - x), np.inf)  # cost of one more unit in row i
            down = np.where(x > 0, np.log(x) - np.log1p(rho - x), -np.inf)  # saving of one unit fewer
            j, i = np.argmin(up, axis=1), np.argmax(down, axis=1)
            better = up[rows_m, j] < down[rows_m, i] - 1e-12
            if not better.any():
                break
            x[rows_m[better], j[better]] += 1
            x[rows_m[better], i[better]] -= 1
    lp = -(lf[x] + lf[rho - x]).sum(axis=1)
    whole = lf[rho].sum(axis=1)
    if r > _MAX_VERTEX_ROWS:
        return -whole, lp
    best = np.full(m, -np.inf)
    bits = (np.arange(2 ** r)[:, None] >> np.arange(r)[None, :]) & 1  # rows wholly in column a
    for s in bits:
        in_a = rho @ s
        for f in np.flatnonzero(s == 0):  # the one row split between the columns
            xf = ga - in_a
            ok = (xf >= 0) & (xf <= rho[:, f])
            xf = np.clip(xf, 0, rho[:, f])
            g = whole - lf[rho[:, f]] + lf[xf] + lf[rho[:, f] - xf]
            best = np.where(ok, np.maximum(best, g), best)
    return -best, lp


def _canonical(comps, parents):
    """For each (parent node, filling) pair: whether the filling is the canonical one of its class
    (rows with equal totals are interchangeable, so only fillings non-decreasing over a run of
    equal rows are kept) and how many fillings the class holds (for each run of equal rows, the
    number of distinct orders of its entries)."""
    same_row = parents[:, 1:] == parents[:, :-1]
    keep = ~(same_row & (comps[:, 1:] < comps[:, :-1])).any(axis=1)
    mult = np.ones(len(comps))
    in_group = np.ones(len(comps))
    in_run = np.ones(len(comps))
    for i in range(1, comps.shape[1]):
        in_group = np.where(same_row[:, i - 1], in_group + 1, 1.0)
        in_run = np.where(same_row[:, i - 1] & (comps[:, i] == comps[:, i - 1]), in_run + 1, 1.0)
        mult *= in_group / in_run
    return keep, np.round(mult)


class _NodeTable:
    """Node keys (mixed radix over the sorted remainders, as FEXACT's) to node numbers: a direct
    table when the key space is small, else a sorted search."""

    def __init__(self, rows):
        self.radix = (rows + 1).astype(np.int64)
        self.kyy = np.concatenate([[1], np.cumprod(self.radix[:-1])]).astype(np.int64)
        self.space = int(np.prod(self.radix.astype(float)))

    def key(self, states):
        return states @ self.kyy

    def number(self, keys):
        """(distinct keys ascending, each key's number among them)."""
        if self.space <= 1 << 25:
            seen = np.zeros(self.space, dtype=bool)
            seen[keys] = True
            ukeys = np.flatnonzero(seen)
            at = np.empty(self.space, dtype=np.int64)
            at[ukeys] = np.arange(len(ukeys))
            return ukeys, at[keys]
        ukeys, inv = np.unique(keys, return_inverse=True)
        return ukeys, inv.ravel()

    def states(self, ukeys):
        return (ukeys[:, None] // self.kyy[None, :]) % self.radix[None, :]


def _network(rows, cols, lf, max_work):
    """The nodes of every stage, the arcs between consecutive stages, and each node's exact SP and
    LP (see the module docstring). Stage k has the columns ``cols[k:]`` left; the last stage has
    two. Returns (nodes, arcs, sp, lp) lists by stage; arcs[k] = (start, child, weight, mult),
    sorted by parent, parent u's arcs at start[u]:start[u + 1]."""
    r = len(rows)
    table = _NodeTable(rows)
    nodes, arcs = [rows[None, :].copy()], []
    for k in range(len(cols) - 2):
        cur = nodes[-1]
        caps = cur.max(axis=0)
        n_comps = _count_compositions(int(cols[k]), caps)
        if len(cur) * n_comps * r > max_work:  # refused before the work, not after it
            _refuse(f"{len(cur)} nodes x {n_comps} fillings of column {k + 1} x {r} rows", len(cur) * n_comps * r, max_work)
        comps = _compositions(int(cols[k]), caps)
        comp_w = -lf[comps].sum(axis=1)
        per = max(1, _CHUNK // max(1, comps.size))
        parent, key, weight, mult = [], [], [], []
        for i in range(0, len(cur), per):
            pi, ci = np.nonzero((comps[None, :, :] <= cur[i : i + per, None, :]).all(axis=2))
            keep, m = _canonical(comps[ci], cur[i + pi])
            pi, ci = pi[keep], ci[keep]
            parent.append(i + pi)
            key.append(table.key(np.sort(cur[i + pi] - comps[ci], axis=1)))
            weight.append(comp_w[ci])
            mult.append(m[keep])
        parent, weight, mult = np.concatenate(parent), np.concatenate(weight), np.concatenate(mult)
        ukeys, child = table.number(np.concatenate(key))
        arcs.append((_segment_starts(parent, len(cur)), child, weight, mult))
        nodes.append(table.states(ukeys))
    sp, lp = _two_column_bounds(nodes[-1], int(cols[-2]), lf)
    sps, lps = [sp], [lp]
    for k in range(len(arcs) - 1, -1, -1):  # backwards: a node's best path is its best arc + the child's
        start, child, weight, _ = arcs[k]
        sps.insert(0, np.minimum.reduceat(weight + sps[0][child], start[:-1]))
        lps.insert(0, np.maximum.reduceat(weight + lps[0][child], start[:-1]))
    return nodes, arcs, sps, lps


def _merge(node, w, count):
    """Pairs with the same node and the same past weight (to 1e-9) become one, counts added."""
    wq = np.round(w * _MERGE_SCALE).astype(np.int64)
    wq -= wq.min(initial=0)
    span = int(wq.max(initial=0)) + 1
    if (int(node.max(initial=0)) + 1) * span < 1 << 62:  # one sort of one integer key
        order = np.argsort(node * span + wq)
    else:
        order = np.lexsort((wq, node))
    node, w, wq, count = node[order], w[order], wq[order], count[order]
    first = np.ones(len(node), dtype=bool)
    first[1:] = (node[1:] != node[:-1]) | (wq[1:] != wq[:-1])
    run = np.cumsum(first) - 1
    return node[first], w[first], np.bincount(run, weights=count)


def _last_stage(nodes, node, w, count, ga, thr, const, lf, max_work):
    """Sum over pairs (node, past weight w, count) at the last stage of count x exp(const + w + v)
    over the r x 2 completions of the node with w + v <= thr (pairs sorted by node)."""
    live, pair_at = np.unique(node, return_inverse=True)
    pair_at = pair_at.ravel()
    states = nodes[live]
    r = states.shape[1]
    total = 0.0
    i = 0
    while i < len(states):
        # a chunk of nodes whose completions (generated for the chunk's largest rows) fit _CHUNK
        j, n_comps = i + 1, _count_compositions(ga, states[i])
        while j < len(states):
            nxt = _count_compositions(ga, states[i : j + 1].max(axis=0))
            if (j + 1 - i) * nxt * r > _CHUNK:
                break
            j, n_comps = j + 1, nxt
        if n_comps * r > max_work:
            _refuse(f"{n_comps} completions of the last two columns x {r} rows", n_comps * r, max_work)
        st = states[i:j]
        comps = _compositions(ga, st.max(axis=0))
        fits = (comps[None, :, :] <= st[:, None, :]).all(axis=2)
        v = np.where(fits, -(lf[comps][None, :, :] + lf[np.maximum(st[:, None, :] - comps[None, :, :], 0)]).sum(axis=2), np.inf)
        v.sort(axis=1)  # the completions that do not fit sort last (inf) and weigh 0
        top = np.max(np.where(np.isfinite(v), v, -np.inf), axis=1, keepdims=True)
        # cumulative from the least probable, so a pair's small tail is summed without cancellation
        cum = np.cumsum(np.where(np.isfinite(v), np.exp(v - top), 0.0), axis=1)
        sel = (pair_at >= i) & (pair_at < j)
        row = pair_at[sel] - i
        tau = thr - w[sel]
        # binary search per pair: how many completions have v <= tau
        lo, hi = np.zeros(len(row), dtype=np.int64), np.full(len(row), v.shape[1], dtype=np.int64)
        while np.any(lo < hi):
            active = lo < hi
            mid = np.minimum((lo + hi) // 2, v.shape[1] - 1)
            right = active & (v[row, mid] <= tau)
            lo = np.where(right, mid + 1, lo)
            hi = np.where(active & ~right, mid, hi)
        part = np.where(lo > 0, cum[row, np.maximum(lo - 1, 0)], 0.0)
        total += float(np.sum(count[sel] * np.exp(const + w[sel] + top[row, 0]) * part))
        i = j
    return total


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


def _last_stage_by_pairs(states, w, count, gamma_a, thr, const):
    """As :func:`_last_stage`, pair by pair (``states``: each pair's node): once the first r - 2
    rows of the second-last column are chosen, the last two rows form a 2 x 2 table whose entry y
    is hypergeometric and unimodal in y, so the completions that count are its two tails, found by
    bisection from the mode and summed by the ratio recursion of the pmf. Cheaper than sorting
    every completion of a node when the nodes have few pairs and few rows."""
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
    max_work : int
        The most array elements one stage may form (see :data:`MAX_WORK`).

    Returns
    -------
    float, the p-value before capping at 1.

    Raises
    ------
    TableTooLargeError
        When a stage would form more than ``max_work`` elements, or the nodes' keys would not fit
        in 62 bits (R's FEXACT stops at 31 bits, its error 501).
    """
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    cols = np.asarray(cols, dtype=np.int64)
    if len(rows) > len(cols):
        rows, cols = np.sort(cols), rows
    cols = np.sort(cols)  # small columns first: the two largest are solved at the last stage
    if np.sum(np.log2(rows.astype(float) + 1)) > 62:
        raise TableTooLargeError("table too large for the exact network algorithm (its nodes' keys exceed "
                                 "62 bits); use chi_squared or a simulated p-value")
    n = int(rows.sum())
    lf = gammaln(np.arange(n + 1) + 1.0)
    const = lf[rows].sum() + lf[cols].sum() - lf[n]
    thr = float(log_threshold)
    nodes, arcs, sps, lps = _network(rows, cols, lf, max_work)
    node, w, count = np.zeros(1, dtype=np.int64), np.zeros(1), np.ones(1)
    total = 0.0
    for k, (start, child, weight, mult) in enumerate(arcs):
        deg = start[node + 1] - start[node]
        if int(deg.sum()) > max_work:
            _refuse(f"{len(node)} past paths x their arcs into stage {k + 2}", int(deg.sum()), max_work)
        nxt = nodes[k + 1]
        log_t = lf[nxt.sum(axis=1)] - lf[nxt].sum(axis=1) - lf[cols[k + 1 :]].sum()
        kept = []
        per = max(1, _CHUNK // max(1, int(deg.max())))
        for i in range(0, len(node), per):
            d = deg[i : i + per]
            rep = np.repeat(np.arange(len(d)), d)
            arc = start[node[i : i + per]][rep] + (np.arange(int(d.sum())) - np.repeat(np.cumsum(d) - d, d))
            c, ww, cc = child[arc], w[i : i + per][rep] + weight[arc], count[i : i + per][rep] * mult[arc]
            done = ww + lps[k + 1][c] <= thr  # every completion counts
            total += float(np.sum(cc[done] * np.exp(const + ww[done] + log_t[c[done]])))
            keep = ~done & (ww + sps[k + 1][c] <= thr)  # the others: some completions count
            kept.append((c[keep], ww[keep], cc[keep]))
        node, w, count = _merge(*(np.concatenate(part) for part in zip(*kept)))
        if not len(node):
            return total
    last = nodes[-1]
    r = len(rows)
    ga = int(cols[-2])
    live = np.unique(node)
    caps = last[live].max(axis=0)
    by_nodes = len(live) * _count_compositions(ga, caps) * r
    by_pairs = len(node) * int(np.prod(caps[: r - 2] + 1)) * max(r - 2, 1)
    if min(by_nodes, by_pairs) > max_work:
        _refuse(f"{len(node)} past paths into the last two columns", min(by_nodes, by_pairs), max_work)
    if by_pairs < by_nodes:
        return total + _last_stage_by_pairs(last[node], w, count, ga, thr, const)
    return total + _last_stage(last, node, w, count, ga, thr, const, lf, max_work)
