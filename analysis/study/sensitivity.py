"""Sensitivity of the paper's figures to the book's declared conventions.

The book reproduces the paper under stated conventions (:mod:`analysis.study.reproduction`): median CIs
from the ``log`` band, Efron ties, profile-likelihood intervals with likelihood-ratio p-values,
ordinary (unpenalised) Cox fits. Here each convention is varied on its own, every affected
published figure is recomputed, and the figure is said to *move* when its value as the book prints
it (one decimal for days, three for hazard ratios, four for p-values:
:mod:`analysis.study.precision`) changes. Its status against the paper (:func:`analysis.paper.judge`)
is given under both conventions. The chapter's tables are written by :mod:`analysis.pages.sensitivity`.

Conventions and their alternatives:

- ``median_ci``: Greenwood variance with the ``log`` band (R) vs ``log-log`` (lifelines, SAS,
  Stata) vs ``plain``; Brookmeyer-Crowley inversion in each case.
- ``ties``: Efron (R, JMP) vs Breslow (SAS, Stata and statsmodels defaults).
- ``intervals``: profile-likelihood CI and likelihood-ratio p (JMP) vs Wald CI and Wald p (R's
  summary, lifelines).
- ``penalty``: ordinary partial likelihood vs Firth's penalised likelihood (Heinze & Schemper 2001),
  which removes the small-sample bias that matters most in the 17-patient L-group model.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from analysis.stats import CoxModel
from analysis.paper import flatten, load_published
from analysis.study.reproduction import (
    OS_ALL_CNS_TERMS,
    OS_L_GROUP_TERMS,
    SITES_AT_ABC,
    has,
    risk_model_data,
    backgrounds_figures,
    cohort_figures,
    outcomes_figures,
)
from analysis.paper import judge, kind_of
from analysis.study.precision import as_reported

__all__ = ["CONVENTIONS", "convention_variants", "median_ci_figures", "cox_figures_under", "convention_effects",
           "moved_summary", "sensitivity_section"]

# convention -> (declared variant, alternatives)
CONVENTIONS = {
    "median_ci": ("log", ("log-log", "plain")),
    "ties": ("efron", ("breslow",)),
    "intervals": ("profile", ("wald",)),
    "penalty": ("none", ("firth",)),
}
# KM fits of the reproduction -> the id prefix of their medians ("all" is the ungrouped curve)
KM_FITS = {
    "time_abc_to_cns_all": "cohort.time_abc_to_cns_all",
    "time_abc_to_cns": "backgrounds.time_abc_to_cns_by_group",
    "os_from_cns": "outcomes.os_from_cns",
    "os_from_abc": "outcomes.os_from_abc",
}


def _km_fits(cohort) -> dict:
    fits = {}
    for section in (cohort_figures(cohort), backgrounds_figures(cohort), outcomes_figures(cohort)):
        fits.update({k: v for k, v in section.fits.items() if k in KM_FITS})
    return fits


def median_ci_figures(cohort, conf_type: str, km_fits: dict | None = None) -> dict[str, Any]:
    """Every published median CI recomputed with the band ``conf_type`` (Brookmeyer-Crowley).

    ``km_fits`` (from ``_km_fits``) saves refitting the curves when several bands are compared.
    """
    figures = {}
    for key, km in (km_fits if km_fits is not None else _km_fits(cohort)).items():
        for row in km.median_ci(conf_type).itertuples(index=False):
            prefix = KM_FITS[key] if row.group == "all" else f"{KM_FITS[key]}.{row.group}"
            figures[f"{prefix}.ci"] = [float(row.lower), float(row.upper)]
    return figures


def _cox_models(cohort):
    """(id prefix, data, terms) of every published Cox model the cohort supports."""
    data = cohort.data
    for key, events in (("risk_of_bm_multivariate", ("B", "BL")), ("risk_of_lm_multivariate", ("L",))):
        frame = risk_model_data(data, events)
        if frame["event"].sum():
            yield f"backgrounds.{key}", frame, SITES_AT_ABC
    cns = data[data["cns"] == 1]
    for key, members, terms, analysis in (("all_cns", cns, OS_ALL_CNS_TERMS, "cox_os_all_cns"),
                                          ("l_group", cns[cns["group"] == "L"], OS_L_GROUP_TERMS,
                                           "cox_os_l_group")):
        if not has(cohort, analysis):
            continue
        frame = pd.DataFrame({"time": members["os_from_cns"], "event": members["death"]})
        for column in terms.values():
            frame[column] = members[column].astype(float)
        if frame["event"].sum():
            yield f"risk_factors.{key}", frame, terms


def _fit_models(cohort, ties: str, penalty: str | None) -> list[tuple[str, CoxModel, dict]]:
    """Every published Cox model fitted under ``ties`` and ``penalty``; one that cannot be fitted
    (e.g. a diverging ordinary fit) is left out."""
    fitted = []
    for prefix, frame, terms in _cox_models(cohort):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a diverging ordinary fit is what Firth is compared with
                fit = CoxModel(ties=ties, penalty=penalty).fit(frame, "time", "event", list(terms.values()))
        except (ValueError, np.linalg.LinAlgError):
            continue
        fitted.append((prefix, fit, terms))
    return fitted


def _term_figures(fitted, intervals: str) -> dict[str, Any]:
    if intervals not in ("profile", "wald"):
        raise ValueError(f"intervals: expected 'profile' or 'wald', got {intervals!r}")
    figures = {}
    for prefix, fit, terms in fitted:
        for name, column in terms.items():
            row = fit.coefficients_.loc[column]
            if intervals == "profile":
                ci, p = [float(row["hr_profile_lower"]), float(row["hr_profile_upper"])], float(row["p_lr"])
            else:
                ci, p = [float(row["hr_lower"]), float(row["hr_upper"])], float(row["p"])
            figures[f"{prefix}.{name}.hr"] = float(row["hr"])
            figures[f"{prefix}.{name}.ci"] = ci
            figures[f"{prefix}.{name}.p"] = p
    return figures


def cox_figures_under(cohort, ties: str = "efron", intervals: str = "profile",
                      penalty: str | None = None) -> dict[str, Any]:
    """HR, 95% CI and p of every published Cox term under one set of conventions.

    ``intervals="profile"`` reports profile-likelihood CIs and likelihood-ratio p-values,
    ``"wald"`` Wald CIs and Wald p-values. A model that cannot be fitted (e.g. a diverging ordinary
    fit) gives no figures.
    """
    if intervals not in ("profile", "wald"):  # before the fits, not after them
        raise ValueError(f"intervals: expected 'profile' or 'wald', got {intervals!r}")
    return _term_figures(_fit_models(cohort, ties, penalty), intervals)


def convention_variants(cohort) -> dict[str, dict[str, dict[str, Any]]]:
    """convention -> variant -> the affected figures, each curve and model fitted once."""
    km_fits = _km_fits(cohort)
    ordinary = _fit_models(cohort, "efron", None)
    declared = _term_figures(ordinary, "profile")
    return {
        "median_ci": {v: median_ci_figures(cohort, v, km_fits) for v in ("log", "log-log", "plain")},
        "ties": {"efron": declared, "breslow": _term_figures(_fit_models(cohort, "breslow", None), "profile")},
        "intervals": {"profile": declared, "wald": _term_figures(ordinary, "wald")},
        "penalty": {"none": declared, "firth": _term_figures(_fit_models(cohort, "efron", "firth"), "profile")},
    }


def convention_effects(cohort, variants: dict | None = None) -> pd.DataFrame:
    """Every published figure that a convention touches, under the declared and each other variant.

    Columns: convention, variant, figure (id), paper (as the YAML has it), declared, alternative (the
    values computed under each), moves (bool: the value at the book's reported precision changes,
    :func:`analysis.study.precision.as_reported`), status_declared, status_alternative (the one
    judge's statuses against the paper). Figures the paper does not print are left out.
    """
    published = flatten({k: v for k, v in load_published().items() if k not in ("study", "paper_issues")})
    variants = variants if variants is not None else convention_variants(cohort)
    rows = []
    for convention, (declared, alternatives) in CONVENTIONS.items():
        base = variants[convention][declared]
        for variant in alternatives:
            other = variants[convention][variant]
            for dotted in sorted(set(base) | set(other)):
                if dotted not in published:
                    continue
                paper = published[dotted]
                parent = dotted.rsplit(".", 1)[0]
                kind = kind_of(dotted, f"{parent}.hr" in published)
                a, b = base.get(dotted), other.get(dotted)
                rows.append({
                    "convention": convention, "variant": variant, "figure": dotted,
                    "paper": paper, "declared": a, "alternative": b,
                    "moves": as_reported(dotted, a) != as_reported(dotted, b),
                    "status_declared": judge(kind, paper, a)[0],
                    "status_alternative": judge(kind, paper, b)[0],
                })
    return pd.DataFrame(rows, columns=["convention", "variant", "figure", "paper", "declared", "alternative",
                                       "moves", "status_declared", "status_alternative"])


def moved_summary(effects: pd.DataFrame) -> pd.DataFrame:
    """Per convention and alternative: figures compared, figures that move, and how many
    change their status against the paper."""
    grouped = effects.assign(status_changes=effects["status_declared"] != effects["status_alternative"])
    out = grouped.groupby(["convention", "variant"], sort=False).agg(
        figures=("figure", "size"), move=("moves", "sum"), status_changes=("status_changes", "sum"))
    return out.astype(int)


def sensitivity_section(cohort):
    """The chapter's tables (``effects``, ``summary``) and figures (a
    :class:`analysis.study.reproduction.Section`).

    Figures: ``sensitivity.<convention>.<variant>.{figures,move,status_changes}`` and two worked
    examples: ``sensitivity.example.median_ci.<band>`` (group B's median OS from CNS diagnosis) and
    ``sensitivity.example.l_group_therapy.<ordinary|firth>`` (the L-group therapy hazard ratio).
    """
    from analysis.study.reproduction import Section

    section = Section()
    variants = convention_variants(cohort)
    effects = convention_effects(cohort, variants)
    summary = moved_summary(effects)
    section.tables["effects"], section.tables["summary"] = effects, summary
    for convention, (_, alternatives) in CONVENTIONS.items():
        for variant in alternatives:
            key = f"sensitivity.{convention}.{variant.replace('-', '')}"
            if (convention, variant) in summary.index:
                row = summary.loc[(convention, variant)]
                section.put(key, figures=int(row["figures"]), move=int(row["move"]),
                            status_changes=int(row["status_changes"]))
            else:
                section.put(key, figures=0, move=0, status_changes=0)
    for band in ("log", "log-log", "plain"):
        ci = variants["median_ci"][band].get("outcomes.os_from_cns.B.ci", [float("nan")] * 2)
        section.figures[f"sensitivity.example.median_ci.{band.replace('-', '')}"] = ci
    for label, penalty in (("ordinary", "none"), ("firth", "firth")):
        hr = variants["penalty"][penalty].get("risk_factors.l_group.subsequent_systemic_therapy.hr", float("nan"))
        section.figures[f"sensitivity.example.l_group_therapy.{label}"] = hr
    return section
