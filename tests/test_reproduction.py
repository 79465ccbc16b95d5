"""analysis.study.reproduction: the methods it names are the methods it used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.study import reproduction
from analysis.cohort.load import load_cohort

BUNDLED = Path(__file__).resolve().parents[1] / "data" / "synthetic_cohort.csv"


@pytest.fixture(scope="module")
def cohort():
    return load_cohort(BUNDLED)


def test_lobular_histology_names_fishers_test(cohort):
    section = reproduction.backgrounds_figures(cohort)
    assert section.figures["backgrounds.lobular_histology.test"] == reproduction.METHODS["fisher"]


def test_lobular_histology_names_chi_squared_when_the_table_is_too_large(cohort, monkeypatch):
    def too_large(table):
        raise ValueError("table too large for exact enumeration")

    monkeypatch.setattr(reproduction, "fisher_exact", too_large)
    section = reproduction.backgrounds_figures(cohort)
    assert section.figures["backgrounds.lobular_histology.test"] == reproduction.METHODS["chisq"]
    assert any("chi-squared" in note for note in section.notes)
    assert 0 <= section.figures["backgrounds.lobular_histology.p"] <= 1


def test_sections_computed_once_give_the_same_figures(cohort):
    sections = reproduction.all_sections(cohort)
    once, again = reproduction.all_figures(cohort, sections), reproduction.all_figures(cohort)
    assert json.dumps(once, sort_keys=True) == json.dumps(again, sort_keys=True)  # NaN limits included


def test_baseline_table_names_each_test_by_a_footnote_letter(cohort):
    from analysis.pages.baseline import TEST_MARKS, baseline_table

    table, notes = baseline_table(cohort)
    # gtsummary's shape: a column per group with its N, an Overall column, then the p-value
    assert [c.split(" (N")[0] for c in table.columns] == ["Group B", "Group BL", "Group L", "Overall", "p-value"]
    table = table.rename(columns={table.columns[-1]: "p"})
    p_cells = [p for p in table["p"] if p]
    assert p_cells and all(p[-1] in TEST_MARKS for p in p_cells)
    marks = {p[-1] for p in p_cells}
    explained = {note[0]: note for note in notes if note[0] in TEST_MARKS}
    assert marks == set(explained)  # every letter used is explained, and no other
    skull = table.loc["Skull involvement", "p"]
    skull = skull.iloc[0] if hasattr(skull, "iloc") else skull
    assert "chi-squared" in explained[skull[-1]]  # as the paper, whatever the expected counts


def test_prior_srs_in_bl_is_computed_and_every_published_figure_is_judged(cohort):
    from analysis.paper import published_value, scorecard, totals

    section = reproduction.treatments_figures(cohort)
    stated = published_value("treatments.prior_srs_in_BL")
    assert section.figures["treatments.prior_srs_in_BL"] == stated
    bl = cohort.data[cohort.data["group"] == "BL"]
    assert section.figures["treatments.prior_srs.BL.of"] == len(bl)
    assert section.tables["prior_srs"].to_numpy().sum() == int(cohort.data["cns"].sum())
    assert totals(scorecard(reproduction.all_figures(cohort)))["not computable"] == 0


def test_a_cohort_without_the_prior_srs_column_gets_a_note_not_a_figure(tmp_path):
    import pandas as pd

    frame = pd.read_csv(BUNDLED, dtype=str, keep_default_na=False).drop(columns=["prior_srs"])
    path = tmp_path / "no_srs.csv"
    frame.to_csv(path, index=False)
    section = reproduction.treatments_figures(load_cohort(path))
    assert "treatments.prior_srs_in_BL" not in section.figures and "prior_srs" not in section.tables
    assert any("'prior_srs'" in note and "no_srs.csv does not have" in note for note in section.notes)


def test_rmst_section_uses_a_whole_month_horizon_and_matches_the_stats_layer(cohort):
    from analysis.stats import default_tau, rmst_by_group
    from analysis.study import rmst_section

    section = rmst_section(cohort)
    cns = cohort.data[cohort.data["cns"] == 1]
    tau = section.figures["outcomes.rmst.tau"]
    longest = default_tau(cns["os_from_cns"].astype(float), cns["group"].astype(str))
    assert tau % 30 == 0 and longest - 30 < tau <= longest
    assert tau not in set(cns["os_from_cns"])  # the horizon is not one patient's follow-up
    direct = rmst_by_group(cns["os_from_cns"], cns["death"], cns["group"].astype(str), tau=tau, reference="B")
    assert section.figures["outcomes.rmst.L.diff.diff"] == pytest.approx(direct["diff"]["L"]["diff"], rel=1e-12)
    assert list(section.tables["rmst"]["group"]) == ["B", "BL", "L"]


def test_rmst_section_on_a_cohort_without_group_l_keeps_every_id_and_says_why(tmp_path):
    import math

    import pandas as pd

    from analysis.study import rmst_section

    frame = pd.read_csv(BUNDLED, dtype=str, keep_default_na=False)
    frame.loc[frame["cns_group"] == "L", "cns_group"] = "BL"
    path = tmp_path / "no_l.csv"
    frame.to_csv(path, index=False)
    section = rmst_section(load_cohort(path))
    assert math.isnan(section.figures["outcomes.rmst.L.diff.diff"])
    assert not math.isnan(section.figures["outcomes.rmst.BL.diff.diff"])
    assert list(section.tables["rmst"]["group"]) == ["B", "BL"]
