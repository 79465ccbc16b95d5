"""Validation stays fast on a large cohort (vectorised checks, no per-row Python loops).

Measured on the 2-core development machine: about 1.5 s to validate 100,000 rows (CSV, 26 columns).
The bound below is loose so that a busy machine does not fail it; a per-row implementation is far slower.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from analysis.cohort.load import load_cohort, validate_cohort
from analysis.cohort.schema import load_schema

N_PATIENTS = 100_000
SEED = 20240630  # fixed: the generated cohort is the same on every run
TIME_LIMIT_SECONDS = 15.0


def large_valid_cohort(n: int, seed: int = SEED) -> pd.DataFrame:
    """A structurally valid cohort of ``n`` patients as text cells (not realistic, not calibrated)."""
    rng = np.random.default_rng(seed)
    names = load_schema().names
    abc = pd.Timestamp("2003-01-01") + pd.to_timedelta(rng.integers(0, 5000, n), unit="D")
    has_cns = rng.random(n) < 0.28
    cns = abc + pd.to_timedelta(rng.integers(0, 1500, n), unit="D")
    last = cns + pd.to_timedelta(rng.integers(1, 1500, n), unit="D")
    dead = rng.random(n) < 0.8
    age = rng.integers(30, 80, n)
    treatment = rng.choice(["WBRT", "SRS", "focal_RT", "CSI", "surgery", "BSC"], n)
    later = has_cns & (rng.random(n) < 0.3)

    def cns_only(values):
        return np.where(has_cns, values, "")

    frame = pd.DataFrame({
        "patient_id": [f"P{i:06d}" for i in range(n)],
        "abc_date": abc.strftime("%Y-%m-%d"),
        "cns_date": cns_only(cns.strftime("%Y-%m-%d")),
        "last_contact_date": last.strftime("%Y-%m-%d"),
        "vital_status": np.where(dead, "dead", "alive"),
        "cns_group": np.where(has_cns, rng.choice(["B", "BL", "L"], n), "none"),
        "age_at_abc": age.astype(str),
        "age_at_cns": cns_only((age + (cns - abc).days // 365).astype(str)),
        "ecog_at_cns": cns_only(rng.integers(0, 5, n).astype(str)),
        "histology": rng.choice(["IDC", "ILC", "other", "unknown"], n),
        "csf_cytology": cns_only(rng.choice(["positive", "negative", "not_done"], n)),
        "initial_cns_treatment": cns_only(treatment),
        "csi_completed": np.where(has_cns & (treatment == "CSI"), "1", ""),
        "systemic_before_rt": cns_only(rng.choice(["none", "chemotherapy", "endocrine"], n)),
        "subsequent_systemic": cns_only(later.astype(int).astype(str)),
        "subsequent_systemic_start_date": np.where(later, cns.strftime("%Y-%m-%d"), ""),
        "cause_of_death": np.where(dead & has_cns, rng.choice(["cns_progression", "other"], n), ""),
    })
    for name in ["lung_mets_at_abc", "liver_mets_at_abc", "soft_tissue_mets_at_abc", "bone_mets_at_abc"]:
        frame[name] = rng.integers(0, 2, n).astype(str)
    for name in ["cns_symptoms", "bone_mets_at_cns", "skull_mets_at_cns", "soft_tissue_mets_at_cns",
                 "intrathecal_therapy", "prior_srs"]:
        frame[name] = cns_only(rng.integers(0, 2, n).astype(str))
    return frame[names]


def test_validating_100k_rows_is_fast(tmp_path):
    frame = large_valid_cohort(N_PATIENTS)
    # break a few rows: the error path must be fast too
    frame.loc[[10, 50_000, 99_999], "cns_group"] = "X"
    frame.loc[range(0, N_PATIENTS, 7), "abc_date"] = "2010/01/01"
    bad_path = tmp_path / "large_bad.csv"
    frame.to_csv(bad_path, index=False)
    good_path = tmp_path / "large.csv"
    large_valid_cohort(N_PATIENTS).to_csv(good_path, index=False)

    start = time.perf_counter()
    cohort = load_cohort(good_path)
    good_seconds = time.perf_counter() - start
    start = time.perf_counter()
    report = validate_cohort(bad_path)
    bad_seconds = time.perf_counter() - start

    assert len(cohort.data) == N_PATIENTS and cohort.warnings == []
    assert {p.kind for p in report.errors} == {"unknown_category", "unparseable_date"}
    text = report.format()
    assert "column 'cns_group': unknown category in 3 lines (line 12 'X'; line 50002 'X'; line 100001 'X')" in text
    assert f"not a valid date in {len(range(0, N_PATIENTS, 7))} lines (line 2 '2010/01/01'; line 9 " in text
    print(f"load 100k valid: {good_seconds:.2f} s; validate 100k with errors: {bad_seconds:.2f} s")
    assert good_seconds < TIME_LIMIT_SECONDS and bad_seconds < TIME_LIMIT_SECONDS
