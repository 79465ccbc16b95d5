"""Recompute the paper's figures from a cohort, section by section.

Each ``*_figures`` function takes a validated :class:`analysis.cohort.load.Cohort` and returns a
:class:`Section`: ``figures`` maps the dotted ids of ``data/published-statistics.yaml``
(``outcomes.os_from_cns.B.median``) to computed values, and ``tables`` / ``fits`` hold what the
chapters show and plot. The chapters record ``figures`` in ``results.json``; the scorecard and
the synthetic cohort's calibration report compare the same figures with the paper. One engine,
one set of ids.

Methods (declared once here, quoted by the chapters):

- Kaplan-Meier medians by R's rule (midpoint where S(t) = 0.5 on an interval); their 95% CIs from
  Greenwood's variance with the ``log`` band, inverted as Brookmeyer and Crowley (R's default).
- Log-rank (Mantel-Haenszel) tests.
- Cox models with Efron ties; hazard-ratio CIs by profile likelihood and p-values by
  likelihood-ratio tests of each term, as JMP (the paper's software) reports them by default.
- Pearson chi-squared without continuity correction; Fisher-Freeman-Halton exact test.

The readings of what the paper leaves open are in ``data/paper-interpretation.yaml``.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Iterable

import numpy as np
import pandas as pd

from analysis.stats import CoxModel, MonotoneLikelihoodWarning, fit_cox
from analysis.stats import logrank_test
from analysis.stats import KaplanMeier
from analysis.stats import chi_squared, fisher_exact
from analysis.cohort import CNS_GROUPS, load_schema

CONF_TYPE = "log"
TIES = "efron"
SITES_AT_ABC = {
    "lung": "lung_mets_at_abc",
    "liver": "liver_mets_at_abc",
    "soft_tissue": "soft_tissue_mets_at_abc",
    "bone": "bone_mets_at_abc",
}
OS_ALL_CNS_TERMS = {
    "age_65_or_over_at_cns": "age65_at_cns",
    "local_rt": "local_rt",
    "subsequent_systemic_therapy": "subsequent_systemic",
}
OS_L_GROUP_TERMS = {
    "soft_tissue_metastasis_at_lm": "soft_tissue_mets_at_cns",
    "subsequent_systemic_therapy": "subsequent_systemic",
}
# How the book names each model term (tables and forest plots), by the paper's term name.
TERM_LABELS = {
    "lung": "Lung metastasis at ABC",
    "liver": "Liver metastasis at ABC",
    "soft_tissue": "Soft-tissue metastasis at ABC",
    "bone": "Bone metastasis at ABC",
    "age_65_or_over_at_cns": "Age 65 or over at CNS diagnosis",
    "local_rt": "Local RT as initial treatment",
    "subsequent_systemic_therapy": "Subsequent systemic therapy",
    "soft_tissue_metastasis_at_lm": "Soft-tissue metastasis at LM diagnosis",
}
# Figures the chapters cite that the paper does not print (glued as NA when not computable)
EXTRA_IDS = (
    "cohort.followup_from_abc.reverse_km_median",
    "cohort.followup_from_cns.reverse_km_median",
    "outcomes.os_from_cns.test.p",
    "outcomes.os_from_cns.L.ci",
    "backgrounds.lobular_histology.test",  # the test used: Fisher's, or chi-squared when too large
)
# Cohort column -> label, for tables that come straight from a fitted model (e.g. cox.zph)
COLUMN_LABELS = {column: TERM_LABELS[name]
                 for terms in (SITES_AT_ABC, OS_ALL_CNS_TERMS, OS_L_GROUP_TERMS)
                 for name, column in terms.items()}
METHODS = {
    "km_median": "Kaplan-Meier median (R's rule: midpoint where S(t) = 0.5 on an interval)",
    "median_ci": "95% CI: Greenwood variance, log band, Brookmeyer-Crowley inversion (R's default)",
    "logrank": "log-rank test (Mantel-Haenszel), chi-squared on k - 1 df",
    "cox": "Cox model, Efron ties; HR 95% CI by profile likelihood; p by likelihood-ratio test of the term",
    "chisq": "Pearson chi-squared test without continuity correction",
    "fisher": "Fisher-Freeman-Halton exact test",
}


@dataclasses.dataclass
class Section:
    """The figures of one section of the paper, and the tables and fits behind them."""

    figures: dict[str, Any] = dataclasses.field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)
    fits: dict[str, Any] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    # table key -> {figure id: the cells of that table the figure adds up}: a count the prose prints
    # in another cut of a table's cells (patients given any RT = the RT rows of a group's column),
    # so that disclosure control protects the table and the figure together (linked tables)
    links: dict[str, dict[str, list[tuple]]] = dataclasses.field(default_factory=dict)

    def put(self, prefix: str, **values: Any) -> None:
        for key, value in values.items():
            self.figures[f"{prefix}.{key}"] = value

    def link(self, table: str, figure: str, cells: Iterable[tuple]) -> None:
        """Declare ``figure`` the sum of ``cells`` ((row, column) of ``tables[table]``, or for the
        baseline table (cohort column, level, group))."""
        self.links.setdefault(table, {})[figure] = list(cells)


# --------------------------------------------------------------------------- small pieces
def _pct(n: int, of: int) -> float:
    return round(100.0 * n / of, 1) if of else float("nan")


def _count(section: Section, prefix: str, mask: pd.Series, of: int) -> None:
    n = int(mask.sum())
    section.put(prefix, n=n, of=int(of), pct=_pct(n, of))


def _cns(data: pd.DataFrame) -> pd.DataFrame:
    return data[data["cns"] == 1]


def _km(time, event, group=None) -> KaplanMeier:
    return KaplanMeier(conf_level=0.95, conf_type=CONF_TYPE).fit(time, event, group)


def _median_ci(summary: pd.DataFrame, group: str) -> tuple[float, list[float]]:
    row = summary.loc[group]
    return float(row["median"]), [float(row["median_lower"]), float(row["median_upper"])]


def _km_by_group(section: Section, prefix: str, key: str, time, event, groups: pd.Series,
                 ids: tuple[str, ...] = CNS_GROUPS) -> None:
    """KM median and CI per group under ``prefix.<group>``, and the log-rank p as ``prefix.test.p``.

    The fits go to ``section.fits[key]`` and ``section.fits[key + "_logrank"]``.
    """
    km = _km(time, event, groups)
    section.fits[key] = km
    for g in ids:
        if g in km.summary_.index:
            median, ci = _median_ci(km.summary_, g)
            section.put(f"{prefix}.{g}", median=median, ci=ci)
    if groups.nunique() > 1:
        test = logrank_test(time, event, groups)
        section.put(f"{prefix}.test", p=float(test.p))
        section.fits[f"{key}_logrank"] = test


def cns_patients_with_deaths(data: pd.DataFrame, section: Section) -> pd.DataFrame | None:
    """The patients with CNS metastases, or None (and a note on ``section``) when none of them died:
    the survival analyses after the CNS diagnosis need at least one death."""
    cns = _cns(data)
    if cns.empty or cns["death"].sum() == 0:
        section.notes.append("Not computed: the cohort has no deaths among patients with CNS metastases.")
        return None
    return cns


def has(cohort, analysis: str) -> bool:
    """Whether the cohort file has the columns an analysis of schema.yaml needs."""
    return not cohort.switched_off_note(analysis)


def _group_labels(data: pd.DataFrame) -> pd.Series:
    return data["group"].astype(str)


# --------------------------------------------------------------------------- cohort
def cohort_figures(cohort) -> Section:
    """Cohort size, CNS groups, follow-up (plain and reverse-KM medians), time from ABC to CNS."""
    data = cohort.data
    section = Section()
    n_abc = len(data)
    section.figures["cohort.n_abc"] = n_abc
    cns = _cns(data)
    section.put("cohort.n_cns", n=len(cns), pct=_pct(len(cns), n_abc))
    for g in CNS_GROUPS:
        n = int((cns["group"] == g).sum())
        section.put(f"cohort.groups.{g}", n=n, pct=_pct(n, len(cns)))
        if n == 0:
            section.notes.append(f"Group {g} has no patients in this cohort: its figures are not computed.")
        elif n == 1:
            section.notes.append(f"Group {g} has a single patient: its median is that patient's time, "
                                 "without a confidence interval, and it adds little to any test.")
    if not len(cns):
        section.notes.append("No patient in this cohort has CNS metastases: the CNS analyses are not computed.")

    follow = data["os_from_abc"]
    section.put("cohort.followup_from_abc", median=float(follow.median()), min=float(follow.min()),
                max=float(follow.max()))
    # Reverse Kaplan-Meier: censoring is the "event"; it estimates the potential follow-up.
    reverse = _km(follow, 1 - data["death"])
    section.figures["cohort.followup_from_abc.reverse_km_median"] = float(reverse.summary_.iloc[0]["median"])
    section.fits["followup_reverse_km"] = reverse

    if len(cns):
        follow_cns = cns["os_from_cns"]
        section.put("cohort.followup_from_cns", median=float(follow_cns.median()),
                    min=float(follow_cns.min()), max=float(follow_cns.max()))
        reverse_cns = _km(follow_cns, 1 - cns["death"])
        section.figures["cohort.followup_from_cns.reverse_km_median"] = float(
            reverse_cns.summary_.iloc[0]["median"])
        ttc = _km(cns["time_abc_to_cns"], np.ones(len(cns), dtype=int))
        median, ci = _median_ci(ttc.summary_, ttc.summary_.index[0])
        section.put("cohort.time_abc_to_cns_all", median=median, ci=ci)
        section.fits["time_abc_to_cns_all"] = ttc
    section.tables["flow"] = pd.DataFrame(
        {"patients": [n_abc, len(cns), n_abc - len(cns)] + [int((cns["group"] == g).sum()) for g in CNS_GROUPS]},
        index=pd.Index(["all", "cns", "no_cns", *CNS_GROUPS], name="box"),
    )
    return section


# --------------------------------------------------------------------------- backgrounds
def risk_model_data(data: pd.DataFrame, event_groups: tuple[str, ...]) -> pd.DataFrame:
    """Whole cohort: time from ABC to the CNS diagnosis of interest; others censored.

    Patients without CNS metastasis are censored at last contact; patients whose CNS
    metastasis is of another pattern are censored at their CNS diagnosis (cause-specific).
    """
    cns = data["cns"] == 1
    frame = pd.DataFrame({
        "time": np.where(cns, data["time_abc_to_cns"], data["os_from_abc"]),
        "event": data["group"].astype(str).isin(event_groups).astype(int).to_numpy(),
    }, index=data.index)
    for column in SITES_AT_ABC.values():
        frame[column] = data[column].astype(float)
    return frame


def cox_figures(section: Section, prefix: str, fit: CoxModel, terms: dict[str, str],
                with_ci: bool = True) -> None:
    """Record HR, profile CI and LR p of each term under ``prefix.<term>``.

    The coefficient table, with rows labelled as in TERM_LABELS, goes to
    ``section.tables[<last part of prefix>]`` for the forest plots.
    """
    table = fit.coefficients_
    names = {column: name for name, column in terms.items()}
    named = table.rename(index=lambda column: TERM_LABELS.get(names.get(column, column), column))
    section.tables[prefix.rsplit(".", 1)[-1]] = named.rename_axis("term")
    for name, column in terms.items():
        row = table.loc[column]
        values = {"hr": float(row["hr"]), "p": float(row["p_lr"])}
        if with_ci:
            values["ci"] = [float(row["hr_profile_lower"]), float(row["hr_profile_upper"])]
        section.put(f"{prefix}.{name}", **values)


def _fit_cox(frame: pd.DataFrame, time: str, event: str, covariates: list[str],
             notes: list[str] | None = None, label: str = "model") -> CoxModel:
    """Ordinary Cox fit, or Firth's when the ordinary likelihood is monotone (``fit_cox(firth="auto")``).

    The switch is written to ``notes`` (shown on the page) instead of a warning on stderr.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MonotoneLikelihoodWarning)
        fit = fit_cox(frame, time, event, covariates, ties=TIES, firth="auto")
    if fit.method_ == "firth" and notes is not None:
        notes.append(f"{label}: the ordinary Cox likelihood is monotone (separation), so its estimate is "
                     "infinite; Firth-penalized estimates are shown instead.")
    return fit


def backgrounds_figures(cohort) -> Section:
    """Time from ABC to CNS by group, CNS-risk Cox models, skull, bone and histology."""
    data = cohort.data
    section = Section()
    cns = _cns(data)
    if len(cns):
        # every CNS patient had the event: the time to CNS diagnosis is never censored here
        _km_by_group(section, "backgrounds.time_abc_to_cns_by_group", "time_abc_to_cns",
                     cns["time_abc_to_cns"], np.ones(len(cns), dtype=int), _group_labels(cns))

    covariates = list(SITES_AT_ABC.values())
    # Every term is recorded; the paper prints only bone for the LM model.
    for key, event_groups in (("risk_of_bm_multivariate", ("B", "BL")), ("risk_of_lm_multivariate", ("L",))):
        frame = risk_model_data(data, event_groups)
        if frame["event"].sum() == 0:
            section.notes.append(f"{key}: no events, model not fitted")
            continue
        try:
            fit = _fit_cox(frame, "time", "event", covariates, section.notes, key)
        except (ValueError, np.linalg.LinAlgError) as exc:
            section.notes.append(f"{key}: not fitted ({exc})")
            continue
        section.fits[key] = fit
        cox_figures(section, f"backgrounds.{key}", fit, SITES_AT_ABC)

    if len(cns) and has(cohort, "bone_involvement"):
        l_group = cns[cns["group"] == "L"]
        _count(section, "backgrounds.bone_involvement_at_cns_L", l_group["bone_mets_at_cns"] == 1, len(l_group))
        section.link("baseline", "backgrounds.bone_involvement_at_cns_L.n", [("bone_mets_at_cns", 1, "L")])
    if len(cns) and has(cohort, "skull_involvement"):
        table = pd.crosstab(_group_labels(cns), cns["skull_mets_at_cns"].astype("Int64"))
        for g in CNS_GROUPS:
            members = cns[cns["group"] == g]
            if len(members):  # the paper prints the share; with the group's size it is a count
                _count(section, f"backgrounds.skull_involvement.{g}", members["skull_mets_at_cns"] == 1, len(members))
                section.link("baseline", f"backgrounds.skull_involvement.{g}.n", [("skull_mets_at_cns", 1, g)])
        if table.shape[0] > 1 and table.shape[1] > 1:
            section.put("backgrounds.skull_involvement.test", p=float(chi_squared(table).p))
        section.tables["skull"] = table
    if len(cns) and has(cohort, "lobular_histology"):
        known = cns[cns["histology"].astype(str).isin(["IDC", "ILC", "other"])]
        table = pd.crosstab(_group_labels(known), known["histology"].astype(str) == "ILC")
        if table.shape[0] > 1 and table.shape[1] > 1:
            try:
                section.put("backgrounds.lobular_histology", p=float(fisher_exact(table).p), test=METHODS["fisher"])
            except ValueError:  # too many tables to enumerate at registry scale
                section.put("backgrounds.lobular_histology", p=float(chi_squared(table).p), test=METHODS["chisq"])
                section.notes.append("Lobular histology: the table is too large for Fisher's exact test; "
                                     "Pearson's chi-squared test is used instead.")
        section.tables["ilc"] = table
    return section


# --------------------------------------------------------------------------- treatments
def treatments_figures(cohort) -> Section:
    """Initial treatment, CSI, systemic therapy before RT, subsequent and intrathecal therapy."""
    data = cohort.data
    section = Section()
    cns = _cns(data)
    by_group = {g: cns[cns["group"] == g] for g in CNS_GROUPS}
    if has(cohort, "initial_treatment"):
        for g in CNS_GROUPS:
            members = by_group[g]
            treatment = members["initial_cns_treatment"].astype(str)
            _count(section, f"treatments.initial_rt.{g}", members["local_rt"] == 1, len(members))
            _count(section, f"treatments.bsc_without_rt.{g}", treatment == "BSC", len(members))
            section.link("initial_treatment", f"treatments.initial_rt.{g}.n",
                         [(t, g) for t in load_schema().rt_treatments])
            section.link("initial_treatment", f"treatments.bsc_without_rt.{g}.n", [("BSC", g)])
        section.tables["initial_treatment"] = pd.crosstab(
            cns["initial_cns_treatment"].astype(str), _group_labels(cns))
    if has(cohort, "craniospinal_irradiation"):
        csi = cns[cns["initial_cns_treatment"].astype(str) == "CSI"]
        section.figures["treatments.craniospinal_irradiation.n"] = len(csi)
        section.link("initial_treatment", "treatments.craniospinal_irradiation.n", [("CSI", g) for g in CNS_GROUPS])
        for g in CNS_GROUPS:
            days = sorted(float(d) for d in csi.loc[csi["group"] == g, "os_from_cns"])
            if days:
                section.figures[f"treatments.craniospinal_irradiation.survival_days.{g}"] = days
        section.figures["treatments.craniospinal_irradiation.did_not_complete"] = int(
            (csi["csi_completed"] == 0).sum())
    if has(cohort, "systemic_before_rt"):
        for g in CNS_GROUPS:
            members = by_group[g]
            therapy = members["systemic_before_rt"].astype(str)
            given = therapy.isin(["chemotherapy", "endocrine"])
            _count(section, f"treatments.systemic_before_rt.{g}", given, len(members))
            section.put(f"treatments.systemic_before_rt.{g}",
                        chemotherapy=int((therapy == "chemotherapy").sum()),
                        endocrine=int((therapy == "endocrine").sum()))
    if has(cohort, "subsequent_systemic"):
        for g in CNS_GROUPS:
            members = by_group[g]
            _count(section, f"treatments.subsequent_systemic_therapy.{g}",
                   members["subsequent_systemic"] == 1, len(members))
    if has(cohort, "intrathecal_therapy"):
        section.figures["treatments.intrathecal_therapy.n"] = int((cns["intrathecal_therapy"] == 1).sum())
    if has(cohort, "prior_srs"):
        for g in CNS_GROUPS:
            members = by_group[g]
            _count(section, f"treatments.prior_srs.{g}", members["prior_srs"] == 1, len(members))
            section.link("prior_srs", f"treatments.prior_srs.{g}.n", [("yes", g)])
        # the paper's statement names BL: its count under the paper's own id
        section.figures["treatments.prior_srs_in_BL"] = int((by_group["BL"]["prior_srs"] == 1).sum())
        section.link("prior_srs", "treatments.prior_srs_in_BL", [("yes", "BL")])
        known = cns["prior_srs"].map({1: "yes", 0: "no"}).fillna("unknown")
        section.tables["prior_srs"] = pd.crosstab(known.rename("SRS before the CNS diagnosis"), _group_labels(cns))
    # a missing optional column is said, not left to a table that silently is not there
    for analysis in ("initial_treatment", "craniospinal_irradiation", "systemic_before_rt", "intrathecal_therapy",
                     "prior_srs", "subsequent_systemic"):
        if not has(cohort, analysis):
            section.notes.append(cohort.switched_off_note(analysis))
    return section


# --------------------------------------------------------------------------- outcomes
def outcomes_figures(cohort) -> Section:
    """Deaths, OS from CNS and from ABC by group (KM, log-rank), cause of death."""
    data = cohort.data
    section = Section()
    cns = _cns(data)
    if len(cns):
        _count(section, "outcomes.deaths_at_cutoff", cns["death"] == 1, len(cns))
        _km_by_group(section, "outcomes.os_from_cns", "os_from_cns", cns["os_from_cns"], cns["death"],
                     _group_labels(cns))

    labels = _group_labels(data).replace({"none": "no_cns"})
    _km_by_group(section, "outcomes.os_from_abc", "os_from_abc", data["os_from_abc"], data["death"], labels,
                 ids=(*CNS_GROUPS, "no_cns"))

    if len(cns) and has(cohort, "cause_of_death"):
        dead = cns[cns["death"] == 1]
        table = pd.crosstab(_group_labels(dead), dead["cause_of_death"].astype(str) == "cns_progression")
        if table.shape[0] > 1 and table.shape[1] > 1:
            section.put("outcomes.cause_of_death", p=float(chi_squared(table).p))
        section.tables["cause_of_death"] = pd.crosstab(
            dead["cause_of_death"].astype(str), _group_labels(dead))
    return section


# --------------------------------------------------------------------------- risk factors
def risk_factor_figures(cohort) -> Section:
    """Cox models of OS from CNS diagnosis: all CNS patients, and the L group."""
    data = cohort.data
    section = Section()
    cns = _cns(data)
    specs = (
        ("all_cns", cns, OS_ALL_CNS_TERMS, "cox_os_all_cns"),
        ("l_group", cns[cns["group"] == "L"], OS_L_GROUP_TERMS, "cox_os_l_group"),
    )
    for key, members, terms, analysis in specs:
        if not has(cohort, analysis):
            section.notes.append(cohort.switched_off_note(analysis))
            continue
        frame = pd.DataFrame({"time": members["os_from_cns"], "event": members["death"]})
        for column in terms.values():
            frame[column] = members[column].astype(float)
        if frame["event"].sum() == 0:
            section.notes.append(f"{key}: no deaths, model not fitted")
            continue
        try:
            fit = _fit_cox(frame, "time", "event", list(terms.values()), section.notes, key)
        except (ValueError, np.linalg.LinAlgError) as exc:
            section.notes.append(f"{key}: ordinary Cox fit not usable ({exc})")
            continue
        section.fits[key] = fit
        section.figures[f"risk_factors.{key}.n"] = int(fit.n_)
        cox_figures(section, f"risk_factors.{key}", fit, terms)
    return section


SECTIONS = {
    "cohort": cohort_figures,
    "backgrounds": backgrounds_figures,
    "treatments": treatments_figures,
    "outcomes": outcomes_figures,
    "risk_factors": risk_factor_figures,
}


def all_sections(cohort) -> dict[str, Section]:
    """Every section computed once, by name (callers needing both figures and fits share them)."""
    return {name: compute(cohort) for name, compute in SECTIONS.items()}


def all_figures(cohort, sections: dict[str, Section] | None = None) -> dict[str, Any]:
    """Every figure of every section, by id (what the scorecard and calibration compare)."""
    figures: dict[str, Any] = {}
    for section in (sections or all_sections(cohort)).values():
        figures.update(section.figures)
    return figures


def firth_refit(cohort, key: str = "l_group") -> pd.DataFrame:
    """The OS model ``key`` fitted both ordinarily and with Firth's penalty, side by side.

    Firth: penalized partial likelihood l(beta) + 0.5 log|I(beta)| (Heinze & Schemper 2001),
    profile penalized-likelihood CIs and penalized likelihood-ratio p-values, as R's coxphf.
    Indexed by (term, fit); columns hr, hr_profile_lower, hr_profile_upper, p_lr.
    """
    terms = {"all_cns": OS_ALL_CNS_TERMS, "l_group": OS_L_GROUP_TERMS}[key]
    members = _cns(cohort.data)
    if key == "l_group":
        members = members[members["group"] == "L"]
    frame = pd.DataFrame({"time": members["os_from_cns"], "event": members["death"]})
    for column in terms.values():
        frame[column] = members[column].astype(float)
    rows = {}
    for label, penalty in (("ordinary", None), ("Firth", "firth")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the ordinary fit may be the diverging one shown here
            fit = CoxModel(ties=TIES, penalty=penalty).fit(frame, "time", "event", list(terms.values()))
        for name, column in terms.items():
            row = fit.coefficients_.loc[column]
            rows[(TERM_LABELS.get(name, name), label)] = {
                what: float(row[what]) for what in ("hr", "hr_profile_lower", "hr_profile_upper", "p_lr")}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = table.index.set_names(["term", "fit"])
    return table
