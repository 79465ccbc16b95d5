"""Cause of death as competing risks: Aalen-Johansen cumulative incidence and cause-specific Cox models.

The paper compares the share of deaths from CNS progression between the groups with a chi-squared
test among the patients who died. That share ignores *when* the deaths happened and the patients
still alive. With competing causes the textbook tools are:

- the **cumulative incidence function** (CIF) of each cause, estimated by the Aalen-Johansen
  estimator: CIF_k(t) = sum over death times t_j <= t of S(t_j-) d_kj / n_j, where S is the
  all-cause Kaplan-Meier curve, d_kj the deaths from cause k at t_j and n_j the number at risk.
  The CIFs of all causes add up to 1 - S(t). (1 - KM of one cause, censoring the others,
  overstates that cause's incidence.)
- **cause-specific hazards**: a Cox model for deaths from one cause, deaths from other causes
  censored. It compares the rate of that cause among the patients still alive.

The estimator is :func:`analysis.stats.aalen_johansen` (beside the Kaplan-Meier; it says why it is
written out rather than taken from lifelines).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import norm

from analysis.stats import (
    CoxModel, CumulativeIncidence, FineGray, aalen_johansen, as_groups, as_time, chi_squared, cif_at,
)
from analysis.cohort import CNS_GROUPS

__all__ = [
    "CAUSES",
    "cause_codes",
    "aalen_johansen",
    "cif_at",
    "cause_specific_cox",
    "chi_squared_among_deaths",
    "fine_gray",
]

# Cause code -> label. 0 is censored (alive at last contact).
CAUSES = {1: "CNS progression", 2: "Other causes"}
_CAUSE_OF = {"cns_progression": 1, "extracranial_progression": 2, "other": 2}


def cause_codes(data: pd.DataFrame) -> pd.Series:
    """0 alive (censored), 1 death from CNS progression, 2 death from any other cause.

    A death without a recorded cause is an error: it cannot be assigned to either cause.
    """
    dead = data["death"] == 1
    cause = data["cause_of_death"].astype(object)
    unknown = dead & cause.isna()
    if unknown.any():
        raise ValueError(f"cause_of_death: missing for {int(unknown.sum())} patient(s) who died; "
                         f"expected one of {sorted(_CAUSE_OF)}")
    unexpected = sorted({str(v) for v in cause[dead] if v not in _CAUSE_OF})
    if unexpected:
        raise ValueError(f"cause_of_death: found {unexpected}; expected one of {sorted(_CAUSE_OF)}")
    codes = cause.map(_CAUSE_OF).where(dead, 0)
    return codes.astype(int)


def cause_specific_cox(time, cause, group, of_cause: int, ref: str = "B") -> CoxModel:
    """Cox model of the cause-specific hazard of ``of_cause`` by group (others censored), Efron ties.

    The group is a factor with reference level ``ref``; its likelihood-ratio test (k - 1 df) is
    in ``term_tests_`` and ``p_lr``.
    """
    frame = pd.DataFrame({"time": as_time(time), "event": (np.asarray(cause) == of_cause).astype(int),
                          "group": as_groups(group)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a diverging fit must not pass silently
        return CoxModel().fit(frame, "time", "event", ["group"], factors=["group"], ref={"group": ref})


def chi_squared_among_deaths(cause, group):
    """The paper's test: CNS progression vs other causes among the patients who died, by group
    (Pearson chi-squared without continuity correction). Returns (counts table, TestResult)."""
    cause = np.asarray(cause)
    dead = cause > 0
    table = pd.crosstab(pd.Series(as_groups(group)[dead], name="group"),
                        pd.Series(np.where(cause[dead] == 1, CAUSES[1], CAUSES[2]), name="cause"))
    # one group or one cause among the dead (a small cohort): no test, the counts are still shown
    return table, (chi_squared(table) if min(table.shape) > 1 else None)


def fine_gray(time, cause, group, of_cause: int, ref: str = "B") -> FineGray:
    """Fine-Gray model of the subdistribution hazard of ``of_cause`` by group (as ``cmprsk::crr``),
    group ``ref`` the reference; terms named ``group<level>`` as in the Cox models."""
    labels = as_groups(group)
    levels = [g for g in sorted(set(labels)) if g != ref]
    x = np.column_stack([(labels == g).astype(float) for g in levels])
    return FineGray().fit(as_time(time), cause, x, [f"group{g}" for g in levels], of_cause=of_cause)


# --------------------------------------------------------------------------- what the chapter shows
GROUPS = CNS_GROUPS  # read from the schema (cns_group), not written down again
CIF_DAYS = (180, 365)


def competing_risks_section(cohort):
    """The chapter's figures, tables and notes (a :class:`analysis.study.reproduction.Section`).

    Figures: ``competing_risks.deaths.<cause>``; ``competing_risks.cif.<group>.<cause>.d<days>``
    (cumulative incidence, in %); ``competing_risks.cs.<cause>.<BL|L>.{hr,ci}`` (cause-specific
    Cox, group B the reference, profile CI) and ``competing_risks.cs.<cause>.group.p`` (LR test of the group,
    2 df); ``competing_risks.chisq.p`` (the paper's test). Cause keys: ``cns``, ``other``.
    ``competing_risks.gray.<cause>.p`` (Gray's test, 2 df); ``competing_risks.fg.<cause>.<BL|L>.{hr,ci}``
    (Fine-Gray subdistribution HR, robust Wald CI).
    Tables: ``cif`` (Aalen-Johansen steps with survfit's jackknife s.e. and log band), ``cif_at``,
    ``cause_specific``, ``fine_gray``, ``deaths``.
    """
    from analysis.study.reproduction import Section, cns_patients_with_deaths, has

    section = Section()
    keys = {1: "cns", 2: "other"}
    for k, key in keys.items():
        section.figures[f"competing_risks.deaths.{key}"] = float("nan")
        for g in GROUPS:
            for days in CIF_DAYS:
                section.figures[f"competing_risks.cif.{g}.{key}.d{days}"] = float("nan")
        for g in GROUPS[1:]:
            section.put(f"competing_risks.cs.{key}.{g}", hr=float("nan"), ci=[float("nan")] * 2)
        section.figures[f"competing_risks.cs.{key}.group.p"] = float("nan")
        section.figures[f"competing_risks.gray.{key}.p"] = float("nan")
        for g in GROUPS[1:]:
            section.put(f"competing_risks.fg.{key}.{g}", hr=float("nan"), ci=[float("nan")] * 2)
    section.figures["competing_risks.chisq.p"] = float("nan")
    if not has(cohort, "cause_of_death"):
        section.notes.append(cohort.switched_off_note("cause_of_death"))
        return section
    cns = cns_patients_with_deaths(cohort.data, section)
    if cns is None:
        return section
    time, cause, group = cns["os_from_cns"], cause_codes(cns), cns["group"].astype(str)
    fitted = CumulativeIncidence().fit(time, cause, group)
    table = fitted.table_
    section.tables["cif"] = table
    if fitted.tests_ is not None:
        for k, key in keys.items():
            if k in fitted.tests_.index:
                section.figures[f"competing_risks.gray.{key}.p"] = float(fitted.tests_.loc[k, "p"])
    read = cif_at(table, CIF_DAYS)
    section.tables["cif_at"] = read
    for row in read.itertuples(index=False):
        for k, key in keys.items():
            value = getattr(row, f"cif_{k}", 0.0)
            section.figures[f"competing_risks.cif.{row.group}.{key}.d{int(row.time)}"] = round(100 * value, 1)
    for k, key in keys.items():
        section.figures[f"competing_risks.deaths.{key}"] = int((cause == k).sum())
    counts, test = chi_squared_among_deaths(cause, group)
    section.tables["deaths"] = counts
    if test is not None:
        section.figures["competing_risks.chisq.p"] = float(test.p)
    else:
        section.notes.append("the chi-squared test of the cause of death by group needs deaths from both "
                             "causes in at least two groups")
    rows = []
    for k, key in keys.items():
        if (cause == k).sum() == 0 or "B" not in set(group):
            continue
        try:
            fit = cause_specific_cox(time, cause, group, k, ref="B")
        except (Warning, ValueError, np.linalg.LinAlgError) as exc:
            section.notes.append(f"cause-specific model for {CAUSES[k].lower()} not fitted ({exc})")
            continue
        section.fits[key] = fit
        section.figures[f"competing_risks.cs.{key}.group.p"] = float(fit.term_tests_.loc["group", "p"])
        for term, row in fit.coefficients_.iterrows():
            g = term[len("group"):]
            ci = [float(row["hr_profile_lower"]), float(row["hr_profile_upper"])]
            section.put(f"competing_risks.cs.{key}.{g}", hr=float(row["hr"]), ci=ci)
            # p_lr of a factor is the test of the whole group term (2 df), the same on each row
            rows.append({"cause": CAUSES[k], "group vs B": g, "HR": float(row["hr"]), "lower": ci[0],
                         "upper": ci[1], "p of the group term (likelihood ratio, 2 df)": float(row["p_lr"])})
    section.tables["cause_specific"] = pd.DataFrame(rows)
    section.tables["fine_gray"] = _fine_gray_rows(section, time, cause, group, keys)
    return section


def _fine_gray_rows(section, time, cause, group, keys) -> pd.DataFrame:
    rows = []
    for k, key in keys.items():
        if (cause == k).sum() == 0 or "B" not in set(group):
            continue
        try:
            fit = fine_gray(time, cause, group, k, ref="B")
        except (ValueError, np.linalg.LinAlgError) as exc:
            section.notes.append(f"Fine-Gray model for {CAUSES[k].lower()} not fitted ({exc})")
            continue
        for term, row in fit.coefficients_.iterrows():
            g = term[len("group"):]
            half = norm.ppf(0.975) * row["se"]  # 95% Wald interval on the robust s.e., as summary.crr
            ci = [float(np.exp(row["coef"] - half)), float(np.exp(row["coef"] + half))]
            section.put(f"competing_risks.fg.{key}.{g}", hr=float(row["hr"]), ci=ci)
            rows.append({"cause": CAUSES[k], "group vs B": g, "HR": float(row["hr"]), "lower": ci[0],
                         "upper": ci[1], "p (Wald, robust s.e.)": float(row["p"])})
    return pd.DataFrame(rows)
