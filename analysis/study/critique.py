"""Figures for the "reading the paper critically" page: what the data shows on each paper issue."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from analysis.stats import CoxModel
from analysis.study.reproduction import SITES_AT_ABC, TIES, all_figures, all_sections, risk_model_data


def critique_figures(cohort) -> dict[str, Any]:
    """The numbers the critique page quotes, under ``critique.*`` ids (the page records and glues them)."""
    sections = all_sections(cohort)
    figures = all_figures(cohort, sections)
    data = cohort.data
    out: dict[str, Any] = {
        "critique.l_ci": figures.get("outcomes.os_from_cns.L.ci"),
        "critique.os_abc_B": figures.get("outcomes.os_from_abc.B.median"),
        "critique.os_abc_BL": figures.get("outcomes.os_from_abc.BL.median"),
        "critique.n_cns": figures.get("cohort.n_cns.n"),
        "critique.n_BL": figures.get("cohort.groups.BL.n"),
        "critique.pct_BL": figures.get("cohort.groups.BL.pct"),
        "critique.fu_plain": figures.get("cohort.followup_from_abc.median"),
        "critique.fu_reverse": figures.get("cohort.followup_from_abc.reverse_km_median"),
        "critique.l_model_n": figures.get("risk_factors.l_group.n"),
        "critique.bm_bone_hr": figures.get("backgrounds.risk_of_bm_multivariate.bone.hr"),
        "critique.bm_bone_hr_excluded": None,  # filled below when the models can be fitted
        "critique.lm_bone_wald": None,
    }
    # The alternative reading of the BM model: group L left out instead of censored.
    frame = risk_model_data(data, ("B", "BL"))
    frame = frame[data["group"].astype(str) != "L"]
    covariates = list(SITES_AT_ABC.values())
    if frame["event"].sum():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                alt = CoxModel(ties=TIES).fit(frame, "time", "event", covariates, profile_ci=False,
                                              term_tests=False)
        except (ValueError, np.linalg.LinAlgError):
            alt = None  # a site constant among these patients (a small cohort): the figure stays None
        if alt is not None:
            out["critique.bm_bone_hr_excluded"] = float(alt.coefficients_.loc[SITES_AT_ABC["bone"], "hr"])
    out["critique.lm_bone_profile"] = figures.get("backgrounds.risk_of_lm_multivariate.bone.ci")
    lm_fit = sections["backgrounds"].fits.get("risk_of_lm_multivariate")
    if lm_fit is not None:  # the Wald interval of the same term, for the contrast
        row = lm_fit.coefficients_.loc[SITES_AT_ABC["bone"]]
        out["critique.lm_bone_wald"] = [float(row["hr_lower"]), float(row["hr_upper"])]
    return out
