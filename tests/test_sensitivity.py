"""Which published figures move with each convention: checked against the reproduction and statsmodels."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.cohort.load import load_cohort
from analysis.study.reproduction import OS_ALL_CNS_TERMS, all_figures
from analysis.study.precision import as_reported
from analysis.study.sensitivity import (
    convention_effects,
    cox_figures_under,
    median_ci_figures,
    moved_summary,
)
from analysis.pages import figure_label, id_text, moved_table
from conftest import BOOK_COHORT


@pytest.fixture(scope="module")
def cohort():
    return load_cohort(BOOK_COHORT)


@pytest.fixture(scope="module")
def effects(cohort):
    return convention_effects(cohort)


def test_declared_conventions_reproduce_the_book_figures(cohort):
    book = all_figures(cohort)
    medians = median_ci_figures(cohort, "log")
    assert medians and all(np.allclose(medians[k], book[k], equal_nan=True) for k in medians)
    cox = cox_figures_under(cohort)
    assert cox
    for key, value in cox.items():
        if key in book:
            np.testing.assert_allclose(value, book[key], rtol=1e-9, err_msg=key)


def _all_cns_frame(cohort):
    cns = cohort.data[cohort.data["cns"] == 1]
    frame = pd.DataFrame({"time": cns["os_from_cns"], "event": cns["death"]})
    for column in OS_ALL_CNS_TERMS.values():
        frame[column] = cns[column].astype(float)
    return frame.dropna()


def test_breslow_and_wald_variants_match_statsmodels(cohort):
    from statsmodels.duration.hazard_regression import PHReg

    frame = _all_cns_frame(cohort)
    columns = list(OS_ALL_CNS_TERMS.values())
    for ties in ("breslow", "efron"):
        ref = PHReg(frame["time"], frame[columns], status=frame["event"], ties=ties).fit()
        ours = cox_figures_under(cohort, ties=ties, intervals="wald")
        for name, position in zip(OS_ALL_CNS_TERMS, range(len(columns))):
            prefix = f"risk_factors.all_cns.{name}"
            assert ours[f"{prefix}.hr"] == pytest.approx(np.exp(ref.params[position]), rel=1e-6)
            np.testing.assert_allclose(ours[f"{prefix}.ci"], np.exp(ref.conf_int()[position]), rtol=1e-5)
            assert ours[f"{prefix}.p"] == pytest.approx(ref.pvalues[position], rel=1e-4)


def test_what_moves(effects):
    assert set(effects["convention"]) == {"median_ci", "ties", "intervals", "penalty"}
    # Wald intervals change intervals and p-values, never the hazard ratio itself
    wald = effects[effects["convention"] == "intervals"]
    assert not wald[wald["figure"].str.endswith(".hr")]["moves"].any()
    # "moves" means the printed value differs: the study's precision and the pages' text agree
    printed = [id_text(f, a) != id_text(f, b) for f, a, b in
               zip(effects["figure"], effects["declared"], effects["alternative"])]
    assert (effects["moves"] == printed).all()
    assert (effects["moves"] == [as_reported(f, a) != as_reported(f, b) for f, a, b in
                                 zip(effects["figure"], effects["declared"], effects["alternative"])]).all()
    summary = moved_summary(effects)
    assert (summary["move"] <= summary["figures"]).all()
    assert summary.loc[("median_ci", "log-log"), "figures"] == len(
        effects[(effects["convention"] == "median_ci") & (effects["variant"] == "log-log")])


def test_moved_table_lists_only_moving_figures(effects):
    table = moved_table(effects, "median_ci")
    assert list(table.columns[:5]) == ["figure", "paper", "book (log)", "log-log", "plain"]
    n_moving = effects[effects["convention"] == "median_ci"].groupby("figure")["moves"].any().sum()
    assert len(table) == n_moving


def test_figure_labels():
    assert figure_label("outcomes.os_from_cns.B.ci") == "OS from CNS, B: 95% CI"
    assert figure_label("risk_factors.all_cns.local_rt.p") == "OS, all CNS, Local RT as initial treatment: p"
    assert figure_label("cohort.time_abc_to_cns_all.ci") == "Time ABC to CNS, all: 95% CI"
    assert figure_label("unknown.id") == "unknown.id"


def test_firth_fits_every_published_cox_term(cohort):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        firth = cox_figures_under(cohort, penalty="firth")
    assert set(firth) == set(cox_figures_under(cohort))
