"""Mapping files: a hospital's export read in its own terms (issue "Your cohort, your report", point 1).

Five realistic exports are made here from the synthetic generator, each with a mapping file: (a) an .xlsx
with a title row, pretty headers, real Excel date cells and Yes/No flags; (b) a CSV with DD/MM/YYYY dates,
decimal commas, semicolons, a BOM and CRLF; (c) a CSV missing five optional columns with extra free-text
columns; (d) 40 patients with one group absent and a group of 2; (e) labels brain/brain+LM/LM with a cut-off
date. All five are validated (cheap) and built in full (FULL BOOK BUILDS, about a minute each), in
``test_full_build_*``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.cli import main
from analysis.cohort import MappingError, cohort_from_frame, load_cohort, load_mapping, validate_cohort
from analysis.cohort.draft import draft_mapping
from analysis.cohort.synth import generate

TODAY = dt.date(2024, 6, 1)
PRETTY = {
    "patient_id": "Patient ID", "abc_date": "ABC date", "cns_date": "CNS diagnosis date",
    "last_contact_date": "Last contact", "vital_status": "Vital status", "cns_group": "CNS group",
    "age_at_abc": "Age at ABC", "age_at_cns": "Age at CNS", "lung_mets_at_abc": "Lung mets at ABC",
    "liver_mets_at_abc": "Liver mets at ABC", "soft_tissue_mets_at_abc": "Soft tissue mets at ABC",
    "bone_mets_at_abc": "Bone mets at ABC",
}
DATES = ["abc_date", "cns_date", "last_contact_date", "subsequent_systemic_start_date"]
LABELS = {"B": "brain", "BL": "brain+LM", "L": "LM", "none": "-"}


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return generate()


def flag_columns(frame: pd.DataFrame) -> list[str]:
    from analysis.cohort import load_schema

    schema = load_schema()
    return [c for c in frame.columns if schema[c].type == "flag"]


def write_yaml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def columns_yaml(names: dict[str, str]) -> str:
    return "columns:\n" + "".join(f"  {json.dumps(own)}: {target}\n" for target, own in names.items())


# --------------------------------------------------------------------------------------------- the exports
def export_a(frame: pd.DataFrame, folder: Path) -> tuple[Path, Path]:
    """.xlsx: a merged title row, the header on row 2, pretty names, real date cells, Yes/No flags."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Cohort"
    sheet.append(["CNS metastases registry export, 2024"])
    sheet.merge_cells("A1:E1")
    sheet.append([PRETTY.get(c, c) for c in frame.columns])
    flags = set(flag_columns(frame))
    for _, row in frame.iterrows():
        out = []
        for name, value in row.items():
            if value == "":
                out.append(None)
            elif name in DATES:
                out.append(dt.datetime.fromisoformat(value))
            elif name in flags:
                out.append({"1": "Yes", "0": "No"}.get(value, value))
            elif name.startswith("age") or name == "ecog_at_cns":
                out.append(int(value))
            else:
                out.append(value)
        sheet.append(out)
    path = folder / "export_a.xlsx"
    book.save(path)
    mapping = write_yaml(folder / "a.yaml", "sheet: Cohort\nheader_row: 2\n" + columns_yaml(PRETTY)
                         + 'flags: {1: ["Yes"], 0: ["No"]}\n')
    return path, mapping


def export_b(frame: pd.DataFrame, folder: Path) -> tuple[Path, Path]:
    """CSV: DD/MM/YYYY dates, a decimal-comma column, semicolons, a BOM, CRLF line endings."""
    out = frame.copy()
    for name in DATES:
        out[name] = out[name].map(lambda v: dt.date.fromisoformat(v).strftime("%d/%m/%Y") if v else "")
    out["Ki-67 (%)"] = [f"{(i % 40) + 0.5:.1f}".replace(".", ",") for i in range(len(out))]
    path = folder / "export_b.csv"
    text = out.to_csv(sep=";", index=False, lineterminator="\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    mapping = write_yaml(folder / "b.yaml", 'dates: "%d/%m/%Y"\ndecimal: ","\n')
    return path, mapping


MISSING_FIVE = ["ecog_at_cns", "csf_cytology", "intrathecal_therapy", "prior_srs", "histology"]


def export_c(frame: pd.DataFrame, folder: Path) -> tuple[Path, Path]:
    """CSV without five optional columns, with free-text columns (commas, quotes) between the others."""
    out = frame.drop(columns=MISSING_FIVE)
    out.insert(3, "Comment", ['seen in clinic, "stable"' if i % 7 == 0 else "" for i in range(len(out))])
    out["Referring physician"] = ["Dr. A; Dr. B" if i % 5 == 0 else "" for i in range(len(out))]
    path = folder / "export_c.csv"
    out.to_csv(path, index=False)
    mapping = write_yaml(folder / "c.yaml", "columns: {}\ndecimal: \".\"\n")
    return path, mapping


def small_frame() -> pd.DataFrame:
    """40 patients: group L absent (its patient becomes B), BL has 2."""
    frame = generate(40)
    frame.loc[frame["cns_group"] == "L", "cns_group"] = "B"
    return frame


def export_d(folder: Path) -> tuple[Path, Path]:
    frame = small_frame()
    frame = frame.rename(columns={"patient_id": "ID", "cns_group": "Group"})
    path = folder / "export_d.csv"
    frame.to_csv(path, index=False)
    return path, write_yaml(folder / "d.yaml", "columns: {ID: patient_id, Group: cns_group}\n")


def export_e(frame: pd.DataFrame, folder: Path) -> tuple[Path, Path]:
    """CSV whose groups are written brain, brain+LM, LM and '-'."""
    out = frame.copy()
    out["cns_group"] = out["cns_group"].map(LABELS)
    path = folder / "export_e.csv"
    out.to_csv(path, index=False)
    mapping = write_yaml(folder / "e.yaml",
                         'values: {cns_group: {brain: B, "brain+LM": BL, LM: L, "-": none}}\n')
    return path, mapping


def same_cohort(loaded, frame: pd.DataFrame, columns=None) -> None:
    expected = cohort_from_frame(frame, today=TODAY).data
    columns = columns or [c for c in expected.columns if c in loaded.data.columns]
    got = loaded.data[columns].reset_index(drop=True)
    want = expected[columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, check_categorical=False)


# --------------------------------------------------------------------------------------------- validation
def test_a_xlsx_with_title_row_pretty_headers_dates_and_yes_no(cohort, tmp_path):
    path, mapping = export_a(cohort, tmp_path)
    before = path.read_bytes()
    loaded = load_cohort(path, mapping=mapping, today=TODAY)
    same_cohort(loaded, cohort)
    assert loaded.data.index[0] == 3  # the sheet's own row numbers: title on 1, header on 2
    assert "header is row 2" in loaded.report.reading_note and "a.yaml" in loaded.report.reading_note
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "a.yaml", "export_a.xlsx"]


def test_a_problems_are_named_in_the_users_terms(cohort, tmp_path):
    broken = cohort.copy()
    broken.loc[4, "cns_group"] = "brian"
    broken.loc[6, "lung_mets_at_abc"] = "2"
    path, mapping = export_a(broken, tmp_path)
    report = validate_cohort(path, mapping=mapping, today=TODAY)
    text = report.format()
    assert not report.ok
    # record 4 (0-based) is sheet row 7: title row 1, header row 2, first patient row 3
    assert "column 'CNS group' (cns_group), row 7: unknown category 'brian'" in text
    assert "column 'Lung mets at ABC' (lung_mets_at_abc), row 9" in text


def test_b_csv_with_day_month_dates_decimal_commas_semicolons_bom_crlf(cohort, tmp_path):
    path, mapping = export_b(cohort, tmp_path)
    loaded = load_cohort(path, mapping=mapping, today=TODAY)
    same_cohort(loaded, cohort)
    assert any("Ki-67" in w for w in loaded.warnings)  # an extra column: ignored, said so


def test_c_csv_missing_five_optional_columns_with_free_text(cohort, tmp_path):
    path, mapping = export_c(cohort, tmp_path)
    loaded = load_cohort(path, mapping=mapping, today=TODAY)
    assert sorted(loaded.missing_optional) == sorted(MISSING_FIVE)
    same_cohort(loaded, cohort.drop(columns=MISSING_FIVE))
    assert "performance_status" in loaded.analyses_switched_off


def test_d_forty_patients_one_group_absent_one_of_two(tmp_path):
    path, mapping = export_d(tmp_path)
    loaded = load_cohort(path, mapping=mapping, today=TODAY)
    counts = loaded.data["group"].value_counts()
    assert len(loaded.data) == 40 and counts["L"] == 0 and counts["BL"] == 2
    same_cohort(loaded, small_frame())


def test_e_group_labels_with_a_cutoff_date(cohort, tmp_path):
    path, mapping = export_e(cohort, tmp_path)
    plain = load_cohort(path, mapping=mapping, today=TODAY)
    same_cohort(plain, cohort)
    cut = load_cohort(path, mapping=mapping, today=TODAY, cutoff_date="2014-12-31")
    assert cut.data["last_contact_date"].max() == pd.Timestamp("2014-12-31")
    assert cut.study.deaths_censored > 0 and sum(cut.study.cns_dropped.values()) > 0
    assert "2014-12-31" in cut.study_note()


def test_unmapped_labels_are_refused_with_the_users_values(cohort, tmp_path):
    path, _ = export_e(cohort, tmp_path)
    report = validate_cohort(path, today=TODAY)
    assert any(p.kind == "unknown_category" and p.column == "cns_group" for p in report.errors)


# --------------------------------------------------------------------------------------------- the mapping file
def test_every_problem_of_a_mapping_file_is_reported_at_once(tmp_path):
    bad = write_yaml(tmp_path / "bad.yaml", """\
sheets: Cohort
header_row: 0
columns: {Patient ID: patient_id, ID: patient_id, Group: cns_grp}
values: {cns_group: {brain: Brain, lm: L}, age_at_abc: {x: 1}}
flags: {1: [Yes, Y], 0: [No, Y], 2: [maybe]}
dates: ["%d/%m", "%d/%m/%Y"]
decimal: ";"
""")
    with pytest.raises(MappingError) as caught:
        load_mapping(bad)
    text = str(caught.value)
    for expected in ("unknown key 'sheets' (did you mean 'sheet'?)", "header_row: 0",
                     "'patient_id' is mapped twice (from 'Patient ID' and 'ID')",
                     "'cns_grp', which is not a schema column (did you mean 'cns_group'?)",
                     "'brain' is mapped to 'Brain', which cns_group does not allow",
                     "'age_at_abc' is a integer column", "'Y' is listed under both 1 and 0", "'2' is not 1 or 0",
                     '"%d/%m" does not read a whole date', "decimal: ';'"):
        assert expected in text, expected
    assert "10 problems" in text


def test_a_key_written_twice_is_refused_not_collapsed(tmp_path):
    twice = write_yaml(tmp_path / "twice.yaml", "columns:\n  ID: patient_id\n  ID: cns_group\n")
    with pytest.raises(MappingError, match="given twice"):
        load_mapping(twice)


def test_mapping_against_the_file(cohort, tmp_path):
    path, _ = export_e(cohort, tmp_path)
    mapping = write_yaml(tmp_path / "m.yaml", "columns: {Patient Id: patient_id, cns_group: cns_group}\n")
    report = validate_cohort(path, mapping=mapping, today=TODAY)
    assert any(p.kind == "mapped_column_missing" and "Patient Id" in p.what for p in report.errors)
    other = write_yaml(tmp_path / "o.yaml", "columns: {histology: patient_id}\n")
    report = validate_cohort(path, mapping=other, today=TODAY)
    assert any(p.kind == "mapped_column_twice" for p in report.errors)


def test_dates_two_formats_read_differently_are_refused(cohort, tmp_path):
    frame = cohort.head(3).copy()
    path = tmp_path / "dates.csv"
    frame["abc_date"] = ["03/04/2012", "25/04/2012", "2012-04-03"]
    frame.to_csv(path, index=False)
    mapping = write_yaml(tmp_path / "m.yaml", 'dates: ["%d/%m/%Y", "%m/%d/%Y"]\n')
    report = validate_cohort(path, mapping=mapping, today=TODAY)
    ambiguous = [p for p in report.errors if p.kind == "ambiguous_date"]
    assert len(ambiguous) == 1 and ambiguous[0].rows == [2] and "2012-04-03 (%d/%m/%Y)" in ambiguous[0].values[0]
    assert not any(p.kind == "unparseable_date" for p in report.errors)  # refused once, not twice


def test_title_row_without_a_mapping_is_explained(cohort, tmp_path):
    path, _ = export_a(cohort, tmp_path)
    report = validate_cohort(path, today=TODAY)
    assert not report.ok
    assert any("header_row: 2" in str(p) for p in report.errors)


# --------------------------------------------------------------------------------------------- the draft
def test_draft_of_a_title_row_xlsx_maps_it(cohort, tmp_path):
    path, _ = export_a(cohort, tmp_path)
    text = draft_mapping(path)
    assert "header_row: 2  # guess: review" in text
    assert '"Patient ID": patient_id  # guess: review' in text
    draft = write_yaml(tmp_path / "draft.yaml", text)
    assert load_cohort(path, mapping=draft, today=TODAY).data.shape[0] == len(cohort)


def test_draft_guesses_labels_dates_and_decimal_commas(cohort, tmp_path):
    path, _ = export_e(cohort, tmp_path)
    text = draft_mapping(path)
    assert '"brain+LM": BL  # guess: review' in text and '"LM": L  # guess: review' in text
    assert '"-": none  # guess: review' in text
    path_b, _ = export_b(cohort, tmp_path)
    text_b = draft_mapping(path_b)
    assert '"%d/%m/%Y"' in text_b
    assert load_cohort(path_b, mapping=write_yaml(tmp_path / "db.yaml", text_b), today=TODAY).data.shape[0] == len(cohort)


def test_map_and_validate_commands(cohort, tmp_path, capsys):
    path, _ = export_e(cohort, tmp_path)
    out = tmp_path / "mapping.yaml"
    assert main(["map", str(path), "-o", str(out)]) == 0
    assert main(["map", str(path), "-o", str(out)]) == 1  # never overwritten
    assert "exists" in capsys.readouterr().err
    assert main(["validate", str(path), "--mapping", str(out), "--cutoff-date", "2015-12-31"]) == 0
    printed = capsys.readouterr().out
    assert "valid, " in printed and "data cut-off 2015-12-31" in printed and "369 patients in the file" not in printed
    assert main(["validate", str(path), "--mapping", str(tmp_path / "none.yaml")]) == 1
    assert "no such file" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------- FULL BUILDS
def _results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_full_build_a_xlsx_with_a_mapping(cohort, tmp_path):
    """FULL BOOK BUILD (a): the xlsx export through --mapping; the same results as the plain cohort."""
    from analysis.build import build_book

    path, mapping = export_a(cohort, tmp_path)
    lines: list[str] = []
    result = build_book(out=tmp_path / "book", cohort=path, mapping=mapping, log=lines.append)
    counts = _results(result.out)
    assert counts["build.n_patients"] == len(cohort)
    assert not (tmp_path / "book" / "stage" / "export_a.csv").exists()


def test_full_build_e_labels_and_cutoff(cohort, tmp_path):
    """FULL BOOK BUILD (e): group labels by the mapping, a cut-off and a window as -p parameters."""
    from analysis.build import build_book

    path, mapping = export_e(cohort, tmp_path)
    lines: list[str] = []
    params = {"cutoff_date": "2015-12-31", "abc_from": "2003-01-01", "abc_to": "2015-12-31"}
    result = build_book(out=tmp_path / "book", cohort=path, mapping=mapping, params=params, log=lines.append)
    expected = load_cohort(path, mapping=mapping, **params)
    assert _results(result.out)["build.n_patients"] == len(expected.data)
    assert any(line.startswith("study: ") and "censored" in line for line in lines)
    cohort_page = (result.out / "html" / "book" / "cohort.html").read_text(encoding="utf-8")
    assert "data cut-off 2015-12-31" in cohort_page


def _visible_text(page: Path) -> str:
    import html
    import re

    text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", page.read_text(encoding="utf-8"), flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


@pytest.mark.parametrize("export", ["b", "c", "d"])
def test_full_build_b_c_d(export, cohort, tmp_path):
    """FULL BOOK BUILD (b), (c), (d): each export builds through its mapping, and no page of its book
    calls the cohort synthetic: the pages about the bundled generated cohort only (calibration, the
    primer, which teaches on it) are left out, and the pages that stay speak of the bundled cohort in
    other words."""
    from analysis.build import build_book

    path, mapping = {"b": lambda: export_b(cohort, tmp_path), "c": lambda: export_c(cohort, tmp_path),
                     "d": lambda: export_d(tmp_path)}[export]()
    result = build_book(out=tmp_path / "book", cohort=path, mapping=mapping, log=lambda line: None)
    expected = load_cohort(path, mapping=mapping)
    assert _results(result.out)["build.n_patients"] == len(expected.data)
    html_dir = result.out / "html"
    pages = [html_dir / "index.html", *sorted((html_dir / "book").rglob("*.html"))]
    assert len(pages) >= 15
    said = [p.name for p in pages if "synthetic" in _visible_text(p).lower()]
    assert not said, f"export ({export}): a page of the user's book calls the cohort synthetic: {said}"
    assert not (html_dir / "book" / "primer").exists()
    assert not any(key.startswith("primer.") for key in _results(result.out))
    assert not (html_dir / "book" / "calibration.html").exists()
