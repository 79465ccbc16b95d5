"""The synthetic cohort: a made-up patient file that reproduces what the paper reports.

The study's patient data is not public, so the book runs on a synthetic cohort of the paper's size built
here ("construct, then search"):

1. read the targets from ``data/published-statistics.yaml`` and the book's readings of ambiguous items
   from ``data/paper-interpretation.yaml`` (no target number is typed into this module);
2. construct the survival times of each group so that the Kaplan-Meier medians and confidence limits,
   which are order statistics at ranks that depend only on the group size when nobody is censored early,
   sit where the paper puts them;
3. search (seeded, deterministic, accept a move when the loss does not rise) over the times, the pairing
   of time-to-CNS with survival-after-CNS, and the covariates, until every figure matches: Kaplan-Meier
   medians and log-band CIs (R's rule), log-rank p-values, and Cox models with Efron ties,
   likelihood-ratio term p-values and profile-likelihood CIs (what JMP reports);
4. derive calendar dates backwards from the data cut-off and write one row per patient.

The search uses small, fast re-implementations of those statistics (``_km_median_ci``, ``_logrank``,
``_EfronCox``, exact to R within 1e-9 on the shared reference data); the calibration report
(``analysis.study.calibration``) recomputes every figure with the project's own statistics layer.

The default seed is ``DEFAULT_SEED = 20240101``: ``python -m analysis synth`` regenerates
``data/synthetic_cohort.csv`` byte for byte. ``--n-patients`` other than the paper's size gives an uncalibrated
cohort of the same structure with realistic distributions (vectorised; for scale benchmarks).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from analysis.paper import TOLERANCES
from scipy.special import chdtrc, ndtri
from scipy.stats import chi2, norm
from analysis.paths import BUNDLED_COHORT, INTERPRETATION_PATH, PUBLISHED_PATH

DEFAULT_SEED = 20240101
DEFAULT_OUT = BUNDLED_COHORT

GROUPS = ("B", "BL", "L")
COLUMNS = [
    "patient_id", "abc_date", "cns_date", "last_contact_date", "vital_status", "cns_group",
    "age_at_abc", "age_at_cns", "lung_mets_at_abc", "liver_mets_at_abc", "soft_tissue_mets_at_abc",
    "bone_mets_at_abc", "ecog_at_cns", "cns_symptoms", "bone_mets_at_cns", "skull_mets_at_cns",
    "soft_tissue_mets_at_cns", "histology", "csf_cytology", "initial_cns_treatment", "csi_completed",
    "systemic_before_rt", "intrathecal_therapy", "subsequent_systemic", "subsequent_systemic_start_date",
    "cause_of_death",
]
ABC_SITES = ("lung", "liver", "soft_tissue", "bone")

Z975 = float(norm.ppf(0.975))
CHI2_95 = float(chi2.ppf(0.95, 1))
_R_TOL = math.sqrt(np.finfo(float).eps)   # survival::quantile.survfit compares with this tolerance


# --------------------------------------------------------------------------------------------------
# Fast statistics for the search loop (the report recomputes everything with analysis.stats.nonparametric etc.)
# --------------------------------------------------------------------------------------------------

def _r_quantile(x: np.ndarray, y: np.ndarray, p: float = 0.5) -> float:
    """R's quantile rule on a step curve: first x with y <= p; the midpoint when y == p on an interval."""
    keep = np.concatenate(([True], y[1:] != y[:-1]))
    x, y = x[keep], y[keep]
    ok = ~np.isnan(y)
    x, y = x[ok], y[ok]
    hits = np.nonzero(y <= p + _R_TOL)[0]
    if hits.size == 0:
        return float("nan")
    i = int(hits[0])
    if abs(y[i] - p) < _R_TOL and i + 1 < len(x):
        return float((x[i] + x[i + 1]) / 2)
    return float(x[i])


def _km_median_ci(time_: np.ndarray, event: np.ndarray) -> tuple[float, float, float]:
    """Kaplan-Meier median and 95% CI: Greenwood variance, log band, Brookmeyer-Crowley inversion (R)."""
    order = np.argsort(time_, kind="stable")
    t, e = np.asarray(time_, float)[order], np.asarray(event, int)[order]
    times, first = np.unique(t, return_index=True)
    at_risk = len(t) - first
    deaths = np.add.reduceat(e, first)
    surv = np.cumprod(1.0 - deaths / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(np.cumsum(deaths / (at_risk * (at_risk - deaths))))
        lower = np.where(surv > 0, surv * np.exp(-Z975 * se), np.nan)
        upper = np.where(surv > 0, np.minimum(1.0, surv * np.exp(Z975 * se)), np.nan)
    return _r_quantile(times, surv), _r_quantile(times, lower), _r_quantile(times, upper)


def _uncensored_ranks(n: int) -> tuple[tuple[int, int], int | None, int | None]:
    """0-based ranks of the median pair and of the CI limits for n uncensored times.

    With no censoring before the limits, the KM median and its log-band CI are order statistics whose
    ranks depend only on n (ties do not change this: Greenwood's variance is 1/(n S) - 1/n). A limit that
    R reports as NA is None.
    """
    ranks = np.arange(1, n + 1, dtype=float)
    med, lo, hi = _km_median_ci(ranks, np.ones(n, int))
    pair = (int(math.floor(med)) - 1, int(math.ceil(med)) - 1)
    return pair, (None if math.isnan(lo) else int(lo) - 1), (None if math.isnan(hi) else int(hi) - 1)


def _logrank(time_: np.ndarray, event: np.ndarray, group: np.ndarray) -> float:
    """Log-rank test p-value (R survdiff, rho = 0) for k groups."""
    labels, gi = np.unique(group, return_inverse=True)
    order = np.argsort(time_, kind="stable")
    t = np.asarray(time_, float)[order]
    onehot = np.zeros((len(t), len(labels)))
    onehot[np.arange(len(t)), gi[order]] = 1.0
    first = np.flatnonzero(np.concatenate(([True], t[1:] != t[:-1])))
    deaths = np.add.reduceat(onehot * np.asarray(event, float)[order][:, None], first, axis=0)
    at_risk = np.cumsum(onehot[::-1], axis=0)[::-1][first]
    d, n = deaths.sum(1), at_risk.sum(1)
    ok = d > 0
    deaths, at_risk, d, n = deaths[ok], at_risk[ok], d[ok], n[ok]
    frac = at_risk / n[:, None]
    o_e = (deaths - frac * d[:, None]).sum(0)
    wfrac = (d * (n - d) / np.where(n > 1, n - 1, 1))[:, None] * frac
    var = np.diag(wfrac.sum(0)) - wfrac.T @ frac
    stat = float(o_e[:-1] @ np.linalg.solve(var[:-1, :-1], o_e[:-1]))
    return float(chdtrc(len(labels) - 1, stat))


class _EfronCox:
    """Cox partial likelihood with Efron ties, Newton-Raphson; the search loop's fast Cox.

    ``summary`` gives hazard ratios, likelihood-ratio p-values of each term (model refitted without it)
    and, on request, profile-likelihood 95% CIs (bisection on the profile log-likelihood).
    """

    def __init__(self, time_: np.ndarray, event: np.ndarray, X: np.ndarray):
        order = np.argsort(time_, kind="stable")
        self.order = order
        self.e = np.asarray(event, int)[order]
        self.X = np.asarray(X, float)[order]
        t = np.asarray(time_, float)[order]
        n = len(t)
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
        self.frac = within / self.d[self.ev_grp]
        self.n = n
        self.warm: dict[tuple, np.ndarray] = {}

    def _stats(self, beta: np.ndarray, X: np.ndarray):
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

    def fit(self, cols, beta0=None, fixed=None, maxiter=30):
        """Newton-Raphson with step halving; warm-started from the last fit of the same columns.

        Returns (beta, loglik, information). ``fixed=(j, value)`` holds coefficient j (profile likelihood).
        """
        cols = list(cols)
        X = self.X[:, cols]
        p = X.shape[1]
        if p == 0:
            return np.zeros(0), self._stats(np.zeros(0), X)[0], np.zeros((0, 0))
        key = tuple(cols)
        if beta0 is None:
            beta0 = self.warm.get(key) if fixed is None else None
        beta = np.zeros(p) if beta0 is None else np.array(beta0, float)
        free = np.ones(p, bool)
        if fixed is not None:
            beta[fixed[0]] = fixed[1]
            free[fixed[0]] = False
        loglik, grad, info = self._stats(beta, X)
        if not np.isfinite(loglik) and beta0 is not None:      # a stale warm start: begin at zero
            beta = np.zeros(p)
            if fixed is not None:
                beta[fixed[0]] = fixed[1]
            loglik, grad, info = self._stats(beta, X)
        converged = False
        for _ in range(maxiter):
            step = np.linalg.solve(info[np.ix_(free, free)], grad[free])
            if np.max(np.abs(step), initial=0.0) < 1e-7:
                # quadratic convergence: the next step is ~1e-14; take this one on the quadratic model
                beta = beta.copy()
                beta[free] += step
                loglik += 0.5 * float(grad[free] @ step)
                converged = True
                break
            for _halving in range(12):
                trial = beta.copy()
                trial[free] += step
                t_ll, t_grad, t_info = self._stats(trial, X)
                if t_ll >= loglik - 1e-12:
                    break
                step = step / 2
            else:
                break                       # no ascent left (flat or diverging likelihood): stop here
            beta, loglik, grad, info = trial, t_ll, t_grad, t_info
        if not converged and beta0 is not None:
            return self.fit(cols, beta0=np.zeros(p) if fixed is None else None, fixed=fixed, maxiter=maxiter) \
                if np.any(beta0) else (beta, loglik, info)
        if fixed is None and converged:
            self.warm[key] = beta
        return beta, loglik, info

    def summary(self, cols, profile=(), beta0=None, lr: bool | list[int] = True) -> dict[str, Any]:
        """Hazard ratios and per-term z: likelihood-ratio (signed root of the LR statistic) for the terms
        in ``lr`` (True: all), Wald for the others (quick)."""
        cols = list(cols)
        beta, loglik, info = self.fit(cols, beta0=beta0)
        se = np.sqrt(np.diag(np.linalg.inv(info)))
        z = beta / se
        lr_terms = range(len(cols)) if lr is True else (lr or [])
        for j in lr_terms:
            sub = cols[:j] + cols[j + 1:]
            _, ll0, _ = self.fit(sub, beta0=self.warm.get(tuple(sub), np.delete(beta, j)))
            z[j] = math.copysign(math.sqrt(max(0.0, 2 * (loglik - ll0))), beta[j])
        out = {"beta": beta, "hr": np.exp(beta), "z": z, "p": chdtrc(1, z * z), "ci": {}}
        for j in profile:
            out["ci"][j] = tuple(
                math.exp(self._profile_limit(cols, beta, loglik, j, sign, se[j])) for sign in (-1, 1)
            )
        return out

    def _profile_limit(self, cols, beta, loglik, j, sign, se_j):
        """Where twice the drop of the profile log-likelihood reaches the chi-squared(1) 95% point
        (Brent's root finder on the bracket found by stepping out from the estimate)."""
        from scipy.optimize import brentq

        def drop(b):
            return loglik - self.fit(cols, beta0=beta, fixed=(j, b))[1] - CHI2_95 / 2

        inside, step = beta[j], max(se_j, 0.05)
        outside = inside + sign * 1.96 * step
        for _ in range(40):
            if drop(outside) >= 0:
                break
            inside, step = outside, step * 1.6
            outside = inside + sign * step
        return brentq(drop, min(inside, outside), max(inside, outside), xtol=1e-8)


# --------------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------------

def load_yaml(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _lookup(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"{dotted!r} is missing from the targets")
        node = node[part]
    return node


def _value(interp: dict[str, Any], key: str) -> Any:
    """The machine-readable value of one interpretation item."""
    item = interp["items"][key]
    if "value" not in item:
        raise KeyError(f"paper-interpretation.yaml item {key!r} has no 'value'")
    return item["value"]


def _p_value(printed: Any) -> tuple[str, float]:
    """('=', p) for a printed value, ('<', bound) for a printed bound such as "<0.01"."""
    if isinstance(printed, str) and printed.strip().startswith("<"):
        return "<", float(printed.strip()[1:])
    return "=", float(printed)


@dataclass
class Targets:
    """The numbers the search aims at, read from the two YAML files."""

    pub: dict[str, Any]
    interp: dict[str, Any]

    def km(self, kind: str, group: str) -> tuple[float, float | None, float | None]:
        """(median, lower, upper) for kind in {t1, os_cns, os_abc}; None where there is no target."""
        if kind == "t1":
            node = (_lookup(self.pub, "cohort.time_abc_to_cns_all") if group == "all"
                    else _lookup(self.pub, f"backgrounds.time_abc_to_cns_by_group.{group}"))
            ci = node["ci"]
        elif kind == "os_cns":
            node = _lookup(self.pub, f"outcomes.os_from_cns.{group}")
            ci = node.get("ci") or _value(self.interp, f"os_from_cns_{group}_ci")
        else:
            node = _lookup(self.pub, f"outcomes.os_from_abc.{group}")
            ci = node["ci"]
        return float(node["median"]), float(ci[0]), float(ci[1])


# --------------------------------------------------------------------------------------------------
# Step 1: survival times
# --------------------------------------------------------------------------------------------------

@dataclass
class Times:
    group: np.ndarray      # CNS patients: 0 B, 1 BL, 2 L
    t1: np.ndarray         # days from ABC to CNS diagnosis
    t2: np.ndarray         # days from CNS diagnosis to last contact
    cns_alive: np.ndarray  # bool
    t2_fixed: np.ndarray   # bool: pinned (CSI survivals, longest follow-up)
    csi: np.ndarray        # bool: the four CSI patients
    f_none: np.ndarray     # no-CNS patients: days from ABC to last contact
    none_alive: np.ndarray
    none_fixed: np.ndarray


def _fill_sorted(n, anchors, low, high, rng, tail_mean):
    """n sorted integers through the anchors {0-based rank: value}, random in between."""
    values = np.empty(n)
    points = sorted(anchors.items())
    first_rank, first_val = points[0]
    values[:first_rank] = np.sort(rng.uniform(low, first_val, first_rank))
    for (r0, v0), (r1, v1) in zip(points, points[1:]):
        values[r0] = v0
        values[r0 + 1:r1] = np.sort(rng.uniform(v0, v1, r1 - r0 - 1))
    last_rank, last_val = points[-1]
    values[last_rank] = last_val
    tail = last_val + np.cumsum(rng.exponential(tail_mean / max(1, n - last_rank), n - last_rank - 1))
    values[last_rank + 1:] = np.minimum(tail, high)
    return np.round(values).astype(np.int64)


def _km_anchors(n, med, lo, hi):
    (a, b), r_lo, r_hi = _uncensored_ranks(n)
    anchors = {a: math.floor(med), b: math.ceil(med)} if a != b else {a: med}
    if r_lo is not None and lo is not None:
        anchors[r_lo] = lo
    if r_hi is not None and hi is not None:
        anchors[r_hi] = hi
    return anchors


class _TimeSearch:
    """Seeded local search over the survival times; the loss sums relative misses (in %)."""

    def __init__(self, targets: Targets, rng: np.random.Generator):
        self.tg = targets
        self.rng = rng
        pub, interp = targets.pub, targets.interp
        self.n_group = [int(_lookup(pub, f"cohort.groups.{g}.n")) for g in GROUPS]
        self.n_all = int(_lookup(pub, "cohort.n_abc"))
        self.n_cns = int(_lookup(pub, "cohort.n_cns.n"))
        self.n_none = self.n_all - self.n_cns
        self.n_dead_cns = int(_lookup(pub, "outcomes.deaths_at_cutoff.n"))
        self.cutoff = dt.date.fromisoformat(str(_value(interp, "data_cutoff")))
        window = _value(interp, "abc_window")
        self.window = (dt.date.fromisoformat(str(window[0])), dt.date.fromisoformat(str(window[1])))
        self.max_fu = (self.cutoff - self.window[0]).days      # longest possible follow-up
        self.min_alive_fu = (self.cutoff - self.window[1]).days  # alive => diagnosed by window end
        fu = _lookup(pub, "cohort.followup_from_abc")
        self.fu_min, self.fu_max = int(fu["min"]), int(fu["max"])
        self.fu_median = float(_value(interp, "followup_from_abc_median"))
        fc = _lookup(pub, "cohort.followup_from_cns")
        self.fc_median, self.fc_min, self.fc_max = float(fc["median"]), int(fc["min"]), int(fc["max"])
        self.t1_p = _p_value(_lookup(pub, "backgrounds.time_abc_to_cns_by_group.test.p"))[1]
        csi = _lookup(pub, "treatments.craniospinal_irradiation.survival_days")
        self.csi_days = {g: [int(v) for v in csi.get(g, [])] for g in GROUPS}
        # rank-based targets: (kind, group index or 'all'/'none') -> ranks and values
        self.spec = {}
        for kind in ("t1", "os_cns", "os_abc"):
            for gi, g in enumerate(GROUPS):
                self.spec[(kind, gi)] = self._rank_spec(self.n_group[gi], *targets.km(kind, g))
        self.spec[("t1", "all")] = self._rank_spec(self.n_cns, *targets.km("t1", "all"))
        self.none_target = targets.km("os_abc", "no_cns")

    @staticmethod
    def _rank_spec(n, med, lo, hi):
        pair, r_lo, r_hi = _uncensored_ranks(n)
        spec = [(pair, med)]
        if r_lo is not None:
            spec.append(((r_lo, r_lo), lo))
        if r_hi is not None:
            spec.append(((r_hi, r_hi), hi))
        return spec

    # ---- construction -------------------------------------------------------------------------
    def construct(self) -> Times:
        rng = self.rng
        groups, t1s, t2s, alive, fixed, csi = [], [], [], [], [], []
        n_alive_cns = self.n_cns - self.n_dead_cns
        for gi, g in enumerate(GROUPS):
            n = self.n_group[gi]
            med, lo, hi = self.tg.km("t1", g)
            t1 = _fill_sorted(n, _km_anchors(n, med, lo, hi), 60, 5000, rng, tail_mean=900)
            med, lo, hi = self.tg.km("os_cns", g)
            anchors = _km_anchors(n, med, lo, hi)
            t2 = _fill_sorted(n, anchors, self.fc_min + 1, self.fc_max - 1, rng, tail_mean=500)
            is_fixed = np.zeros(n, bool)
            is_csi = np.zeros(n, bool)
            # the CSI survivals replace the nearest free values
            for days in self.csi_days[g]:
                free = np.nonzero(~is_fixed & ~np.isin(np.arange(n), list(anchors)))[0]
                j = free[np.argmin(np.abs(t2[free] - days))]
                t2[j] = days
                is_fixed[j] = is_csi[j] = True
            al = np.zeros(n, bool)
            if gi == 0:
                # the patients alive at the cut-off are B patients with long follow-up; one of them has
                # the longest follow-up from CNS diagnosis
                top = np.argsort(t2)[::-1][:n_alive_cns]
                al[top] = True
                t2[top[0]] = self.fc_max
                is_fixed[top[0]] = True
                t2[top[1:]] = np.maximum(t2[top[1:]], int(hi) + 60)
            order = rng.permutation(n)
            groups.append(np.full(n, gi))
            t1s.append(t1[order]); t2s.append(t2); alive.append(al); fixed.append(is_fixed); csi.append(is_csi)
        t1 = np.concatenate(t1s)
        t2 = np.concatenate(t2s)
        cns_alive = np.concatenate(alive)
        # alive patients need follow-up from ABC within the window
        lack = self.min_alive_fu + 30 - (t1 + t2)
        t1 = np.where(cns_alive & (lack > 0), t1 + lack, t1)
        # no-CNS patients: ABC dates spread over the window, lognormal survival, alive past the cut-off
        n = self.n_none
        span = (self.window[1] - self.window[0]).days
        potential = self.max_fu - rng.uniform(0, span, n)
        med = self.none_target[0]
        surv = med * np.exp(rng.normal(0, 0.85, n))
        none_alive = surv > potential
        f = np.round(np.where(none_alive, potential, surv)).astype(np.int64)
        f = np.clip(f, self.fu_min + 1, self.fu_max - 1)
        none_fixed = np.zeros(n, bool)
        f[0], none_alive[0], none_fixed[0] = self.fu_min, False, True
        f[1], none_alive[1], none_fixed[1] = self.fu_max, True, True
        f[none_alive] = np.clip(f[none_alive], self.min_alive_fu, self.fu_max)
        return Times(np.concatenate(groups), t1, t2, cns_alive, np.concatenate(fixed),
                     np.concatenate(csi), f, none_alive, none_fixed)

    # ---- loss -----------------------------------------------------------------------------------
    @staticmethod
    def _miss(achieved, target):
        return 100.0 * abs(achieved - target) / target

    def _rank_loss(self, values, spec):
        srt = np.sort(values)
        return sum(self._miss((srt[a] + srt[b]) / 2, target) for (a, b), target in spec)

    def part(self, s: Times, key: str) -> float:
        """One part of the loss; parts are cached and only the ones a move touches are recomputed."""
        kind, _, which = key.partition(":")
        if kind in ("t1", "os_cns", "os_abc"):
            if which == "all":
                return self._rank_loss(s.t1, self.spec[(kind, "all")])
            sel = s.group == int(which)
            # censored (alive) patients sit beyond the upper CI ranks (see "alive"), so the KM figures
            # are the order statistics at the ranks of an uncensored sample
            values = {"t1": s.t1, "os_cns": s.t2}[kind][sel] if kind != "os_abc" else (s.t1 + s.t2)[sel]
            return self._rank_loss(values, self.spec[(kind, int(which))])
        if kind == "none":
            got = _km_median_ci(s.f_none, (~s.none_alive).astype(int))
            return sum(100.0 if math.isnan(g) else self._miss(g, w) for g, w in zip(got, self.none_target))
        if kind == "fu":
            fu_all = np.concatenate([s.t1 + s.t2, s.f_none])
            k = len(fu_all) // 2
            mid = float(np.partition(fu_all, k)[k])
            return max(0.0, abs(mid - self.fu_median)) * 0.5
        if kind == "fc":
            k = len(s.t2) // 2
            srt = np.partition(s.t2, (k - 1, k))
            return self._miss((srt[k - 1] + srt[k]) / 2, self.fc_median)
        if kind == "logrank":
            p = _logrank(s.t1, np.ones(len(s.t1)), s.group)
            return 20.0 * max(0.0, abs(math.log(p / self.t1_p)) - 0.01)
        if kind == "ties":
            # the L group's survival times stay distinct: its Cox model is then searched in batches
            # with the tie-free partial likelihood (Efron = Breslow = exact without ties)
            values = s.t2[s.group == 2]
            return 10.0 * (len(values) - len(np.unique(values)))
        if kind == "alive":
            b_alive = s.cns_alive & (s.group == 0)
            hi_t2 = self.tg.km("os_cns", "B")[2]
            return float(np.maximum(0, hi_t2 + 1 - s.t2[b_alive]).sum())
        raise KeyError(key)

    def all_keys(self):
        keys = [f"{k}:{g}" for k in ("t1", "os_cns", "os_abc") for g in range(3)]
        return keys + ["t1:all", "none", "fu", "fc", "logrank", "alive", "ties"]

    def components(self, s: Times) -> dict[str, float]:
        return {key: self.part(s, key) for key in self.all_keys()}

    def loss(self, s: Times) -> float:
        return float(sum(self.components(s).values()))

    # ---- moves ----------------------------------------------------------------------------------
    def _feasible_cns(self, s: Times, i: int) -> bool:
        total = s.t1[i] + s.t2[i]
        if s.t1[i] < 30 or s.t2[i] < self.fc_min or s.t2[i] > self.fc_max:
            return False
        if s.cns_alive[i]:
            return self.min_alive_fu <= total <= self.fu_max - 1
        return self.fu_min < total <= self.fu_max - 1

    def _feasible_none(self, s: Times, j: int) -> bool:
        if s.none_alive[j]:
            return self.min_alive_fu <= s.f_none[j] < self.fu_max
        return self.fu_min < s.f_none[j] < self.fu_max

    def _step(self) -> int:
        size = int(round(math.exp(self.rng.uniform(0, math.log(400)))))
        return size if self.rng.random() < 0.5 else -size

    def run(self, s: Times, max_iter: int = 200000) -> tuple[Times, float]:
        """Accept a move when the loss does not rise (plateaus are crossed by neutral moves)."""
        rng = self.rng
        parts = self.components(s)
        current = sum(parts.values())
        n_cns = len(s.t1)
        free_t2 = np.nonzero(~s.t2_fixed)[0]
        free_none = np.nonzero(~s.none_fixed)[0]
        by_group = [np.nonzero(s.group == gi)[0] for gi in range(3)]
        for _ in range(max_iter):
            if current <= 1e-9:
                break
            move = rng.random()
            if move < 0.3:                                  # shift one time-to-CNS
                i = int(rng.integers(n_cns))
                arr, idx, old = s.t1, (i,), (s.t1[i],)
                s.t1[i] += self._step()
                g = s.group[i]
                keys = (f"t1:{g}", "t1:all", f"os_abc:{g}", "fu", "logrank")
                ok = self._feasible_cns(s, i)
            elif move < 0.55:                               # shift one survival-after-CNS
                i = int(free_t2[rng.integers(len(free_t2))])
                arr, idx, old = s.t2, (i,), (s.t2[i],)
                s.t2[i] += self._step()
                g = s.group[i]
                keys = (f"os_cns:{g}", f"os_abc:{g}", "fu", "fc", "alive", "ties")
                ok = self._feasible_cns(s, i)
            elif move < 0.8:                                # re-pair: swap time-to-CNS within a group
                g = int(rng.choice(3, p=[0.6, 0.2, 0.2]))
                i, j = (int(x) for x in rng.choice(by_group[g], 2, replace=False))
                arr, idx, old = s.t1, (i, j), (s.t1[i], s.t1[j])
                s.t1[i], s.t1[j] = old[1], old[0]
                keys = (f"os_abc:{g}", "fu")
                ok = self._feasible_cns(s, i) and self._feasible_cns(s, j)
            else:                                           # shift one no-CNS follow-up
                j = int(free_none[rng.integers(len(free_none))])
                arr, idx, old = s.f_none, (j,), (s.f_none[j],)
                s.f_none[j] += self._step()
                keys = ("none", "fu")
                ok = self._feasible_none(s, j)
            if ok:
                trial = {key: self.part(s, key) for key in keys}
                new = current + sum(trial[k] - parts[k] for k in keys)
                if new <= current + 1e-12:
                    parts.update(trial)
                    current = new
                    continue
            for k, v in zip(idx, old):
                arr[k] = v
        return s, float(sum(parts.values()))


# --------------------------------------------------------------------------------------------------
# Step 2: covariates that drive the Cox models
# --------------------------------------------------------------------------------------------------

@dataclass
class _CoxModelTarget:
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


# the issue's tolerances (one place: analysis.paper.TOLERANCES); the search aims inside them
HR_TOL, CI_TOL, P_TOL = TOLERANCES["hr"], TOLERANCES["hr_ci"], TOLERANCES["p"]
_CI_PENDING = 5.0                          # loss stand-in for CI misses not computed yet


def _batch_cox_no_ties(X: np.ndarray, iters: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """Cox fits of many data sets at once: X (B, n, p) rows in time order, every row a death, no ties.

    Without ties the partial likelihood is sum_i [eta_i - log sum_{j >= i} exp(eta_j)] (Efron = Breslow
    = exact). Newton-Raphson, vectorised over B. Returns (beta (B, p), loglik (B,)); diverging fits
    (monotone likelihood) end with large |beta| and are screened out by the caller.
    """
    nb, n, p = X.shape
    beta = np.zeros((nb, p))

    def stats(beta):
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
        loglik, grad, info = stats(beta)
        info = info + 1e-9 * np.eye(p)
        beta = np.clip(beta + np.linalg.solve(info, grad[:, :, None])[:, :, 0], -12, 12)
    return beta, stats(beta)[0]


def _term_misses(m: "_CoxModelTarget", hr: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Per-term misses in units of the tolerance, vectorised: hr, z of shape (B, p) -> (B, p)."""
    miss = np.zeros_like(hr)
    for j, term in enumerate(m.terms):
        if term in m.hr:
            miss[:, j] += np.abs(np.log(hr[:, j] / m.hr[term])) / math.log1p(HR_TOL)
        if term in m.p:
            op, value = m.p[term]
            sign = 1.0 if term not in m.hr else math.copysign(1.0, math.log(m.hr[term]))
            if op == "=":
                scale = abs(_z_of_p((1 - P_TOL) * value) - _z_of_p(value))
                miss[:, j] += np.abs(z[:, j] - sign * _z_of_p(value)) / scale
            elif op == "<":
                miss[:, j] += np.maximum(0.0, _z_of_p(value / 3) - sign * z[:, j])
            else:
                miss[:, j] += np.maximum(0.0, np.abs(z[:, j]) - _z_of_p(2 * value))
    return miss


def _z_of_p(p: float) -> float:
    """The |z| whose two-sided normal (1-df chi-squared) p-value is p."""
    return float(-ndtri(p / 2))


class _CoxSearch:
    """Seeded local search over binary covariates so that several Cox models show their targets."""

    def __init__(self, models: list[_CoxModelTarget], cov: dict[str, np.ndarray], rng: np.random.Generator,
                 propose):
        self.models, self.cov, self.rng, self.propose = models, cov, rng, propose
        self._cache: dict[str, tuple] = {}
        self._beta: dict[str, np.ndarray] = {}
        self.aim_scale = 1.0

    def _model(self, m: _CoxModelTarget):
        rows = np.asarray(m.rows_of(self.cov))
        key = tuple(rows.tolist())
        cached = self._cache.get(m.name)
        if cached is None or cached[0] != key:
            X = np.zeros((len(rows), len(m.terms)))
            cached = (key, _EfronCox(m.time[rows], m.event[rows], X), rows)
            self._cache[m.name] = cached
        _, fitter, rows = cached
        fitter.X = np.column_stack([self.cov[t][rows] for t in m.terms])[fitter.order]
        return fitter

    def model_loss(self, m: _CoxModelTarget, with_ci: bool = False, exact: bool = True) -> float:
        fitter = self._model(m)
        profile = [j for j, t in enumerate(m.terms) if t in m.ci] if (with_ci and m.search_ci) else []
        with np.errstate(all="ignore"):
            try:
                lr_terms = [j for j, t in enumerate(m.terms) if t in m.p and m.p[t][0] != ">"]
                res = fitter.summary(range(len(m.terms)), beta0=self._beta.get(m.name),
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
                    want = sign * _z_of_p(value)
                    scale = abs(_z_of_p((1 - P_TOL) * value) - _z_of_p(value))
                    loss += max(0.0, abs(z - want) / scale - m.aim * self.aim_scale)
                elif op == "<":
                    loss += max(0.0, _z_of_p(value / 3) - sign * z)
                else:
                    loss += max(0.0, abs(z) - _z_of_p(2 * value))
        if profile:
            # profile CIs cost many refits: only for states that already meet everything else
            if loss > 1e-9:
                return loss + _CI_PENDING
            for j in profile:
                bounds = fitter.summary(range(len(m.terms)), profile=[j], lr=False)["ci"][j]
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


def _fisher_rx2_p(table: np.ndarray) -> float:
    """Exact Fisher-Freeman-Halton p for an r x 2 table (enumeration; used only to check a draw)."""
    from itertools import product
    from scipy.special import gammaln

    table = np.asarray(table, int)
    rows, col0 = table.sum(1), int(table[:, 0].sum())
    total = int(table.sum())

    def logp(first_col):
        return (gammaln(rows + 1).sum() - gammaln(first_col + 1).sum()
                - gammaln(rows - first_col + 1).sum()
                + gammaln(col0 + 1) + gammaln(total - col0 + 1) - gammaln(total + 1))

    observed = logp(table[:, 0])
    p = 0.0
    for head in product(*[range(int(r) + 1) for r in rows[:-1]]):
        last = col0 - sum(head)
        if 0 <= last <= rows[-1]:
            lp = logp(np.array(list(head) + [last]))
            if lp <= observed + 1e-7:
                p += math.exp(lp)
    return min(1.0, p)


def _chi2_p(table: np.ndarray) -> float:
    table = np.asarray(table, float)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    stat = float(((table - expected) ** 2 / expected).sum())
    return float(chdtrc((table.shape[0] - 1) * (table.shape[1] - 1), stat))


def _pct_count(pct: float, n: int) -> int:
    """The whole count whose share of n, rounded to one decimal, is the printed percentage."""
    count = int(round(pct / 100 * n))
    if round(100 * count / n, 1) != round(pct, 1):
        raise ValueError(f"no whole count of {n} gives {pct}%")
    return count


# Plausible rates the generator draws from (not targets: the paper gives no figures for them).
_RATES = {
    "ecog": {"B": [0.35, 0.35, 0.20, 0.08, 0.02], "BL": [0.08, 0.27, 0.35, 0.22, 0.08],
             "L": [0.05, 0.25, 0.38, 0.24, 0.08]},
    "cns_symptoms": {"B": 0.55, "BL": 0.9, "L": 0.95},
    "bone_at_cns_extra": {"B": 0.35, "BL": 0.5, "L": 1.0},
    "soft_tissue_at_cns": {"B": 0.25, "BL": 0.3, "L": 0.4},
    "ilc": {"none": 0.10, "B": 0.05, "BL": 0.35, "L": 0.45},
    "other_histology": 0.04,
    "histology_unknown": 0.10,
    "csf": {"B": [0.03, 0.12, 0.85], "BL": [0.5, 0.2, 0.3], "L": [0.6, 0.2, 0.2]},   # positive, negative, not_done
    "rt_type": {"B": {"SRS": 0.4, "WBRT": 0.5, "focal_RT": 0.1}, "BL": {"WBRT": 1.0},
                "L": {"WBRT": 0.5, "focal_RT": 0.5}},
    "cns_death": {"B": 0.35, "BL": 0.8, "L": 0.85},
    "other_death": 0.15,
    "abc_sites": {"lung": 0.2, "liver": 0.12, "soft_tissue": 0.25, "bone": 0.62},
    "age65": 0.12,       # the paper's age HR and its p-value imply few (about a dozen) older patients
    "subsequent_systemic_B": 0.45,
    "systemic_delay_days": (21, 90),     # start of subsequent systemic therapy after CNS diagnosis
}
_MIN_T2_FOR_SYSTEMIC = 45   # a patient who starts systemic therapy lives at least this long after CNS diagnosis


def _pick(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random True position per row of a (K, n) mask (row without any True: position 0)."""
    keys = np.where(mask, rng.random(mask.shape), -1.0)
    return np.argmax(keys, 1)


def _l_group_batch_search(m, cov, l_idx, t2, eligible, n_systemic, rng, chains=512, max_iter=1500):
    """The L group's unknown soft-tissue pair, systemic therapy and soft-tissue status for its Cox model.

    17 patients give few attainable (HR, p) values, so ``chains`` seeded local searches run side by side,
    vectorised: each step proposes one move per chain (flip a soft-tissue status, swap systemic therapy
    between two eligible patients, or move an unknown status), fits every chain's model in one pass
    (tie-free partial likelihood, all deaths) and keeps moves that do not raise the chain's loss. The
    first chain whose every term is within ``m.aim`` of its tolerance wins.
    """
    order = l_idx[np.argsort(t2[l_idx], kind="stable")]
    if len(np.unique(t2[order])) != len(order):
        raise RuntimeError("the L group's survival times must be distinct for the batch search")
    n_l, n_model = len(order), m.rows_of(cov).size
    elig = np.broadcast_to(eligible[order], (chains, n_l))
    rows = np.arange(chains)

    # starting states: systemic therapy favours the longer survivors
    weight = np.where(eligible[order], 3 * np.log(np.arange(n_l) + 1.0), -np.inf)
    systemic = np.zeros((chains, n_l))
    np.put_along_axis(systemic, np.argsort(-(weight + rng.gumbel(size=(chains, n_l))), 1)[:, :n_systemic], 1.0, 1)
    blank = np.zeros((chains, n_l), bool)
    np.put_along_axis(blank, np.argsort(rng.random((chains, n_l)), 1)[:, : n_l - n_model], True, 1)
    soft = (rng.random((chains, n_l)) < 0.4).astype(float)

    def losses(blank, systemic, soft):
        kept = np.argsort(blank, 1, kind="stable")[:, :n_model]   # model rows, still in time order
        X = np.stack([np.take_along_axis(soft, kept, 1), np.take_along_axis(systemic, kept, 1)], 2)
        with np.errstate(all="ignore"):
            beta, ll = _batch_cox_no_ties(X, iters=15)
            _, ll_wo_soft = _batch_cox_no_ties(X[:, :, 1:], iters=15)
            _, ll_wo_sys = _batch_cox_no_ties(X[:, :, :1], iters=15)
            stat = np.maximum(0.0, 2 * (ll[:, None] - np.stack([ll_wo_soft, ll_wo_sys], 1)))
            z = np.sign(beta) * np.sqrt(stat)
            miss = _term_misses(m, np.exp(beta), z)
        bad = ~(np.all(np.abs(beta) < 6, 1) & np.all(np.isfinite(miss), 1))
        miss[bad] = 1e3
        return miss

    miss = losses(blank, systemic, soft)
    loss = np.maximum(0.0, miss - 0.5 * m.aim).sum(1)
    for _ in range(max_iter):
        done = np.flatnonzero(np.all(miss <= m.aim, 1))
        if done.size:
            k = int(done[0])
            cov["systemic"][order] = systemic[k]
            cov["soft_cns"][order] = np.where(blank[k], np.nan, soft[k])
            return
        b2, s2, f2 = blank.copy(), systemic.copy(), soft.copy()
        kind = rng.integers(3, size=chains)
        i = _pick(np.ones((chains, n_l), bool), rng)
        f2[rows, i] = np.where(kind == 0, 1.0 - f2[rows, i], f2[rows, i])
        on, off = _pick(elig & (s2 == 1), rng), _pick(elig & (s2 == 0), rng)
        swap = kind == 1
        s2[rows[swap], on[swap]], s2[rows[swap], off[swap]] = 0.0, 1.0
        b_on, b_off = _pick(b2, rng), _pick(~b2, rng)
        move = kind == 2
        b2[rows[move], b_on[move]], b2[rows[move], b_off[move]] = False, True
        new_miss = losses(b2, s2, f2)
        new_loss = np.maximum(0.0, new_miss - 0.5 * m.aim).sum(1)
        accept = new_loss <= loss + 1e-12
        blank[accept], systemic[accept], soft[accept] = b2[accept], s2[accept], f2[accept]
        miss[accept], loss[accept] = new_miss[accept], new_loss[accept]
    raise RuntimeError("the L-group OS-model search found no state within tolerance; try another seed")


def _abc_covariates(tg: Targets, s: Times, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Lung, liver, soft-tissue and bone metastasis at ABC so that the BM- and LM-risk models match."""
    pub = tg.pub
    n_cns, n_none = len(s.t1), len(s.f_none)
    group = np.concatenate([s.group, np.full(n_none, -1)])
    time_ = np.concatenate([s.t1, s.f_none]).astype(float)
    ev_bm = np.isin(group, (0, 1)).astype(int)
    ev_lm = (group == 2).astype(int)
    n = n_cns + n_none
    cov = {site: (rng.random(n) < _RATES["abc_sites"][site]).astype(float) for site in ABC_SITES}
    bm = _lookup(pub, "backgrounds.risk_of_bm_multivariate")
    lm = _lookup(pub, "backgrounds.risk_of_lm_multivariate")
    everyone = np.arange(n)
    models = [
        _CoxModelTarget("bm", lambda c: everyone, time_, ev_bm, list(ABC_SITES),
                        {t: float(bm[t]["hr"]) for t in ABC_SITES},
                        {t: _p_value(bm[t]["p"]) for t in ABC_SITES},
                        {t: tuple(map(float, bm[t]["ci"])) for t in ABC_SITES}, aim=0.6),
        _CoxModelTarget("lm", lambda c: everyone, time_, ev_lm, list(ABC_SITES),
                        {t: float(lm[t]["hr"]) for t in ABC_SITES if t in lm},
                        # "no independent risk factors": the unreported terms stay non-significant
                        {t: (_p_value(lm[t]["p"]) if t in lm else (">", 0.05)) for t in ABC_SITES},
                        {t: tuple(map(float, lm[t]["ci"])) for t in ABC_SITES if t in lm},
                        aim=0.8, search_ci=True),   # 19 events: coarse; within tolerance
    ]

    def propose(cov, rng):
        site = ABC_SITES[int(rng.integers(len(ABC_SITES)))]
        col = cov[site]
        if rng.random() < 0.3:
            i = int(rng.integers(n))
            col[i] = 1.0 - col[i]

            def undo():
                col[i] = 1.0 - col[i]
        else:
            ones, zeros = np.flatnonzero(col == 1), np.flatnonzero(col == 0)
            if len(ones) == 0 or len(zeros) == 0:
                return None
            i, j = int(ones[rng.integers(len(ones))]), int(zeros[rng.integers(len(zeros))])
            col[i], col[j] = 0.0, 1.0

            def undo():
                col[i], col[j] = 1.0, 0.0
        return {"columns": {site}, "undo": undo}

    search = _CoxSearch(models, cov, rng, propose)
    # Wald z first (one fit per model and move), aiming well inside so the exact phase starts close
    search.aim_scale = 0.4
    search.run(5000, exact=False, temperature=0.5)
    search.aim_scale = 1.0
    # then likelihood-ratio p-values, and the LM bone term's skewed profile CI
    for _round in range(4):
        loss = search.run(1500, with_ci=True, temperature=0.3)
        if loss <= 1e-9:
            break
    if loss > 1e-9:
        raise RuntimeError(f"the BM/LM-risk covariate search did not converge (loss {loss:.3g}); try another seed")
    return {site: cov[site].astype(int) for site in ABC_SITES}


def _cns_covariates(tg: Targets, s: Times, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Age >= 65, local RT, subsequent systemic therapy and soft tissue at CNS for the OS models."""
    pub = tg.pub
    n = len(s.t1)
    g = s.group
    t2 = s.t2.astype(float)
    dead = (~s.cns_alive).astype(int)
    # CSI patients: the shortest survivors in each group did not complete it
    n_incomplete = int(_lookup(pub, "treatments.craniospinal_irradiation.did_not_complete"))
    csi_idx = np.flatnonzero(s.csi)
    incomplete = np.zeros(n, bool)
    incomplete[csi_idx[np.argsort(t2[csi_idx], kind="stable")[:n_incomplete]]] = True
    can_be_bsc = ~s.csi
    can_have_systemic = ~incomplete & (t2 >= _MIN_T2_FOR_SYSTEMIC)

    local_rt = np.ones(n)
    n_bsc_of = {}
    for gi, grp in enumerate(GROUPS):
        node = _lookup(pub, "treatments.bsc_without_rt").get(grp)
        n_bsc = n_bsc_of[grp] = int(node["n"]) if node else 0
        rt = _lookup(pub, "treatments.initial_rt").get(grp)
        if rt is not None and int(rt["of"]) - int(rt["n"]) != n_bsc:
            raise ValueError(f"group {grp}: initial RT and best supportive care counts disagree")
        pool = np.flatnonzero((g == gi) & can_be_bsc)
        # best supportive care goes to the poorer survivors
        weights = 1.0 / (t2[pool] + 30)
        local_rt[rng.choice(pool, n_bsc, replace=False, p=weights / weights.sum())] = 0.0
    systemic = np.zeros(n)
    sub = _lookup(pub, "treatments.subsequent_systemic_therapy")
    for gi, grp in enumerate(GROUPS[:2]):      # the L group's come from the batch search below
        pool = np.flatnonzero((g == gi) & (local_rt == 1) & can_have_systemic)
        count = int(sub[grp]["n"]) if grp in sub else int(round(_RATES["subsequent_systemic_B"] * len(pool)))
        # treated patients are the longer survivors (the paper's subsequent-therapy HR says so strongly)
        weights = t2[pool] ** 2 / (t2[pool] ** 2).sum()
        systemic[rng.choice(pool, count, replace=False, p=weights)] = 1.0
    age65 = (rng.random(n) < _RATES["age65"]).astype(float)
    soft = (rng.random(n) < np.array([_RATES["soft_tissue_at_cns"][grp] for grp in GROUPS])[g]).astype(float)
    l_idx = np.flatnonzero(g == 2)
    n_l_model = int(_lookup(pub, "risk_factors.l_group.n"))
    soft[rng.choice(l_idx, len(l_idx) - n_l_model, replace=False)] = np.nan
    cov = {"age65": age65, "local_rt": local_rt, "systemic": systemic, "soft_cns": soft}

    ac = _lookup(pub, "risk_factors.all_cns")
    lg = _lookup(pub, "risk_factors.l_group")
    names_all = {"age65": "age_65_or_over_at_cns", "local_rt": "local_rt", "systemic": "subsequent_systemic_therapy"}
    names_l = {"soft_cns": "soft_tissue_metastasis_at_lm", "systemic": "subsequent_systemic_therapy"}
    everyone = np.arange(n)
    models = [
        _CoxModelTarget("all_cns", lambda c: everyone, t2, dead, list(names_all),
                        {k: float(ac[v]["hr"]) for k, v in names_all.items()},
                        {k: _p_value(ac[v]["p"]) for k, v in names_all.items()}, {}, aim=0.7),
        _CoxModelTarget("l_group", lambda c: l_idx[~np.isnan(c["soft_cns"][l_idx])], t2, dead, list(names_l),
                        {k: float(lg[v]["hr"]) for k, v in names_l.items()},
                        {k: _p_value(lg[v]["p"]) for k, v in names_l.items()}, {},
                        aim=1.0, quick_wald=False),   # 17 patients: few attainable values; within tolerance
    ]
    b_rt = np.flatnonzero((g == 0) & (local_rt == 1))

    def flip(col, i):
        col[i] = 1.0 - col[i]
        return lambda: col.__setitem__(i, 1.0 - col[i])

    def swap_ones(col, ones, zeros, rng):
        if len(ones) == 0 or len(zeros) == 0:
            return None
        i, j = int(ones[rng.integers(len(ones))]), int(zeros[rng.integers(len(zeros))])
        col[i], col[j] = 0.0, 1.0
        return lambda: (col.__setitem__(i, 1.0), col.__setitem__(j, 0.0))

    def move_bsc(gi, rng):
        rt, sy = cov["local_rt"], cov["systemic"]
        bsc = np.flatnonzero((g == gi) & (rt == 0))
        cand = np.flatnonzero((g == gi) & (rt == 1) & can_be_bsc & (sy == 0))
        undo = swap_ones(rt, cand, bsc, rng)       # a BSC patient gets RT, an RT patient gets BSC
        return None if undo is None else {"columns": {"local_rt"}, "undo": undo}

    def move_systemic(gi, rng, allow_flip):
        rt, sy = cov["local_rt"], cov["systemic"]
        ok = (g == gi) & (rt == 1) & can_have_systemic
        if allow_flip and rng.random() < 0.4:
            i = int(rng.choice(np.flatnonzero(ok)))
            new_count = sy[b_rt].sum() + (1 - 2 * sy[i])
            if not 0.25 * len(b_rt) <= new_count <= 0.75 * len(b_rt):
                return None
            return {"columns": {"systemic"}, "undo": flip(sy, i)}
        undo = swap_ones(sy, np.flatnonzero(ok & (sy == 1)), np.flatnonzero(ok & (sy == 0)), rng)
        return None if undo is None else {"columns": {"systemic"}, "undo": undo}

    def propose_all(cov, rng):
        u = rng.random()
        if u < 0.2:
            return {"columns": {"age65"}, "undo": flip(cov["age65"], int(rng.integers(n)))}
        if u < 0.35:
            a = cov["age65"]
            undo = swap_ones(a, np.flatnonzero(a == 1), np.flatnonzero(a == 0), rng)
            return None if undo is None else {"columns": {"age65"}, "undo": undo}
        if u < 0.55:
            return move_bsc(0 if rng.random() < 0.8 else 2, rng)
        gi = 0 if rng.random() < 0.75 else 1
        return move_systemic(gi, rng, allow_flip=gi == 0)     # only the B group's count is free

    # The L group first: 17 patients give few attainable values, so draw many candidate states at once
    # (which two patients have an unknown soft-tissue status, who gets systemic therapy, who has soft-tissue
    # metastasis), fit them all in one vectorised pass and keep the closest; then the whole CNS cohort.
    _l_group_batch_search(models[1], cov, l_idx, t2, can_have_systemic & (g == 2), int(sub["L"]["n"]), rng)
    # best supportive care in L goes to patients without systemic therapy
    local_rt[l_idx] = 1.0
    pool = l_idx[(systemic[l_idx] == 0) & can_be_bsc[l_idx]]
    weights = 1.0 / (t2[pool] + 30)
    local_rt[rng.choice(pool, n_bsc_of["L"], replace=False, p=weights / weights.sum())] = 0.0
    search = _CoxSearch([models[0]], cov, rng, propose_all)
    for _attempt in range(4):
        search.run(3000, exact=False, temperature=1.0)
        for _round in range(4):
            loss = search.run(1500, temperature=0.5)
            if loss <= 1e-9:
                break
        if loss <= 1e-9:
            break
        # a local optimum: start the age flags afresh (the hardest term to move) and search again
        cov["age65"][:] = (rng.random(n) < _RATES["age65"]).astype(float)
    if loss > 1e-9:
        raise RuntimeError(f"the all-CNS OS-model search did not converge (loss {loss:.3g}); try another seed")
    cov["incomplete"] = incomplete
    return cov


# --------------------------------------------------------------------------------------------------
# Step 3: the rest of the clinical picture, dates, and the file
# --------------------------------------------------------------------------------------------------

def _completed_years(born: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Age in completed years (datetime64[D] arrays)."""
    by, bm, bd = _ymd(born)
    oy, om, od = _ymd(on)
    return oy - by - ((om < bm) | ((om == bm) & (od < bd)))


def _ymd(days: np.ndarray):
    d = np.asarray(days, "datetime64[D]")
    years = d.astype("datetime64[Y]")
    months = d.astype("datetime64[M]")
    return (years.astype(int) + 1970, (months - years.astype("datetime64[M]")).astype(int) + 1,
            (d - months.astype("datetime64[D]")).astype(int) + 1)


def _birth_dates(age_on: np.ndarray, on: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Birth dates that make the age in completed years on the given dates exactly ``age_on``."""
    born = on - (np.round(age_on * 365.25) + rng.integers(1, 364, len(on))).astype("timedelta64[D]")
    for _ in range(3):          # leap-year edge cases: nudge by a day until the calendar agrees
        got = _completed_years(born, on)
        born = born + (got - age_on).astype("timedelta64[D]")
    return born


def _draw_category(rng, probs: dict[str, float] | list[float], labels=None, size=None):
    if isinstance(probs, dict):
        labels, probs = list(probs), list(probs.values())
    p = np.asarray(probs, float)
    return np.asarray(labels, object)[rng.choice(len(p), size=size, p=p / p.sum())]


def _clinical(tg: Targets, s: Times, cns_cov: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Performance status, symptoms, bone/skull involvement, histology, cytology, treatments, cause of death
    for the CNS patients; counts from the paper, the rest drawn from plausible rates (_RATES)."""
    pub = tg.pub
    n = len(s.t1)
    g = s.group
    label = np.array(GROUPS, object)[g]
    t2 = s.t2
    out: dict[str, np.ndarray] = {}
    local_rt, systemic = cns_cov["local_rt"].astype(int), cns_cov["systemic"].astype(int)

    # initial CNS treatment
    treatment = np.empty(n, object)
    treatment[local_rt == 0] = "BSC"
    treatment[s.csi] = "CSI"
    for gi, grp in enumerate(GROUPS):
        todo = (g == gi) & (local_rt == 1) & ~s.csi
        treatment[todo] = _draw_category(rng, _RATES["rt_type"][grp], size=int(todo.sum()))
    out["initial_cns_treatment"] = treatment
    out["csi_completed"] = np.where(s.csi, np.where(cns_cov["incomplete"], "0", "1"), "")
    # intrathecal therapy: the longest-surviving CSI patient of the group the paper names
    it = _lookup(pub, "treatments.intrathecal_therapy")
    intrathecal = np.zeros(n, int)
    cand = np.flatnonzero(s.csi & (label == it["group"]))
    intrathecal[cand[np.argsort(-t2[cand], kind="stable")[: int(it["n"])]]] = 1
    out["intrathecal_therapy"] = intrathecal

    # symptoms, then systemic therapy before RT for asymptomatic B patients given RT
    symptoms = (rng.random(n) < np.array([_RATES["cns_symptoms"][grp] for grp in GROUPS])[g]).astype(int)
    before = np.full(n, "none", object)
    sb = _lookup(pub, "treatments.systemic_before_rt")
    for grp, node in sb.items():
        if int(node["n"]) == 0:
            continue
        pool = np.flatnonzero((label == grp) & (local_rt == 1) & ~s.csi)
        chosen = rng.choice(pool, int(node["n"]), replace=False)
        kinds = ["chemotherapy"] * int(node.get("chemotherapy", 0)) + ["endocrine"] * int(node.get("endocrine", 0))
        before[chosen] = np.array(kinds, object)[rng.permutation(len(kinds))]
        symptoms[chosen] = 0            # "asymptomatic BM"
    out["systemic_before_rt"] = before
    out["cns_symptoms"] = symptoms

    # ECOG: poorer in BL and L, and with best supportive care
    ecog = np.zeros(n, int)
    for gi, grp in enumerate(GROUPS):
        idx = np.flatnonzero(g == gi)
        ecog[idx] = rng.choice(5, len(idx), p=_RATES["ecog"][grp])
    ecog = np.minimum(4, ecog + (local_rt == 0))
    out["ecog_at_cns"] = ecog

    # skull involvement (counts from the printed percentages), bone involvement includes the skull
    skull = np.zeros(n, int)
    bone = np.zeros(n, int)
    for gi, grp in enumerate(GROUPS):
        idx = np.flatnonzero(g == gi)
        k = _pct_count(float(_lookup(pub, f"backgrounds.skull_involvement.{grp}.pct")), len(idx))
        skull[rng.choice(idx, k, replace=False)] = 1
        bone[idx] = (rng.random(len(idx)) < _RATES["bone_at_cns_extra"][grp]).astype(int)
    bl = _lookup(pub, "backgrounds.bone_involvement_at_cns_L")
    if int(bl["n"]) == int(bl["of"]):
        bone[g == 2] = 1
    bone = np.maximum(bone, skull)
    out["skull_mets_at_cns"], out["bone_mets_at_cns"] = skull, bone

    soft = cns_cov["soft_cns"].copy()
    others = g != 2
    soft[others] = (rng.random(int(others.sum())) <
                    np.array([_RATES["soft_tissue_at_cns"][grp] for grp in GROUPS])[g[others]]).astype(float)
    out["soft_tissue_mets_at_cns"] = soft

    csf = np.empty(n, object)
    for gi, grp in enumerate(GROUPS):
        idx = g == gi
        csf[idx] = _draw_category(rng, _RATES["csf"][grp], ["positive", "negative", "not_done"], int(idx.sum()))
    out["csf_cytology"] = csf

    # cause of death: CNS progression more frequent in BL and L (chi-squared p below the printed bound)
    bound = _p_value(_lookup(pub, "outcomes.cause_of_death.p"))[1]
    dead = ~s.cns_alive
    for _ in range(200):
        cns_death = rng.random(n) < np.array([_RATES["cns_death"][grp] for grp in GROUPS])[g]
        table = np.array([[np.sum(cns_death & dead & (g == gi)), np.sum(~cns_death & dead & (g == gi))]
                          for gi in range(3)])
        frac = table[:, 0] / table.sum(1)
        if _chi2_p(table) < bound / 3 and frac[1] > frac[0] and frac[2] > frac[0]:
            break
    else:
        raise RuntimeError("could not draw causes of death that show the paper's finding")
    cause = np.where(cns_death, "cns_progression",
                     np.where(rng.random(n) < _RATES["other_death"], "other", "extracranial_progression"))
    out["cause_of_death"] = np.where(dead, cause, "")

    # subsequent systemic therapy starts weeks to months after CNS diagnosis (before last contact)
    lo, hi = _RATES["systemic_delay_days"]
    delay = np.minimum(rng.integers(lo, hi + 1, n), np.maximum(1, t2 - 14))
    out["systemic_delay"] = np.where(systemic == 1, delay, -1)
    out["subsequent_systemic"] = systemic
    out["age65"] = cns_cov["age65"].astype(int)
    return out


def _histology(tg: Targets, group_label: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """IDC/ILC/other/unknown: unknown in ~10% of each group; ILC more frequent in BL and L, and the
    Fisher exact test among known histology below the printed bound."""
    bound = _p_value(_lookup(tg.pub, "backgrounds.lobular_histology.p"))[1]
    n = len(group_label)
    for _ in range(500):
        hist = np.full(n, "IDC", object)
        for grp in ("none",) + GROUPS:
            idx = np.flatnonzero(group_label == grp)
            rest = rng.permutation(idx)
            k_unknown = int(round(_RATES["histology_unknown"] * len(idx)))
            hist[rest[:k_unknown]] = "unknown"
            known = rest[k_unknown:]
            u = rng.random(len(known))
            hist[known[u < _RATES["ilc"][grp]]] = "ILC"
            hist[known[(u >= _RATES["ilc"][grp]) & (u < _RATES["ilc"][grp] + _RATES["other_histology"])]] = "other"
        table = np.array([[np.sum((group_label == grp) & (hist == "ILC")),
                           np.sum((group_label == grp) & (hist != "ILC") & (hist != "unknown"))] for grp in GROUPS])
        frac = table[:, 0] / table.sum(1)
        if _fisher_rx2_p(table) < bound / 3 and frac[1] > frac[0] and frac[2] > frac[0]:
            return hist
    raise RuntimeError("could not draw histologies that show the paper's finding")


def _format_frame(cols: dict[str, Any], n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Rows in a seeded random order, ids SYN-0001... in that order, every cell a string."""
    order = rng.permutation(n)
    width = max(4, len(str(n)))
    frame = pd.DataFrame({name: np.asarray(cols[name], object)[order] for name in COLUMNS[1:]})
    frame.insert(0, "patient_id", [f"SYN-{i:0{width}d}" for i in range(1, n + 1)])
    return frame


def _iso(days: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    text = np.datetime_as_string(np.asarray(days, "datetime64[D]"), unit="D").astype(object)
    if valid is not None:
        text[~valid] = ""
    return text


def _int_text(values, valid=None) -> np.ndarray:
    values = np.asarray(values)
    text = np.char.mod("%d", np.nan_to_num(values.astype(float), nan=0).astype(np.int64)).astype(object)
    missing = np.isnan(values.astype(float)) if valid is None else ~valid
    text[missing] = ""
    return text


def generate_calibrated(seed: int = DEFAULT_SEED, published: Path = PUBLISHED_PATH,
                        interpretation: Path = INTERPRETATION_PATH) -> pd.DataFrame:
    """The calibrated cohort of the paper's size (all values as strings, columns as in the schema)."""
    rng = np.random.default_rng(seed)
    tg = Targets(load_yaml(published), load_yaml(interpretation))
    search = _TimeSearch(tg, rng)
    s, loss = search.run(search.construct())
    if loss > 1e-9:
        raise RuntimeError(f"the survival-time search did not converge (loss {loss:.3g}); try another seed")
    cns_cov = _cns_covariates(tg, s, rng)
    abc_cov = _abc_covariates(tg, s, rng)
    clin = _clinical(tg, s, cns_cov, rng)

    n_cns, n_none = len(s.t1), len(s.f_none)
    n = n_cns + n_none
    is_cns = np.arange(n) < n_cns
    label = np.concatenate([np.array(GROUPS, object)[s.group], np.full(n_none, "none", object)])
    follow_up = np.concatenate([s.t1 + s.t2, s.f_none]).astype(np.int64)
    alive = np.concatenate([s.cns_alive, s.none_alive])
    t1 = np.concatenate([s.t1, np.zeros(n_none, np.int64)])

    # dates backwards from the cut-off: alive patients end at the cut-off; the dead are spread over the
    # window with their death before the cut-off
    cutoff = np.datetime64(search.cutoff.isoformat(), "D")
    start = np.datetime64(search.window[0].isoformat(), "D")
    end = np.datetime64(search.window[1].isoformat(), "D")
    latest = np.minimum(end, cutoff - follow_up.astype("timedelta64[D]") - np.timedelta64(1, "D"))
    span = (latest - start).astype(int)
    abc_dead = start + np.floor(rng.random(n) * (span + 1)).astype("timedelta64[D]")
    abc = np.where(alive, cutoff - follow_up.astype("timedelta64[D]"), abc_dead)
    cns = abc + t1.astype("timedelta64[D]")
    last = abc + follow_up.astype("timedelta64[D]")

    # ages: age >= 65 at CNS diagnosis as searched; ages at ABC diagnosis follow from a birth date
    age_cns = np.where(clin["age65"] == 1, rng.integers(65, 85, n_cns), np.clip(np.round(rng.normal(54, 8, n_cns)), 30, 64))
    age_none = np.clip(np.round(rng.normal(58, 12, n_none)), 28, 88)
    born = np.concatenate([_birth_dates(age_cns.astype(int), cns[:n_cns], rng),
                           _birth_dates(age_none.astype(int), abc[n_cns:], rng)])
    age_abc = _completed_years(born, abc)
    age_at_cns = _completed_years(born, cns)

    hist = _histology(tg, label, rng)
    cause_none = np.where(rng.random(n_none) < _RATES["other_death"], "other", "extracranial_progression")
    cause = np.concatenate([clin["cause_of_death"], np.where(s.none_alive, "", cause_none)])

    def cns_only(values, fmt=None):
        values = np.asarray(values, object)
        full = np.full(n, "", object)
        full[:n_cns] = values if fmt is None else fmt(values)
        return full

    delay = clin["systemic_delay"]
    start_sys = cns[:n_cns] + np.maximum(delay, 0).astype("timedelta64[D]")
    cols = {
        "abc_date": _iso(abc), "cns_date": _iso(cns, is_cns), "last_contact_date": _iso(last),
        "vital_status": np.where(alive, "alive", "dead").astype(object), "cns_group": label,
        "age_at_abc": _int_text(age_abc), "age_at_cns": _int_text(age_at_cns, is_cns),
        "lung_mets_at_abc": _int_text(abc_cov["lung"]), "liver_mets_at_abc": _int_text(abc_cov["liver"]),
        "soft_tissue_mets_at_abc": _int_text(abc_cov["soft_tissue"]), "bone_mets_at_abc": _int_text(abc_cov["bone"]),
        "ecog_at_cns": cns_only(_int_text(clin["ecog_at_cns"])),
        "cns_symptoms": cns_only(_int_text(clin["cns_symptoms"])),
        "bone_mets_at_cns": cns_only(_int_text(clin["bone_mets_at_cns"])),
        "skull_mets_at_cns": cns_only(_int_text(clin["skull_mets_at_cns"])),
        "soft_tissue_mets_at_cns": cns_only(_int_text(clin["soft_tissue_mets_at_cns"])),
        "histology": hist, "csf_cytology": cns_only(clin["csf_cytology"]),
        "initial_cns_treatment": cns_only(clin["initial_cns_treatment"]),
        "csi_completed": cns_only(clin["csi_completed"]),
        "systemic_before_rt": cns_only(clin["systemic_before_rt"]),
        "intrathecal_therapy": cns_only(_int_text(clin["intrathecal_therapy"])),
        "subsequent_systemic": cns_only(_int_text(clin["subsequent_systemic"])),
        "subsequent_systemic_start_date": cns_only(_iso(start_sys, delay >= 0)),
        "cause_of_death": cause.astype(object),
    }
    return _format_frame(cols, n, rng)


def generate_uncalibrated(n_patients: int, seed: int = DEFAULT_SEED, published: Path = PUBLISHED_PATH,
                          interpretation: Path = INTERPRETATION_PATH) -> pd.DataFrame:
    """A cohort of any size with the calibrated cohort's structure and realistic, not calibrated,
    distributions (vectorised: for scale benchmarks). Group shares, medians and treatment shares follow
    the paper; times are lognormal around the paper's medians."""
    if n_patients < 1:
        raise ValueError(f"--n-patients must be at least 1, got {n_patients}")
    rng = np.random.default_rng(seed)
    tg = Targets(load_yaml(published), load_yaml(interpretation))
    pub, n = tg.pub, n_patients
    counts = {g: int(_lookup(pub, f"cohort.groups.{g}.n")) for g in GROUPS}
    counts["none"] = int(_lookup(pub, "cohort.n_abc")) - sum(counts.values())
    labels = np.array(["none", *GROUPS], object)
    share = np.array([counts[k] for k in labels], float)
    gi = rng.choice(4, n, p=share / share.sum())          # 0 none, 1 B, 2 BL, 3 L
    cutoff = np.datetime64(str(_value(tg.interp, "data_cutoff")), "D")
    window = [np.datetime64(str(d), "D") for d in _value(tg.interp, "abc_window")]
    abc = window[0] + rng.integers(0, (window[1] - window[0]).astype(int) + 1, n).astype("timedelta64[D]")
    room = (cutoff - abc).astype(int)

    def lognormal(medians, sigma):
        return np.maximum(1, np.round(np.asarray(medians, float) * np.exp(rng.normal(0, sigma, n)))).astype(np.int64)

    med_t1 = np.array([1.0] + [tg.km("t1", g)[0] for g in GROUPS])[gi]
    med_t2 = np.array([1.0] + [tg.km("os_cns", g)[0] for g in GROUPS])[gi]
    t1 = lognormal(med_t1, 0.7)
    t2 = np.maximum(lognormal(med_t2, 1.0), 7)
    os_none = lognormal(np.full(n, tg.km("os_abc", "no_cns")[0]), 0.9)
    # a CNS diagnosis after the cut-off is not seen: that patient counts as without CNS metastasis
    gi = np.where((gi > 0) & (t1 >= room), 0, gi)
    is_cns = gi > 0
    follow = np.where(is_cns, t1 + t2, os_none)
    alive = follow >= room
    follow = np.minimum(follow, room)
    t2 = np.where(is_cns, follow - t1, 0)
    cns = abc + np.where(is_cns, t1, 0).astype("timedelta64[D]")
    last = abc + follow.astype("timedelta64[D]")
    g = np.where(is_cns, gi - 1, 0)                         # 0 B, 1 BL, 2 L for CNS rows
    grp = np.array(GROUPS, object)[g]

    def rate(table):
        return np.array([table[k] for k in GROUPS])[g]

    def frac(dotted_n, group):
        node = _lookup(pub, dotted_n).get(group)
        return int(node["n"]) / counts[group] if node else 0.0

    bsc = is_cns & (rng.random(n) < np.array([frac("treatments.bsc_without_rt", k) for k in GROUPS])[g])
    csi_rate = np.array([len(_lookup(pub, "treatments.craniospinal_irradiation.survival_days").get(k, []))
                         / counts[k] for k in GROUPS])
    csi = is_cns & ~bsc & (rng.random(n) < csi_rate[g])
    treatment = np.full(n, "", object)
    for k, gname in enumerate(GROUPS):
        idx = np.flatnonzero(is_cns & ~bsc & ~csi & (g == k))
        treatment[idx] = _draw_category(rng, _RATES["rt_type"][gname], size=len(idx))
    treatment[bsc], treatment[csi] = "BSC", "CSI"
    sub_rate = np.array([_RATES["subsequent_systemic_B"]] + [frac("treatments.subsequent_systemic_therapy", k)
                                                             for k in GROUPS[1:]])
    systemic = is_cns & ~bsc & (t2 >= _MIN_T2_FOR_SYSTEMIC) & (rng.random(n) < sub_rate[g])
    lo, hi = _RATES["systemic_delay_days"]
    delay = np.minimum(rng.integers(lo, hi + 1, n), np.maximum(1, t2 - 14))
    sb = _lookup(pub, "treatments.systemic_before_rt.B")
    before_any = is_cns & (g == 0) & ~bsc & (rng.random(n) < int(sb["n"]) / counts["B"])
    before = np.where(before_any, np.where(rng.random(n) < int(sb["chemotherapy"]) / int(sb["n"]),
                                           "chemotherapy", "endocrine"), "none").astype(object)
    symptoms = ((rng.random(n) < rate(_RATES["cns_symptoms"])) & ~before_any).astype(int)
    ecog = np.minimum(4, (rng.random((n, 1)) > np.cumsum(np.array([_RATES["ecog"][k] for k in GROUPS])[g], 1)).sum(1)
                      + bsc)
    skull_rate = np.array([float(_lookup(pub, f"backgrounds.skull_involvement.{k}.pct")) / 100 for k in GROUPS])
    skull = (rng.random(n) < skull_rate[g]).astype(int)
    bone_cns = np.maximum(skull, (rng.random(n) < rate(_RATES["bone_at_cns_extra"])).astype(int))
    soft_cns = (rng.random(n) < rate(_RATES["soft_tissue_at_cns"])).astype(float)
    soft_cns[rng.random(n) < 0.05] = np.nan
    csf_p = np.array([_RATES["csf"][k] for k in GROUPS])[g]
    csf = np.array(["positive", "negative", "not_done"], object)[(rng.random((n, 1)) > np.cumsum(csf_p, 1)).sum(1)]
    intrathecal = (is_cns & (g == 2) & csi & (rng.random(n) < 0.5)).astype(int)
    ilc_rate = np.where(is_cns, rate(_RATES["ilc"]), _RATES["ilc"]["none"])
    u = rng.random(n)
    hist = np.where(u < ilc_rate, "ILC", np.where(u < ilc_rate + _RATES["other_histology"], "other", "IDC")).astype(object)
    hist[rng.random(n) < _RATES["histology_unknown"]] = "unknown"
    death_cns = rng.random(n) < np.where(is_cns, rate(_RATES["cns_death"]), 0.0)
    cause = np.where(death_cns, "cns_progression",
                     np.where(rng.random(n) < _RATES["other_death"], "other", "extracranial_progression")).astype(object)
    cause[alive] = ""
    age_abc = np.clip(np.round(rng.normal(57, 12, n)), 28, 90).astype(int)
    born = _birth_dates(age_abc, abc, rng)
    sites = {k: (rng.random(n) < _RATES["abc_sites"][k]).astype(int) for k in ABC_SITES}
    csi_done = np.where(csi, np.where(rng.random(n) < 0.5, "1", "0"), "").astype(object)

    def cns_only(text):
        text = np.asarray(text, object).copy()
        text[~is_cns] = ""
        return text

    cols = {
        "abc_date": _iso(abc), "cns_date": _iso(cns, is_cns), "last_contact_date": _iso(last),
        "vital_status": np.where(alive, "alive", "dead").astype(object),
        "cns_group": np.where(is_cns, grp, "none").astype(object),
        "age_at_abc": _int_text(age_abc), "age_at_cns": _int_text(_completed_years(born, cns), is_cns),
        "lung_mets_at_abc": _int_text(sites["lung"]), "liver_mets_at_abc": _int_text(sites["liver"]),
        "soft_tissue_mets_at_abc": _int_text(sites["soft_tissue"]), "bone_mets_at_abc": _int_text(sites["bone"]),
        "ecog_at_cns": cns_only(_int_text(ecog)), "cns_symptoms": cns_only(_int_text(symptoms)),
        "bone_mets_at_cns": cns_only(_int_text(bone_cns)), "skull_mets_at_cns": cns_only(_int_text(skull)),
        "soft_tissue_mets_at_cns": cns_only(_int_text(soft_cns)), "histology": hist,
        "csf_cytology": cns_only(csf), "initial_cns_treatment": cns_only(treatment),
        "csi_completed": cns_only(csi_done), "systemic_before_rt": cns_only(before),
        "intrathecal_therapy": cns_only(_int_text(intrathecal)),
        "subsequent_systemic": cns_only(_int_text(systemic.astype(int))),
        "subsequent_systemic_start_date": _iso(cns + delay.astype("timedelta64[D]"), systemic),
        "cause_of_death": cause,
    }
    return _format_frame(cols, n, rng)


def calibrated_size(published: Path = PUBLISHED_PATH) -> int:
    """The paper's cohort size (read from the published statistics)."""
    return int(_lookup(load_yaml(published), "cohort.n_abc"))


def generate(n_patients: int | None = None, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The calibrated cohort for the paper's size (None or that size), an uncalibrated one of the same
    structure otherwise."""
    if n_patients is None or n_patients == calibrated_size():
        return generate_calibrated(seed)
    return generate_uncalibrated(n_patients, seed)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """UTF-8, LF line endings, no index: the committed file's exact format."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"random seed (default {DEFAULT_SEED}: regenerates data/synthetic_cohort.csv)")
    parser.add_argument("--n-patients", type=int, default=None,
                        help="cohort size; the paper's size (the default) is calibrated to the paper, "
                             "any other size gives an uncalibrated cohort of the same structure")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output CSV (default {DEFAULT_OUT})")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        frame = generate(args.n_patients, args.seed)
    except (RuntimeError, ValueError) as error:
        print(f"synth: {error}", file=__import__("sys").stderr)
        return 1
    write_csv(frame, args.out)
    kind = "calibrated" if args.n_patients in (None, calibrated_size()) else "uncalibrated"
    print(f"wrote {len(frame)} patients ({kind}, seed {args.seed}) to {args.out} "
          f"in {time.perf_counter() - started:.1f} s")
    return 0
