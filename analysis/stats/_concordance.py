"""Harrell's concordance and its standard error as R's ``survival`` computes them (private).

A pair (i, j) is comparable when i dies first: t_i < t_j, or t_i = t_j with j
censored (R sorts censorings after deaths at a tie); two deaths at the same
time are not compared. With risk scores r (the linear predictor), the pair is
concordant when r_i > r_j, discordant when r_i < r_j, tied when equal.
C = (concordant + tied / 2) / (concordant + discordant + tied).

The standard error is R's infinitesimal-jackknife one (``concordancefit``):
each observation's influence is the number of concordant, discordant and tied
pairs it belongs to; dfbeta_i = (c_i - d_i) / N - (somers_d / N)(c_i + d_i + t_i),
var(C) = sum(dfbeta_i^2) / 4.

Counting is O(n log^2 n) and vectorised: a comparable set is a suffix of the
rows sorted by time (deaths before censorings at a tie), and every suffix splits
into O(log n) aligned blocks in which values below a rank are found by binary
search on (block, rank) keys.
"""

from __future__ import annotations

import numpy as np


def _suffix_rank_counts(coord, rank, start, qrank, n_ranks):
    """For each query q: among points with coord >= start[q], how many have
    rank < qrank[q] and how many have rank == qrank[q]."""
    size = int(max(coord.max(initial=0), start.max(initial=0))) + 1
    levels = max(1, int(np.ceil(np.log2(size))))
    full = 1 << levels
    less = np.zeros(len(start), dtype=np.int64)
    equal = np.zeros(len(start), dtype=np.int64)
    cur = start.astype(np.int64).copy()
    width = np.int64(n_ranks + 1)
    keys = np.sort(coord.astype(np.int64) * width + rank)  # (block, rank) at level 0
    for k in range(levels + 1):
        if k:
            # next level: halve the block index; each new block is two sorted runs,
            # which the stable (merging) sort joins in near-linear time
            keys = np.sort(((keys // width) >> 1) * width + keys % width, kind="stable")
        take = (cur < full) & (((cur >> k) & 1).astype(bool) if k < levels else (cur == 0))
        if take.any():
            base = (cur[take] >> k) * width
            lo = np.searchsorted(keys, base + qrank[take], side="left")
            hi = np.searchsorted(keys, base + qrank[take], side="right")
            less[take] += lo - np.searchsorted(keys, base, side="left")
            equal[take] += hi - lo
            cur[take] += np.int64(1) << k
    return less, equal


def concordance_counts(time, event, risk):
    """Concordant, discordant and risk-tied comparable pairs of one stratum, and
    each row's share of them (an n x 3 influence matrix, R's imat[, 1:3])."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    n = len(time)
    order = np.lexsort((~event, time))  # time ascending, deaths before censorings
    t, e = time[order], event[order]
    _, rank = np.unique(np.asarray(risk, dtype=float)[order], return_inverse=True)
    rank = rank.ravel().astype(np.int64)
    n_ranks = int(rank.max(initial=0)) + 1
    # first position after the deaths of each row's time: start of a death's comparable set
    new_block = np.ones(n, dtype=bool)
    new_block[1:] = t[1:] != t[:-1]
    starts = np.flatnonzero(new_block)
    deaths_in_block = np.add.reduceat(e.astype(np.int64), starts) if n else np.zeros(0, dtype=np.int64)
    block_of = np.cumsum(new_block) - 1
    first_after = (starts + deaths_in_block)[block_of]
    pos = np.arange(n)
    dead = np.flatnonzero(e)
    influence = np.zeros((n, 3))
    if len(dead) == 0:
        return 0.0, 0.0, 0.0, influence
    # as the earlier death: comparable rows are positions >= first_after
    less, equal = _suffix_rank_counts(pos, rank, first_after[dead], rank[dead], n_ranks)
    n_comp = n - first_after[dead]
    conc_d, tied_d = less, equal
    disc_d = n_comp - less - equal
    # as the later member: deaths i with first_after_i <= pos_j, i.e. (mirrored) a suffix
    has_later = first_after[dead] < n  # deaths at the last time compare with nobody
    mirror = n - 1 - first_after[dead][has_later]  # coordinate of death i, reversed
    less_m, equal_m = _suffix_rank_counts(mirror, rank[dead][has_later], n - 1 - pos, rank, n_ranks)
    n_deaths_before = np.searchsorted(np.sort(first_after[dead]), pos, side="right")
    disc_m = less_m  # the earlier death had the lower risk
    tied_m = equal_m
    conc_m = n_deaths_before - less_m - equal_m
    influence[:, 0] = conc_m
    influence[:, 1] = disc_m
    influence[:, 2] = tied_m
    influence[dead, 0] += conc_d
    influence[dead, 1] += disc_d
    influence[dead, 2] += tied_d
    back = np.empty(n, dtype=np.int64)
    back[order] = np.arange(n)
    return float(conc_d.sum()), float(disc_d.sum()), float(tied_d.sum()), influence[back]


def concordance(time, event, risk, strata=None):
    """(C, standard error) as R's ``coxph`` reports (``concordance``, its ``sqrt(var)``),
    pairs compared within strata."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event)
    risk = np.asarray(risk, dtype=float)
    codes = np.zeros(len(time), dtype=int) if strata is None else np.asarray(strata)
    totals = np.zeros(3)
    influence = np.zeros((len(time), 3))
    for code in np.unique(codes):
        m = codes == code
        c, d, t, inf = concordance_counts(time[m], event[m], risk[m])
        totals += (c, d, t)
        influence[m] = inf
    npair = totals.sum()
    if npair == 0:
        return np.nan, np.nan
    somers = (totals[0] - totals[1]) / npair
    dfbeta = (influence[:, 0] - influence[:, 1]) / npair - somers / npair * influence.sum(axis=1)
    return float((somers + 1) / 2), float(np.sqrt(np.sum(dfbeta**2) / 4))
