"""Fine-Gray regression of the subdistribution hazard, as ``cmprsk::crr``.

No Python library fits it (lifelines and statsmodels have none), so it is written here, following
Fine & Gray (1999) and cmprsk's routines step for step, so that the estimate stops where ``crr``
stops: Newton-Raphson from 0 with ``crr``'s backtracking line search (halving, Armijo constant 1e-4,
at most 20 halvings), its stopping rule ``max|score| * max(|b|, 1) < max(|loglik|, 1) * gtol`` with
gtol 1e-6 and at most 10 iterations. The standard error is ``crr``'s robust (sandwich) one,
I^-1 (sum_i (eta_i + psi_i)(eta_i + psi_i)') I^-1, where psi_i accounts for the estimated censoring
distribution. One censoring group; no time-varying covariates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats._checks import as_time
from analysis.stats.competing import as_causes

__all__ = ["FineGray"]


def _censoring_before(t, censored):
    """KM of the censoring distribution just before each time, G(t_i-), as crr reads survfit."""
    times, inv = np.unique(t, return_inverse=True)
    c = np.bincount(inv, weights=censored, minlength=len(times))
    n_out = np.bincount(inv, minlength=len(times))
    at_risk = len(t) - np.concatenate([[0], np.cumsum(n_out)[:-1]])
    g = np.cumprod(1 - c / at_risk)
    before = np.concatenate([[1.0], g[:-1]])
    return before[inv]


class _Problem:
    """The sorted data and the weights of the Fine-Gray risk sets at each distinct failure time."""

    def __init__(self, t, status, x):
        order = np.argsort(t, kind="stable")
        self.t, self.status, self.x = t[order], status[order], x[order]
        self.g = _censoring_before(self.t, (self.status == 0).astype(float))
        self.fail_times = np.unique(self.t[self.status == 1])
        self.d = np.array([np.sum((self.t == u) & (self.status == 1)) for u in self.fail_times], dtype=float)
        self.sum_x = np.array([self.x[(self.t == u) & (self.status == 1)].sum(axis=0) for u in self.fail_times])
        g_at = np.array([self.g[np.searchsorted(self.t, u)] for u in self.fail_times])
        still = self.t[:, None] >= self.fail_times[None, :]
        # a competing death stays in the risk set, its weight the censoring survival since its death
        other = (self.status == 2)[:, None] & ~still
        self.base = np.where(still, 1.0, np.where(other, g_at[None, :] / self.g[:, None], 0.0))

    def fit_parts(self, b, second=True):
        """negative log partial likelihood, its gradient and Hessian at b."""
        w = self.base * np.exp(self.x @ b)[:, None]
        s0 = w.sum(axis=0)
        s1 = w.T @ self.x
        lik = -np.sum(self.sum_x @ b) + np.sum(self.d * np.log(s0))
        if not second:
            return lik
        xbar = s1 / s0[:, None]
        grad = -self.sum_x.sum(axis=0) + self.d @ xbar
        s2 = np.einsum("jf,jp,jq->fpq", w, self.x, self.x) / s0[:, None, None]
        hess = np.einsum("f,fpq->pq", self.d, s2 - xbar[:, :, None] * xbar[:, None, :])
        return lik, grad, hess, w, s0, xbar

    def meat(self, b):
        """sum_i (eta_i + psi_i)(eta_i + psi_i)': the score's variance with the censoring estimated."""
        lik, grad, hess, w, s0, xbar = self.fit_parts(b)
        t, x, st = self.t, self.x, self.status
        f_of = np.searchsorted(self.fail_times, t)
        dl = self.d / s0
        # eta: dN part minus the compensator over each patient's (weighted) risk
        resid = x[:, None, :] - xbar[None, :, :]
        eta = -np.einsum("jf,f,jfp->jp", w, dl, resid)
        fails = st == 1
        eta[fails] += x[fails] - xbar[f_of[fails]]
        # q(u): what a competing death before u adds to the later compensators
        comp = (st == 2)[:, None, None] * (w * dl[None, :])[:, :, None] * resid
        cum = np.cumsum(comp, axis=0)
        cens_times = np.unique(t[st == 0])
        terms = np.zeros((len(cens_times), x.shape[1]))
        psi = np.zeros_like(eta)
        for m, u in enumerate(cens_times):
            before = np.searchsorted(t, u, side="left")
            q = cum[before - 1][self.fail_times >= u].sum(axis=0) if before > 0 else terms[m]
            at_risk = len(t) - before
            here = (t == u) & (st == 0)
            psi[here] += q / at_risk  # the patient's own censoring
            terms[m] = q * here.sum() / at_risk ** 2
        # minus the censoring compensator up to each patient's time (ties included)
        upto = np.searchsorted(cens_times, t, side="right")
        psi -= np.vstack([np.zeros(x.shape[1]), np.cumsum(terms, axis=0)])[upto]
        u_i = eta + psi
        return hess, u_i.T @ u_i


class FineGray:
    """Fine-Gray proportional subdistribution hazards model, as ``cmprsk::crr``.

    Parameters
    ----------
    gtol : float
        crr's convergence tolerance (default 1e-6).
    max_iter : int
        crr's ``maxiter`` (default 10).

    Attributes
    ----------
    coefficients_ : DataFrame
        Index the term names; coef, se (robust, crr's ``var``), hr, z, p (two-sided normal).
    loglik_ : float
        Log pseudo-likelihood at the estimate (crr's ``loglik``).
    loglik_null_ : float
        At 0 (crr's ``loglik.null``).
    converged_ : bool
    n_ : int
    n_iter_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=(60, 1))
    >>> fg = FineGray().fit(rng.exponential(1, 60), rng.choice([0, 1, 2], 60), x, ["x"])
    >>> fg.converged_
    True
    """

    def __init__(self, gtol: float = 1e-6, max_iter: int = 10):
        self.gtol = gtol
        self.max_iter = max_iter

    def fit(self, time, status, covariates, names=None, of_cause: int = 1) -> "FineGray":
        """Fit the subdistribution hazard of ``of_cause``; ``status`` 0 censored, other codes
        competing causes; ``covariates`` an n x p array (or DataFrame, whose columns name the terms)."""
        t = as_time(time)
        raw = as_causes(status, len(t))
        x = np.asarray(covariates, dtype=float)
        x = x.reshape(len(t), -1)
        if names is None:
            names = list(covariates.columns) if hasattr(covariates, "columns") else [f"x{i + 1}" for i in range(x.shape[1])]
        if not (raw == of_cause).any():
            raise ValueError(f"status: no event of cause {of_cause}; nothing to fit")
        status = np.where(raw == of_cause, 1, np.where(raw == 0, 0, 2))
        prob = _Problem(t, status, x)
        b = np.zeros(x.shape[1])
        converged, iters = False, 0
        for iters in range(self.max_iter + 1):
            lik, grad, hess, *_ = prob.fit_parts(b)
            if np.max(np.abs(grad) * np.maximum(np.abs(b), 1)) < max(abs(lik), 1) * self.gtol:
                converged = True
                break
            if iters == self.max_iter:
                break
            step = -np.linalg.solve(hess, grad)
            halvings = 0
            new = prob.fit_parts(b + step, second=False)
            while not np.isfinite(new) or new > lik + 1e-4 * np.sum(step * grad):
                halvings += 1
                step = step * 0.5
                new = prob.fit_parts(b + step, second=False)
                if halvings > 20:
                    break
            if halvings > 20:
                break
            b = b + step
        info, meat = prob.meat(b)
        inv = np.linalg.inv(info)
        var = inv @ meat @ inv.T
        se = np.sqrt(np.diag(var))
        z = b / se
        self.coefficients_ = pd.DataFrame({"coef": b, "se": se, "hr": np.exp(b), "z": z,
                                           "p": 2 * stats.norm.sf(np.abs(z))}, index=list(names))
        self.var_ = var
        self.loglik_ = -float(lik)
        self.loglik_null_ = -float(prob.fit_parts(np.zeros_like(b), second=False))
        self.converged_, self.n_iter_, self.n_ = converged, iters, int(len(t))
        return self
