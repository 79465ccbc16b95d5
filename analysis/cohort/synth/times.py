"""Step 1 of the generator: the survival times ("construct, then search").

The Kaplan-Meier medians and confidence limits of a group without early censoring are order
statistics at ranks that depend only on the group size, so the times are first constructed through
those ranks, then a seeded local search (accept a move when the loss does not rise) fixes the rest:
log-rank p, follow-up medians, the no-CNS group's censored curve. The figures are computed with the
statistics layer's kernels (``analysis.stats.km_median_ci``, ``analysis.stats.survdiff``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from analysis.cohort.synth.targets import GROUPS, Targets, interpretation_value, lookup, printed_p
from analysis.stats import km_median_ci, survdiff


def uncensored_ranks(n: int) -> tuple[tuple[int, int], int | None, int | None]:
    """0-based ranks of the median pair and of the CI limits for n uncensored times.

    With no censoring before the limits, the KM median and its log-band CI are order statistics whose
    ranks depend only on n (ties do not change this: Greenwood's variance is 1/(n S) - 1/n). A limit that
    R reports as NA is None.
    """
    ranks = np.arange(1, n + 1, dtype=float)
    med, lo, hi = km_median_ci(ranks, np.ones(n, int))
    pair = (int(math.floor(med)) - 1, int(math.ceil(med)) - 1)
    return pair, (None if math.isnan(lo) else int(lo) - 1), (None if math.isnan(hi) else int(hi) - 1)


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
    (a, b), r_lo, r_hi = uncensored_ranks(n)
    anchors = {a: math.floor(med), b: math.ceil(med)} if a != b else {a: med}
    if r_lo is not None and lo is not None:
        anchors[r_lo] = lo
    if r_hi is not None and hi is not None:
        anchors[r_hi] = hi
    return anchors


class TimeSearch:
    """Seeded local search over the survival times; the loss sums relative misses (in %)."""

    def __init__(self, targets: Targets, rng: np.random.Generator):
        self.tg = targets
        self.rng = rng
        pub, interp = targets.pub, targets.interp
        self.n_group = [int(lookup(pub, f"cohort.groups.{g}.n")) for g in GROUPS]
        self.n_all = int(lookup(pub, "cohort.n_abc"))
        self.n_cns = int(lookup(pub, "cohort.n_cns.n"))
        self.n_none = self.n_all - self.n_cns
        self.n_dead_cns = int(lookup(pub, "outcomes.deaths_at_cutoff.n"))
        self.cutoff = dt.date.fromisoformat(str(interpretation_value(interp, "data_cutoff")))
        window = interpretation_value(interp, "abc_window")
        self.window = (dt.date.fromisoformat(str(window[0])), dt.date.fromisoformat(str(window[1])))
        self.max_fu = (self.cutoff - self.window[0]).days      # longest possible follow-up
        self.min_alive_fu = (self.cutoff - self.window[1]).days  # alive => diagnosed by window end
        fu = lookup(pub, "cohort.followup_from_abc")
        self.fu_min, self.fu_max = int(fu["min"]), int(fu["max"])
        self.fu_median = float(interpretation_value(interp, "followup_from_abc_median"))
        fc = lookup(pub, "cohort.followup_from_cns")
        self.fc_median, self.fc_min, self.fc_max = float(fc["median"]), int(fc["min"]), int(fc["max"])
        self.t1_p = printed_p(lookup(pub, "backgrounds.time_abc_to_cns_by_group.test.p"))[1]
        csi = lookup(pub, "treatments.craniospinal_irradiation.survival_days")
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
        pair, r_lo, r_hi = uncensored_ranks(n)
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
            got = km_median_ci(s.f_none, (~s.none_alive).astype(int))
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
            chisq, df, _, _ = survdiff(s.t1, np.ones(len(s.t1)), s.group, len(GROUPS))
            p = float(chi2.sf(chisq, df))
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
