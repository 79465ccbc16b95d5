"""The synthetic cohort generator (analysis.cohort.synth): determinism, format, structure, and the statistics
its search calls (analysis.stats kernels and the engine's search variants) against R's survival package
(tests/reference)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.cohort.synth import generator as synth
from analysis.cohort.synth.cox_search import SearchCox
from analysis.cohort.synth.times import uncensored_ranks
from analysis.stats import CoxEngine, batch_cox_no_ties, km_median_ci, survdiff
from analysis.cohort.load import load_cohort
from analysis.cohort.schema import load_schema

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "data" / "synthetic_cohort.csv"
from conftest import REFERENCE  # noqa: E402  (tests/reference, defined once)


def _run(tmp_path, name, *argv):
    parser = argparse.ArgumentParser()
    synth.configure_parser(parser)
    out = tmp_path / name
    code = synth.run(parser.parse_args([*argv, "--out", str(out)]))
    return code, out


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """The default calibrated run (seed 20240101), once per module (about 15 s)."""
    code, out = _run(tmp_path_factory.mktemp("synth"), "default.csv")
    assert code == 0
    return out


def test_default_run_regenerates_the_committed_cohort_byte_for_byte(default_run):
    assert default_run.read_bytes() == COMMITTED.read_bytes()


def test_default_seed_is_the_documented_one():
    interp = yaml.safe_load((ROOT / "data" / "paper-interpretation.yaml").read_text())
    assert synth.DEFAULT_SEED == interp["items"]["synthetic_seed"]["value"]
    assert str(synth.DEFAULT_SEED) in synth.__doc__


def test_committed_cohort_validates():
    cohort = load_cohort(COMMITTED)
    assert len(cohort.data) == 369
    assert cohort.warnings == []
    assert cohort.missing_optional == []


def test_file_format(default_run):
    raw = COMMITTED.read_bytes()
    assert b"\r" not in raw and raw.endswith(b"\n")
    frame = pd.read_csv(COMMITTED, dtype=str, keep_default_na=False)
    assert list(frame.columns) == [c.name for c in load_schema().columns]
    assert list(frame["patient_id"]) == [f"SYN-{i:04d}" for i in range(1, 370)]
    for column in ("abc_date", "cns_date", "last_contact_date", "subsequent_systemic_start_date"):
        filled = frame[column][frame[column] != ""]
        assert filled.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all(), column
    for column in ("lung_mets_at_abc", "bone_mets_at_abc", "cns_symptoms", "subsequent_systemic"):
        assert set(frame[column]) <= {"0", "1", ""}, column
    # rows are shuffled: the groups are not in blocks
    groups = frame["cns_group"].tolist()
    assert sum(a != b for a, b in zip(groups, groups[1:])) > 50


def test_non_cns_patients_leave_cns_columns_blank():
    frame = pd.read_csv(COMMITTED, dtype=str, keep_default_na=False)
    none = frame[frame["cns_group"] == "none"]
    cns_only = [c.name for c in load_schema().columns if getattr(c, "cns_only", False)]
    assert cns_only, "schema lists CNS-only columns"
    assert (none[cns_only] == "").all().all()


def test_subsequent_therapy_starts_weeks_after_cns_diagnosis():
    data = load_cohort(COMMITTED).data
    treated = data[data["subsequent_systemic"] == 1]
    delay = (treated["subsequent_systemic_start_date"] - treated["cns_date"]).dt.days
    assert (delay >= 14).all()
    assert (treated["subsequent_systemic_start_date"] <= treated["last_contact_date"]).all()


def test_same_seed_same_bytes_different_seed_different_data(tmp_path):
    _, a = _run(tmp_path, "a.csv", "--n-patients", "500", "--seed", "7")
    _, b = _run(tmp_path, "b.csv", "--n-patients", "500", "--seed", "7")
    _, c = _run(tmp_path, "c.csv", "--n-patients", "500", "--seed", "8")
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_another_seed_gives_another_calibrated_cohort(tmp_path):
    code, out = _run(tmp_path, "seed2.csv", "--seed", "2")
    assert code == 0
    assert out.read_bytes() != COMMITTED.read_bytes()
    from analysis.study.calibration import calibration_report, unmet

    assert unmet(calibration_report(out)).empty


def test_larger_cohort_has_the_structure(tmp_path):
    code, out = _run(tmp_path, "k.csv", "--n-patients", "1000")
    assert code == 0
    cohort = load_cohort(out)
    data = cohort.data
    assert len(data) == 1000 and cohort.warnings == []
    shares = data["group"].astype(str).value_counts(normalize=True)
    assert set(shares.index) == {"none", "B", "BL", "L"}
    assert 0.6 < shares["none"] < 0.85 and shares["B"] > shares["L"] > 0.01
    cns = data[data["group"].astype(str) != "none"]
    assert cns["cns_date"].notna().all()
    assert (cns["cns_date"] >= cns["abc_date"]).all()
    assert data["last_contact_date"].max() <= pd.Timestamp("2021-06-30")
    assert (data.loc[data["vital_status"] == "alive", "last_contact_date"] == pd.Timestamp("2021-06-30")).all()


def test_bad_size_is_a_clear_error(tmp_path, capsys):
    code, out = _run(tmp_path, "x.csv", "--n-patients", "0")
    assert code == 1 and not out.exists()
    assert "--n-patients must be at least 1, got 0" in capsys.readouterr().err


def test_no_published_figure_is_typed_into_the_generator():
    """Targets come from data/published-statistics.yaml: none of its distinctive numbers is in the code."""
    published = yaml.safe_load((ROOT / "data" / "published-statistics.yaml").read_text())
    numbers: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            text = repr(node)
            if len(text.replace(".", "").strip("0")) >= 3 and text not in {"100.0"}:
                numbers.add(text)

    walk(published)
    assert "1259.5" in numbers and "0.0403" in numbers
    # every module of the package, the generator and the calibration report among them
    for path in sorted((ROOT / "analysis").rglob("*.py")):
        module = str(path.relative_to(ROOT))
        source = path.read_text()
        code = re.sub(r"#.*", "", source)
        tokens = set(re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", code))
        assert not (tokens & numbers), (module, sorted(tokens & numbers))


# ---- the statistics the search calls, against R (survival 3.5-3) ------------------------------------

@pytest.fixture(scope="module")
def lung():
    return pd.read_csv(REFERENCE / "lung.csv"), json.loads((REFERENCE / "lung_R.json").read_text())


def test_km_median_and_log_ci_kernel_match_r(lung):
    data, ref = lung
    for key, part in data.dropna(subset=["ph.ecog"]).groupby("ph.ecog"):
        r = ref["km_ecog"]["groups"][str(int(key))]
        median, lower, upper = km_median_ci(part["time"].to_numpy(), part["event"].to_numpy())
        assert median == r["median"]
        assert [None if np.isnan(v) else v for v in (lower, upper)] == r["median_ci"]["log"]


def test_km_kernel_uses_the_midpoint_rule():
    # S = 0.5 exactly between 4 and 6: R reports 5
    assert km_median_ci(np.array([2.0, 4, 6, 8]), np.ones(4))[0] == 5.0


def test_logrank_kernel_matches_r(lung):
    data, ref = lung
    data = data.dropna(subset=["ph.ecog"])
    codes = np.unique(data["ph.ecog"].to_numpy(), return_inverse=True)[1]
    chisq, df, _, _ = survdiff(data["time"].to_numpy(), data["event"].to_numpy(), codes, codes.max() + 1)
    from scipy.stats import chi2

    assert chi2.sf(chisq, df) == pytest.approx(ref["logrank_ecog"]["p"], rel=1e-9)


def test_search_cox_matches_r_efron_lr_and_profile(lung):
    data, ref = lung
    data = data.dropna(subset=["ph.ecog"])
    cols = ["age", "sex", "ph.ecog"]
    model = SearchCox(data["time"].to_numpy(), data["event"].to_numpy())
    result = model.summary(data[cols].to_numpy(float), profile=[0, 1, 2])
    r = ref["cox_efron"]
    for j, name in enumerate(cols):
        assert result["hr"][j] == pytest.approx(r["coefficients"][name]["hr"], rel=1e-6)
        assert result["p"][j] == pytest.approx(r["term_lr"][name]["p"], rel=1e-6)
        assert result["ci"][j][0] == pytest.approx(r["profile_ci"][name]["hr_lower"], rel=1e-6)
        assert result["ci"][j][1] == pytest.approx(r["profile_ci"][name]["hr_upper"], rel=1e-6)


def test_batch_cox_matches_the_engine():
    rng = np.random.default_rng(0)
    X = (rng.random((5, 17, 2)) < 0.4).astype(float)
    beta, loglik = batch_cox_no_ties(X)
    for k in range(5):
        fit = CoxEngine(np.arange(17.0), np.ones(17), X[k]).maximize()
        assert beta[k] == pytest.approx(fit.beta, abs=1e-7)
        assert loglik[k] == pytest.approx(fit.loglik, rel=1e-10)


def test_uncensored_ranks_follow_the_log_band():
    # 13 uncensored times: R's log band never reaches 0.5 while S > 0, so the upper limit is NA
    assert uncensored_ranks(13)[2] is None
    (a, b), lower, upper = uncensored_ranks(70)
    assert (a, b) == (34, 35) and lower < a and upper > b


def test_generator_modules_stay_small_and_keep_the_public_names():
    from analysis.cohort import synth as face

    for name in ("DEFAULT_SEED", "DEFAULT_OUT", "generate", "generate_calibrated", "generate_uncalibrated",
                 "calibrated_size", "write_csv", "configure_parser", "run"):
        assert getattr(face, name) is getattr(synth, name)
    for path in (ROOT / "analysis" / "cohort" / "synth").glob("*.py"):
        assert len(path.read_text().splitlines()) <= 600, path.name
