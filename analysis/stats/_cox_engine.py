"""Vectorised partial-likelihood engine behind :mod:`analysis.stats.cox` (private).

One evaluation of the Cox log partial likelihood, its score and information
costs O(n p^2) after a single O(n log n) sort: risk-set sums are cumulative
sums over rows sorted by decreasing time within each stratum. Efron's tie
correction is applied by expanding each death time with m tied deaths into m
"pseudo risk sets" whose tied-death weights are scaled by (1 - k/m),
k = 0..m-1 (Breslow: no scaling). Firth's penalty 0.5 log|I(beta)| and its
gradient (Heinze & Schemper 2001) use the third central moments of the same
pseudo risk sets, contracted with I^-1 through the leverage
h_i = x_i' I^-1 x_i so that no n x p^3 tensor is formed.

Coefficients can be held fixed (``free`` mask): this is how profile
likelihoods and likelihood-ratio tests of single terms are computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class _Stratum:
    X: np.ndarray  # rows sorted by decreasing time
    event: np.ndarray  # bool, same order
    block_last: np.ndarray  # index of the last row of each distinct-time block
    death_blocks: np.ndarray  # positions (in block_last) of blocks holding >= 1 death
    deaths_per_block: np.ndarray  # m for each death block
    death_rows: np.ndarray  # row index of each death
    death_block_of_row: np.ndarray  # for each death, its death-block number
    rep: np.ndarray  # pseudo-risk-set -> death-block number
    frac: np.ndarray  # pseudo-risk-set tie fraction k/m (0 for Breslow)
    order: np.ndarray  # original row indices, this stratum's order
    block_starts: np.ndarray  # first row of each distinct-time block
    death_starts: np.ndarray  # first position (in death_rows) of each death block
    F: np.ndarray  # (1 + p + p(p+1)/2, n + 1): rows 1, x, upper-triangle x x'; a zero pad column
    WF: np.ndarray  # work buffer of F's shape
    seg: np.ndarray  # reduceat indices: per block [start, start + deaths]
    no_death: np.ndarray  # blocks without a death
    all_death: np.ndarray  # blocks made only of deaths
    x_death_sum: np.ndarray  # sum of x over deaths (constant)


@dataclass
class _Pieces:
    """Intermediate sums of one stratum, kept for the Firth correction and cox.zph."""

    w: np.ndarray
    S0k: np.ndarray
    S1k: np.ndarray
    mu: np.ndarray
    S2: np.ndarray  # risk-set sums of w x x' per death block
    D2: np.ndarray  # the same over the block's deaths
    rep: np.ndarray
    frac: np.ndarray

    @property
    def V(self) -> np.ndarray:
        """Weighted covariance of x in each pseudo risk set (pseudo sets x p x p)."""
        S2k = self.S2[self.rep] - self.frac[:, None, None] * self.D2[self.rep]
        return S2k / self.S0k[:, None, None] - self.mu[:, :, None] * self.mu[:, None, :]


def pseudo_risk_sets(m: np.ndarray, ties: str) -> tuple[np.ndarray, np.ndarray]:
    """For death times with m tied deaths each: the death time of each pseudo risk set (``rep``)
    and the share of the tied deaths' weight it leaves out (``frac``): k/m, k = 0..m-1, for Efron;
    0 for Breslow."""
    rep = np.repeat(np.arange(len(m)), m)
    if ties == "efron":
        k = np.arange(len(rep)) - np.repeat(np.cumsum(m) - m, m)
        return rep, k / np.repeat(m, m)
    return rep, np.zeros(len(rep))


class CoxEngine:
    """Log partial likelihood, score and information of a Cox model.

    Parameters
    ----------
    time, event : 1-d arrays (event boolean or 0/1)
    X : 2-d array (n, p)
    strata : 1-d integer codes or None
    ties : {"efron", "breslow"}
    """

    def __init__(self, time, event, X, strata=None, ties="efron"):
        time = np.asarray(time, dtype=float)
        event = np.asarray(event).astype(bool)
        X = np.asarray(X, dtype=float)
        if X.ndim == 1:
            X = X[:, None]
        self.n, self.p = X.shape
        self.ties = ties
        if strata is None:
            strata = np.zeros(self.n, dtype=np.int64)
        strata = np.asarray(strata)
        self.strata_list: list[_Stratum] = []
        for code in np.unique(strata):
            idx = np.flatnonzero(strata == code)
            # decreasing time, deaths first within a time: a block's deaths are contiguous
            idx = idx[np.lexsort((-event[idx].astype(int), -time[idx]))]
            self.strata_list.append(self._prepare(time[idx], event[idx], X[idx], idx))
        self.nevent = int(event.sum())

    def _prepare(self, t, e, X, order) -> _Stratum:
        n = len(t)
        new_block = np.ones(n, dtype=bool)
        new_block[1:] = t[1:] != t[:-1]
        starts = np.flatnonzero(new_block)
        block_last = np.append(starts[1:] - 1, n - 1)
        block_id = np.cumsum(new_block) - 1
        deaths = np.add.reduceat(e.astype(np.int64), starts)
        death_blocks = np.flatnonzero(deaths > 0)
        m = deaths[death_blocks]
        death_rows = np.flatnonzero(e)
        # map block id -> death-block number
        db_number = np.full(len(starts), -1)
        db_number[death_blocks] = np.arange(len(death_blocks))
        death_block_of_row = db_number[block_id[death_rows]]
        rep, frac = pseudo_risk_sets(m, self.ties)
        death_starts = np.concatenate([[0], np.cumsum(m)[:-1]]).astype(np.int64)
        p = X.shape[1]
        iu = np.triu_indices(p)
        F = np.zeros((1 + p + len(iu[0]), n + 1))
        F[0, :n] = 1.0
        F[1 : 1 + p, :n] = X.T
        F[1 + p :, :n] = X.T[iu[0]] * X.T[iu[1]]
        seg = np.empty(2 * len(starts), dtype=np.int64)
        seg[0::2] = starts
        seg[1::2] = starts + deaths
        block_size = np.diff(np.append(starts, n))
        return _Stratum(X, e, block_last, death_blocks, m, death_rows, death_block_of_row, rep, frac, order,
                        starts, death_starts, F, np.empty_like(F), seg, deaths == 0, deaths == block_size,
                        X[death_rows].sum(axis=0))

    def _block_sums(self, s: _Stratum, weights, nrows):
        """Weighted sums of F's first ``nrows`` rows over each death time's risk set
        and over its deaths: one reduceat over [deaths | others] segments per block
        (rows are sorted deaths-first within a time), then a cumulative sum over
        blocks in decreasing time."""
        WF = s.WF[:nrows]
        np.multiply(s.F[:nrows, :-1], weights, out=WF[:, :-1])
        WF[:, -1] = 0.0
        seg = np.add.reduceat(WF, s.seg, axis=1)
        dsum, rest = seg[:, 0::2], seg[:, 1::2]
        dsum[:, s.no_death] = 0.0  # equal indices: reduceat returned a single element
        rest[:, s.all_death] = 0.0
        risk = np.cumsum(dsum + rest, axis=1)[:, s.death_blocks]
        return risk, dsum[:, s.death_blocks]

    def _unpack(self, sums, nb):
        """Split block sums into S0 (nb), S1 (nb, p), S2 (nb, p, p) from the upper triangle."""
        p = self.p
        iu = np.triu_indices(p)
        S2 = np.empty((nb, p, p))
        S2[:, iu[0], iu[1]] = sums[1 + p :].T
        S2[:, iu[1], iu[0]] = sums[1 + p :].T
        return sums[0], sums[1 : 1 + p].T, S2

    # ------------------------------------------------------------------
    def _stratum_terms(self, s: _Stratum, beta):
        X = s.X
        p = self.p
        eta = X @ beta if p else np.zeros(len(X))
        c = eta.max() if len(eta) else 0.0
        w = np.exp(eta - c)
        nb = len(s.death_blocks)
        if nb == 0:
            return 0.0, np.zeros(p), np.zeros((p, p)), None
        # risk-set sums of w, w x, w x x' at each death time and the same over its deaths
        risk, dsum = self._block_sums(s, w, s.F.shape[0])
        S0, S1, S2 = self._unpack(risk, nb)
        D0, D1, D2 = self._unpack(dsum, nb)
        ds = s.death_starts
        rep, frac = s.rep, s.frac
        S0k = S0[rep] - frac * D0[rep]
        S1k = S1[rep] - frac[:, None] * D1[rep]
        mu = S1k / S0k[:, None]
        ll = float(s.x_death_sum @ beta - len(s.death_rows) * c - np.sum(np.log(S0k)))
        U = s.x_death_sum - mu.sum(axis=0)
        # information = sum over pseudo risk sets of S2k / S0k - mu mu', with
        # S2k = S2 - frac * D2 aggregated per death block (no pseudo-set x p x p array)
        inv0 = 1.0 / S0k
        a = np.add.reduceat(inv0, ds)
        b = np.add.reduceat(frac * inv0, ds)
        info = np.einsum("b,bij->ij", a, S2) - np.einsum("b,bij->ij", b, D2) - mu.T @ mu
        return ll, U, info, _Pieces(w, S0k, S1k, mu, S2, D2, rep, frac)

    def evaluate(self, beta, firth=False):
        """Return (loglik, score, information) at ``beta``.

        With ``firth=True`` the loglik is penalised by 0.5 log|I| and the score
        is Firth's modified score; the information is the ordinary one (as in
        coxphf's Newton-Raphson).
        """
        beta = np.asarray(beta, dtype=float)
        p = self.p
        ll, U, info = 0.0, np.zeros(p), np.zeros((p, p))
        pieces = []
        for s in self.strata_list:
            # far from the optimum (profile searches, diverging fits) sums can underflow:
            # the -inf loglik that results is rejected by the step halving
            with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
                l_s, u_s, i_s, pc = self._stratum_terms(s, beta)
            ll += l_s
            U = U + u_s
            info = info + i_s
            pieces.append(pc)
        if not firth or p == 0:
            return ll, U, info
        sign, logdet = np.linalg.slogdet(info)
        if sign <= 0:
            return -np.inf, U, info
        inv = np.linalg.inv(info)
        corr = np.zeros(p)
        for s, pc in zip(self.strata_list, pieces):
            if pc is None:
                continue
            # leverage h_i = x_i' I^-1 x_i from the stored upper-triangle products
            iu = np.triu_indices(p)
            coef = np.where(iu[0] == iu[1], 1.0, 2.0) * inv[iu]
            h = coef @ s.F[1 + p :, :-1]
            risk, dsum = self._block_sums(s, pc.w * h, 1 + p)
            B, A = risk[0], risk[1:].T
            DB, DA = dsum[0], dsum[1:].T
            rep, frac = s.rep, s.frac
            Bk = B[rep] - frac * DB[rep]
            Ak = A[rep] - frac[:, None] * DA[rep]
            S0k = pc.S0k
            # tr(I^-1 dV/dbeta_t) for each pseudo risk set: third central moment contracted
            term1 = Ak / S0k[:, None] - Bk[:, None] * pc.mu / S0k[:, None]
            Imu = pc.mu @ inv
            term23 = np.einsum("brt,br->bt", pc.V, Imu)
            corr += (term1 - 2.0 * term23).sum(axis=0)
        return ll + 0.5 * logdet, U + 0.5 * corr, info

    # ------------------------------------------------------------------
    def maximize(self, beta0=None, free=None, firth=False, max_iter=100, tol=1e-10):
        """Newton-Raphson with step halving on the (penalised) log partial likelihood
        (:func:`newton_raphson`). Coefficients where ``free`` is False stay at their ``beta0``
        value. Returns a :class:`FitResult`."""
        return newton_raphson(self.evaluate, self.p, beta0, free, firth, max_iter, tol)


def newton_raphson(evaluate, p, beta0=None, free=None, firth=False, max_iter=100, tol=1e-10) -> "FitResult":
    """Maximise a log partial likelihood given by ``evaluate(beta, firth) -> (loglik, score, information)``.

    The one Newton-Raphson of the package: every Cox fit (right-censored, counting-process,
    the generator's search) runs through it. Steps larger than 5 are capped (as coxphf's
    maxstep, so exp() cannot overflow); a step that lowers the loglik is halved (up to 40
    times); the fit stops when the Newton step left is negligible (|step| <= tol (1 + |beta|))
    or when the loglik has not moved for three iterations (a diverging, monotone likelihood).
    Coefficients where ``free`` is False stay at their ``beta0`` value.
    """
    beta = np.zeros(p) if beta0 is None else np.array(beta0, dtype=float)
    free = np.ones(p, dtype=bool) if free is None else np.asarray(free, dtype=bool)
    ll, U, info = evaluate(beta, firth)
    converged = free.sum() == 0
    flat = 0
    step = np.zeros(p)
    it = 0
    for it in range(1, max_iter + 1):
        if converged:
            break
        step = np.zeros(p)
        fi = np.ix_(free, free)
        try:
            step[free] = np.linalg.solve(info[fi], U[free])
        except np.linalg.LinAlgError:
            step[free] = np.linalg.lstsq(info[fi], U[free], rcond=None)[0]
        if np.max(np.abs(step)) <= tol * (1.0 + np.max(np.abs(beta))):
            # the Newton step left is negligible: beta is the maximum to ~tol, and the
            # loglik there is exact to O(step^2); skip the evaluation it would cost
            converged = True
            break
        # cap wild steps (as coxphf's maxstep) so exp() cannot overflow
        big = np.max(np.abs(step))
        if big > 5.0:
            step *= 5.0 / big
        new = beta + step
        ll_new, U_new, info_new = evaluate(new, firth)
        halvings = 0
        while (not np.isfinite(ll_new) or ll_new < ll - 1e-12 * (1 + abs(ll))) and halvings < 40:
            step /= 2.0
            new = beta + step
            ll_new, U_new, info_new = evaluate(new, firth)
            halvings += 1
        delta_ll = ll_new - ll
        beta, ll, U, info = new, ll_new, U_new, info_new
        if np.max(np.abs(step)) <= tol * (1.0 + np.max(np.abs(beta))):
            converged = True
            break
        flat = flat + 1 if abs(delta_ll) <= 1e-13 * (1 + abs(ll)) else 0
        if flat >= 3:
            break
    # size of the next Newton step: large while the loglik is flat means divergence
    next_step = np.zeros(p)
    if free.any():
        fi = np.ix_(free, free)
        try:
            next_step[free] = np.linalg.solve(info[fi], U[free])
        except np.linalg.LinAlgError:
            next_step[free] = np.inf
    return FitResult(beta, ll, U, info, bool(converged), it, next_step)


@dataclass
class FitResult:
    """What :func:`newton_raphson` found: coefficients, loglik, score and information there,
    whether it converged, the iterations used and the Newton step still left (large on a
    diverging fit)."""

    beta: np.ndarray
    loglik: float
    score: np.ndarray
    info: np.ndarray
    converged: bool
    iterations: int
    next_step: np.ndarray


def batch_cox_no_ties(X: np.ndarray, iters: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """Cox fits of many data sets at once: X (B, n, p) rows in time order, every row a death, no ties.

    The engine's batched variant, for a search that fits hundreds of small candidate data sets per
    step (the synthetic generator's L-group search). Without ties the partial likelihood is
    sum_i [eta_i - log sum_{j >= i} exp(eta_j)] (Efron = Breslow = exact), so the risk-set sums are
    plain reversed cumulative sums. A fixed number of Newton steps, vectorised over B, with a 1e-9
    ridge on the information and |beta| clipped at 12 instead of step halving (a batch cannot halve
    per data set cheaply). Returns (beta (B, p), loglik (B,)); diverging fits (monotone likelihood)
    end with large |beta| and are screened out by the caller. Matches :class:`CoxEngine` to 1e-7
    on converging fits (tests/test_cox.py).
    """
    nb, n, p = X.shape
    beta = np.zeros((nb, p))

    def evaluate(beta):
        eta = np.einsum("bnp,bp->bn", X, beta)
        eta_max = eta.max(1, keepdims=True)
        w = np.exp(eta - eta_max)
        s0 = np.cumsum(w[:, ::-1], 1)[:, ::-1]
        wx = w[:, :, None] * X
        s1 = np.cumsum(wx[:, ::-1], 1)[:, ::-1]
        s2 = np.cumsum((wx[:, :, :, None] * X[:, :, None, :])[:, ::-1], 1)[:, ::-1]
        mean = s1 / s0[:, :, None]
        loglik = (eta - eta_max - np.log(s0)).sum(1)
        grad = (X - mean).sum(1)
        info = (s2 / s0[:, :, None, None] - mean[:, :, :, None] * mean[:, :, None, :]).sum(1)
        return loglik, grad, info

    for _ in range(iters):
        loglik, grad, info = evaluate(beta)
        info = info + 1e-9 * np.eye(p)
        beta = np.clip(beta + np.linalg.solve(info, grad[:, :, None])[:, :, 0], -12, 12)
    return beta, evaluate(beta)[0]


def newton_raphson_quick(evaluate, p, beta0=None, free=None, max_iter=30, tol=1e-7) -> FitResult:
    """The search variant of :func:`newton_raphson`, for thousands of refits of slightly changed data.

    Same likelihood (``evaluate`` of a :class:`CoxEngine`), cheaper stopping: once the Newton step
    is below ``tol`` (absolute) it is taken on the quadratic model without another evaluation (the
    loglik is extrapolated by score . step / 2; the score and information returned are those of the
    last evaluation, i.e. O(tol) stale); a step that lowers the loglik is halved at most 12 times,
    after which the fit stops where it is (no ascent left: a flat or diverging likelihood) with
    ``converged`` False. No step cap. The synthetic generator's search has always stopped this way:
    keeping the rule keeps its seeded search, and so the committed cohort, unchanged.
    """
    beta = np.zeros(p) if beta0 is None else np.array(beta0, dtype=float)
    free = np.ones(p, dtype=bool) if free is None else np.asarray(free, dtype=bool)
    ll, U, info = evaluate(beta)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        step = np.linalg.solve(info[np.ix_(free, free)], U[free])
        if np.max(np.abs(step), initial=0.0) < tol:
            # quadratic convergence: the next step is ~tol^2; take this one on the quadratic model
            beta = beta.copy()
            beta[free] += step
            ll += 0.5 * float(U[free] @ step)
            converged = True
            break
        for _halving in range(12):
            trial = beta.copy()
            trial[free] += step
            t_ll, t_U, t_info = evaluate(trial)
            if t_ll >= ll - 1e-12:
                break
            step = step / 2
        else:
            break
        beta, ll, U, info = trial, t_ll, t_U, t_info
    return FitResult(beta, ll, U, info, converged, it, np.zeros(p))


class SearchCoxEngine:
    """The Efron partial likelihood summed row by row: the synthetic generator's search variant.

    The same log partial likelihood, score and information as :class:`CoxEngine` (unstratified,
    Efron ties, no Firth; agreement to ~1e-12 is tested), accumulated in another order: rows in
    increasing time, risk-set sums as reversed cumulative sums over rows, w = exp(eta) without the
    max(eta) offset. The generator's seeded search accepts a move when its loss does not rise, so the
    last bits of thousands of refits decide its path: summed in CoxEngine's order the search ends
    elsewhere and the committed cohort changes. This variant keeps the cohort byte-identical.

    Parameters
    ----------
    time, event : 1-d arrays
    X : 2-d array (n, p)
    """

    def __init__(self, time, event, X):
        order = np.argsort(time, kind="stable")
        self.e = np.asarray(event, int)[order]
        self.X = np.asarray(X, float)[order]
        t = np.asarray(time, float)[order]
        n = len(t)
        self.n, self.p = n, self.X.shape[1]
        _, first = np.unique(t, return_index=True)
        dcount = np.add.reduceat(self.e, first)
        has_death = dcount > 0
        self.first_ev = first[has_death]
        self.d = dcount[has_death].astype(float)
        grp_of_row = np.repeat(np.arange(len(first)), np.diff(np.append(first, n)))
        gmap = -np.ones(len(first), int)
        gmap[has_death] = np.arange(has_death.sum())
        self.ev_rows = np.nonzero(self.e)[0]
        self.ev_grp = gmap[grp_of_row[self.ev_rows]]
        self.grp_start = np.searchsorted(self.ev_grp, np.arange(len(self.d)))
        within = np.arange(len(self.ev_rows)) - self.grp_start[self.ev_grp]
        self.frac = within / self.d[self.ev_grp]  # Efron's k/m of each tied death

    def evaluate(self, beta, firth=False):
        """Return (loglik, score, information) at ``beta``."""
        if firth:
            raise ValueError("SearchCoxEngine: no Firth penalty (use CoxEngine)")
        X = self.X
        eta = X @ beta
        w = np.exp(eta)
        wx = w[:, None] * X
        wxx = wx[:, :, None] * X[:, None, :]
        s0 = np.cumsum(w[::-1])[::-1][self.first_ev]
        s1 = np.cumsum(wx[::-1], axis=0)[::-1][self.first_ev]
        s2 = np.cumsum(wxx[::-1], axis=0)[::-1][self.first_ev]
        r = self.ev_rows
        a0 = np.add.reduceat(w[r], self.grp_start)
        a1 = np.add.reduceat(wx[r], self.grp_start, axis=0)
        a2 = np.add.reduceat(wxx[r], self.grp_start, axis=0)
        g, c = self.ev_grp, self.frac
        den = s0[g] - c * a0[g]
        mean = (s1[g] - c[:, None] * a1[g]) / den[:, None]
        loglik = eta[r].sum() - np.log(den).sum()
        grad = X[r].sum(0) - mean.sum(0)
        info = ((s2[g] - c[:, None, None] * a2[g]) / den[:, None, None]).sum(0) - mean.T @ mean
        return loglik, grad, info
