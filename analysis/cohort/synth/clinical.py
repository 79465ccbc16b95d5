"""Step 3 of the generator: the rest of the clinical picture of the CNS patients.

Performance status, symptoms, bone and skull involvement, histology, cytology, treatments and cause
of death: counts from the paper, the rest drawn from plausible rates (``RATES``, not targets: the
paper gives no figures for them). The paper's tests of cause of death and histology are checked on
each draw with the statistics layer (``analysis.stats.chi_squared``, ``analysis.stats.fisher_exact``).
"""

from __future__ import annotations

import numpy as np

from analysis.cohort.synth.targets import GROUPS, Targets, lookup, printed_p
from analysis.cohort.synth.times import Times
from analysis.stats import chi_squared, fisher_exact


def _p_or_one(test, table) -> float:
    """p of a test on a drawn table; 1 (the draw is rejected) when the test is not defined on it,
    e.g. a column without any patient."""
    try:
        return test(table).p
    except ValueError:
        return 1.0


def pct_count(pct: float, n: int) -> int:
    """The whole count whose share of n, rounded to one decimal, is the printed percentage."""
    count = int(round(pct / 100 * n))
    if round(100 * count / n, 1) != round(pct, 1):
        raise ValueError(f"no whole count of {n} gives {pct}%")
    return count


# Plausible rates the generator draws from (not targets: the paper gives no figures for them).
RATES = {
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
    # SRS to the brain before the CNS diagnosis: B's CNS diagnosis is its first brain metastasis, so
    # none; a few L patients with an earlier, treated brain metastasis; BL's count is the paper's
    "prior_srs": {"B": 0.0, "L": 0.10},
}
MIN_T2_FOR_SYSTEMIC = 45   # a patient who starts systemic therapy lives at least this long after CNS diagnosis


def prior_srs(group_label: np.ndarray, tg: Targets, seed: int) -> np.ndarray:
    """SRS before the CNS diagnosis, 1 or 0 per patient (read for CNS patients only).

    BL gets the paper's count (it states that no BL patient had it), the other groups
    ``RATES["prior_srs"]``. Drawn from a generator of its own, seeded from the cohort's seed, so
    that this column, added later, left every other column of the seeded cohort as it was.
    """
    rng = np.random.default_rng([seed, 5125])
    rates = np.array([RATES["prior_srs"].get(g, 0.0) for g in group_label])
    drawn = (rng.random(len(group_label)) < rates).astype(int)
    bl = np.flatnonzero(np.asarray(group_label) == "BL")
    drawn[bl] = 0
    stated = int(lookup(tg.pub, "treatments.prior_srs_in_BL"))
    drawn[rng.choice(bl, size=min(stated, len(bl)), replace=False)] = 1
    return drawn


def completed_years(born: np.ndarray, on: np.ndarray) -> np.ndarray:
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


def birth_dates(age_on: np.ndarray, on: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Birth dates that make the age in completed years on the given dates exactly ``age_on``."""
    born = on - (np.round(age_on * 365.25) + rng.integers(1, 364, len(on))).astype("timedelta64[D]")
    for _ in range(3):          # leap-year edge cases: nudge by a day until the calendar agrees
        got = completed_years(born, on)
        born = born + (got - age_on).astype("timedelta64[D]")
    return born


def draw_category(rng, probs: dict[str, float] | list[float], labels=None, size=None):
    if isinstance(probs, dict):
        labels, probs = list(probs), list(probs.values())
    p = np.asarray(probs, float)
    return np.asarray(labels, object)[rng.choice(len(p), size=size, p=p / p.sum())]


def clinical_columns(tg: Targets, s: Times, cns_cov: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Performance status, symptoms, bone/skull involvement, histology, cytology, treatments, cause of death
    for the CNS patients; counts from the paper, the rest drawn from plausible rates (RATES)."""
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
        treatment[todo] = draw_category(rng, RATES["rt_type"][grp], size=int(todo.sum()))
    out["initial_cns_treatment"] = treatment
    out["csi_completed"] = np.where(s.csi, np.where(cns_cov["incomplete"], "0", "1"), "")
    # intrathecal therapy: the longest-surviving CSI patient of the group the paper names
    it = lookup(pub, "treatments.intrathecal_therapy")
    intrathecal = np.zeros(n, int)
    cand = np.flatnonzero(s.csi & (label == it["group"]))
    intrathecal[cand[np.argsort(-t2[cand], kind="stable")[: int(it["n"])]]] = 1
    out["intrathecal_therapy"] = intrathecal

    # symptoms, then systemic therapy before RT for asymptomatic B patients given RT
    symptoms = (rng.random(n) < np.array([RATES["cns_symptoms"][grp] for grp in GROUPS])[g]).astype(int)
    before = np.full(n, "none", object)
    sb = lookup(pub, "treatments.systemic_before_rt")
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
        ecog[idx] = rng.choice(5, len(idx), p=RATES["ecog"][grp])
    ecog = np.minimum(4, ecog + (local_rt == 0))
    out["ecog_at_cns"] = ecog

    # skull involvement (counts from the printed percentages), bone involvement includes the skull
    skull = np.zeros(n, int)
    bone = np.zeros(n, int)
    for gi, grp in enumerate(GROUPS):
        idx = np.flatnonzero(g == gi)
        k = pct_count(float(lookup(pub, f"backgrounds.skull_involvement.{grp}.pct")), len(idx))
        skull[rng.choice(idx, k, replace=False)] = 1
        bone[idx] = (rng.random(len(idx)) < RATES["bone_at_cns_extra"][grp]).astype(int)
    bl = lookup(pub, "backgrounds.bone_involvement_at_cns_L")
    if int(bl["n"]) == int(bl["of"]):
        bone[g == 2] = 1
    bone = np.maximum(bone, skull)
    out["skull_mets_at_cns"], out["bone_mets_at_cns"] = skull, bone

    soft = cns_cov["soft_cns"].copy()
    others = g != 2
    soft[others] = (rng.random(int(others.sum())) <
                    np.array([RATES["soft_tissue_at_cns"][grp] for grp in GROUPS])[g[others]]).astype(float)
    out["soft_tissue_mets_at_cns"] = soft

    csf = np.empty(n, object)
    for gi, grp in enumerate(GROUPS):
        idx = g == gi
        csf[idx] = draw_category(rng, RATES["csf"][grp], ["positive", "negative", "not_done"], int(idx.sum()))
    out["csf_cytology"] = csf

    # cause of death: CNS progression more frequent in BL and L (chi-squared p below the printed bound)
    bound = printed_p(lookup(pub, "outcomes.cause_of_death.p"))[1]
    dead = ~s.cns_alive
    for _ in range(200):
        cns_death = rng.random(n) < np.array([RATES["cns_death"][grp] for grp in GROUPS])[g]
        table = np.array([[np.sum(cns_death & dead & (g == gi)), np.sum(~cns_death & dead & (g == gi))]
                          for gi in range(3)])
        frac = table[:, 0] / table.sum(1)
        if _p_or_one(chi_squared, table) < bound / 3 and frac[1] > frac[0] and frac[2] > frac[0]:
            break
    else:
        raise RuntimeError("could not draw causes of death that show the paper's finding")
    cause = np.where(cns_death, "cns_progression",
                     np.where(rng.random(n) < RATES["other_death"], "other", "extracranial_progression"))
    out["cause_of_death"] = np.where(dead, cause, "")

    # subsequent systemic therapy starts weeks to months after CNS diagnosis (before last contact)
    lo, hi = RATES["systemic_delay_days"]
    delay = np.minimum(rng.integers(lo, hi + 1, n), np.maximum(1, t2 - 14))
    out["systemic_delay"] = np.where(systemic == 1, delay, -1)
    out["subsequent_systemic"] = systemic
    out["age65"] = cns_cov["age65"].astype(int)
    return out


def histology(tg: Targets, group_label: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """IDC/ILC/other/unknown: unknown in ~10% of each group; ILC more frequent in BL and L, and the
    Fisher exact test among known histology below the printed bound."""
    bound = printed_p(lookup(tg.pub, "backgrounds.lobular_histology.p"))[1]
    n = len(group_label)
    for _ in range(500):
        hist = np.full(n, "IDC", object)
        for grp in ("none",) + GROUPS:
            idx = np.flatnonzero(group_label == grp)
            rest = rng.permutation(idx)
            k_unknown = int(round(RATES["histology_unknown"] * len(idx)))
            hist[rest[:k_unknown]] = "unknown"
            known = rest[k_unknown:]
            u = rng.random(len(known))
            hist[known[u < RATES["ilc"][grp]]] = "ILC"
            hist[known[(u >= RATES["ilc"][grp]) & (u < RATES["ilc"][grp] + RATES["other_histology"])]] = "other"
        table = np.array([[np.sum((group_label == grp) & (hist == "ILC")),
                           np.sum((group_label == grp) & (hist != "ILC") & (hist != "unknown"))] for grp in GROUPS])
        frac = table[:, 0] / table.sum(1)
        if _p_or_one(fisher_exact, table) < bound / 3 and frac[1] > frac[0] and frac[2] > frac[0]:
            return hist
    raise RuntimeError("could not draw histologies that show the paper's finding")
