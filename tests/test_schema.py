"""The cohort schema (analysis/cohort/schema.yaml) and its helpers in analysis.cohort.schema."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from analysis.cohort.schema import (
    analyses_available,
    derived_columns,
    analyses_switched_off,
    analyses_table,
    data_dictionary,
    load_schema,
)

REPO = Path(__file__).resolve().parents[1]

# The columns agreed with the synthetic-cohort generator (common brief, "Agreed cohort columns").
AGREED_COLUMNS = [
    "patient_id", "abc_date", "cns_date", "last_contact_date", "vital_status", "cns_group", "age_at_abc",
    "age_at_cns", "lung_mets_at_abc", "liver_mets_at_abc", "soft_tissue_mets_at_abc", "bone_mets_at_abc",
    "ecog_at_cns", "cns_symptoms", "bone_mets_at_cns", "skull_mets_at_cns", "soft_tissue_mets_at_cns",
    "histology", "csf_cytology", "initial_cns_treatment", "csi_completed", "systemic_before_rt",
    "intrathecal_therapy", "subsequent_systemic", "subsequent_systemic_start_date", "cause_of_death",
    "prior_srs",
]


def test_schema_has_the_agreed_columns_in_order():
    assert load_schema().names == AGREED_COLUMNS


def test_required_and_optional_columns():
    schema = load_schema()
    assert schema.required_columns == AGREED_COLUMNS[:12]
    assert schema["cns_date"].values == "conditional" and schema["cns_date"].column_required
    assert schema["cause_of_death"].values == "conditional" and not schema["cause_of_death"].column_required
    assert schema["cns_group"].allowed == ("none", "B", "BL", "L")
    assert schema.groups == ("none", "B", "BL", "L")
    assert schema["patient_id"].unique


def test_every_category_lists_its_values_and_every_range_is_ordered():
    for spec in load_schema().columns:
        if spec.type == "category":
            assert spec.allowed, spec.name
        if spec.range is not None and "today" not in spec.range:
            assert spec.range[0] < spec.range[1], spec.name


def test_data_dictionary_table():
    table = data_dictionary()
    assert list(table.columns) == ["name", "type", "unit", "allowed values", "required", "meaning"]
    assert list(table["name"]) == AGREED_COLUMNS
    row = table.set_index("name")
    assert row.loc["cns_group", "allowed values"] == "none, B, BL, L"
    assert row.loc["cns_group", "required"] == "yes"
    assert row.loc["abc_date", "type"] == "date (YYYY-MM-DD)"
    assert row.loc["abc_date", "allowed values"] == "1990-01-01 to today"
    assert row.loc["age_at_abc", "unit"] == "years" and row.loc["age_at_abc", "allowed values"] == "18 to 110"
    assert row.loc["lung_mets_at_abc", "allowed values"] == "0, 1"
    assert row.loc["cns_date", "required"].startswith("if cns_group is not none")
    assert row.loc["cause_of_death", "required"].endswith("(optional column)")
    assert row.loc["skull_mets_at_cns", "required"] == "optional (CNS patients only)"
    assert table["meaning"].str.len().min() > 10


def test_analyses_need_only_optional_columns():
    # a required column is always there, so listing one would never switch anything off
    schema = load_schema()
    for analysis in schema.analyses:
        assert set(analysis.needs) <= set(schema.optional_columns), analysis.name


def test_every_optional_column_is_needed_by_some_analysis():
    schema = load_schema()
    needed = {n for a in schema.analyses for n in a.needs}
    assert set(schema.optional_columns) == needed


def test_switched_off_and_available():
    schema = load_schema()
    all_names = schema.names
    assert analyses_switched_off(all_names) == {}
    assert analyses_available(all_names) == [a.name for a in schema.analyses]
    without = [n for n in all_names if n != "subsequent_systemic"]
    off = analyses_switched_off(without)
    assert off == {
        "subsequent_systemic": ["subsequent_systemic"],
        "cox_os_all_cns": ["subsequent_systemic"],
        "cox_os_l_group": ["subsequent_systemic"],
        "time_dependent_subsequent_systemic": ["subsequent_systemic"],
    }
    available = analyses_available(without)
    assert "os_from_cns" in available and "cox_os_all_cns" not in available
    only_required = analyses_available(schema.required_columns)
    assert only_required == ["cohort_overview", "time_abc_to_cns", "cns_risk_models", "os_from_cns", "os_from_abc"]


def test_analyses_table():
    table = analyses_table()
    assert list(table.columns) == ["analysis", "title", "needs optional columns"]
    assert table.set_index("analysis").loc["cox_os_l_group", "needs optional columns"] == (
        "soft_tissue_mets_at_cns, subsequent_systemic")


def test_statistic_keys_exist_in_published_statistics():
    yaml = pytest.importorskip("yaml")
    published = yaml.safe_load((REPO / "data" / "published-statistics.yaml").read_text(encoding="utf-8"))
    for analysis in load_schema().analyses:
        if analysis.statistic is None:
            continue
        node = published
        for key in analysis.statistic.split("."):
            assert key in node, f"{analysis.name}: {analysis.statistic} not in published-statistics.yaml"
            node = node[key]


def test_template_header_matches_schema():
    with (REPO / "data" / "cohort_template.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == AGREED_COLUMNS
    assert [r[0] for r in rows[1:]] == ["FAKE-0001", "FAKE-0002"]


def test_bad_schema_is_rejected(tmp_path):
    path = tmp_path / "schema.yaml"
    path.write_text("groups: [none]\ncolumns:\n  - {name: a, type: number, meaning: x}\n")
    with pytest.raises(ValueError, match="column 'a' has type 'number'; expected one of"):
        load_schema(path)
    path.write_text("groups: [none]\ncolumns:\n  - {name: a, type: flag, meaning: x}\n"
                    "analyses:\n  z: {title: t, needs: [b]}\n")
    with pytest.raises(ValueError, match=r"analysis 'z' needs unknown column\(s\) \['b'\]"):
        load_schema(path)


def test_derived_columns_documented_match_the_loader():
    from analysis.cohort import load_cohort

    table = derived_columns()
    assert list(table.columns) == ["name", "type", "unit", "meaning"]
    loaded = load_cohort(REPO / "data" / "cohort_template.csv").data
    derived_by_loader = [c for c in loaded.columns if c not in load_schema().names]
    assert list(table["name"]) == derived_by_loader  # what the loader adds, in its order
    assert table.set_index("name").loc["os_from_cns", "unit"] == "days"


def test_cns_groups_come_from_the_schema():
    from analysis.cohort import CNS_GROUPS

    schema = load_schema()
    assert CNS_GROUPS == ("B", "BL", "L") == schema.cns_groups
    assert schema.groups == ("none",) + CNS_GROUPS == schema["cns_group"].allowed


def test_local_rt_treatments_come_from_the_schema():
    schema = load_schema()
    assert schema.rt_treatments == ("WBRT", "SRS", "focal_RT", "CSI")
    assert set(schema.rt_treatments) < set(schema["initial_cns_treatment"].allowed)
    meaning = derived_columns().set_index("name").loc["local_rt", "meaning"]
    assert all(t in meaning for t in schema.rt_treatments)  # the words the book shows say the same


def test_schema_refuses_a_local_rt_treatment_the_column_does_not_allow(tmp_path):
    path = tmp_path / "schema.yaml"
    path.write_text("columns:\n  - {name: initial_cns_treatment, type: category, allowed: [SRS, BSC], meaning: x}\n"
                    "derived:\n  - {name: local_rt, type: flag, treatments: [SRS, WBRT], meaning: x}\n")
    with pytest.raises(ValueError, match=r"derived 'local_rt' lists treatments \['WBRT'\]"):
        load_schema(path)
