"""Immortal-time bias of "subsequent systemic therapy": landmark and time-varying Cox reanalyses.

The paper's Cox model codes subsequent systemic therapy as a baseline covariate, although a patient
had to survive long enough to start it. The time from the CNS diagnosis to the therapy start is
"immortal" for the treated group, which biases the hazard ratio toward benefit. Two standard remedies:

- **Landmark analysis** (Anderson, Cain & Gelber 1983): keep the patients alive and in follow-up at a
  landmark day L, classify them by whether therapy had started by L, and restart the clock at L.
- **Time-varying covariate** (counting-process data, Andersen & Gill 1982): each patient contributes
  an untreated interval (0, s] and a treated interval (s, T], where s is the therapy start day.

The time-varying model is :class:`analysis.stats.TimeVaryingCox` (the Cox partial likelihood for
(start, stop] data, on the package's one Newton-Raphson and profile root finder). Day conventions are
stated in :func:`counting_process_data` and :func:`landmark_data`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from analysis.stats import CoxModel, TimeVaryingCox, require_columns

__all__ = [
    "TimeVaryingCox",
    "therapy_start_day",
    "counting_process_data",
    "landmark_data",
    "landmark_analysis",
    "naive_model",
    "time_varying_model",
    "immortal_time_summary",
    "comparison_table",
    "LANDMARKS",
    "ADJUSTMENT",
    "immortal_time_section",
]

# Clinically sensible landmarks (days after the CNS diagnosis): the usual time for RT to be completed
# and systemic therapy to be (re)started is weeks to about three months.
LANDMARKS = (30, 60, 90)
# The paper's other covariates of the all-CNS model (age >= 65, local RT), kept in every reanalysis.
ADJUSTMENT = ("age65_at_cns", "local_rt")
THERAPY = "subsequent_systemic"
# A death on the day of the CNS diagnosis has stop = 0; (0, 0] is empty, so such an interval is
# moved to (0, ZERO_DAY]. Times are whole days, so this keeps every risk set as it was.
ZERO_DAY = 0.5


# --------------------------------------------------------------------------- data
def therapy_start_day(data: pd.DataFrame) -> pd.Series:
    """Days from the CNS diagnosis to the start of subsequent systemic therapy (NaN if none)."""
    require_columns(data, ["cns_date", THERAPY, "subsequent_systemic_start_date"])
    days = (data["subsequent_systemic_start_date"] - data["cns_date"]).dt.days.astype(float)
    treated = data[THERAPY].astype(float) == 1
    missing = treated & days.isna()
    if missing.any():
        raise ValueError(f"subsequent_systemic_start_date: missing for {int(missing.sum())} treated patient(s); "
                         "expected a start date whenever subsequent_systemic is 1")
    return days.where(treated)


def _cns_frame(data: pd.DataFrame, adjust=ADJUSTMENT) -> pd.DataFrame:
    cns = data[data["cns"] == 1]
    frame = pd.DataFrame({
        "id": np.arange(len(cns)),  # a running number, never the patient identifier
        "time": cns["os_from_cns"].astype(float),
        "death": cns["death"].astype(int),
        THERAPY: cns[THERAPY].astype(float),
        "start_day": therapy_start_day(cns),
    }, index=cns.index)
    for column in adjust:
        frame[column] = cns[column].astype(float)
    return frame.dropna(subset=[THERAPY, *adjust])


def counting_process_data(data: pd.DataFrame, adjust=ADJUSTMENT) -> pd.DataFrame:
    """One row per patient and treatment status: columns id, start, stop, death, treated, adjusters.

    A patient whose therapy starts on day s contributes (0, s] untreated and (s, T] treated, T being
    the survival time from the CNS diagnosis (a death counts in the interval that ends at T).
    Therapy started on day 0 makes the whole follow-up treated; therapy started on the last day
    (s = T) leaves the patient untreated (a treated interval of zero length carries no risk).
    """
    frame = _cns_frame(data, adjust).reset_index(drop=True)
    end = frame["time"].clip(lower=ZERO_DAY)
    s = frame["start_day"]
    split = s.notna() & (s > 0) & (s < frame["time"])  # (0, s] untreated, then (s, T] treated
    whole = pd.DataFrame({"id": frame["id"], **{c: frame[c] for c in adjust}, "start": 0.0, "stop": end,
                          "death": frame["death"], "treated": (s.notna() & (s <= 0)).astype(float)})
    whole.loc[split, "stop"] = s[split]
    whole.loc[split, "death"] = 0
    whole.loc[split, "treated"] = 0.0
    treated = whole[split].assign(start=s[split], stop=end[split], death=frame.loc[split, "death"], treated=1.0)
    # each patient's rows together, untreated interval first (a stable sort keeps that order)
    rows = pd.concat([whole, treated]).sort_index(kind="stable").reset_index(drop=True)
    columns = ["id", "start", "stop", "death", "treated", *adjust]
    return rows[columns]


def landmark_data(data: pd.DataFrame, landmark: float, adjust=ADJUSTMENT) -> pd.DataFrame:
    """Patients alive and in follow-up beyond ``landmark`` days, clock restarted at the landmark.

    ``treated`` is 1 when therapy started on or before the landmark day (later starts count as
    untreated: the landmark analysis is by intention as of the landmark). Columns id, time
    (days after the landmark), death, treated, adjusters.
    """
    if landmark < 0:
        raise ValueError(f"landmark: expected a non-negative number of days, got {landmark!r}")
    frame = _cns_frame(data, adjust)
    kept = frame[frame["time"] > landmark]
    out = pd.DataFrame({
        "id": kept["id"],
        "time": kept["time"] - landmark,
        "death": kept["death"],
        "treated": (kept["start_day"] <= landmark).astype(float),
    })
    for column in adjust:
        out[column] = kept[column]
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- analyses
def _row(label, table, term, n, events, n_treated, how):
    row = table.loc[term]
    return {"analysis": label, "patients": n, "deaths": events, "treated": n_treated,
            "hr": float(row["hr"]), "lower": float(row["hr_profile_lower"]),
            "upper": float(row["hr_profile_upper"]), "p": float(row["p_lr"]), "how": how}


def naive_model(data: pd.DataFrame, adjust=ADJUSTMENT) -> CoxModel:
    """The paper's model: therapy as a baseline covariate (Cox, Efron ties)."""
    frame = _cns_frame(data, adjust)
    return CoxModel().fit(frame, "time", "death", [THERAPY, *adjust])


def time_varying_model(data: pd.DataFrame, adjust=ADJUSTMENT) -> TimeVaryingCox:
    """Therapy as a time-varying covariate from its start day (counting process, Efron ties)."""
    cp = counting_process_data(data, adjust)
    return TimeVaryingCox().fit(cp, "start", "stop", "death", ["treated", *adjust])


def landmark_analysis(data: pd.DataFrame, landmarks=LANDMARKS, adjust=ADJUSTMENT) -> pd.DataFrame:
    """Cox model of survival after each landmark by therapy status at the landmark.

    Efron ties; profile-likelihood 95% CI and likelihood-ratio p of the therapy term. Columns:
    landmark, patients, deaths, treated, hr, lower, upper, p (NaN when a landmark has no treated
    or no untreated patient, or no death).
    """
    rows = []
    for landmark in landmarks:
        frame = landmark_data(data, landmark, adjust)
        n, events, n_treated = len(frame), int(frame["death"].sum()), int(frame["treated"].sum())
        row = {"landmark": landmark, "patients": n, "deaths": events, "treated": n_treated,
               "hr": np.nan, "lower": np.nan, "upper": np.nan, "p": np.nan}
        if events and 0 < n_treated < n:
            fit = CoxModel().fit(frame, "time", "death", ["treated", *adjust])
            coef = fit.coefficients_.loc["treated"]
            row.update(hr=float(coef["hr"]), lower=float(coef["hr_profile_lower"]),
                       upper=float(coef["hr_profile_upper"]), p=float(coef["p_lr"]))
        rows.append(row)
    return pd.DataFrame(rows)


def immortal_time_summary(data: pd.DataFrame) -> dict:
    """How much immortal time the naive model gives the treated group.

    Returns treated (patients), median_start_day (days from CNS diagnosis to therapy start),
    immortal_days (sum of those waits: person-time the naive model counts as treated although
    the patients were untreated and could not die while remaining in the treated group),
    immortal_share (that sum over all person-time the naive model counts as treated, in %).
    """
    frame = _cns_frame(data, ())
    treated = frame[frame[THERAPY] == 1]
    waits = treated["start_day"].clip(lower=0)
    treated_time = float(treated["time"].sum())
    return {
        "treated": int(len(treated)),
        "median_start_day": float(waits.median()) if len(waits) else float("nan"),
        "immortal_days": float(waits.sum()),
        "immortal_share": 100.0 * float(waits.sum()) / treated_time if treated_time else float("nan"),
    }


def comparison_table(data: pd.DataFrame, landmarks=LANDMARKS, adjust=ADJUSTMENT) -> pd.DataFrame:
    """The therapy hazard ratio under each analysis, indexed by a readable label.

    Columns: patients, deaths, treated, hr, lower, upper (profile 95% CI), p (likelihood ratio),
    how. Rows: the naive model, one landmark model per landmark, the time-varying model.
    """
    naive = naive_model(data, adjust)
    frame = _cns_frame(data, adjust)
    rows = [_row("Naive (as the paper)", naive.coefficients_, THERAPY, naive.n_,
                 naive.n_events_, int(frame[THERAPY].sum()), "baseline covariate")]
    for r in landmark_analysis(data, landmarks, adjust).itertuples(index=False):
        rows.append({"analysis": f"Landmark, day {r.landmark:g}", "patients": r.patients, "deaths": r.deaths,
                     "treated": r.treated, "hr": r.hr, "lower": r.lower, "upper": r.upper, "p": r.p,
                     "how": f"status at day {r.landmark:g}"})
    tv = time_varying_model(data, adjust)
    rows.append(_row("Time-varying", tv.coefficients_, "treated", int(len(frame)),
                     tv.n_events_, int(frame[THERAPY].sum()), "counting process"))
    return pd.DataFrame(rows).set_index("analysis")


# --------------------------------------------------------------------------- what the chapter shows
FIGURE_KEYS = ("naive", *(f"landmark{d}" for d in LANDMARKS), "time_varying")


def _empty_figures() -> dict:
    figures = {f"immortal_time.{key}.{what}": float("nan")
               for key in FIGURE_KEYS for what in ("hr", "ci", "p", "n", "deaths", "treated")}
    figures.update({f"immortal_time.summary.{k}": float("nan")
                    for k in ("treated", "median_start_day", "immortal_days", "immortal_share")})
    figures["immortal_time.direction"] = "NA"
    return figures


def immortal_time_section(cohort):
    """The chapter's figures (ids ``immortal_time.<analysis>.<hr|ci|p|n|deaths|treated>`` and
    ``immortal_time.summary.*``), the comparison table, and notes when the cohort cannot support
    the reanalysis (no start dates, no treated or untreated patients). Returns a
    :class:`analysis.study.reproduction.Section`; figures not computed are NaN, so the prose shows NA."""
    from analysis.study.reproduction import Section, cns_patients_with_deaths, has

    section = Section(figures=_empty_figures())
    for analysis in ("cox_os_all_cns", "time_dependent_subsequent_systemic"):
        if not has(cohort, analysis):
            section.notes.append(cohort.switched_off_note(analysis))
    if section.notes:
        return section
    data = cohort.data
    if cns_patients_with_deaths(data, section) is None:
        return section
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a diverging fit must not pass silently
            table = comparison_table(data)
    except (Warning, ValueError, np.linalg.LinAlgError) as exc:
        section.notes.append(f"Not computed: {exc}")
        return section
    section.tables["comparison"] = table
    for key, (_, row) in zip(FIGURE_KEYS, table.iterrows()):
        section.put(f"immortal_time.{key}", hr=float(row["hr"]), ci=[float(row["lower"]), float(row["upper"])],
                    p=float(row["p"]), n=int(row["patients"]), deaths=int(row["deaths"]),
                    treated=int(row["treated"]))
    summary = immortal_time_summary(data)
    summary["immortal_share"] = round(summary["immortal_share"], 1)  # a percentage, printed to 0.1
    section.put("immortal_time.summary", **summary)
    naive, varying = table["hr"].iloc[0], table["hr"].iloc[-1]
    section.figures["immortal_time.direction"] = (
        "closer to 1" if abs(np.log(varying)) < abs(np.log(naive)) else "further from 1")
    return section
