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

The search computes those statistics with the statistics layer itself (``analysis.stats``: the
Kaplan-Meier and log-rank kernels, the Cox engine and its profile root finder, the contingency tests),
so the generator and the calibration report (``analysis.study.calibration``) cannot disagree on a
definition. The jobs live in modules of their own: ``targets`` (reading the two YAML files), ``times``
(step 1), ``cox_search`` and ``covariates`` (step 2), ``clinical`` (the other columns); this module
assembles the file and is the ``synth`` command.

The default seed is ``DEFAULT_SEED = 20240101``: ``python -m analysis synth`` regenerates
``data/synthetic_cohort.csv`` byte for byte. ``--n-patients`` other than the paper's size gives an uncalibrated
cohort of the same structure with realistic distributions (vectorised; for scale benchmarks).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.cohort.synth.clinical import (
    MIN_T2_FOR_SYSTEMIC, RATES, birth_dates, clinical_columns, completed_years, draw_category, histology,
    prior_srs,
)
from analysis.cohort.synth.covariates import abc_covariates, cns_covariates
from analysis.cohort.synth.targets import (
    ABC_SITES, GROUPS, Targets, interpretation_value, load_yaml, lookup,
)
from analysis.cohort.synth.times import TimeSearch
from analysis.paths import BUNDLED_COHORT, INTERPRETATION_PATH, PUBLISHED_PATH

DEFAULT_SEED = 20240101
DEFAULT_OUT = BUNDLED_COHORT

COLUMNS = [
    "patient_id", "abc_date", "cns_date", "last_contact_date", "vital_status", "cns_group",
    "age_at_abc", "age_at_cns", "lung_mets_at_abc", "liver_mets_at_abc", "soft_tissue_mets_at_abc",
    "bone_mets_at_abc", "ecog_at_cns", "cns_symptoms", "bone_mets_at_cns", "skull_mets_at_cns",
    "soft_tissue_mets_at_cns", "histology", "csf_cytology", "initial_cns_treatment", "csi_completed",
    "systemic_before_rt", "intrathecal_therapy", "subsequent_systemic", "subsequent_systemic_start_date",
    "cause_of_death", "prior_srs",
]


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
    search = TimeSearch(tg, rng)
    s, loss = search.run(search.construct())
    if loss > 1e-9:
        raise RuntimeError(f"the survival-time search did not converge (loss {loss:.3g}); try another seed")
    cns_cov = cns_covariates(tg, s, rng)
    abc_cov = abc_covariates(tg, s, rng)
    clin = clinical_columns(tg, s, cns_cov, rng)

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
    born = np.concatenate([birth_dates(age_cns.astype(int), cns[:n_cns], rng),
                           birth_dates(age_none.astype(int), abc[n_cns:], rng)])
    age_abc = completed_years(born, abc)
    age_at_cns = completed_years(born, cns)

    hist = histology(tg, label, rng)
    cause_none = np.where(rng.random(n_none) < RATES["other_death"], "other", "extracranial_progression")
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
        "prior_srs": cns_only(_int_text(prior_srs(label[:n_cns], tg, seed))),
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
    counts = {g: int(lookup(pub, f"cohort.groups.{g}.n")) for g in GROUPS}
    counts["none"] = int(lookup(pub, "cohort.n_abc")) - sum(counts.values())
    labels = np.array(["none", *GROUPS], object)
    share = np.array([counts[k] for k in labels], float)
    gi = rng.choice(4, n, p=share / share.sum())          # 0 none, 1 B, 2 BL, 3 L
    cutoff = np.datetime64(str(interpretation_value(tg.interp, "data_cutoff")), "D")
    window = [np.datetime64(str(d), "D") for d in interpretation_value(tg.interp, "abc_window")]
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
        node = lookup(pub, dotted_n).get(group)
        return int(node["n"]) / counts[group] if node else 0.0

    bsc = is_cns & (rng.random(n) < np.array([frac("treatments.bsc_without_rt", k) for k in GROUPS])[g])
    csi_rate = np.array([len(lookup(pub, "treatments.craniospinal_irradiation.survival_days").get(k, []))
                         / counts[k] for k in GROUPS])
    csi = is_cns & ~bsc & (rng.random(n) < csi_rate[g])
    treatment = np.full(n, "", object)
    for k, gname in enumerate(GROUPS):
        idx = np.flatnonzero(is_cns & ~bsc & ~csi & (g == k))
        treatment[idx] = draw_category(rng, RATES["rt_type"][gname], size=len(idx))
    treatment[bsc], treatment[csi] = "BSC", "CSI"
    sub_rate = np.array([RATES["subsequent_systemic_B"]] + [frac("treatments.subsequent_systemic_therapy", k)
                                                             for k in GROUPS[1:]])
    systemic = is_cns & ~bsc & (t2 >= MIN_T2_FOR_SYSTEMIC) & (rng.random(n) < sub_rate[g])
    lo, hi = RATES["systemic_delay_days"]
    delay = np.minimum(rng.integers(lo, hi + 1, n), np.maximum(1, t2 - 14))
    sb = lookup(pub, "treatments.systemic_before_rt.B")
    before_any = is_cns & (g == 0) & ~bsc & (rng.random(n) < int(sb["n"]) / counts["B"])
    before = np.where(before_any, np.where(rng.random(n) < int(sb["chemotherapy"]) / int(sb["n"]),
                                           "chemotherapy", "endocrine"), "none").astype(object)
    symptoms = ((rng.random(n) < rate(RATES["cns_symptoms"])) & ~before_any).astype(int)
    ecog = np.minimum(4, (rng.random((n, 1)) > np.cumsum(np.array([RATES["ecog"][k] for k in GROUPS])[g], 1)).sum(1)
                      + bsc)
    skull_rate = np.array([float(lookup(pub, f"backgrounds.skull_involvement.{k}.pct")) / 100 for k in GROUPS])
    skull = (rng.random(n) < skull_rate[g]).astype(int)
    bone_cns = np.maximum(skull, (rng.random(n) < rate(RATES["bone_at_cns_extra"])).astype(int))
    soft_cns = (rng.random(n) < rate(RATES["soft_tissue_at_cns"])).astype(float)
    soft_cns[rng.random(n) < 0.05] = np.nan
    csf_p = np.array([RATES["csf"][k] for k in GROUPS])[g]
    csf = np.array(["positive", "negative", "not_done"], object)[(rng.random((n, 1)) > np.cumsum(csf_p, 1)).sum(1)]
    intrathecal = (is_cns & (g == 2) & csi & (rng.random(n) < 0.5)).astype(int)
    ilc_rate = np.where(is_cns, rate(RATES["ilc"]), RATES["ilc"]["none"])
    u = rng.random(n)
    hist = np.where(u < ilc_rate, "ILC", np.where(u < ilc_rate + RATES["other_histology"], "other", "IDC")).astype(object)
    hist[rng.random(n) < RATES["histology_unknown"]] = "unknown"
    death_cns = rng.random(n) < np.where(is_cns, rate(RATES["cns_death"]), 0.0)
    cause = np.where(death_cns, "cns_progression",
                     np.where(rng.random(n) < RATES["other_death"], "other", "extracranial_progression")).astype(object)
    cause[alive] = ""
    age_abc = np.clip(np.round(rng.normal(57, 12, n)), 28, 90).astype(int)
    born = birth_dates(age_abc, abc, rng)
    sites = {k: (rng.random(n) < RATES["abc_sites"][k]).astype(int) for k in ABC_SITES}
    csi_done = np.where(csi, np.where(rng.random(n) < 0.5, "1", "0"), "").astype(object)

    def cns_only(text):
        text = np.asarray(text, object).copy()
        text[~is_cns] = ""
        return text

    cols = {
        "abc_date": _iso(abc), "cns_date": _iso(cns, is_cns), "last_contact_date": _iso(last),
        "vital_status": np.where(alive, "alive", "dead").astype(object),
        "cns_group": np.where(is_cns, grp, "none").astype(object),
        "age_at_abc": _int_text(age_abc), "age_at_cns": _int_text(completed_years(born, cns), is_cns),
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
        "prior_srs": cns_only(_int_text(prior_srs(np.where(is_cns, grp, "none"), tg, seed))),
    }
    return _format_frame(cols, n, rng)


def calibrated_size(published: Path = PUBLISHED_PATH) -> int:
    """The paper's cohort size (read from the published statistics)."""
    return int(lookup(load_yaml(published), "cohort.n_abc"))


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
        print(f"synth: {error}", file=sys.stderr)
        return 1
    write_csv(frame, args.out)
    kind = "calibrated" if args.n_patients in (None, calibrated_size()) else "uncalibrated"
    print(f"wrote {len(frame)} patients ({kind}, seed {args.seed}) to {args.out} "
          f"in {time.perf_counter() - started:.1f} s")
    return 0
