"""Rules between columns of a cohort file, as vectorised pandas masks; a rule runs only when all its
columns are present, and leaves out values a column check already refused (``bad``).

Decisions:

* CNS-only values filled for a patient with ``cns_group`` none are a WARNING, not an error; the loaded
  cohort blanks them (many exports write 0 instead of blank for "not applicable"). A CNS date for such a
  patient is an ERROR, because it contradicts the group itself.
* ``cause_of_death`` is required for dead CNS patients (the paper compares it across B, BL, L); for dead
  patients without CNS metastasis it may be blank.
* Other warnings (the file still loads): ``csi_completed`` given without CSI (blanked on load),
  ``age_at_cns - age_at_abc`` more than a year away from the time between the dates.
"""

from __future__ import annotations

import pandas as pd

from analysis.cohort.problems import Checker
from analysis.cohort.schema import CNS_GROUPS, NO_CNS_GROUP, Schema

_ANY_CNS_GROUP = ", ".join(CNS_GROUPS[:-1]) + " or " + CNS_GROUPS[-1]  # "B, BL or L", as messages say it


def cross_checks(typed: pd.DataFrame, bad: dict[str, pd.Series], schema: Schema, check: Checker) -> None:
    """Rules between columns; a rule runs only when all its columns are present."""
    has = set(typed.columns)
    def col(name: str) -> pd.Series:
        return typed[name]

    def known_blank(name: str) -> pd.Series:
        return typed[name].isna() & ~bad[name]

    # an unknown or missing cns_group (already reported) is neither, so no rule below fires on it
    no_group = pd.Series(False, index=typed.index)
    is_cns = col("cns_group").isin(CNS_GROUPS) if "cns_group" in has else no_group
    not_cns = col("cns_group").eq(NO_CNS_GROUP).fillna(False) if "cns_group" in has else no_group

    if {"cns_group", "cns_date"} <= has:
        group = col("cns_group")
        check.rows_where(is_cns & known_blank("cns_date"), "error", "cns_group_without_date", "cns_date",
                         "CNS diagnosis date is missing for a patient with CNS metastasis",
                         f"a date when cns_group is {_ANY_CNS_GROUP}", {"cns_group": group})
        check.rows_where(not_cns & col("cns_date").notna(), "error", "cns_date_without_group", "cns_group",
                         "cns_group is 'none' but a CNS diagnosis date is given",
                         f"cns_group {_ANY_CNS_GROUP} for a patient with a CNS diagnosis date, or a blank cns_date",
                         {"cns_group": group, "cns_date": col("cns_date")})
    if {"abc_date", "cns_date"} <= has:
        check.rows_where(col("cns_date") < col("abc_date"), "error", "cns_before_abc", "cns_date",
                         "CNS diagnosis is before the ABC diagnosis", "cns_date on or after abc_date",
                         {"cns_date": col("cns_date"), "abc_date": col("abc_date")})
    if {"abc_date", "last_contact_date"} <= has:
        check.rows_where(col("last_contact_date") < col("abc_date"), "error", "contact_before_abc",
                         "last_contact_date", "death or last follow-up is before the ABC diagnosis",
                         "last_contact_date on or after abc_date",
                         {"last_contact_date": col("last_contact_date"), "abc_date": col("abc_date")})
    if {"cns_date", "last_contact_date"} <= has:
        check.rows_where(col("last_contact_date") < col("cns_date"), "error", "contact_before_cns",
                         "last_contact_date", "death or last follow-up is before the CNS diagnosis",
                         "last_contact_date on or after cns_date",
                         {"last_contact_date": col("last_contact_date"), "cns_date": col("cns_date")})

    if {"age_at_cns", "cns_group"} <= has:
        check.rows_where(is_cns & known_blank("age_at_cns"), "error", "cns_without_age", "age_at_cns",
                         "age at CNS diagnosis is missing for a patient with CNS metastasis",
                         f"a whole number of years when cns_group is {_ANY_CNS_GROUP}", {"cns_group": col("cns_group")})
    if {"age_at_cns", "age_at_abc"} <= has:
        younger = is_cns & (col("age_at_cns") < col("age_at_abc"))
        check.rows_where(younger, "error", "age_cns_below_abc", "age_at_cns",
                         "age at CNS diagnosis is below the age at ABC diagnosis", "age_at_cns >= age_at_abc",
                         {"age_at_cns": col("age_at_cns"), "age_at_abc": col("age_at_abc")})
        if {"abc_date", "cns_date"} <= has:
            years_apart = (col("cns_date") - col("abc_date")).dt.days / 365.25
            age_gap = (col("age_at_cns") - col("age_at_abc")).astype("Float64")
            off = is_cns & ~younger.fillna(False) & ((age_gap - years_apart).abs() > 1.05)
            check.rows_where(off, "warning", "age_dates_mismatch", "age_at_cns",
                             "ages do not match the dates", "age_at_cns - age_at_abc within a year of the time "
                             "between abc_date and cns_date",
                             {"age_at_cns": col("age_at_cns"), "age_at_abc": col("age_at_abc"),
                              "years between dates": years_apart.round(1)})

    # CNS-only values for patients without CNS metastasis: warning, blanked on load (see module docstring).
    for name in schema.cns_only_columns:
        if name in has and name != "cns_date":
            check.rows_where(not_cns & col(name).notna(), "warning", "cns_only_value_for_non_cns", name,
                             "value given for a patient with cns_group 'none'; it is ignored",
                             "blank for patients without CNS metastasis", typed[name])

    if {"csi_completed", "initial_cns_treatment"} <= has:
        check.rows_where(is_cns & col("csi_completed").notna() & col("initial_cns_treatment").ne("CSI").fillna(True),
                         "warning", "csi_completed_without_csi", "csi_completed",
                         "given for a patient whose initial_cns_treatment is not CSI; it is ignored",
                         "blank unless initial_cns_treatment is CSI",
                         {"csi_completed": col("csi_completed"), "initial_cns_treatment": col("initial_cns_treatment")})

    if "subsequent_systemic_start_date" in has:
        start = col("subsequent_systemic_start_date")
        if "subsequent_systemic" in has:
            flag = col("subsequent_systemic")
            check.rows_where(is_cns & flag.eq(1).fillna(False) & known_blank("subsequent_systemic_start_date"),
                             "error", "start_date_missing", "subsequent_systemic_start_date",
                             "start date is missing for a patient with subsequent_systemic 1",
                             "a date when subsequent_systemic is 1", {"subsequent_systemic": flag})
            # a flag refused by its own check (e.g. 'Yes') is reported there, not again here as "(blank)"
            check.rows_where(is_cns & start.notna() & flag.ne(1).fillna(True) & ~bad["subsequent_systemic"],
                             "error", "start_date_without_therapy",
                             "subsequent_systemic_start_date",
                             "start date given but subsequent_systemic is not 1",
                             "subsequent_systemic 1 when a start date is given, or a blank start date",
                             {"subsequent_systemic_start_date": start, "subsequent_systemic": flag})
        if {"cns_date", "last_contact_date"} <= has:
            outside = is_cns & ((start < col("cns_date")) | (start > col("last_contact_date")))
            check.rows_where(outside, "error", "start_date_outside_followup", "subsequent_systemic_start_date",
                             "start date is outside the time from CNS diagnosis to last contact",
                             "cns_date <= subsequent_systemic_start_date <= last_contact_date",
                             {"subsequent_systemic_start_date": start, "cns_date": col("cns_date"),
                              "last_contact_date": col("last_contact_date")})

    if {"cause_of_death", "vital_status"} <= has:
        cause, vital = col("cause_of_death"), col("vital_status")
        check.rows_where(vital.eq("alive").fillna(False) & cause.notna(), "error", "cause_of_death_alive",
                         "cause_of_death", "cause of death given for a patient who is alive",
                         "a blank cause_of_death when vital_status is alive",
                         {"cause_of_death": cause, "vital_status": vital})
        check.rows_where(is_cns & vital.eq("dead").fillna(False) & known_blank("cause_of_death"), "error",
                         "cause_of_death_missing", "cause_of_death",
                         "cause of death is missing for a dead patient with CNS metastasis",
                         "one of " + ", ".join(schema["cause_of_death"].allowed),
                         {"vital_status": vital, "cns_group": col("cns_group") if "cns_group" in has else vital})
        if "cns_group" in has:
            check.rows_where(not_cns & cause.eq("cns_progression").fillna(False), "error", "cns_death_without_cns",
                             "cause_of_death", "cause of death is CNS progression but cns_group is 'none'",
                             "extracranial_progression or other for a patient without CNS metastasis",
                             {"cause_of_death": cause, "cns_group": col("cns_group")})

