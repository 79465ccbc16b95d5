"""The exact partial likelihood of a Cox model with tied death times (private), as R's
``coxph(ties = "exact")`` (survival's ``coxexact``).

At a death time with d tied deaths D and risk set R the exact (discrete, conditional-logistic)
contribution is

    sum_{i in D} eta_i - log E_d,    E_d = sum over d-subsets S of R of prod_{j in S} w_j,

w_j = exp(eta_j): E_d is the elementary symmetric polynomial of degree d in the risk set's w. It
is evaluated by the recursion survival's coxexact uses, never by enumerating subsets: adding a row
j to a set multiplies its generating polynomial prod (1 + w z) by (1 + w_j z), so

    E_k <- E_k + w_j E_{k-1},  and its first and second derivatives in beta likewise
    G_k <- G_k + w_j (G_{k-1} + x_j E_{k-1}),
    H_k <- H_k + w_j (H_{k-1} + x_j G_{k-1}' + G_{k-1} x_j' + x_j x_j' E_{k-1}).

Risk sets are nested (rows sorted by decreasing time: each death time's risk set is a prefix), so
one running polynomial of degree max(d) over the rows of a stratum gives every death time's
E_d, G_d, H_d as a snapshot at the end of its time block: O(n max(d) p^2) per evaluation.
Without ties (every d = 1) this is Breslow's = Efron's likelihood.
"""

from __future__ import annotations

import numpy as np

from analysis.stats._cox_engine import CoxEngine, FitResult, newton_raphson

__all__ = ["ExactCoxEngine"]


class ExactCoxEngine:
    """Exact log partial likelihood, score and information (``coxph(ties = "exact")``).

    Parameters
    ----------
    time, event : 1-d arrays (event boolean or 0/1)
    X : 2-d array (n, p)
    strata : 1-d integer codes or None

    Notes
    -----
    The rows are ordered and blocked as in :class:`~analysis.stats._cox_engine.CoxEngine`
    (``strata_list`` is that engine's, so code that reads the sorted design can use either).
    ``w`` is exp(eta - mean(eta)) within a stratum, so E_d stays near C(n, d) in size; a stratum
    whose E_d overflows a double (thousands of rows with hundreds of tied deaths) gives a
    non-finite log likelihood, which the Newton step halving rejects.
    """

    def __init__(self, time, event, X, strata=None):
        # the Breslow engine's sorting and blocking, reused: deaths are contiguous per time
        self._layout = CoxEngine(time, event, X, strata, ties="breslow")
        self.n, self.p = self._layout.n, self._layout.p
        self.nevent = self._layout.nevent
        self.strata_list = self._layout.strata_list
        self.ties = "exact"

    def _stratum_terms(self, s, beta):
        p = self.p
        X = s.X
        nb = len(s.death_blocks)
        if nb == 0:
            return 0.0, np.zeros(p), np.zeros((p, p))
        eta = X @ beta if p else np.zeros(len(X))
        c = eta.mean()
        w = np.exp(eta - c)
        m = s.deaths_per_block
        dmax = int(m.max())
        # running generating polynomial of the rows seen so far (degrees 0..dmax) and its derivatives
        E = np.zeros(dmax + 1)
        E[0] = 1.0
        G = np.zeros((dmax + 1, p))
        H = np.zeros((dmax + 1, p, p))
        ends = s.block_last[s.death_blocks]  # the row after which each death time's risk set is complete
        snap_E, snap_G, snap_H = np.empty(nb), np.empty((nb, p)), np.empty((nb, p, p))
        b = 0
        for j in range(len(X)):
            x, wj = X[j], w[j]
            xg = x[None, :, None] * G[:-1, None, :]
            # right-hand sides use the values before row j (degree k - 1 of the old polynomial)
            H[1:] += wj * (H[:-1] + xg + xg.transpose(0, 2, 1) + np.multiply.outer(E[:-1], np.outer(x, x)))
            G[1:] += wj * (G[:-1] + np.multiply.outer(E[:-1], x))
            E[1:] += wj * E[:-1]
            while b < nb and ends[b] == j:
                d = m[b]
                snap_E[b], snap_G[b], snap_H[b] = E[d], G[d], H[d]
                b += 1
        mean = snap_G / snap_E[:, None]
        ll = float(s.x_death_sum @ beta - np.sum(m) * c - np.sum(np.log(snap_E)))
        U = s.x_death_sum - mean.sum(axis=0)
        info = np.einsum("bij->ij", snap_H / snap_E[:, None, None]) - mean.T @ mean
        return ll, U, info

    def evaluate(self, beta, firth=False):
        """Return (loglik, score, information) at ``beta`` (no Firth penalty for exact ties)."""
        if firth:
            raise ValueError("ties='exact': Firth's penalty is not offered with the exact partial likelihood")
        beta = np.asarray(beta, dtype=float)
        ll, U, info = 0.0, np.zeros(self.p), np.zeros((self.p, self.p))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for s in self.strata_list:
                l_s, u_s, i_s = self._stratum_terms(s, beta)
                ll, U, info = ll + l_s, U + u_s, info + i_s
        if not np.isfinite(ll):
            ll = -np.inf
        return ll, U, info

    def maximize(self, beta0=None, free=None, firth=False, max_iter=100, tol=1e-10) -> FitResult:
        """Newton-Raphson (:func:`~analysis.stats._cox_engine.newton_raphson`, the package's one)."""
        return newton_raphson(self.evaluate, self.p, beta0, free, firth, max_iter, tol)
