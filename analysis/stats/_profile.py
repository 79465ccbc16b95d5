"""Profile-likelihood confidence limits of one coefficient (private): the package's one root finder.

Used by :class:`analysis.stats.CoxModel`, :class:`analysis.stats.TimeVaryingCox` and the synthetic
cohort generator's search, so that the three report the same limit for the same likelihood.

A limit is a root of g(b) = profile_loglik(b) - (loglik_hat - chi2_1(conf_level) / 2), where the
profile refits the other coefficients with coefficient j held at b. Newton's method on the profile
(its slope is the score of coefficient j at the refitted others), started at the Wald limit and
safeguarded by regula falsi / bisection once the root is bracketed.

**A limit that does not exist is infinite**: when the profile never drops by chi2_1 / 2 on one side
(a monotone likelihood, e.g. no deaths in one group) that limit is -inf or +inf on the coefficient
scale, i.e. 0 or inf on the hazard-ratio scale. It is never NaN, and never an exception: the
likelihood keeps rising (or stays within the quantile) all the way, so every value that way is
inside the interval.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

# farther than this many (1 + SE) from the estimate without the profile dropping enough: the limit
# is infinite (exp(1000) overflows the hazard-ratio scale long before)
_FAR = 1e3


def profile_start(var, j, value, warm):
    """Start of the refit with coefficient j held at ``value``: ``warm`` moved along the Wald
    regression of beta on beta_j (so that a few Newton steps suffice)."""
    p = len(warm)
    slope = var[:, j] / var[j, j] if np.isfinite(var).all() and var[j, j] > 0 else np.zeros(p)
    start = warm + slope * (value - warm[j])
    start[j] = value
    return start


def profile_interval(engine, fit, var, j, conf_level=0.95, firth=False, diverging=False) -> tuple[float, float]:
    """(lower, upper) profile-likelihood limits of coefficient j, on the coefficient scale.

    Parameters
    ----------
    engine : object with ``maximize(beta0, free, firth=...) -> FitResult`` (a Cox engine)
    fit : FitResult of the full model (``beta``, ``loglik``)
    var : (p, p) array, the inverse information at ``fit.beta``
    j : int, the coefficient
    conf_level : float
    firth : bool, profile the penalised likelihood
    diverging : bool, coefficient j diverges (monotone likelihood): the limit on the side it
        diverges to is infinite without a search, and the other search starts one unit away
        (its SE is meaningless)

    Returns
    -------
    (lower, upper) : floats, -inf / +inf where the profile never drops enough.
    """
    q = stats.chi2.ppf(conf_level, 1)
    target = fit.loglik - q / 2
    bhat = fit.beta
    p = len(bhat)
    free = np.ones(p, dtype=bool)
    free[j] = False
    se = float(np.sqrt(var[j, j]))
    if not np.isfinite(se) or se <= 0:
        se = 1.0
    zq = stats.norm.ppf(1 - (1 - conf_level) / 2)

    def refit(value, warm):
        return engine.maximize(profile_start(var, j, value, warm), free, firth=firth)

    out = []
    for direction in (-1.0, 1.0):
        if diverging and direction * bhat[j] > 0:
            out.append(direction * np.inf)  # the likelihood keeps rising that way
            continue
        inner, g_inner = bhat[j], q / 2
        outer = g_outer = None
        b = bhat[j] + direction * (1.0 if diverging else zq * se)
        current = refit(b, bhat)
        result = direction * np.inf
        for _ in range(200):
            g = current.loglik - target
            if g > 0:
                inner, g_inner = b, g
            else:
                outer, g_outer = b, g
            if abs(g) < 1e-11:
                result = b
                break
            slope = current.score[j]
            cand = b - g / slope if slope != 0 else np.nan
            if outer is None:
                # not bracketed yet: Newton outwards, at most doubling the distance
                dist = abs(b - bhat[j])
                if not np.isfinite(cand) or (cand - b) * direction <= 0 or abs(cand - bhat[j]) > 4 * dist:
                    cand = bhat[j] + direction * 2 * dist
                if abs(cand - bhat[j]) > _FAR * (1 + se):
                    break  # the profile never drops by q/2: infinite limit
            else:
                lo_b, hi_b = sorted((inner, outer))
                if not (np.isfinite(cand) and lo_b < cand < hi_b):
                    cand = inner - g_inner * (outer - inner) / (g_outer - g_inner)
                    if not lo_b < cand < hi_b:
                        cand = 0.5 * (inner + outer)
            if abs(cand - b) < 1e-13 * (1 + abs(b)):
                result = cand
                break
            current = refit(cand, current.beta)
            b = cand
        out.append(result)
    return out[0], out[1]


def profile_limit_brent(loglik_at, estimate, loglik_hat, se, direction, conf_level=0.95, xtol=1e-8) -> float:
    """One profile-likelihood limit by Brent's method: the synthetic generator's search variant.

    ``loglik_at(b)`` is the profile loglik with the coefficient held at b. The bracket is found by
    stepping out from the estimate (first 1.96 max(se, 0.05), then steps growing by 1.6); Brent's
    method then finds the root to ``xtol``. Same root as :func:`profile_interval` up to ``xtol``,
    and the same answer where there is none: +/-inf when 40 steps out the profile has still not
    dropped enough. Kept because the generator's seeded search depends on the last bits of the
    limits it computes, and the committed cohort on that search.
    """
    from scipy.optimize import brentq

    half_q = stats.chi2.ppf(conf_level, 1) / 2

    def drop(b):
        return loglik_hat - loglik_at(b) - half_q

    inside, step = estimate, max(se, 0.05)
    outside = inside + direction * 1.96 * step
    for _ in range(40):
        if drop(outside) >= 0:
            break
        inside, step = outside, step * 1.6
        outside = inside + direction * step
    else:
        return direction * np.inf  # the likelihood never drops enough that way
    return brentq(drop, min(inside, outside), max(inside, outside), xtol=xtol)
