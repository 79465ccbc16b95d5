"""Calibration report: every figure of the paper next to what a cohort file gives, and whether it matches.

``calibration_report(cohort)`` judges each target of ``data/published-statistics.yaml`` against the
figure the book computes for it (:func:`analysis.study.reproduction.all_figures`, under the book's declared
methods: R's median rule, log band and Brookmeyer-Crowley median CIs, Efron ties, likelihood-ratio term
tests and profile-likelihood CIs, chi-squared without continuity correction, Fisher-Freeman-Halton), so
the generator is accepted on exactly the numbers the chapters print. The paper's qualitative findings
(e.g. "BL and L poorer than B") are checked here from the cohort's group means.

One row per target: ``id`` (dotted path into the YAML; confidence limits split as ``.ci.lower`` and
``.ci.upper``), ``paper`` (as printed), ``achieved`` (the computed value; a finding's evidence in
words), ``rule`` (the tolerance), ``status`` and ``note``. Every verdict is the paper layer's one judge
(:func:`analysis.paper.judge`) in its one vocabulary (:data:`analysis.paper.STATUSES`): the same rules
and tolerances as the scorecard. A target set by the book's reading of a misprint
(``data/paper-interpretation.yaml``) is judged like any other; its note begins "assumption".
The pages print the values (:mod:`analysis.pages.calibration`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from analysis.cohort import CNS_GROUPS
from analysis.study.reproduction import SITES_AT_ABC
from analysis.paths import INTERPRETATION_PATH, PUBLISHED_PATH
from analysis.paper import (
    DIFFERS, EXACT, MET, NOT_COMPUTABLE, PAPER_ISSUE, STATUSES, explained, judge, judge_limit, kind_of, rule_text,
)



def _load(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _interp_value(interp: dict[str, Any], key: str) -> Any:
    return interp["items"][key]["value"]


def _decimals(printed: Any) -> int:
    text = str(printed)
    return len(text.split(".")[1]) if "." in text else 0


class _Rows:
    """Collects report rows; every verdict is the paper layer's one judge (:func:`analysis.paper.judge`)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, id_, paper, achieved, rule, status, note=""):
        self.rows.append({"id": id_, "paper": str(paper), "achieved": achieved, "rule": rule,
                          "status": status, "note": note})

    def _judged(self, id_, kind, paper, achieved, status, note, issue):
        status = explained(status, issue)
        self.add(id_, paper, achieved, rule_text(kind, paper), status, issue if status == PAPER_ISSUE else note)

    def exact(self, id_, paper, achieved, note="", issue=None):
        """Counts, percentages (at the printed decimals), medians, ranges."""
        kind = kind_of(id_, parent_has_hr=False)
        self._judged(id_, kind, paper, achieved, judge(kind, paper, achieved)[0], note, issue)

    def limit(self, id_, kind, paper, achieved, note="", issue=None, assumption=None):
        """One confidence limit (``kind`` median_ci or hr_ci); ``assumption``: the target is the book's
        reading of a misprint, said in the note whatever the verdict."""
        status = judge_limit(kind, paper, achieved)[0]
        self._judged(id_, kind, paper, achieved, status, f"assumption: {assumption}" if assumption else note, issue)

    def figure(self, id_, kind, paper, achieved, note=""):
        """A hazard ratio or a p-value (a printed bound "<x" holds or not)."""
        self._judged(id_, kind, paper, achieved, judge(kind, paper, achieved)[0], note, None)

    def finding(self, id_, paper, holds, achieved_text, note=""):
        self.add(id_, paper, achieved_text, "finding holds", EXACT if holds else DIFFERS, note)


def _as_cohort(cohort):
    from analysis.cohort import Cohort, cohort_from_frame, load_cohort

    if isinstance(cohort, Cohort):
        return cohort
    if isinstance(cohort, (str, Path)):
        return load_cohort(cohort)
    if isinstance(cohort, pd.DataFrame):
        frame = cohort
        if "group" in frame.columns and "os_from_cns" in frame.columns:
            raise TypeError("pass the cohort file, the raw frame or a Cohort, not Cohort.data")
        return cohort_from_frame(frame.astype(str).replace({"nan": ""}), name="synthetic cohort")
    raise TypeError(f"cohort: expected a path, a DataFrame or an analysis.cohort.load.Cohort, got {type(cohort).__name__}")


def _km_rows(rows, figures, pub_id, node, issue_upper=None, ci=None, assumption=None):
    rows.exact(f"{pub_id}.median", node["median"], figures.get(f"{pub_id}.median"))
    lower, upper = ci if ci is not None else node["ci"]
    got_lower, got_upper = figures.get(f"{pub_id}.ci") or (None, None)
    rows.limit(f"{pub_id}.ci.lower", "median_ci", lower, got_lower, assumption=assumption)
    rows.limit(f"{pub_id}.ci.upper", "median_ci", upper, got_upper, issue=issue_upper, assumption=assumption)


def _cox_rows(rows, figures, notes, pub_id, node, with_ci=True):
    hr = figures.get(f"{pub_id}.hr")
    if hr is None or not np.isfinite(hr):
        why = "; ".join(notes) or "the model could not be fitted"
        for key in ("hr", "ci.lower", "ci.upper", "p") if (with_ci and "ci" in node) else ("hr", "p"):
            printed = node["hr"] if key == "hr" else node["p"] if key == "p" else node["ci"][key == "ci.upper"]
            rows.add(f"{pub_id}.{key}", printed, None, "see the tolerances", NOT_COMPUTABLE, why)
        return
    rows.figure(f"{pub_id}.hr", "hr", node["hr"], hr)
    if with_ci and "ci" in node:
        lower, upper = figures[f"{pub_id}.ci"]
        rows.limit(f"{pub_id}.ci.lower", "hr_ci", node["ci"][0], lower)
        rows.limit(f"{pub_id}.ci.upper", "hr_ci", node["ci"][1], upper)
    rows.figure(f"{pub_id}.p", "p", node["p"], figures[f"{pub_id}.p"], note="likelihood-ratio test of the term")


def calibration_report(cohort, published: str | Path | dict = PUBLISHED_PATH,
                       interpretation: str | Path | dict = INTERPRETATION_PATH) -> pd.DataFrame:
    """Every published target with the value the cohort gives and its status (see the module docstring).

    Parameters
    ----------
    cohort : path, DataFrame (the raw file's columns) or ``analysis.cohort.load.Cohort``
    published, interpretation : paths or already-loaded dicts of the two YAML files.
    """
    from analysis.study.reproduction import all_figures, all_sections

    pub = published if isinstance(published, dict) else _load(Path(published))
    interp = interpretation if isinstance(interpretation, dict) else _load(Path(interpretation))
    cohort = _as_cohort(cohort)
    sections = all_sections(cohort)
    figures = all_figures(cohort, sections)
    data = cohort.data.copy()
    data["group"] = data["group"].astype(str)
    cns = data[data["group"] != "none"]
    rows = _Rows()

    # ---- cohort -------------------------------------------------------------------------------
    n_cns = figures["cohort.n_cns.n"]
    rows.exact("cohort.n_abc", pub["cohort"]["n_abc"], figures["cohort.n_abc"])
    rows.exact("cohort.n_cns.n", pub["cohort"]["n_cns"]["n"], n_cns)
    rows.exact("cohort.n_cns.pct", pub["cohort"]["n_cns"]["pct"], figures["cohort.n_cns.pct"])
    for g in CNS_GROUPS:
        k = figures[f"cohort.groups.{g}.n"]
        rows.exact(f"cohort.groups.{g}.n", pub["cohort"]["groups"][g]["n"], k)
        rows.exact(f"cohort.groups.{g}.pct", pub["cohort"]["groups"][g]["pct"], figures[f"cohort.groups.{g}.pct"],
                   # At the paper's one decimal: 13/102 = 12.745...% prints 12.7, and two decimals
                   # (12.75) would look as if 12.8 were the plain rounding.
                   issue=f"{k}/{n_cns} is {100 * k / n_cns:.1f}% at one decimal: the paper rounded the "
                         "three shares to sum to 100%")
    fu = pub["cohort"]["followup_from_abc"]
    reverse = figures["cohort.followup_from_abc.reverse_km_median"]
    rows.exact("cohort.followup_from_abc.median", fu["median"], figures["cohort.followup_from_abc.median"],
               issue=(f"the plain median of {len(data)} whole-day values is one of them and cannot end in .5 "
                      f"(reverse Kaplan-Meier median {reverse:g} days, for information)"))
    rows.exact("cohort.followup_from_abc.min", fu["min"], figures["cohort.followup_from_abc.min"])
    rows.exact("cohort.followup_from_abc.max", fu["max"], figures["cohort.followup_from_abc.max"])
    _km_rows(rows, figures, "cohort.time_abc_to_cns_all", pub["cohort"]["time_abc_to_cns_all"])
    for key in ("median", "min", "max"):
        rows.exact(f"cohort.followup_from_cns.{key}", pub["cohort"]["followup_from_cns"][key],
                   figures.get(f"cohort.followup_from_cns.{key}"))

    bl_issue = ("R's log band gives NA: with 13 uncensored times it never falls to 0.5 while S > 0; "
                "see paper-interpretation.yaml, bl_upper_confidence_limits")

    # ---- backgrounds --------------------------------------------------------------------------
    bg = pub["backgrounds"]
    for g in CNS_GROUPS:
        _km_rows(rows, figures, f"backgrounds.time_abc_to_cns_by_group.{g}", bg["time_abc_to_cns_by_group"][g],
                 issue_upper=bl_issue if g == "BL" else None)
    rows.figure("backgrounds.time_abc_to_cns_by_group.test.p", "p", bg["time_abc_to_cns_by_group"]["test"]["p"],
                 figures["backgrounds.time_abc_to_cns_by_group.test.p"], note="log-rank")
    notes = sections["backgrounds"].notes
    for model in ("risk_of_bm_multivariate", "risk_of_lm_multivariate"):
        for name, node in bg[model].items():
            if isinstance(node, dict) and "hr" in node:
                _cox_rows(rows, figures, [n for n in notes if n.startswith(model)], f"backgrounds.{model}.{name}",
                          node)
    others = [f"backgrounds.risk_of_lm_multivariate.{name}.p" for name in SITES_AT_ABC
              if name not in bg["risk_of_lm_multivariate"]]
    worst = min((figures.get(i, float("nan")) for i in others), default=float("nan"))
    rows.finding("backgrounds.risk_of_lm_multivariate.no_independent_risk_factors",
                 "no independent risk factors", worst >= 0.05, f"smallest other term p = {worst:.3g}")

    by = cns.groupby("group", observed=True)
    ecog = by["ecog_at_cns"].mean()
    rows.finding("backgrounds.performance_status", bg["performance_status"],
                 ecog["BL"] > ecog["B"] and ecog["L"] > ecog["B"],
                 "mean ECOG " + ", ".join(f"{g} {ecog[g]:.2f}" for g in CNS_GROUPS))
    sym = by["cns_symptoms"].mean()
    rows.finding("backgrounds.cns_symptoms", bg["cns_symptoms"], sym["BL"] > sym["B"] and sym["L"] > sym["B"],
                 "symptomatic " + ", ".join(f"{g} {100 * sym[g]:.1f}%" for g in CNS_GROUPS))
    for key in ("n", "of", "pct"):
        rows.exact(f"backgrounds.bone_involvement_at_cns_L.{key}", bg["bone_involvement_at_cns_L"][key],
                   figures.get(f"backgrounds.bone_involvement_at_cns_L.{key}"))
    for g in CNS_GROUPS:
        rows.exact(f"backgrounds.skull_involvement.{g}.pct", bg["skull_involvement"][g]["pct"],
                   figures.get(f"backgrounds.skull_involvement.{g}.pct"))
    rows.figure("backgrounds.skull_involvement.test.p", "p", bg["skull_involvement"]["test"]["p"],
                 figures["backgrounds.skull_involvement.test.p"], note="chi-squared, no continuity correction")
    known = cns[cns["histology"].astype(str) != "unknown"]
    ilc = pd.crosstab(known["group"], known["histology"].astype(str) == "ILC").loc[list(CNS_GROUPS)]
    share = ilc[True] / ilc.sum(1)
    lob = bg["lobular_histology"]
    rows.figure("backgrounds.lobular_histology.p", "p", lob["p"], figures["backgrounds.lobular_histology.p"],
                 note="Fisher-Freeman-Halton exact, group x ILC among known histology")
    rows.finding("backgrounds.lobular_histology.finding", lob["finding"],
                 share["BL"] > share["B"] and share["L"] > share["B"],
                 "ILC " + ", ".join(f"{g} {100 * share[g]:.1f}%" for g in CNS_GROUPS))
    unknown = by["histology"].apply(lambda h: float((h.astype(str) == "unknown").mean()))
    rows.finding("backgrounds.lobular_histology.note", lob["note"], bool(unknown.between(0.05, 0.15).all()),
                 "unknown " + ", ".join(f"{g} {100 * unknown[g]:.1f}%" for g in CNS_GROUPS))

    # ---- treatments ---------------------------------------------------------------------------
    tr = pub["treatments"]
    for base in ("initial_rt", "bsc_without_rt", "systemic_before_rt", "subsequent_systemic_therapy"):
        for g, item in tr[base].items():
            for key in ("n", "of", "pct", "chemotherapy", "endocrine"):
                if key in item:
                    rows.exact(f"treatments.{base}.{g}.{key}", item[key], figures.get(f"treatments.{base}.{g}.{key}"))
    node = tr["craniospinal_irradiation"]
    rows.exact("treatments.craniospinal_irradiation.n", node["n"], figures.get("treatments.craniospinal_irradiation.n"))
    for g, days in node["survival_days"].items():
        got = sorted(int(v) for v in figures.get(f"treatments.craniospinal_irradiation.survival_days.{g}") or [])
        rows.add(f"treatments.craniospinal_irradiation.survival_days.{g}", days, got, "exact",
                 judge("times", sorted(days), got)[0])
    rows.exact("treatments.craniospinal_irradiation.did_not_complete", node["did_not_complete"],
               figures.get("treatments.craniospinal_irradiation.did_not_complete"))
    it = cns[cns["intrathecal_therapy"] == 1]
    rows.exact("treatments.intrathecal_therapy.n", tr["intrathecal_therapy"]["n"],
               figures.get("treatments.intrathecal_therapy.n"))
    rows.add("treatments.intrathecal_therapy.group", tr["intrathecal_therapy"]["group"],
             ",".join(sorted(set(it["group"]))), "exact",
             EXACT if set(it["group"]) == {tr["intrathecal_therapy"]["group"]} else DIFFERS,
             "given before CSI" if (it["initial_cns_treatment"].astype(str) == "CSI").all() else "")

    # ---- outcomes -----------------------------------------------------------------------------
    oc = pub["outcomes"]
    for key in ("n", "of", "pct"):
        rows.exact(f"outcomes.deaths_at_cutoff.{key}", oc["deaths_at_cutoff"][key],
                   figures.get(f"outcomes.deaths_at_cutoff.{key}"))
    for g in CNS_GROUPS:
        node = oc["os_from_cns"][g]
        if "ci" in node:
            _km_rows(rows, figures, f"outcomes.os_from_cns.{g}", node, issue_upper=bl_issue if g == "BL" else None)
        else:
            lower, upper = _interp_value(interp, f"os_from_cns_{g}_ci")
            note = (f"printed {node['ci_as_printed']}: read as {lower}-{upper} "
                    f"(paper-interpretation.yaml, os_from_cns_{g}_ci)")
            _km_rows(rows, figures, f"outcomes.os_from_cns.{g}", node, ci=(lower, upper), assumption=note)
    for g in (*CNS_GROUPS, "no_cns"):
        _km_rows(rows, figures, f"outcomes.os_from_abc.{g}", oc["os_from_abc"][g],
                 issue_upper=bl_issue if g == "BL" else None)
    rows.figure("outcomes.os_from_abc.test.p", "p", oc["os_from_abc"]["test"]["p"], figures["outcomes.os_from_abc.test.p"],
                 note="log-rank over B, BL, L and no CNS")
    dead = cns[cns["death"] == 1]
    cause = pd.crosstab(dead["group"], dead["cause_of_death"].astype(str) == "cns_progression").loc[list(CNS_GROUPS)]
    share = cause[True] / cause.sum(1)
    rows.figure("outcomes.cause_of_death.p", "p", oc["cause_of_death"]["p"], figures["outcomes.cause_of_death.p"],
                 note="chi-squared, group x (CNS progression vs other) among the dead")
    rows.finding("outcomes.cause_of_death.finding", oc["cause_of_death"]["finding"],
                 share["BL"] > share["B"] and share["L"] > share["B"],
                 "CNS progression " + ", ".join(f"{g} {100 * share[g]:.1f}%" for g in CNS_GROUPS))

    # ---- risk factors for OS ------------------------------------------------------------------
    rf = pub["risk_factors"]
    notes = sections["risk_factors"].notes
    for key in ("all_cns", "l_group"):
        fit = sections["risk_factors"].fits.get(key)
        note = (f"{fit.n_dropped_} L-group patients dropped for an unknown soft-tissue status"
                if key == "l_group" and fit is not None else "")
        rows.exact(f"risk_factors.{key}.n", rf[key]["n"], figures.get(f"risk_factors.{key}.n"), note=note)
        for name, node in rf[key].items():
            if isinstance(node, dict) and "hr" in node:
                _cox_rows(rows, figures, [n for n in notes if n.startswith(key)], f"risk_factors.{key}.{name}", node)

    report = pd.DataFrame(rows.rows, columns=["id", "paper", "achieved", "rule", "status", "note"])
    unknown_status = set(report["status"]) - set(STATUSES)
    if unknown_status:
        raise AssertionError(f"unexpected statuses {sorted(unknown_status)}")
    return report


def summary(report: pd.DataFrame) -> pd.DataFrame:
    """Number of targets per status (every status listed, zeros included)."""
    counts = report["status"].value_counts()
    return pd.DataFrame({"status": list(STATUSES), "targets": [int(counts.get(s, 0)) for s in STATUSES]})


def unmet(report: pd.DataFrame) -> pd.DataFrame:
    """The rows whose status is not a met one (``differs``)."""
    return report[~report["status"].isin(MET)]

