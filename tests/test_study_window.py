"""Study parameters (issue "Your cohort, your report", point 2): the cut-off date and the ABC window.

Each rule of ``analysis.cohort.study_window`` on a few patients written out in full, and the build's
checks of the parameters before any chapter runs.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analysis.build.chapters import BUILD_PARAMETERS, PARAMETER_RULES, BuildError, Chapter, resolve_parameters
from analysis.cohort import CohortValidationError, StudyParameters, load_cohort

TODAY = dt.date(2024, 6, 1)
COLUMNS = ["patient_id", "abc_date", "cns_date", "last_contact_date", "vital_status", "cns_group", "age_at_abc",
           "age_at_cns", "lung_mets_at_abc", "liver_mets_at_abc", "soft_tissue_mets_at_abc", "bone_mets_at_abc",
           "subsequent_systemic", "subsequent_systemic_start_date", "cause_of_death"]
ROWS = [
    # early, CNS and dead before the cut-off: unchanged
    ["P1", "2005-01-10", "2006-02-01", "2007-03-01", "dead", "B", "60", "61", "0", "0", "0", "1", "1", "2006-06-01",
     "cns_progression"],
    # CNS before the cut-off, death after: censored at the cut-off, therapy after it dropped
    ["P2", "2006-05-01", "2008-01-15", "2012-04-01", "dead", "L", "50", "51", "1", "0", "0", "0", "1", "2011-01-01",
     "other"],
    # CNS diagnosis after the cut-off: counted as without CNS metastasis, follow-up censored
    ["P3", "2007-03-03", "2011-05-05", "2013-01-01", "alive", "BL", "45", "49", "0", "1", "0", "0", "0", "", ""],
    # no CNS, alive after the cut-off
    ["P4", "2008-08-08", "", "2014-02-02", "alive", "none", "70", "", "0", "0", "1", "0", "", "", ""],
    # ABC diagnosis after the cut-off
    ["P5", "2011-02-02", "", "2012-02-02", "alive", "none", "66", "", "0", "0", "0", "0", "", "", ""],
    # ABC before the window
    ["P6", "2001-01-01", "", "2003-01-01", "dead", "none", "80", "", "0", "0", "0", "1", "", "", "other"],
]
CUTOFF = "2010-12-31"


@pytest.fixture()
def cohort_file(tmp_path):
    path = tmp_path / "cohort.csv"
    pd.DataFrame(ROWS, columns=COLUMNS).to_csv(path, index=False)
    return path


def by_id(cohort) -> pd.DataFrame:
    return cohort.data.set_index("patient_id")


def test_no_parameter_changes_nothing(cohort_file):
    cohort = load_cohort(cohort_file, today=TODAY)
    assert len(cohort.data) == 6 and cohort.study_note() == "" and cohort.study.lines() == []


def test_cutoff_censors_follow_up_and_deaths_at_it(cohort_file):
    data = by_id(load_cohort(cohort_file, today=TODAY, cutoff_date=CUTOFF))
    cut = pd.Timestamp(CUTOFF)
    assert data.loc["P1", "last_contact_date"] == pd.Timestamp("2007-03-01") and data.loc["P1", "death"] == 1
    assert data.loc["P2", "last_contact_date"] == cut and data.loc["P2", "death"] == 0
    assert pd.isna(data.loc["P2", "cause_of_death"])
    assert data.loc["P2", "os_from_cns"] == (cut - pd.Timestamp("2008-01-15")).days
    assert data.loc["P4", "last_contact_date"] == cut and data.loc["P4", "vital_status"] == "alive"


def test_cutoff_drops_cns_diagnoses_and_therapy_starts_after_it(cohort_file):
    cohort = load_cohort(cohort_file, today=TODAY, cutoff_date=CUTOFF)
    data = by_id(cohort)
    assert data.loc["P3", "group"] == "none" and data.loc["P3", "cns"] == 0
    assert pd.isna(data.loc["P3", "cns_date"]) and pd.isna(data.loc["P3", "age_at_cns"])
    assert data.loc["P2", "subsequent_systemic"] == 0 and pd.isna(data.loc["P2", "subsequent_systemic_start_date"])
    assert data.loc["P1", "subsequent_systemic"] == 1
    study = cohort.study
    assert study.cns_dropped == {"B": 0, "BL": 1, "L": 0} and study.therapy_dropped == 1
    assert (study.deaths_censored, study.followup_censored, study.after_cutoff) == (1, 2, 1)


def test_patients_diagnosed_after_the_cutoff_or_outside_the_window_are_excluded(cohort_file):
    cohort = load_cohort(cohort_file, today=TODAY, cutoff_date=CUTOFF, abc_from="2002-10-01", abc_to="2010-12-31")
    assert sorted(cohort.data["patient_id"]) == ["P1", "P2", "P3", "P4"]
    assert (cohort.study.before_window, cohort.study.after_window, cohort.study.after_cutoff) == (1, 1, 0)
    note = cohort.study_note()
    assert "4 of 6 patients in the study" in note and "1 patient(s) excluded: ABC diagnosis before 2002-10-01" in note
    window = load_cohort(cohort_file, today=TODAY, abc_from="2006-01-01", abc_to="2008-12-31")
    assert sorted(window.data["patient_id"]) == ["P2", "P3", "P4"] and window.study.after_window == 1


def test_the_file_is_validated_whole_and_an_empty_study_refused(cohort_file):
    with pytest.raises(CohortValidationError, match="no patient is left in the study"):
        load_cohort(cohort_file, today=TODAY, abc_from="2020-01-01")


@pytest.mark.parametrize("given, message", [
    ({"cutoff_date": "31/12/2010"}, "YYYY-MM-DD"),
    ({"cutoff_date": "2010-02-30"}, "YYYY-MM-DD"),
    ({"abc_from": "2010-01-01", "abc_to": "2009-01-01"}, "after abc_to"),
    ({"cutoff_date": "2009-01-01", "abc_to": "2010-01-01"}, "after cutoff_date"),
])
def test_bad_study_parameters_are_refused(given, message):
    with pytest.raises(ValueError, match=message):
        StudyParameters.of(**given)


def _chapters():
    chapter = Chapter("cohort", None)  # resolve_parameters reads only declarations
    declared = {"cohort": {name: {"default": "None", "type": "None"}
                           for name in ("cohort", "mapping", "sheet", "cutoff_date", "abc_from", "abc_to")}}
    return [chapter], declared


@pytest.mark.parametrize("given, message", [
    ({"cutoff_date": "2010/12/31"}, "must be a date written YYYY-MM-DD"),
    ({"abc_from": "2012-01-01", "cutoff_date": "2010-12-31"}, "abc_from .* is after cutoff_date"),
])
def test_the_build_checks_study_dates_before_any_chapter_runs(given, message):
    chapters, declared = _chapters()
    with pytest.raises(BuildError, match=message):
        resolve_parameters(chapters, given, declared)


def test_mapping_and_sheet_are_build_options_not_chapter_parameters():
    assert {"mapping", "sheet"} <= set(BUILD_PARAMETERS)
    assert {"cutoff_date", "abc_from", "abc_to"} <= set(PARAMETER_RULES)
    chapters, declared = _chapters()
    with pytest.raises(BuildError) as caught:
        resolve_parameters(chapters, {"cutof_date": "2010-01-01"}, declared)
    known = str(caught.value).split("Known parameters:")[1]
    assert "cutoff_date" in known and "mapping" not in known and "sheet" not in known


def test_the_build_refuses_mapping_given_with_p(tmp_path):
    from analysis.build import build_book

    with pytest.raises(BuildError, match="--mapping FILE.yaml"):
        build_book(out=tmp_path / "out", params={"mapping": "m.yaml"}, log=lambda _: None)


def test_the_cache_hashes_the_mapping_files_bytes(tmp_path):
    from pathlib import Path

    from analysis.build.cache import chapter_hash

    source = tmp_path / "c.md"
    source.write_text("x")
    mapping = tmp_path / "m.yaml"
    mapping.write_text("decimal: ','\n")
    chapter = Chapter("c", source)
    params = {"cohort": str(source), "mapping": str(mapping)}
    first = chapter_hash(chapter, params, Path(tmp_path), "env")
    mapping.write_text("decimal: '.'\n")
    assert chapter_hash(chapter, params, Path(tmp_path), "env") != first
