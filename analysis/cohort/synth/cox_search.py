"""The search over covariates that drive the paper's Cox models (generic part).

``CoxSearch`` is a seeded local search (or simulated annealing) over binary covariate columns; each
move refits the Cox models whose columns it touched (``SearchCox``: Efron ties, likelihood-ratio term
tests, profile-likelihood limits, all computed by ``analysis.stats``) and scores hazard ratios,
p-values (as signed likelihood-ratio z, so that the search can cross HR = 1) and CIs against the paper
in units of its tolerances (``analysis.paper.TOLERANCES``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import chdtrc, ndtri

from analysis.paper import TOLERANCES
from analysis.stats import SearchCoxEngine, newton_raphson_quick, profile_limit_brent


@dataclass
class CoxModelTarget:
    """One of the paper's Cox models, with what it should show."""

    name: str
    rows_of: Any               # callable(cov) -> patient indices in the model (rows with a missing value drop)
    time: np.ndarray           # per patient
    event: np.ndarray          # per patient
    terms: list[str]
    hr: dict[str, float]
    p: dict[str, tuple[str, float]]    # '=' printed value, '<' printed bound, '>' "not significant" reading
    ci: dict[str, tuple[float, float]]
    aim: float = 0.35          # the search stops when every miss is within this fraction of its tolerance
    quick_wald: bool = True    # Wald z may stand in for the likelihood-ratio z in the quick phase
    search_ci: bool = False    # profile CIs inside the exact phase (costly; for skewed small-event terms)


# the tolerances (one place: analysis.paper.TOLERANCES); the search aims inside them
HR_TOL, CI_TOL, P_TOL = TOLERANCES["hr"], TOLERANCES["hr_ci"], TOLERANCES["p"]
_CI_PENDING = 5.0                          # loss stand-in for CI misses not computed yet


def term_misses(m: "CoxModelTarget", hr: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Per-term misses in units of the tolerance, vectorised: hr, z of shape (B, p) -> (B, p)."""
    miss = np.zeros_like(hr)
    for j, term in enumerate(m.terms):
        if term in m.hr:
            miss[:, j] += np.abs(np.log(hr[:, j] / m.hr[term])) / math.log1p(HR_TOL)
        if term in m.p:
            op, value = m.p[term]
            sign = 1.0 if term not in m.hr else math.copysign(1.0, math.log(m.hr[term]))
            if op == "=":
                scale = abs(z_of_p((1 - P_TOL) * value) - z_of_p(value))
                miss[:, j] += np.abs(z[:, j] - sign * z_of_p(value)) / scale
            elif op == "<":
                miss[:, j] += np.maximum(0.0, z_of_p(value / 3) - sign * z[:, j])
            else:
                miss[:, j] += np.maximum(0.0, np.abs(z[:, j]) - z_of_p(2 * value))
    return miss


def z_of_p(p: float) -> float:
    """The |z| whose two-sided normal (1-df chi-squared) p-value is p."""
    return float(-ndtri(p / 2))


class SearchCox:
    """One Cox model of the search: fixed times and events, covariates that change with every move.

    Everything numerical is the statistics layer's: the Efron likelihood of
    :class:`analysis.stats.SearchCoxEngine`, the Newton-Raphson of
    :func:`analysis.stats.newton_raphson_quick` and the profile limits of
    :func:`analysis.stats.profile_limit_brent` (the search variants of ``CoxEngine``,
    ``newton_raphson`` and ``profile_interval``, which keep the seeded search, and so the committed
    cohort, byte-identical). This class only holds the search's policy: warm starts from the last
    converged fit of the same model, a term's likelihood-ratio test with its coefficient held at 0.
    """

    def __init__(self, time_: np.ndarray, event: np.ndarray):
        self.time, self.event = np.asarray(time_, float), np.asarray(event, int)
        self.warm: dict[Any, np.ndarray] = {}   # None (full model) or a held term -> last converged beta

    def fit(self, engine: SearchCoxEngine, beta0=None, held=None, value=0.0, key="none"):
        """Newton-Raphson, coefficient ``held`` (if any) fixed at ``value``. A stale warm start (its
        loglik not finite) begins at zero; a warm start that does not converge is retried from zero.
        A converged fit is remembered under ``key`` as the next warm start."""
        p = engine.p
        free = np.ones(p, bool)
        beta = np.zeros(p) if beta0 is None else np.array(beta0, float)
        if held is not None:
            beta[held] = value
            free[held] = False
        if beta0 is not None and not np.isfinite(engine.evaluate(beta)[0]):
            beta = np.zeros(p)
            if held is not None:
                beta[held] = value
        fit = newton_raphson_quick(engine.evaluate, p, beta, free)
        if not fit.converged and beta0 is not None and np.any(beta0):
            return self.fit(engine, None, held, value, key)
        if fit.converged and key != "none":
            self.warm[key] = fit.beta
        return fit

    def summary(self, X: np.ndarray, profile=(), beta0=None, lr: bool | list[int] = True) -> dict[str, Any]:
        """Hazard ratios and per-term z: likelihood-ratio (signed root of the LR statistic) for the terms
        in ``lr`` (True: all), Wald for the others (quick); profile 95% limits for the terms in ``profile``."""
        engine = SearchCoxEngine(self.time, self.event, X)
        fit = self.fit(engine, beta0 if beta0 is not None else self.warm.get(None), key=None)
        beta, loglik = fit.beta, fit.loglik
        var = np.linalg.inv(fit.info)
        z = beta / np.sqrt(np.diag(var))
        lr_terms = range(len(beta)) if lr is True else (lr or [])
        for j in lr_terms:
            start = self.warm.get(j)
            ll0 = self.fit(engine, beta.copy() if start is None else start, held=j, key=j).loglik
            z[j] = math.copysign(math.sqrt(max(0.0, 2 * (loglik - ll0))), beta[j])
        out = {"beta": beta, "hr": np.exp(beta), "z": z, "p": chdtrc(1, z * z), "ci": {}}
        for j in profile:

            def loglik_at(b, j=j):
                return self.fit(engine, beta, held=j, value=b).loglik

            out["ci"][j] = tuple(math.exp(profile_limit_brent(loglik_at, beta[j], loglik, math.sqrt(var[j, j]), sign))
                                 for sign in (-1, 1))
        return out


class CoxSearch:
    """Seeded local search over binary covariates so that several Cox models show their targets."""

    def __init__(self, models: list[CoxModelTarget], cov: dict[str, np.ndarray], rng: np.random.Generator,
                 propose):
        self.models, self.cov, self.rng, self.propose = models, cov, rng, propose
        self._cache: dict[str, tuple] = {}
        self._beta: dict[str, np.ndarray] = {}
        self.aim_scale = 1.0

    def _model(self, m: CoxModelTarget):
        rows = np.asarray(m.rows_of(self.cov))
        key = tuple(rows.tolist())
        cached = self._cache.get(m.name)
        if cached is None or cached[0] != key:
            cached = (key, SearchCox(m.time[rows], m.event[rows]), rows)
            self._cache[m.name] = cached
        _, fitter, rows = cached
        return fitter, np.column_stack([self.cov[t][rows] for t in m.terms])

    def model_loss(self, m: CoxModelTarget, with_ci: bool = False, exact: bool = True) -> float:
        fitter, X = self._model(m)
        profile = [j for j, t in enumerate(m.terms) if t in m.ci] if (with_ci and m.search_ci) else []
        with np.errstate(all="ignore"):
            try:
                lr_terms = [j for j, t in enumerate(m.terms) if t in m.p and m.p[t][0] != ">"]
                res = fitter.summary(X, beta0=self._beta.get(m.name),
                                     lr=lr_terms if (exact or not m.quick_wald) else False)
            except np.linalg.LinAlgError:
                return 1e6
        if not np.all(np.isfinite(res["hr"])) or np.any(np.abs(np.log(res["hr"])) > 6):
            return 1e6
        self._beta[m.name] = res["beta"]
        loss = 0.0
        for j, term in enumerate(m.terms):
            hr, z = res["hr"][j], res["z"][j]
            if term in m.hr:
                loss += max(0.0, abs(math.log(hr / m.hr[term])) / math.log1p(HR_TOL) - m.aim * self.aim_scale)
            else:                                   # an unreported term stays plausible
                loss += max(0.0, abs(math.log(hr)) - math.log(4.0))
            if term in m.p:
                # p-values are compared as signed likelihood-ratio z so that the search can cross HR = 1
                op, value = m.p[term]
                sign = 1.0 if term not in m.hr else math.copysign(1.0, math.log(m.hr[term]))
                if op == "=":
                    want = sign * z_of_p(value)
                    scale = abs(z_of_p((1 - P_TOL) * value) - z_of_p(value))
                    loss += max(0.0, abs(z - want) / scale - m.aim * self.aim_scale)
                elif op == "<":
                    loss += max(0.0, z_of_p(value / 3) - sign * z)
                else:
                    loss += max(0.0, abs(z) - z_of_p(2 * value))
        if profile:
            # profile CIs cost many refits: only for states that already meet everything else
            if loss > 1e-9:
                return loss + _CI_PENDING
            for j in profile:
                bounds = fitter.summary(X, profile=[j], lr=False)["ci"][j]
                for got, want in zip(bounds, m.ci[m.terms[j]]):
                    loss += max(0.0, abs(got / want - 1) / CI_TOL - m.aim * self.aim_scale)
        return loss

    def run(self, max_iter: int, with_ci: bool = False, exact: bool = True, temperature: float = 0.0) -> float:
        """Local search; with a temperature, simulated annealing (worse moves accepted now and then,
        cooling linearly to zero) and the best state seen is kept."""
        parts = {m.name: self.model_loss(m, with_ci, exact) for m in self.models}
        current = sum(parts.values())
        best, best_state = current, {k: v.copy() for k, v in self.cov.items()}
        for it in range(max_iter):
            if current <= 1e-9:
                break
            change = self.propose(self.cov, self.rng)
            if change is None:
                continue
            touched = [m for m in self.models if set(m.terms) & change["columns"]]
            trial = {m.name: self.model_loss(m, with_ci, exact) for m in touched}
            new = current + sum(trial[k] - parts[k] for k in trial)
            temp = temperature * (1 - it / max_iter)
            if new <= current + 1e-12 or (temp > 0 and self.rng.random() < math.exp((current - new) / temp)):
                parts.update(trial)
                current = new
                if current < best - 1e-12:
                    best, best_state = current, {k: v.copy() for k, v in self.cov.items()}
            else:
                change["undo"]()
        if current > best:
            for k, v in best_state.items():
                self.cov[k][:] = v
            current = sum(self.model_loss(m, with_ci, exact) for m in self.models)
        return float(current)
