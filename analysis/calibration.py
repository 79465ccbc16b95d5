"""Calibration report: every figure of the paper next to what a cohort file gives, and whether it matches.

``calibration_report(cohort)`` recomputes each target of ``data/published-statistics.yaml`` with the
project's own statistics (``analysis.survival.KaplanMeier``: R's median rule, Greenwood variance, log
band, Brookmeyer-Crowley inversion; ``analysis.logrank``; ``analysis.cox.CoxModel``: Efron ties,
likelihood-ratio term tests, profile-likelihood CIs; ``analysis.tables``: chi-squared without continuity
correction, Fisher-Freeman-Halton exact test) on a cohort loaded with ``analysis.cohort``.

One row per target: ``id`` (dotted path into the YAML; confidence limits split as ``.ci.lower`` and
``.ci.upper``), ``paper`` (as printed), ``achieved``, ``rule`` (the tolerance), ``status`` (one of
``STATUSES``) and ``note``. The book's readings of ambiguous items come from
``data/paper-interpretation.yaml``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
PUBLISHED_PATH = DATA_DIR / "published-statistics.yaml"
INTERPRETATION_PATH = DATA_DIR / "paper-interpretation.yaml"

#: The issue's tolerances, in one place (the synthetic-cohort search and the tests read them here).
TOLERANCES = {
    "hr": 0.05,        # hazard ratios, relative
    "hr_ci": 0.10,     # their confidence limits, relative
    "p": 0.25,         # printed p-values, relative
    "km_ci": 0.05,     # Kaplan-Meier median CI limits where not exactly achievable, relative
}

EXACT = "exact"
WITHIN = "within tolerance"
DIFFERS = "differs"
PAPER_ISSUE = "not reproducible (paper issue)"
ASSUMPTION = "assumption"
STATUSES = (EXACT, WITHIN, DIFFERS, PAPER_ISSUE, ASSUMPTION)
#: statuses that count as met
MET = (EXACT, WITHIN, PAPER_ISSUE, ASSUMPTION)

GROUPS = ("B", "BL", "L")


def _load(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _interp_value(interp: dict[str, Any], key: str) -> Any:
    return interp["items"][key]["value"]


def _decimals(printed: Any) -> int:
    text = str(printed)
    return len(text.split(".")[1]) if "." in text else 0


def _fmt(value: Any, decimals: int | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    if isinstance(value, str):
        return value
    if decimals is None:
        return f"{value:.4g}"
    return f"{value:.{decimals}f}"


class _Rows:
    """Collects report rows and decides each status."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, id_, paper, achieved, rule, status, note=""):
        self.rows.append({"id": id_, "paper": str(paper), "achieved": achieved, "rule": rule,
                          "status": status, "note": note})

    def exact(self, id_, paper, achieved, note="", issue=None):
        """Counts, percentages (at the printed decimals), medians, ranges."""
        decimals = _decimals(paper)
        ok = achieved is not None and not (isinstance(achieved, float) and math.isnan(achieved)) \
            and round(float(achieved), decimals) == round(float(paper), decimals)
        status = EXACT if ok else (PAPER_ISSUE if issue else DIFFERS)
        self.add(id_, paper, _fmt(achieved, decimals), "exact", status, issue if (issue and not ok) else note)

    def relative(self, id_, paper, achieved, tol, rule, note="", exact_first=True, issue=None, assumption=None):
        decimals = _decimals(paper)
        if achieved is None or (isinstance(achieved, float) and math.isnan(achieved)):
            status = PAPER_ISSUE if issue else DIFFERS
            self.add(id_, paper, "NA", rule, status, issue or note)
            return
        if exact_first and round(float(achieved), decimals) == round(float(paper), decimals):
            status = EXACT
        elif abs(float(achieved) / float(paper) - 1) <= tol:
            status = WITHIN
        else:
            status = PAPER_ISSUE if issue else DIFFERS
        if assumption and status in (EXACT, WITHIN):
            status, note = ASSUMPTION, assumption
        self.add(id_, paper, _fmt(achieved, decimals), rule, status, issue if status == PAPER_ISSUE else note)

    def p_value(self, id_, printed, achieved, note=""):
        if isinstance(printed, str) and printed.strip().startswith("<"):
            bound = float(printed.strip()[1:])
            status = EXACT if achieved < bound else DIFFERS
            self.add(id_, printed, f"{achieved:.3g}", f"bound holds (p {printed})", status, note)
        else:
            self.relative(id_, printed, achieved, TOLERANCES["p"], f"within {TOLERANCES['p']:.0%} relative",
                          note)

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
    raise TypeError(f"cohort: expected a path, a DataFrame or an analysis.cohort.Cohort, got {type(cohort).__name__}")


def _km_rows(rows, pub_id, node, km_row, issue_upper=None, ci=None, assumption=None):
    rows.exact(f"{pub_id}.median", node["median"], km_row["median"])
    lower, upper = ci if ci is not None else node["ci"]
    rule = f"exact (else within {TOLERANCES['km_ci']:.0%})"
    rows.relative(f"{pub_id}.ci.lower", lower, km_row["median_lower"], TOLERANCES["km_ci"], rule,
                  assumption=assumption)
    rows.relative(f"{pub_id}.ci.upper", upper, km_row["median_upper"], TOLERANCES["km_ci"], rule,
                  issue=issue_upper, assumption=assumption)


def _fit_cox(df, time, event, covariates):
    """CoxModel (Efron, LR term tests, profile CIs), or the error message when the fit is impossible."""
    import warnings

    from analysis.cox import CoxModel

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return CoxModel().fit(df, time, event, covariates)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
        return f"Cox model could not be fitted: {error}"


def _cox_rows(rows, pub_id, node, fit, term, with_ci=True):
    if isinstance(fit, str):
        for key in ("hr", "ci.lower", "ci.upper", "p") if (with_ci and "ci" in node) else ("hr", "p"):
            printed = node["hr"] if key == "hr" else node["p"] if key == "p" else node["ci"][key == "ci.upper"]
            rows.add(f"{pub_id}.{key}", printed, "NA", "see the tolerances", DIFFERS, fit)
        return
    if term not in fit.coefficients_.index or not np.isfinite(fit.coefficients_.loc[term, "hr"]):
        rows.add(f"{pub_id}.hr", node["hr"], "NA", "see the tolerances", DIFFERS, f"no finite estimate for {term}")
        return
    coef = fit.coefficients_.loc[term]
    hr_rule = f"within {TOLERANCES['hr']:.0%} relative"
    rows.relative(f"{pub_id}.hr", node["hr"], float(coef["hr"]), TOLERANCES["hr"], hr_rule)
    if with_ci and "ci" in node:
        ci_rule = f"within {TOLERANCES['hr_ci']:.0%} relative (profile likelihood)"
        rows.relative(f"{pub_id}.ci.lower", node["ci"][0], float(coef["hr_profile_lower"]), TOLERANCES["hr_ci"], ci_rule)
        rows.relative(f"{pub_id}.ci.upper", node["ci"][1], float(coef["hr_profile_upper"]), TOLERANCES["hr_ci"], ci_rule)
    rows.p_value(f"{pub_id}.p", node["p"], float(coef["p_lr"]), note="likelihood-ratio test of the term")


def calibration_report(cohort, published: str | Path | dict = PUBLISHED_PATH,
                       interpretation: str | Path | dict = INTERPRETATION_PATH) -> pd.DataFrame:
    """Every published target with the value the cohort gives and its status (see the module docstring).

    Parameters
    ----------
    cohort : path, DataFrame (the raw file's columns) or ``analysis.cohort.Cohort``
    published, interpretation : paths or already-loaded dicts of the two YAML files.
    """
    from analysis.logrank import logrank_test
    from analysis.survival import KaplanMeier
    from analysis.tables import chi_squared, fisher_exact

    pub = published if isinstance(published, dict) else _load(Path(published))
    interp = interpretation if isinstance(interpretation, dict) else _load(Path(interpretation))
    data = _as_cohort(cohort).data.copy()
    data["group"] = data["group"].astype(str)
    cns = data[data["group"] != "none"]
    rows = _Rows()

    # ---- cohort -------------------------------------------------------------------------------
    n_all, n_cns = len(data), len(cns)
    rows.exact("cohort.n_abc", pub["cohort"]["n_abc"], n_all)
    rows.exact("cohort.n_cns.n", pub["cohort"]["n_cns"]["n"], n_cns)
    rows.exact("cohort.n_cns.pct", pub["cohort"]["n_cns"]["pct"], 100 * n_cns / n_all)
    for g in GROUPS:
        k = int((data["group"] == g).sum())
        rows.exact(f"cohort.groups.{g}.n", pub["cohort"]["groups"][g]["n"], k)
        rows.exact(f"cohort.groups.{g}.pct", pub["cohort"]["groups"][g]["pct"], 100 * k / n_cns,
                   issue=f"{k}/{n_cns} is {100 * k / n_cns:.2f}%: the paper rounded the three shares to sum to 100%")
    follow = data["os_from_abc"]
    fu = pub["cohort"]["followup_from_abc"]
    reverse = KaplanMeier().fit(follow, 1 - data["death"]).summary_.loc["all", "median"]
    rows.exact("cohort.followup_from_abc.median", fu["median"], float(np.median(follow)),
               issue=(f"the plain median of {n_all} whole-day values is one of them and cannot end in .5 "
                      f"(reverse Kaplan-Meier median {reverse:g} days, for information)"))
    rows.exact("cohort.followup_from_abc.min", fu["min"], float(follow.min()))
    rows.exact("cohort.followup_from_abc.max", fu["max"], float(follow.max()))
    km_all = KaplanMeier().fit(cns["time_abc_to_cns"], np.ones(n_cns)).summary_.loc["all"]
    _km_rows(rows, "cohort.time_abc_to_cns_all", pub["cohort"]["time_abc_to_cns_all"], km_all)
    fc = pub["cohort"]["followup_from_cns"]
    rows.exact("cohort.followup_from_cns.median", fc["median"], float(np.median(cns["os_from_cns"])))
    rows.exact("cohort.followup_from_cns.min", fc["min"], float(cns["os_from_cns"].min()))
    rows.exact("cohort.followup_from_cns.max", fc["max"], float(cns["os_from_cns"].max()))

    bl_issue = ("R's log band gives NA: with 13 uncensored times it never falls to 0.5 while S > 0; "
                "see paper-interpretation.yaml, bl_upper_confidence_limits")

    # ---- backgrounds --------------------------------------------------------------------------
    bg = pub["backgrounds"]
    km = KaplanMeier().fit(cns["time_abc_to_cns"], np.ones(n_cns), cns["group"]).summary_
    for g in GROUPS:
        _km_rows(rows, f"backgrounds.time_abc_to_cns_by_group.{g}", bg["time_abc_to_cns_by_group"][g], km.loc[g],
                 issue_upper=bl_issue if g == "BL" else None)
    lr = logrank_test(cns["time_abc_to_cns"], np.ones(n_cns), cns["group"])
    rows.p_value("backgrounds.time_abc_to_cns_by_group.test.p", bg["time_abc_to_cns_by_group"]["test"]["p"], lr.p,
                 note="log-rank")

    risk = data.copy()
    risk["time_risk"] = np.where(risk["group"] != "none", risk["time_abc_to_cns"], risk["os_from_abc"])
    risk["event_bm"] = risk["group"].isin(["B", "BL"]).astype(int)
    risk["event_lm"] = (risk["group"] == "L").astype(int)
    sites = {"lung": "lung_mets_at_abc", "liver": "liver_mets_at_abc", "soft_tissue": "soft_tissue_mets_at_abc",
             "bone": "bone_mets_at_abc"}
    for col in sites.values():
        risk[col] = risk[col].astype(float)
    bm = _fit_cox(risk, "time_risk", "event_bm", list(sites.values()))
    for name, col in sites.items():
        _cox_rows(rows, f"backgrounds.risk_of_bm_multivariate.{name}", bg["risk_of_bm_multivariate"][name], bm, col)
    lm = _fit_cox(risk, "time_risk", "event_lm", list(sites.values()))
    for name, col in sites.items():
        if name in bg["risk_of_lm_multivariate"]:
            _cox_rows(rows, f"backgrounds.risk_of_lm_multivariate.{name}", bg["risk_of_lm_multivariate"][name], lm, col)
    others = [c for n, c in sites.items() if n not in bg["risk_of_lm_multivariate"]]
    worst = float(lm.coefficients_.loc[others, "p_lr"].min()) if not isinstance(lm, str) else float("nan")
    rows.finding("backgrounds.risk_of_lm_multivariate.no_independent_risk_factors",
                 "no independent risk factors", worst >= 0.05, f"smallest other term p = {worst:.3g}")

    by = cns.groupby("group", observed=True)
    ecog = by["ecog_at_cns"].mean()
    rows.finding("backgrounds.performance_status", bg["performance_status"],
                 ecog["BL"] > ecog["B"] and ecog["L"] > ecog["B"],
                 "mean ECOG " + ", ".join(f"{g} {ecog[g]:.2f}" for g in GROUPS))
    sym = by["cns_symptoms"].mean()
    rows.finding("backgrounds.cns_symptoms", bg["cns_symptoms"], sym["BL"] > sym["B"] and sym["L"] > sym["B"],
                 "symptomatic " + ", ".join(f"{g} {100 * sym[g]:.1f}%" for g in GROUPS))
    bone_l = cns[cns["group"] == "L"]["bone_mets_at_cns"]
    node = bg["bone_involvement_at_cns_L"]
    rows.exact("backgrounds.bone_involvement_at_cns_L.n", node["n"], int(bone_l.sum()))
    rows.exact("backgrounds.bone_involvement_at_cns_L.of", node["of"], len(bone_l))
    rows.exact("backgrounds.bone_involvement_at_cns_L.pct", node["pct"], 100 * bone_l.mean())
    skull = by["skull_mets_at_cns"].mean()
    for g in GROUPS:
        rows.exact(f"backgrounds.skull_involvement.{g}.pct", bg["skull_involvement"][g]["pct"], 100 * skull[g])
    table = pd.crosstab(cns["group"], cns["skull_mets_at_cns"]).loc[list(GROUPS)]
    rows.p_value("backgrounds.skull_involvement.test.p", bg["skull_involvement"]["test"]["p"],
                 chi_squared(table.to_numpy()).p, note="chi-squared, no continuity correction")
    known = cns[cns["histology"].astype(str) != "unknown"]
    ilc = pd.crosstab(known["group"], known["histology"].astype(str) == "ILC").loc[list(GROUPS)]
    share = ilc[True] / ilc.sum(1)
    lob = bg["lobular_histology"]
    rows.p_value("backgrounds.lobular_histology.p", lob["p"], fisher_exact(ilc.to_numpy()).p,
                 note="Fisher-Freeman-Halton exact, group x ILC among known histology")
    rows.finding("backgrounds.lobular_histology.finding", lob["finding"],
                 share["BL"] > share["B"] and share["L"] > share["B"],
                 "ILC " + ", ".join(f"{g} {100 * share[g]:.1f}%" for g in GROUPS))
    unknown = by["histology"].apply(lambda h: float((h.astype(str) == "unknown").mean()))
    rows.finding("backgrounds.lobular_histology.note", lob["note"], bool(unknown.between(0.05, 0.15).all()),
                 "unknown " + ", ".join(f"{g} {100 * unknown[g]:.1f}%" for g in GROUPS))

    # ---- treatments ---------------------------------------------------------------------------
    tr = pub["treatments"]
    treat = cns["initial_cns_treatment"].astype(str)

    def count_rows(base, node, mask_of_group):
        for g, item in node.items():
            members = cns["group"] == g
            k = int((mask_of_group & members).sum())
            rows.exact(f"{base}.{g}.n", item["n"], k)
            if "of" in item:
                rows.exact(f"{base}.{g}.of", item["of"], int(members.sum()))
            if "pct" in item:
                rows.exact(f"{base}.{g}.pct", item["pct"], 100 * k / int(members.sum()))

    count_rows("treatments.initial_rt", tr["initial_rt"], cns["local_rt"] == 1)
    count_rows("treatments.bsc_without_rt", tr["bsc_without_rt"], treat == "BSC")
    csi = cns[treat == "CSI"]
    node = tr["craniospinal_irradiation"]
    rows.exact("treatments.craniospinal_irradiation.n", node["n"], len(csi))
    for g, days in node["survival_days"].items():
        got = sorted(int(v) for v in csi[csi["group"] == g]["os_from_cns"])
        rows.add(f"treatments.craniospinal_irradiation.survival_days.{g}", days, str(got), "exact",
                 EXACT if got == sorted(days) else DIFFERS)
    rows.exact("treatments.craniospinal_irradiation.did_not_complete", node["did_not_complete"],
               int((csi["csi_completed"] == 0).sum()))
    before = cns["systemic_before_rt"].astype(str)
    for g, item in tr["systemic_before_rt"].items():
        members = cns["group"] == g
        k = int(((before != "none") & members).sum())
        rows.exact(f"treatments.systemic_before_rt.{g}.n", item["n"], k)
        for key in ("of", "pct", "chemotherapy", "endocrine"):
            if key in item:
                value = {"of": int(members.sum()), "pct": 100 * k / max(1, int(members.sum())),
                         "chemotherapy": int(((before == "chemotherapy") & members).sum()),
                         "endocrine": int(((before == "endocrine") & members).sum())}[key]
                rows.exact(f"treatments.systemic_before_rt.{g}.{key}", item[key], value)
    count_rows("treatments.subsequent_systemic_therapy", tr["subsequent_systemic_therapy"],
               cns["subsequent_systemic"] == 1)
    it = cns[cns["intrathecal_therapy"] == 1]
    rows.exact("treatments.intrathecal_therapy.n", tr["intrathecal_therapy"]["n"], len(it))
    rows.add("treatments.intrathecal_therapy.group", tr["intrathecal_therapy"]["group"],
             ",".join(sorted(set(it["group"]))), "exact",
             EXACT if set(it["group"]) == {tr["intrathecal_therapy"]["group"]} else DIFFERS,
             "given before CSI" if (it["initial_cns_treatment"].astype(str) == "CSI").all() else "")

    # ---- outcomes -----------------------------------------------------------------------------
    oc = pub["outcomes"]
    deaths = int(cns["death"].sum())
    rows.exact("outcomes.deaths_at_cutoff.n", oc["deaths_at_cutoff"]["n"], deaths)
    rows.exact("outcomes.deaths_at_cutoff.of", oc["deaths_at_cutoff"]["of"], n_cns)
    rows.exact("outcomes.deaths_at_cutoff.pct", oc["deaths_at_cutoff"]["pct"], 100 * deaths / n_cns)
    km = KaplanMeier().fit(cns["os_from_cns"], cns["death"], cns["group"]).summary_
    for g in GROUPS:
        node = oc["os_from_cns"][g]
        if "ci" in node:
            _km_rows(rows, f"outcomes.os_from_cns.{g}", node, km.loc[g], issue_upper=bl_issue if g == "BL" else None)
        else:
            lower, upper = _interp_value(interp, f"os_from_cns_{g}_ci")
            note = (f"printed {node['ci_as_printed']}: read as {lower}-{upper} "
                    f"(paper-interpretation.yaml, os_from_cns_{g}_ci)")
            _km_rows(rows, f"outcomes.os_from_cns.{g}", node, km.loc[g], ci=(lower, upper), assumption=note)
    km = KaplanMeier().fit(data["os_from_abc"], data["death"], data["group"]).summary_
    for g in (*GROUPS, "no_cns"):
        key = "none" if g == "no_cns" else g
        _km_rows(rows, f"outcomes.os_from_abc.{g}", oc["os_from_abc"][g], km.loc[key],
                 issue_upper=bl_issue if g == "BL" else None)
    lr = logrank_test(data["os_from_abc"], data["death"], data["group"])
    rows.p_value("outcomes.os_from_abc.test.p", oc["os_from_abc"]["test"]["p"], lr.p,
                 note="log-rank over B, BL, L and no CNS")
    dead = cns[cns["death"] == 1]
    cause = pd.crosstab(dead["group"], dead["cause_of_death"].astype(str) == "cns_progression").loc[list(GROUPS)]
    share = cause[True] / cause.sum(1)
    rows.p_value("outcomes.cause_of_death.p", oc["cause_of_death"]["p"], chi_squared(cause.to_numpy()).p,
                 note="chi-squared, group x (CNS progression vs other) among the dead")
    rows.finding("outcomes.cause_of_death.finding", oc["cause_of_death"]["finding"],
                 share["BL"] > share["B"] and share["L"] > share["B"],
                 "CNS progression " + ", ".join(f"{g} {100 * share[g]:.1f}%" for g in GROUPS))

    # ---- risk factors for OS ------------------------------------------------------------------
    rf = pub["risk_factors"]
    os_df = cns.copy()
    for col in ("age65_at_cns", "local_rt", "subsequent_systemic", "soft_tissue_mets_at_cns"):
        os_df[col] = os_df[col].astype(float)
    terms = {"age_65_or_over_at_cns": "age65_at_cns", "local_rt": "local_rt",
             "subsequent_systemic_therapy": "subsequent_systemic"}
    fit = _fit_cox(os_df, "os_from_cns", "death", list(terms.values()))
    rows.exact("risk_factors.all_cns.n", rf["all_cns"]["n"], getattr(fit, "n_", float("nan")))
    for name, col in terms.items():
        _cox_rows(rows, f"risk_factors.all_cns.{name}", rf["all_cns"][name], fit, col)
    terms = {"soft_tissue_metastasis_at_lm": "soft_tissue_mets_at_cns", "subsequent_systemic_therapy": "subsequent_systemic"}
    fit = _fit_cox(os_df[os_df["group"] == "L"], "os_from_cns", "death", list(terms.values()))
    rows.exact("risk_factors.l_group.n", rf["l_group"]["n"], getattr(fit, "n_", float("nan")),
               note=f"{getattr(fit, 'n_dropped_', 'NA')} L-group patients dropped for an unknown soft-tissue status")
    for name, col in terms.items():
        _cox_rows(rows, f"risk_factors.l_group.{name}", rf["l_group"][name], fit, col)

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


def calibration_tables(cohort):
    """The calibration page's two displays: totals by status and the full report.

    Only for the bundled synthetic cohort (the file this module's generator writes); for any other
    cohort, a note pointing to the scorecard is returned instead of both tables, so a user's counts
    are never shown here without the small-cell rule the chapters apply.
    """
    from IPython.display import Markdown

    from analysis.report import html_table

    if Path(cohort).resolve() != (DATA_DIR / "synthetic_cohort.csv").resolve():
        note = Markdown("*This build uses another cohort; see the reproduction scorecard for its comparison "
                        "with the paper.*")
        return note, None
    report = calibration_report(cohort)
    return (html_table(summary(report), "Calibration targets by status", index=False),
            html_table(report, "Every calibration target: the paper's figure, the cohort's, the rule and the status",
                       index=False, notes=["Confidence limits are checked one by one (.ci.lower, .ci.upper). "
                                           "Assumption: a target set by the book's reading of a misprint."]))
