"""The book builds on messy cohorts (made from the synthetic generator's output), in every file format.

Each cohort is one kind of trouble a real data set brings: an empty group, a group of one, nobody
dead, no CNS patients at all, optional columns missing. Each is written in one of the supported
formats, built into a full book, and searched for leaked patient data.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from analysis.build import build_book
from analysis.paths import BUNDLED_COHORT, PROJECT_ROOT
from conftest import assert_no_patient_data

SYNTHETIC = BUNDLED_COHORT
REQUIRED_ONLY = ["patient_id", "abc_date", "cns_date", "last_contact_date", "vital_status", "cns_group",
                 "age_at_abc", "age_at_cns", "lung_mets_at_abc", "liver_mets_at_abc",
                 "soft_tissue_mets_at_abc", "bone_mets_at_abc"]


def without_bl(d):
    return d[d["cns_group"] != "BL"]


def single_bl(d):
    return d.drop(d.index[d["cns_group"] == "BL"][1:])


def all_alive(d):
    d = d.copy()
    d["vital_status"], d["cause_of_death"] = "alive", ""
    d["last_contact_date"] = d[["abc_date", "cns_date", "subsequent_systemic_start_date"]].max(axis=1)
    return d


def no_cns_patients(d):
    return d[d["cns_group"] == "none"]


def required_columns_only(d):
    return d[REQUIRED_ONLY]


CASES = {
    # name: (transform, file format, a text the built book must show)
    "no_BL_group": (without_bl, "xlsx", "Group BL has no patients"),
    "BL_group_of_one": (single_bl, "parquet", "Group BL has a single patient"),
    "all_censored": (all_alive, "csv", "no deaths, model not fitted"),
    "no_CNS_patients": (no_cns_patients, "csv", "not computed"),
    "required_columns_only": (required_columns_only, "csv", "needs the optional column"),
}


def write(frame: pd.DataFrame, path):
    if path.suffix == ".xlsx":
        frame.to_excel(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


@pytest.mark.parametrize("name", sorted(CASES))
def test_book_builds_on_a_messy_cohort(name, tmp_path):
    transform, suffix, expected = CASES[name]
    base = pd.read_csv(SYNTHETIC, dtype=str, keep_default_na=False)
    cohort = transform(base).replace({"": None})
    source = tmp_path / f"{name}.{suffix}"
    write(cohort, source)
    before = source.read_bytes()

    result = build_book(out=tmp_path / "out", cohort=source, log=lambda _: None)

    assert source.read_bytes() == before  # the input file is never modified
    assert result.html_index.exists()
    pages = "".join(p.read_text(encoding="utf-8") for p in result.html_index.parent.rglob("*.html"))
    assert expected in pages
    results = json.loads(result.results_json.read_text())
    assert results["cohort.n_abc"] == len(cohort)
    assert_no_patient_data(result.out, cohort.astype("string"))


def test_the_command_builds_from_a_user_file_and_refuses_a_bad_one(tmp_path):
    # what a researcher types: python -m analysis build --cohort their_file.xlsx --out report/
    import subprocess
    import sys

    source = tmp_path / "their_file.xlsx"
    write(pd.read_csv(SYNTHETIC, dtype=str, keep_default_na=False).replace({"": None}), source)
    run = subprocess.run([sys.executable, "-m", "analysis", "build", "--cohort", str(source),
                          "--out", str(tmp_path / "report")], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    printed = dict(line.split(":", 1) for line in run.stdout.splitlines() if line.startswith(("results:", "book:")))
    assert printed["book"].strip().endswith("index.html") and (tmp_path / "report" / "html" / "index.html").exists()
    assert printed["results"].strip() == str(tmp_path / "report" / "results.json")
    progress = re.findall(r"\[\s*(\d+)/(\d+)\] book/", run.stdout)  # one line per chapter as it finishes
    assert progress and progress[-1][0] == progress[-1][1]

    bad = tmp_path / "bad.csv"
    frame = pd.read_csv(SYNTHETIC, dtype=str, keep_default_na=False)
    frame.loc[3, "abc_date"] = "2019-02-30"
    frame.loc[7, "cns_group"] = "XL"
    frame.to_csv(bad, index=False)
    refused = subprocess.run([sys.executable, "-m", "analysis", "build", "--cohort", str(bad),
                              "--out", str(tmp_path / "bad_report")], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert refused.returncode == 1
    assert "abc_date" in refused.stderr and "cns_group" in refused.stderr  # every problem, at once
    assert not (tmp_path / "bad_report" / "html").exists()  # nothing ran
