"""Cox model for counting-process (start, stop] data: time-varying covariates, left truncation.

:class:`~analysis.stats.CoxModel` fits right-censored data (every row at risk from time 0). For a
covariate that changes during follow-up (Andersen & Gill 1982) each patient contributes one row per
interval of constant covariates, at risk only inside its interval. :class:`CountingProcessEngine`
evaluates that partial likelihood with Efron (or Breslow) ties, using the same pseudo risk sets
(:func:`~analysis.stats._cox_engine.pseudo_risk_sets`), the same Newton-Raphson
(:func:`~analysis.stats._cox_engine.newton_raphson`) and the same profile-likelihood root finder
(:mod:`analysis.stats._profile`) as the right-censored engine; only the risk-set sums differ.

Start and stop times closer than R's ``aeqSurv`` tolerance are merged first, the two columns pooled,
as ``coxph(Surv(start, stop, event) ~ ...)`` does (``timefix = TRUE``): a split point computed in
floating point (a treatment start as a fraction of a year, say) otherwise leaves a death just outside
or inside a risk set. An interval that merging shrinks to length 0 is refused, as R refuses it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats._checks import as_event, require_columns
from analysis.stats._cox_engine import FitResult, newton_raphson, pseudo_risk_sets
from analysis.stats._profile import profile_interval
from analysis.stats.timefix import aeq_times

__all__ = ["TimeVaryingCox", "CountingProcessEngine"]


class CountingProcessEngine:
    """Log partial likelihood, score and information for (start, stop] rows.

    Sorted once so that each evaluation is a few bucket sums: O(n log n) set-up, O(n p^2) per
    evaluation, no (death times x rows) matrix.

    Parameters
    ----------
    start, stop : 1-d arrays, start < stop
    event : 1-d array (0/1), a death at ``stop``
    X : 2-d array (n, p)
    ties : {"efron", "breslow"}
    """

    def __init__(self, start, stop, event, X, ties="efron"):
        start, stop = np.asarray(start, dtype=float), np.asarray(stop, dtype=float)
        event = np.asarray(event)
        X = np.asarray(X, dtype=float)
        n, p = X.shape
        self.p = p
        death_times = np.unique(stop[event == 1])
        # columns 1, x, x x' of every row (as rows of F): one weighted pass gives S0, S1, S2
        F = np.vstack([np.ones(n), X.T, (X[:, :, None] * X[:, None, :]).reshape(n, -1).T])
        # risk set at t: rows with stop >= t, minus those with start >= t (start < stop, so the
        # second set is inside the first); both are suffixes of a sorted order
        self._sorted = []
        for times in (stop, start):
            order = np.argsort(times, kind="stable")
            pos = np.searchsorted(times[order], death_times, side="left")
            ends = np.append(pos[1:], n)
            # F in that order, with a zero column at n (reduceat may point there)
            self._sorted.append((order, pos, pos == ends, np.hstack([F[:, order], np.zeros((len(F), 1))])))
        dead = np.flatnonzero(event == 1)
        dead = dead[np.argsort(stop[dead], kind="stable")]
        m = np.bincount(np.searchsorted(death_times, stop[dead]), minlength=len(death_times))
        self._dead, self._dead_starts, self._F_dead = dead, np.concatenate([[0], np.cumsum(m)[:-1]]), F[:, dead]
        self._rep, self._frac = pseudo_risk_sets(m, ties)
        self._X = X
        self._x_death_sum = X[event == 1].sum(axis=0)
        self._n_deaths = int(event.sum())

    @staticmethod
    def _suffix_sums(w, order, pos, empty, F_sorted):
        """For each death time d, the sum of w * F over the sorted rows pos[d], ..., n - 1:
        sums over the buckets between consecutive death times, accumulated from the last."""
        weights = np.append(w[order], 0.0)
        buckets = np.add.reduceat(F_sorted * weights, pos, axis=1)
        buckets[:, empty] = 0.0  # an empty bucket: reduceat returned the element at its start
        return np.cumsum(buckets[:, ::-1], axis=1)[:, ::-1]

    def evaluate(self, beta, firth=False):
        """Return (loglik, score, information) at ``beta`` (no Firth penalty for this engine)."""
        if firth:
            raise ValueError("CountingProcessEngine: Firth's penalty is not implemented for (start, stop] data")
        X, p = self._X, self.p
        eta = X @ beta
        c = eta.max()
        w = np.exp(eta - c)
        (stop_sorted, start_sorted) = self._sorted
        S = (self._suffix_sums(w, *stop_sorted) - self._suffix_sums(w, *start_sorted)).T
        D = np.add.reduceat(self._F_dead * w[self._dead], self._dead_starts, axis=1).T
        S0, S1, S2 = S[:, 0], S[:, 1:1 + p], S[:, 1 + p:]
        D0, D1, D2 = D[:, 0], D[:, 1:1 + p], D[:, 1 + p:]
        rep, frac = self._rep, self._frac
        S0k = S0[rep] - frac * D0[rep]
        S1k = S1[rep] - frac[:, None] * D1[rep]
        mu = S1k / S0k[:, None]
        ll = float(self._x_death_sum @ beta - self._n_deaths * c - np.log(S0k).sum())
        score = self._x_death_sum - mu.sum(axis=0)
        # sum over pseudo risk sets of S2k / S0k, without a (pseudo sets x p x p) array
        inv0 = 1.0 / S0k
        a = np.bincount(rep, weights=inv0, minlength=len(S0))
        b = np.bincount(rep, weights=frac * inv0, minlength=len(S0))
        info = (a @ S2 - b @ D2).reshape(p, p) - mu.T @ mu
        return ll, score, info

    def maximize(self, beta0=None, free=None, firth=False, max_iter=100, tol=1e-10) -> FitResult:
        """Newton-Raphson with step halving (the package's one :func:`newton_raphson`)."""
        return newton_raphson(self.evaluate, self.p, beta0, free, firth, max_iter, tol)


class TimeVaryingCox:
    """Cox model for counting-process (start, stop] data, Efron or Breslow ties.

    The partial likelihood of Andersen & Gill: at each distinct death time t the risk set is the
    rows with start < t <= stop; tied deaths are handled by Efron's approximation (R's default)
    or Breslow's. Newton-Raphson with step halving; Wald and profile-likelihood intervals and
    likelihood-ratio tests of each term (the model refitted without it), as :class:`CoxModel`.
    A profile limit that does not exist (monotone likelihood) is 0 or inf on the HR scale.

    Parameters
    ----------
    ties : {"efron", "breslow"}
        Tie handling of the partial likelihood (R's default is Efron).
    conf_level : float
        Level of the Wald and profile-likelihood intervals.

    Attributes
    ----------
    coefficients_ : DataFrame
        Indexed by covariate: coef, se, hr, hr_lower, hr_upper (Wald), z, p (Wald),
        hr_profile_lower, hr_profile_upper, p_lr (likelihood-ratio test of the term).
    loglik_, loglik_null_ : float
        Log partial likelihood at the estimate and at beta = 0.
    n_rows_, n_events_, n_dropped_ : int
        Rows used, deaths, rows dropped for a missing value.
    converged_ : bool
        Whether Newton-Raphson converged.

    Examples
    --------
    >>> TimeVaryingCox().fit(rows, "start", "stop", "death", ["treated"]).coefficients_["hr"]  # doctest: +SKIP
    """

    def __init__(self, ties: str = "efron", conf_level: float = 0.95):
        if ties not in ("efron", "breslow"):
            raise ValueError(f"ties: expected 'efron' or 'breslow', got {ties!r}")
        if not 0 < conf_level < 1:
            raise ValueError(f"conf_level: expected a number in (0, 1), got {conf_level!r}")
        self.ties = ties
        self.conf_level = conf_level

    def fit(self, df: pd.DataFrame, start: str, stop: str, event: str, covariates,
            profile_ci: bool = True) -> "TimeVaryingCox":
        """Fit by Newton-Raphson on the counting-process log partial likelihood.

        Rows with a missing value in a column used are dropped (``n_dropped_``). Every row must have
        start < stop, also after times equal to within R's ``aeqSurv`` tolerance are merged
        (:func:`~analysis.stats.timefix.aeq_times`).

        Parameters
        ----------
        df : DataFrame, one row per interval
        start, stop, event : str, column names (event 0/1 at ``stop``)
        covariates : str or list of str, numeric columns
        profile_ci : bool, compute the profile-likelihood intervals

        Returns
        -------
        self
        """
        covariates = [covariates] if isinstance(covariates, str) else list(covariates)
        if not covariates:
            raise ValueError("covariates: expected at least one column name, got none")
        used = [start, stop, event, *covariates]
        require_columns(df, used)
        data = df[list(dict.fromkeys(used))].dropna()
        self.n_dropped_ = int(len(df) - len(data))
        t0 = data[start].to_numpy(dtype=float)
        t1 = data[stop].to_numpy(dtype=float)
        bad = ~(t0 < t1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"columns {start!r}/{stop!r}: found an interval ({t0[i]:g}, {t1[i]:g}] with "
                             f"start >= stop in {int(bad.sum())} row(s); expected start < stop")
        # R's coxph(timefix = TRUE): start and stop pooled, times within aeqSurv's tolerance are one
        t0, t1 = aeq_times(t0, t1)
        if not (t0 < t1).all():
            raise ValueError(f"columns {start!r}/{stop!r}: {int((t0 >= t1).sum())} interval(s) shorter than "
                             "floating-point noise (start and stop equal within R's aeqSurv tolerance, "
                             "about 1.5e-8); expected start < stop (R: 'an interval has effective length 0')")
        e = as_event(data[event], name=f"event column {event!r}")
        if e.sum() == 0:
            raise ValueError(f"event column {event!r} has no events among the {len(e)} rows used")
        X = data[covariates].to_numpy(dtype=float)
        engine = self._engine = CountingProcessEngine(t0, t1, e, X, self.ties)
        p = X.shape[1]
        self.covariates_ = covariates
        self.n_rows_, self.n_events_ = int(len(data)), int(e.sum())
        self.loglik_null_ = engine.evaluate(np.zeros(p))[0]
        res = self._res = engine.maximize(np.zeros(p))
        beta, ll = res.beta, res.loglik
        self.loglik_, self.converged_ = ll, res.converged
        if not res.converged:
            warnings.warn(f"TimeVaryingCox: Newton-Raphson did not converge in {res.iterations} iterations",
                          stacklevel=2)
        var = np.linalg.inv(res.info)
        se = np.sqrt(np.diag(var))
        zq = stats.norm.ppf(1 - (1 - self.conf_level) / 2)
        z = beta / se
        table = pd.DataFrame({
            "coef": beta, "se": se, "hr": np.exp(beta),
            "hr_lower": np.exp(beta - zq * se), "hr_upper": np.exp(beta + zq * se),
            "z": z, "p": 2 * stats.norm.sf(np.abs(z)),
        }, index=pd.Index(covariates, name="term"))
        p_lr, lower, upper = [], [], []
        for j in range(p):
            free = np.ones(p, dtype=bool)
            free[j] = False
            start_beta = beta.copy()
            start_beta[j] = 0.0
            ll0 = engine.maximize(start_beta, free).loglik
            p_lr.append(float(stats.chi2.sf(max(2 * (ll - ll0), 0.0), 1)))
            lo, up = profile_interval(engine, res, var, j, self.conf_level) if profile_ci else (np.nan, np.nan)
            lower.append(np.exp(lo))
            upper.append(np.exp(up))
        table["hr_profile_lower"], table["hr_profile_upper"], table["p_lr"] = lower, upper, p_lr
        self.coefficients_ = table
        return self
