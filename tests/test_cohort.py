"""Loading and validating cohort files: analysis.cohort.load.

Every bad-input test asserts the message content (file name, column, row number as the user sees it, the
bad value, what was expected), not only that validation failed.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis import cli
from analysis.cohort.derived import DERIVED_COLUMNS
from analysis.cohort.load import CohortValidationError, load_cohort, validate_cohort
from analysis.cohort.schema import load_schema

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "data" / "cohort_template.csv"
TODAY = dt.date(2024, 6, 30)  # fixed "today" so date-range checks do not depend on the clock
NAMES = load_schema().names


def base_rows() -> list[dict[str, str]]:
    """A small valid cohort: the template's two fake rows plus a B, an L and a no-CNS patient."""
    with TEMPLATE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    blank = dict.fromkeys(NAMES, "")
    rows.append({**blank, "patient_id": "FAKE-0003", "abc_date": "2010-02-01", "cns_date": "2011-03-15",
                 "last_contact_date": "2012-01-10", "vital_status": "dead", "cns_group": "B",
                 "age_at_abc": "66", "age_at_cns": "67", "lung_mets_at_abc": "1", "liver_mets_at_abc": "1",
                 "soft_tissue_mets_at_abc": "0", "bone_mets_at_abc": "0", "ecog_at_cns": "1",
                 "cns_symptoms": "0", "bone_mets_at_cns": "0", "skull_mets_at_cns": "0",
                 "soft_tissue_mets_at_cns": "", "histology": "IDC", "csf_cytology": "not_done",
                 "initial_cns_treatment": "SRS", "systemic_before_rt": "chemotherapy",
                 "intrathecal_therapy": "0", "subsequent_systemic": "0",
                 "cause_of_death": "extracranial_progression"})
    rows.append({**blank, "patient_id": "FAKE-0004", "abc_date": "2013-05-05", "cns_date": "2016-06-01",
                 "last_contact_date": "2017-02-01", "vital_status": "alive", "cns_group": "L",
                 "age_at_abc": "52", "age_at_cns": "55", "lung_mets_at_abc": "0", "liver_mets_at_abc": "0",
                 "soft_tissue_mets_at_abc": "1", "bone_mets_at_abc": "1", "ecog_at_cns": "3",
                 "cns_symptoms": "1", "bone_mets_at_cns": "1", "skull_mets_at_cns": "1",
                 "soft_tissue_mets_at_cns": "1", "histology": "unknown", "csf_cytology": "positive",
                 "initial_cns_treatment": "CSI", "csi_completed": "0", "systemic_before_rt": "none",
                 "intrathecal_therapy": "1", "subsequent_systemic": "0"})
    rows.append({**blank, "patient_id": "FAKE-0005", "abc_date": "2008-11-20",
                 "last_contact_date": "2015-01-31", "vital_status": "dead", "cns_group": "none",
                 "age_at_abc": "71", "lung_mets_at_abc": "0", "liver_mets_at_abc": "1",
                 "soft_tissue_mets_at_abc": "0", "bone_mets_at_abc": "1", "histology": "other"})
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None, sep: str = ",",
              encoding: str = "utf-8") -> Path:
    columns = columns or NAMES
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, delimiter=sep, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def with_changes(changes: dict[int, dict[str, str]]) -> list[dict[str, str]]:
    """Base rows with some cells changed; keys are 0-based data-row positions (CSV line = position + 2)."""
    rows = base_rows()
    for position, cells in changes.items():
        rows[position].update(cells)
    return rows


def report_for(tmp_path: Path, changes: dict[int, dict[str, str]], name: str = "cohort.csv"):
    path = write_csv(tmp_path / name, with_changes(changes))
    return validate_cohort(path, today=TODAY)


def only_problem(report, kind: str):
    matches = [p for p in report.problems if p.kind == kind]
    assert len(matches) == 1, f"expected one {kind!r} problem, got:\n{report.format()}"
    return matches[0], str(matches[0])


# ----------------------------------------------------------------------------------------- valid input
def test_template_validates_and_has_fake_rows():
    report = validate_cohort(TEMPLATE)
    assert report.ok, report.format()
    assert report.warnings == []
    cohort = load_cohort(TEMPLATE)
    assert list(cohort.data["patient_id"]) == ["FAKE-0001", "FAKE-0002"]
    assert set(cohort.data["cns_group"]) == {"BL", "none"}  # one CNS patient, one without
    assert cohort.missing_optional == []


def test_base_rows_are_valid(tmp_path):
    report = validate_cohort(write_csv(tmp_path / "ok.csv", base_rows()), today=TODAY)
    assert report.ok and not report.warnings, report.format()


def test_derived_columns_and_types(tmp_path):
    data = load_cohort(write_csv(tmp_path / "ok.csv", base_rows()), today=TODAY).data
    assert list(data.index) == [2, 3, 4, 5, 6]  # CSV line numbers
    bl = data.loc[2]
    assert bl["time_abc_to_cns"] == (pd.Timestamp("2014-01-20") - pd.Timestamp("2012-04-10")).days
    assert bl["os_from_cns"] == (pd.Timestamp("2014-07-02") - pd.Timestamp("2014-01-20")).days
    assert bl["os_from_abc"] == (pd.Timestamp("2014-07-02") - pd.Timestamp("2012-04-10")).days
    assert list(data["death"]) == [1, 0, 1, 0, 1]
    assert list(data["cns"]) == [1, 0, 1, 1, 0]
    assert data["age65_at_cns"].tolist() == [0, pd.NA, 1, 0, pd.NA]
    # local RT: WBRT, SRS, CSI count as RT; no-CNS patients have no value
    assert data["local_rt"].tolist() == [1, pd.NA, 1, 1, pd.NA]
    assert pd.isna(data.loc[3, "time_abc_to_cns"]) and pd.isna(data.loc[3, "os_from_cns"])
    assert data["group"].cat.ordered and list(data["group"].cat.categories) == ["none", "B", "BL", "L"]
    assert data["abc_date"].dtype == "datetime64[ns]"
    assert data["age_at_abc"].dtype == "Int64"
    assert list(data["cns_group"].cat.categories) == ["none", "B", "BL", "L"]
    assert data.loc[5, "csi_completed"] == 0  # kept: initial treatment is CSI
    assert list(data.columns) == NAMES + list(DERIVED_COLUMNS)


def test_local_rt_is_zero_for_bsc_and_surgery(tmp_path):
    rows = with_changes({0: {"initial_cns_treatment": "BSC"}, 2: {"initial_cns_treatment": "surgery"}})
    data = load_cohort(write_csv(tmp_path / "c.csv", rows), today=TODAY).data
    assert data.loc[2, "local_rt"] == 0 and data.loc[4, "local_rt"] == 0


def test_semicolon_csv_with_bom(tmp_path):
    path = write_csv(tmp_path / "semi.csv", base_rows(), sep=";", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    comma = load_cohort(write_csv(tmp_path / "comma.csv", base_rows()), today=TODAY).data
    semi = load_cohort(path, today=TODAY)
    pd.testing.assert_frame_equal(semi.data, comma)
    assert "semicolon" in semi.report.reading_note


def test_bom_with_comma(tmp_path):
    path = write_csv(tmp_path / "bom.csv", base_rows(), encoding="utf-8-sig")
    cohort = load_cohort(path, today=TODAY)
    assert "patient_id" in cohort.data.columns and len(cohort.data) == 5


def test_spaces_na_markers_and_blank_lines(tmp_path):
    path = write_csv(tmp_path / "c.csv", with_changes({2: {"cns_group": " B ", "soft_tissue_mets_at_cns": "NA"}}))
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "\n\n", encoding="utf-8")  # trailing blank lines are not patients
    cohort = load_cohort(path, today=TODAY)
    assert cohort.data.loc[4, "cns_group"] == "B" and pd.isna(cohort.data.loc[4, "soft_tissue_mets_at_cns"])
    assert len(cohort.data) == 5


def _typed_frame(tmp_path) -> pd.DataFrame:
    data = load_cohort(write_csv(tmp_path / "ref.csv", base_rows()), today=TODAY).data
    return data


def write_xlsx(path: Path, rows: list[dict[str, str]], header_row: int = 1) -> Path:
    """Excel file with real date cells and numbers, header on ``header_row``."""
    import openpyxl

    schema = load_schema()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "patients"
    for col, name in enumerate(NAMES, start=1):
        sheet.cell(row=header_row, column=col, value=name)
    for offset, row in enumerate(rows, start=1):
        for col, name in enumerate(NAMES, start=1):
            text = row.get(name, "")
            kind = schema[name].type
            if text == "":
                value = None
            elif kind == "date":
                try:
                    value = dt.date.fromisoformat(text)
                except ValueError:
                    value = text
            elif kind in ("integer", "flag"):
                try:
                    value = int(text)
                except ValueError:
                    value = text
            else:
                value = text
            sheet.cell(row=header_row + offset, column=col, value=value)
    book.save(path)
    return path


def write_parquet(path: Path, rows: list[dict[str, str]]) -> Path:
    """Parquet with typed columns: dates as date32, integers as nullable int64, text as string."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = load_schema()
    arrays = {}
    for name in NAMES:
        values = [row.get(name, "") or None for row in rows]
        kind = schema[name].type
        if kind == "date":
            arrays[name] = pa.array([dt.date.fromisoformat(v) if v else None for v in values], type=pa.date32())
        elif kind in ("integer", "flag"):
            arrays[name] = pa.array([int(v) if v else None for v in values], type=pa.int64())
        else:
            arrays[name] = pa.array(values, type=pa.string())
    pq.write_table(pa.table(arrays), path)
    return path


def test_xlsx_round_trip(tmp_path):
    expected = _typed_frame(tmp_path)
    cohort = load_cohort(write_xlsx(tmp_path / "cohort.xlsx", base_rows()), today=TODAY)
    pd.testing.assert_frame_equal(cohort.data, expected)  # same sheet row numbers as CSV lines
    assert "sheet 'patients'" in cohort.report.reading_note


def test_parquet_round_trip(tmp_path):
    expected = _typed_frame(tmp_path)
    cohort = load_cohort(write_parquet(tmp_path / "cohort.parquet", base_rows()), today=TODAY)
    assert list(cohort.data.index) == [1, 2, 3, 4, 5]  # 1-based record numbers
    pd.testing.assert_frame_equal(cohort.data.reset_index(drop=True), expected.reset_index(drop=True))


def test_xlsx_error_names_sheet_row(tmp_path):
    rows = with_changes({1: {"age_at_abc": "200"}})
    report = validate_cohort(write_xlsx(tmp_path / "book.xlsx", rows, header_row=3), today=TODAY)
    problem, text = only_problem(report, "out_of_range")
    # header on sheet row 3, so the second patient is on sheet row 5
    assert text.startswith("book.xlsx: column 'age_at_abc', row 5:"), text
    assert "'200'" in text and "from 18 to 110 years" in text


def test_parquet_error_names_record_number(tmp_path):
    rows = with_changes({3: {"cns_group": "LM"}})
    report = validate_cohort(write_parquet(tmp_path / "c.parquet", rows), today=TODAY)
    _, text = only_problem(report, "unknown_category")
    assert text.startswith("c.parquet: column 'cns_group', record 4:"), text
    assert "'LM'" in text and "one of none, B, BL, L" in text
    assert "1-based record numbers" in report.format()


# ----------------------------------------------------------------------------------------- bad input
def test_unparseable_dates(tmp_path):
    report = report_for(tmp_path, {1: {"abc_date": "01/09/2015"}, 3: {"cns_date": "2016-02-30"}})
    assert not report.ok
    text = report.format()
    assert "cohort.csv: column 'abc_date', line 3: not a valid date '01/09/2015'; expected a date written YYYY-MM-DD" in text
    assert "cohort.csv: column 'cns_date', line 5: not a valid date '2016-02-30'" in text
    # an unparseable CNS date is not reported a second time as "missing"
    assert not [p for p in report.problems if p.kind == "cns_group_without_date"]


def test_not_a_number(tmp_path):
    report = report_for(tmp_path, {0: {"age_at_abc": "fifty-eight"}})
    problem, text = only_problem(report, "not_a_number")
    assert (problem.column, problem.rows) == ("age_at_abc", [2])
    assert "line 2: not a number 'fifty-eight'; expected a whole number" in text
    assert not [p for p in report.problems if p.kind == "missing_value"]  # not double-reported


def test_not_a_whole_number(tmp_path):
    report = report_for(tmp_path, {2: {"ecog_at_cns": "1.5"}})
    _, text = only_problem(report, "not_whole_number")
    assert text == "cohort.csv: column 'ecog_at_cns', line 4: not a whole number '1.5'; expected a whole number."


def test_flag_not_zero_or_one(tmp_path):
    report = report_for(tmp_path, {0: {"lung_mets_at_abc": "2"}, 1: {"lung_mets_at_abc": "yes"}})
    _, text = only_problem(report, "not_a_flag")
    assert text == "cohort.csv: column 'lung_mets_at_abc', line 2: not 0 or 1 '2'; expected 0 or 1."
    _, text = only_problem(report, "not_a_number")
    assert "column 'lung_mets_at_abc', line 3: not a number 'yes'; expected 0 or 1" in text


def test_unknown_category_with_case_hint(tmp_path):
    report = report_for(tmp_path, {0: {"cns_group": "bl"}, 2: {"cns_group": "brain"}})
    problem, text = only_problem(report, "unknown_category")
    assert problem.rows == [2, 4]
    assert ("cohort.csv: column 'cns_group': unknown category in 2 lines (line 2 'bl' (did you mean 'BL'?); "
            "line 4 'brain'); expected one of none, B, BL, L.") == text


def test_missing_required_value(tmp_path):
    report = report_for(tmp_path, {3: {"vital_status": ""}})
    _, text = only_problem(report, "missing_value")
    assert text == ("cohort.csv: column 'vital_status', line 5: required value is missing (blank); "
                    "expected one of alive, dead.")


def test_missing_required_column_and_unknown_column(tmp_path):
    columns = [n for n in NAMES if n != "vital_status"] + ["Hospital"]
    rows = [{**r, "Hospital": "X"} for r in base_rows()]
    report = validate_cohort(write_csv(tmp_path / "cols.csv", rows, columns=columns), today=TODAY)
    _, text = only_problem(report, "missing_column")
    assert text == ("cols.csv: column 'vital_status': required column is missing from the header; "
                    "expected a column named exactly 'vital_status'.")
    warning, text = only_problem(report, "unknown_column")
    assert warning.severity == "warning" and "column 'Hospital': unknown column; it is ignored" in text


def test_unknown_column_alone_is_only_a_warning(tmp_path):
    columns = NAMES + ["Patient_ID_old"]
    report = validate_cohort(write_csv(tmp_path / "x.csv", base_rows(), columns=columns), today=TODAY)
    assert report.ok and len(report.warnings) == 1
    cohort = load_cohort(tmp_path / "x.csv", today=TODAY)
    assert "Patient_ID_old" not in cohort.data.columns
    assert "column 'Patient_ID_old': unknown column" in cohort.warnings[0]


def test_column_name_differing_in_case_gets_a_hint(tmp_path):
    columns = ["Patient_ID" if n == "patient_id" else n for n in NAMES]
    rows = [{**r, "Patient_ID": r["patient_id"]} for r in base_rows()]
    report = validate_cohort(write_csv(tmp_path / "x.csv", rows, columns=columns), today=TODAY)
    _, text = only_problem(report, "unknown_column")
    assert "expected 'patient_id' (names are case-sensitive)" in text
    only_problem(report, "missing_column")


def test_duplicate_column_name(tmp_path):
    path = tmp_path / "dup.csv"
    write_csv(path, base_rows())
    lines = path.read_text().splitlines()
    lines = [line + ",x" for line in lines]
    lines[0] = lines[0][: -len(",x")] + ",histology"
    path.write_text("\n".join(lines) + "\n")
    report = validate_cohort(path, today=TODAY)
    _, text = only_problem(report, "duplicate_column")
    assert "dup.csv: column 'histology': the column name appears twice in the header (columns 18 and 28)" in text


def test_duplicate_ids(tmp_path):
    report = report_for(tmp_path, {2: {"patient_id": "FAKE-0001"}, 4: {"patient_id": "FAKE-0001"}})
    problem, text = only_problem(report, "duplicate_id")
    assert problem.rows == [4, 6]
    assert ("cohort.csv: column 'patient_id': duplicate patient id in 2 lines (line 4 'FAKE-0001' (also on line 2); "
            "line 6 'FAKE-0001' (also on line 2)); expected each patient_id once (one row per patient).") == text


def test_cns_date_before_abc_date(tmp_path):
    report = report_for(tmp_path, {0: {"cns_date": "2011-01-01"}})
    _, text = only_problem(report, "cns_before_abc")
    assert text == ("cohort.csv: column 'cns_date', line 2: CNS diagnosis is before the ABC diagnosis "
                    "(cns_date 2011-01-01, abc_date 2012-04-10); expected cns_date on or after abc_date.")


def test_last_contact_before_abc_date(tmp_path):
    report = report_for(tmp_path, {1: {"last_contact_date": "2015-08-31"}})
    _, text = only_problem(report, "contact_before_abc")
    assert "column 'last_contact_date', line 3: death or last follow-up is before the ABC diagnosis" in text
    assert "(last_contact_date 2015-08-31, abc_date 2015-09-01); expected last_contact_date on or after abc_date" in text


def test_last_contact_before_cns_date(tmp_path):
    report = report_for(tmp_path, {3: {"last_contact_date": "2016-05-31"}})
    _, text = only_problem(report, "contact_before_cns")
    assert "cohort.csv: column 'last_contact_date', line 5: death or last follow-up is before the CNS diagnosis" in text
    assert "cns_date 2016-06-01" in text and "expected last_contact_date on or after cns_date" in text


def test_cns_group_without_cns_date(tmp_path):
    report = report_for(tmp_path, {2: {"cns_date": ""}})
    _, text = only_problem(report, "cns_group_without_date")
    assert text == ("cohort.csv: column 'cns_date', line 4: CNS diagnosis date is missing for a patient with CNS "
                    "metastasis (cns_group B); expected a date when cns_group is B, BL or L.")


def test_cns_date_with_group_none(tmp_path):
    report = report_for(tmp_path, {1: {"cns_date": "2017-01-01"}})
    _, text = only_problem(report, "cns_date_without_group")
    assert "cohort.csv: column 'cns_group', line 3: cns_group is 'none' but a CNS diagnosis date is given" in text
    assert "(cns_group none, cns_date 2017-01-01)" in text


def test_dates_outside_plausible_range(tmp_path):
    report = report_for(tmp_path, {0: {"abc_date": "1985-06-01"}, 1: {"last_contact_date": "2024-07-01"}})
    texts = [str(p) for p in report.problems if p.kind == "out_of_range"]
    assert ("cohort.csv: column 'abc_date', line 2: date outside the plausible range '1985-06-01'; "
            "expected a date from 1990-01-01 to 2024-06-30 (today).") in texts
    assert any("column 'last_contact_date', line 3:" in t and "'2024-07-01'" in t for t in texts), texts


def test_age_out_of_range(tmp_path):
    report = report_for(tmp_path, {4: {"age_at_abc": "15"}})
    _, text = only_problem(report, "out_of_range")
    assert text == ("cohort.csv: column 'age_at_abc', line 6: value out of range '15'; "
                    "expected a whole number from 18 to 110 years.")


def test_age_at_cns_missing_or_below_age_at_abc(tmp_path):
    report = report_for(tmp_path, {0: {"age_at_cns": ""}, 2: {"age_at_cns": "60"}})
    _, text = only_problem(report, "cns_without_age")
    assert "column 'age_at_cns', line 2: age at CNS diagnosis is missing" in text and "(cns_group BL)" in text
    _, text = only_problem(report, "age_cns_below_abc")
    assert "line 4:" in text and "(age_at_cns 60, age_at_abc 66)" in text and "expected age_at_cns >= age_at_abc" in text


def test_age_not_matching_dates_warns(tmp_path):
    report = report_for(tmp_path, {3: {"age_at_cns": "60"}})  # 3.1 years between dates, ages 5 apart
    problem, text = only_problem(report, "age_dates_mismatch")
    assert report.ok and problem.severity == "warning"
    assert "line 5: ages do not match the dates (age_at_cns 60, age_at_abc 52, years between dates 3.1)" in text


def test_subsequent_therapy_start_outside_followup(tmp_path):
    report = report_for(tmp_path, {0: {"subsequent_systemic_start_date": "2013-12-31"},
                                   2: {"subsequent_systemic": "1", "subsequent_systemic_start_date": "2012-01-11"}})
    problem, text = only_problem(report, "start_date_outside_followup")
    assert problem.rows == [2, 4]
    assert "column 'subsequent_systemic_start_date': start date is outside the time from CNS diagnosis" in text
    assert "line 2 (subsequent_systemic_start_date 2013-12-31, cns_date 2014-01-20, last_contact_date 2014-07-02)" in text
    assert "expected cns_date <= subsequent_systemic_start_date <= last_contact_date" in text


def test_subsequent_therapy_start_date_and_flag_disagree(tmp_path):
    report = report_for(tmp_path, {0: {"subsequent_systemic_start_date": ""},
                                   3: {"subsequent_systemic_start_date": "2016-07-01"}})
    _, text = only_problem(report, "start_date_missing")
    assert "line 2: start date is missing for a patient with subsequent_systemic 1" in text
    _, text = only_problem(report, "start_date_without_therapy")
    assert "line 5: start date given but subsequent_systemic is not 1 (subsequent_systemic_start_date 2016-07-01, subsequent_systemic 0)" in text


def test_cause_of_death_for_alive_patient(tmp_path):
    report = report_for(tmp_path, {3: {"cause_of_death": "other"}})
    _, text = only_problem(report, "cause_of_death_alive")
    assert text == ("cohort.csv: column 'cause_of_death', line 5: cause of death given for a patient who is alive "
                    "(cause_of_death other, vital_status alive); expected a blank cause_of_death when vital_status is alive.")


def test_cause_of_death_missing_for_dead_cns_patient(tmp_path):
    report = report_for(tmp_path, {2: {"cause_of_death": ""}})
    _, text = only_problem(report, "cause_of_death_missing")
    assert "line 4: cause of death is missing for a dead patient with CNS metastasis" in text
    assert "expected one of cns_progression, extracranial_progression, other" in text
    # a dead patient without CNS metastasis may leave it blank (line 6)
    assert report_for(tmp_path, {}).ok


def test_cns_death_for_non_cns_patient(tmp_path):
    report = report_for(tmp_path, {4: {"cause_of_death": "cns_progression"}})
    _, text = only_problem(report, "cns_death_without_cns")
    assert "line 6: cause of death is CNS progression but cns_group is 'none'" in text


def test_cns_only_values_for_non_cns_patient_warn_and_are_blanked(tmp_path):
    path = write_csv(tmp_path / "c.csv", with_changes({1: {"skull_mets_at_cns": "0", "csf_cytology": "negative"}}))
    report = validate_cohort(path, today=TODAY)
    assert report.ok
    texts = [str(p) for p in report.warnings if p.kind == "cns_only_value_for_non_cns"]
    assert ("c.csv: column 'skull_mets_at_cns', line 3: value given for a patient with cns_group 'none'; it is "
            "ignored '0'; expected blank for patients without CNS metastasis.") in texts
    assert any("column 'csf_cytology', line 3" in t and "'negative'" in t for t in texts)
    data = load_cohort(path, today=TODAY).data
    assert pd.isna(data.loc[3, "skull_mets_at_cns"]) and pd.isna(data.loc[3, "csf_cytology"])


def test_csi_completed_without_csi_warns(tmp_path):
    report = report_for(tmp_path, {0: {"csi_completed": "1"}})
    problem, text = only_problem(report, "csi_completed_without_csi")
    assert problem.severity == "warning" and "line 2" in text and "initial_cns_treatment WBRT" in text


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    report = validate_cohort(path)
    _, text = only_problem(report, "unreadable")
    assert text == ("empty.csv: file: the file is empty (0 bytes); expected a header line with the column names "
                    "and one line per patient.")


def test_header_only(tmp_path):
    report = validate_cohort(write_csv(tmp_path / "head.csv", []), today=TODAY)
    _, text = only_problem(report, "no_rows")
    assert text == "head.csv: file: the file has a header but no patient rows; expected one line per patient below the header."
    assert report.n_rows == 0


def test_not_utf8(tmp_path):
    path = write_csv(tmp_path / "latin.csv", with_changes({2: {"patient_id": "FAKE-Müller"}}), encoding="latin-1")
    report = validate_cohort(path, today=TODAY)
    _, text = only_problem(report, "unreadable")
    assert "latin.csv: file: the file is not UTF-8 text (byte 0xfc on line 4)" in text and "UTF-8" in text


def test_ragged_csv_line(tmp_path):
    path = write_csv(tmp_path / "ragged.csv", base_rows())
    lines = path.read_text().splitlines()
    lines[3] += ",extra"
    path.write_text("\n".join(lines) + "\n")
    _, text = only_problem(validate_cohort(path, today=TODAY), "unreadable")
    assert "ragged.csv: file: cannot be read as CSV" in text and "line 4" in text


def test_unsupported_format_and_missing_file(tmp_path):
    path = tmp_path / "cohort.json"
    path.write_text("{}")
    _, text = only_problem(validate_cohort(path), "unsupported_format")
    assert text == "cohort.json: file: unsupported file type '.json'; expected a .csv, .xlsx or .parquet file."
    _, text = only_problem(validate_cohort(tmp_path / "nope.csv"), "no_file")
    assert text.startswith("nope.csv: file: no such file")


def test_corrupt_xlsx(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"not a zip file")
    _, text = only_problem(validate_cohort(path), "unreadable")
    assert "broken.xlsx: file: cannot be opened as an Excel .xlsx workbook" in text


def test_many_bad_rows_are_grouped(tmp_path):
    rows = base_rows()
    extra = []
    for i in range(25):
        row = dict(rows[4], patient_id=f"FAKE-1{i:03d}", histology=f"type{i}")
        extra.append(row)
    report = validate_cohort(write_csv(tmp_path / "many.csv", rows + extra), today=TODAY)
    problem, text = only_problem(report, "unknown_category")
    assert len(problem.rows) == 25 and problem.rows[0] == 7
    assert "unknown category in 25 lines (line 7 'type0'; line 8 'type1';" in text
    assert "line 16 'type9'; and 15 more); expected one of IDC, ILC, other, unknown." in text
    assert "line 17" not in text


def test_all_problems_reported_together(tmp_path):
    rows = with_changes({
        0: {"abc_date": "2012-4-10"},
        1: {"vital_status": "unknown", "age_at_abc": "17"},
        2: {"patient_id": "FAKE-0001", "cns_date": ""},
        3: {"last_contact_date": "2015-01-01"},
        4: {"lung_mets_at_abc": ""},
    })
    columns = NAMES + ["notes"]
    report = validate_cohort(write_csv(tmp_path / "all.csv", rows, columns=columns), today=TODAY)
    kinds = {p.kind for p in report.errors}
    assert kinds >= {"unparseable_date", "unknown_category", "out_of_range", "duplicate_id",
                     "cns_group_without_date", "contact_before_cns", "missing_value"}, report.format()
    assert [p.kind for p in report.warnings] == ["unknown_column"]
    text = report.format()
    assert text.startswith(f"Cohort file {tmp_path / 'all.csv'}: INVALID - {len(report.errors)} errors, 1 warning, 5 patient rows.")
    with pytest.raises(CohortValidationError) as raised:
        load_cohort(tmp_path / "all.csv", today=TODAY)
    assert str(raised.value) == text
    assert raised.value.report.errors == report.errors


# ----------------------------------------------------------------------------------------- optional columns
def test_missing_optional_column_switches_off_named_analyses(tmp_path):
    columns = [n for n in NAMES if n not in ("skull_mets_at_cns", "subsequent_systemic_start_date")]
    cohort = load_cohort(write_csv(tmp_path / "opt.csv", base_rows(), columns=columns), today=TODAY)
    assert cohort.missing_optional == ["skull_mets_at_cns", "subsequent_systemic_start_date"]
    assert cohort.analyses_switched_off == {
        "skull_involvement": ["skull_mets_at_cns"],
        "time_dependent_subsequent_systemic": ["subsequent_systemic_start_date"],
    }
    assert "skull_involvement" not in cohort.analyses_available and "os_from_cns" in cohort.analyses_available
    assert cohort.warnings == []  # a missing optional column is fine
    assert "skull_involvement (needs skull_mets_at_cns)" in cohort.report.format()
    assert "skull_mets_at_cns" not in cohort.data.columns
    assert cohort.switched_off_note("skull_involvement") == (
        "Not computed: Skull involvement at CNS diagnosis by group (chi-squared) needs the optional column "
        "'skull_mets_at_cns', which opt.csv does not have.")
    assert cohort.switched_off_note("os_from_cns") == ""
    with pytest.raises(ValueError, match="analysis 'skull' is not in schema.yaml; expected one of"):
        cohort.switched_off_note("skull")


def test_only_required_columns(tmp_path):
    schema = load_schema()
    cohort = load_cohort(write_csv(tmp_path / "req.csv", base_rows(), columns=schema.required_columns), today=TODAY)
    assert cohort.data["local_rt"].isna().all()  # needs initial_cns_treatment
    assert "cox_os_all_cns" in cohort.analyses_switched_off


# ----------------------------------------------------------------------------------------- input untouched
@pytest.mark.parametrize("kind", ["csv", "xlsx", "parquet"])
@pytest.mark.parametrize("valid", [True, False])
def test_input_file_never_modified(tmp_path, kind, valid):
    rows = base_rows() if valid else with_changes({0: {"cns_group": "X"}, 1: {"age_at_abc": "7"}})
    writer = {"csv": write_csv, "xlsx": write_xlsx, "parquet": write_parquet}[kind]
    path = writer(tmp_path / f"c.{kind}", rows)
    old = 1_500_000_000_000_000_000
    os.utime(path, ns=(old, old))
    before = path.read_bytes()
    report = validate_cohort(path, today=TODAY)
    assert report.ok is valid
    try:
        load_cohort(path, today=TODAY)
    except CohortValidationError:
        assert not valid
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == old
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # nothing written next to it


# ----------------------------------------------------------------------------------------- load_cohort's cache
@pytest.fixture
def validations(monkeypatch):
    """The names of the files load_cohort really validates (its per-process cache starts empty)."""
    from analysis.cohort import load

    load._LAST_LOADED.clear()
    calls: list[str] = []
    real = load.validate_cohort

    def counted(path, *, today=None, sheet=None, mapping=None):
        calls.append(Path(path).name)
        return real(path, today=today, sheet=sheet, mapping=mapping)

    monkeypatch.setattr(load, "validate_cohort", counted)
    yield calls
    load._LAST_LOADED.clear()


def test_same_file_is_validated_once_and_each_caller_gets_its_own_copy(tmp_path, validations):
    path = write_csv(tmp_path / "ok.csv", with_changes({1: {"skull_mets_at_cns": "1"}}))  # one warning
    first = load_cohort(path, today=TODAY)
    first.data.loc[2, "age_at_abc"] = 99  # a chapter changing its copy
    first.warnings.clear()
    first.report.problems.clear()
    second = load_cohort(path, today=TODAY)
    assert validations == ["ok.csv"]
    assert second.data.loc[2, "age_at_abc"] == 58
    assert len(second.warnings) == 1 and len(second.report.warnings) == 1
    assert second.report._data is second.data


def test_edited_file_is_validated_again(tmp_path, validations):
    path = write_csv(tmp_path / "c.csv", base_rows())
    load_cohort(path, today=TODAY)
    write_csv(path, with_changes({0: {"cns_group": "X"}}))
    with pytest.raises(CohortValidationError, match="c.csv: column 'cns_group', line 2: unknown category 'X'"):
        load_cohort(path, today=TODAY)
    assert validations == ["c.csv", "c.csv"]


def test_another_today_is_validated_again(tmp_path, validations):
    path = write_csv(tmp_path / "c.csv", base_rows())
    load_cohort(path, today=TODAY)
    with pytest.raises(CohortValidationError, match="date outside the plausible range"):
        load_cohort(path, today=dt.date(2016, 1, 1))  # last contacts in 2017 are then in the future
    assert validations == ["c.csv", "c.csv"]


def test_file_changed_while_being_validated_is_not_kept(tmp_path, monkeypatch, validations):
    from analysis.cohort import load

    path = write_csv(tmp_path / "c.csv", base_rows())
    original = path.read_bytes()
    counted = load.validate_cohort

    def edited_meanwhile(p, *, today=None, sheet=None, mapping=None):  # someone saves another version after the file was hashed
        write_csv(path, base_rows()[:3])
        return counted(p, today=today, sheet=sheet)

    monkeypatch.setattr(load, "validate_cohort", edited_meanwhile)
    assert len(load_cohort(path, today=TODAY).data) == 3  # what was read is what is returned
    monkeypatch.setattr(load, "validate_cohort", counted)
    path.write_bytes(original)
    assert len(load_cohort(path, today=TODAY).data) == 5  # not the 3-row result under the 5-row file's hash
    assert validations == ["c.csv", "c.csv"]


# ----------------------------------------------------------------------------------------- command
def test_validate_command_ok(tmp_path, capsys):
    path = write_csv(tmp_path / "ok.csv", with_changes({1: {"skull_mets_at_cns": "1"}}))
    assert cli.main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ok.csv: valid, 5 patients." in out
    assert "CNS metastasis: 3 (B 1, BL 1, L 1); no CNS metastasis: 2" in out
    assert "deaths: 3 (CNS patients: 2)" in out
    assert "ABC diagnosis: 2008-11-20 to 2015-09-01" in out
    assert "warnings: 1" in out and "column 'skull_mets_at_cns', line 3" in out


def test_validate_command_fails_with_full_report(tmp_path, capsys):
    path = write_csv(tmp_path / "bad.csv", with_changes({0: {"cns_group": "X"}, 1: {"age_at_abc": "x"}}))
    assert cli.main(["validate", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "bad.csv: column 'cns_group', line 2: unknown category 'X'" in captured.err
    assert "bad.csv: column 'age_at_abc', line 3: not a number 'x'" in captured.err
    assert "INVALID - 2 errors" in captured.err


def test_python_dash_m_validate(tmp_path):
    result = subprocess.run([sys.executable, "-m", "analysis", "validate", str(TEMPLATE)],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "cohort_template.csv: valid, 2 patients." in result.stdout


# ----------------------------------------------------------------------------------------- in-memory tables
def test_cohort_from_frame_matches_file(tmp_path):
    from analysis.cohort.load import cohort_from_frame, validate_frame

    path = write_csv(tmp_path / "ok.csv", base_rows())
    from_file = load_cohort(path, today=TODAY).data
    frame = pd.read_csv(path, parse_dates=["abc_date", "cns_date", "last_contact_date",
                                           "subsequent_systemic_start_date"])
    from_frame = cohort_from_frame(frame, today=TODAY).data
    pd.testing.assert_frame_equal(from_frame.reset_index(drop=True), from_file.reset_index(drop=True))
    frame.loc[1, "cns_group"] = "X"
    _, text = only_problem(validate_frame(frame, name="synthetic", today=TODAY), "unknown_category")
    assert text.startswith("synthetic: column 'cns_group', record 2: unknown category 'X'")


def test_tab_separated_file_is_refused_clearly(tmp_path):
    path = write_csv(tmp_path / "tabs.csv", base_rows(), sep="\t")
    _, text = only_problem(validate_cohort(path, today=TODAY), "unreadable")
    assert text == ("tabs.csv: file: the header line is separated by tabs; "
                    "expected a comma- or semicolon-separated file.")


def test_empty_excel_sheet(tmp_path):
    import openpyxl

    path = tmp_path / "empty.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "Sheet1"
    book.save(path)
    _, text = only_problem(validate_cohort(path), "unreadable")
    assert text.startswith("empty.xlsx: file: sheet 'Sheet1' is empty; expected a header row")


def test_excel_stray_cell_outside_the_table(tmp_path):
    import openpyxl

    path = write_xlsx(tmp_path / "stray.xlsx", base_rows())
    book = openpyxl.load_workbook(path)
    book.active.cell(row=12, column=30, value="checked by AB")
    book.save(path)
    report = validate_cohort(path, today=TODAY)
    assert report.ok and report.n_rows == 5
    texts = [str(p) for p in report.warnings]
    assert texts == [
        "stray.xlsx: file: column AD has values but no name in the header; it is ignored; "
        "expected a column name from the data dictionary.",
        "stray.xlsx: file, row 12: values only in ignored columns; the row is skipped; expected one patient per row.",
    ]


def test_windows_line_endings_and_row_numbers(tmp_path):
    path = write_csv(tmp_path / "crlf.csv", with_changes({3: {"histology": "lobular"}}))
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    _, text = only_problem(validate_cohort(path, today=TODAY), "unknown_category")
    assert text.startswith("crlf.csv: column 'histology', line 5: unknown category 'lobular'")


def test_blank_line_inside_the_file_keeps_line_numbers(tmp_path):
    path = write_csv(tmp_path / "gap.csv", with_changes({2: {"vital_status": "deceased"}}))
    lines = path.read_text().split("\n")
    lines.insert(2, "")  # blank line 3: the third patient moves from line 4 to line 5
    path.write_text("\n".join(lines))
    report = validate_cohort(path, today=TODAY)
    _, text = only_problem(report, "unknown_category")
    assert text.startswith("gap.csv: column 'vital_status', line 5: unknown category 'deceased'")
    assert report.n_rows == 5
