"""Step 2 of the generator: the covariates of the paper's Cox models.

Metastasis sites at ABC diagnosis for the BM- and LM-risk models; age, local RT, subsequent systemic
therapy and soft-tissue metastasis for the survival models of all CNS patients and of the L group.
The L group (17 patients) is searched in a batch of chains fitted at once
(``analysis.stats.batch_cox_no_ties``); the others by ``CoxSearch``.
"""

from __future__ import annotations

import numpy as np

from analysis.cohort.synth.clinical import MIN_T2_FOR_SYSTEMIC, RATES
from analysis.cohort.synth.cox_search import CoxModelTarget, CoxSearch, term_misses
from analysis.cohort.synth.targets import ABC_SITES, GROUPS, Targets, lookup, printed_p
from analysis.cohort.synth.times import Times
from analysis.stats import batch_cox_no_ties


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
            beta, ll = batch_cox_no_ties(X, iters=15)
            _, ll_wo_soft = batch_cox_no_ties(X[:, :, 1:], iters=15)
            _, ll_wo_sys = batch_cox_no_ties(X[:, :, :1], iters=15)
            stat = np.maximum(0.0, 2 * (ll[:, None] - np.stack([ll_wo_soft, ll_wo_sys], 1)))
            z = np.sign(beta) * np.sqrt(stat)
            miss = term_misses(m, np.exp(beta), z)
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


def abc_covariates(tg: Targets, s: Times, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Lung, liver, soft-tissue and bone metastasis at ABC so that the BM- and LM-risk models match."""
    pub = tg.pub
    n_cns, n_none = len(s.t1), len(s.f_none)
    group = np.concatenate([s.group, np.full(n_none, -1)])
    time_ = np.concatenate([s.t1, s.f_none]).astype(float)
    ev_bm = np.isin(group, (0, 1)).astype(int)
    ev_lm = (group == 2).astype(int)
    n = n_cns + n_none
    cov = {site: (rng.random(n) < RATES["abc_sites"][site]).astype(float) for site in ABC_SITES}
    bm = lookup(pub, "backgrounds.risk_of_bm_multivariate")
    lm = lookup(pub, "backgrounds.risk_of_lm_multivariate")
    everyone = np.arange(n)
    models = [
        CoxModelTarget("bm", lambda c: everyone, time_, ev_bm, list(ABC_SITES),
                        {t: float(bm[t]["hr"]) for t in ABC_SITES},
                        {t: printed_p(bm[t]["p"]) for t in ABC_SITES},
                        {t: tuple(map(float, bm[t]["ci"])) for t in ABC_SITES}, aim=0.6),
        CoxModelTarget("lm", lambda c: everyone, time_, ev_lm, list(ABC_SITES),
                        {t: float(lm[t]["hr"]) for t in ABC_SITES if t in lm},
                        # "no independent risk factors": the unreported terms stay non-significant
                        {t: (printed_p(lm[t]["p"]) if t in lm else (">", 0.05)) for t in ABC_SITES},
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

    search = CoxSearch(models, cov, rng, propose)
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


def cns_covariates(tg: Targets, s: Times, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Age >= 65, local RT, subsequent systemic therapy and soft tissue at CNS for the OS models."""
    pub = tg.pub
    n = len(s.t1)
    g = s.group
    t2 = s.t2.astype(float)
    dead = (~s.cns_alive).astype(int)
    # CSI patients: the shortest survivors in each group did not complete it
    n_incomplete = int(lookup(pub, "treatments.craniospinal_irradiation.did_not_complete"))
    csi_idx = np.flatnonzero(s.csi)
    incomplete = np.zeros(n, bool)
    incomplete[csi_idx[np.argsort(t2[csi_idx], kind="stable")[:n_incomplete]]] = True
    can_be_bsc = ~s.csi
    can_have_systemic = ~incomplete & (t2 >= MIN_T2_FOR_SYSTEMIC)

    local_rt = np.ones(n)
    n_bsc_of = {}
    for gi, grp in enumerate(GROUPS):
        node = lookup(pub, "treatments.bsc_without_rt").get(grp)
        n_bsc = n_bsc_of[grp] = int(node["n"]) if node else 0
        rt = lookup(pub, "treatments.initial_rt").get(grp)
        if rt is not None and int(rt["of"]) - int(rt["n"]) != n_bsc:
            raise ValueError(f"group {grp}: initial RT and best supportive care counts disagree")
        pool = np.flatnonzero((g == gi) & can_be_bsc)
        # best supportive care goes to the poorer survivors
        weights = 1.0 / (t2[pool] + 30)
        local_rt[rng.choice(pool, n_bsc, replace=False, p=weights / weights.sum())] = 0.0
    systemic = np.zeros(n)
    sub = lookup(pub, "treatments.subsequent_systemic_therapy")
    for gi, grp in enumerate(GROUPS[:2]):      # the L group's come from the batch search below
        pool = np.flatnonzero((g == gi) & (local_rt == 1) & can_have_systemic)
        count = int(sub[grp]["n"]) if grp in sub else int(round(RATES["subsequent_systemic_B"] * len(pool)))
        # treated patients are the longer survivors (the paper's subsequent-therapy HR says so strongly)
        weights = t2[pool] ** 2 / (t2[pool] ** 2).sum()
        systemic[rng.choice(pool, count, replace=False, p=weights)] = 1.0
    age65 = (rng.random(n) < RATES["age65"]).astype(float)
    soft = (rng.random(n) < np.array([RATES["soft_tissue_at_cns"][grp] for grp in GROUPS])[g]).astype(float)
    l_idx = np.flatnonzero(g == 2)
    n_l_model = int(lookup(pub, "risk_factors.l_group.n"))
    soft[rng.choice(l_idx, len(l_idx) - n_l_model, replace=False)] = np.nan
    cov = {"age65": age65, "local_rt": local_rt, "systemic": systemic, "soft_cns": soft}

    ac = lookup(pub, "risk_factors.all_cns")
    lg = lookup(pub, "risk_factors.l_group")
    names_all = {"age65": "age_65_or_over_at_cns", "local_rt": "local_rt", "systemic": "subsequent_systemic_therapy"}
    names_l = {"soft_cns": "soft_tissue_metastasis_at_lm", "systemic": "subsequent_systemic_therapy"}
    everyone = np.arange(n)
    models = [
        CoxModelTarget("all_cns", lambda c: everyone, t2, dead, list(names_all),
                        {k: float(ac[v]["hr"]) for k, v in names_all.items()},
                        {k: printed_p(ac[v]["p"]) for k, v in names_all.items()}, {}, aim=0.7),
        CoxModelTarget("l_group", lambda c: l_idx[~np.isnan(c["soft_cns"][l_idx])], t2, dead, list(names_l),
                        {k: float(lg[v]["hr"]) for k, v in names_l.items()},
                        {k: printed_p(lg[v]["p"]) for k, v in names_l.items()}, {},
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
    search = CoxSearch([models[0]], cov, rng, propose_all)
    for _attempt in range(4):
        search.run(3000, exact=False, temperature=1.0)
        for _round in range(4):
            loss = search.run(1500, temperature=0.5)
            if loss <= 1e-9:
                break
        if loss <= 1e-9:
            break
        # a local optimum: start the age flags afresh (the hardest term to move) and search again
        cov["age65"][:] = (rng.random(n) < RATES["age65"]).astype(float)
    if loss > 1e-9:
        raise RuntimeError(f"the all-CNS OS-model search did not converge (loss {loss:.3g}); try another seed")
    cov["incomplete"] = incomplete
    return cov
