"""The worked examples of the primer's later chapters: cumulative hazard, RMST, competing risks,
time-varying covariates and landmarks.

Each ``*_figures`` function returns the numbers a page glues (ids ``primer.<chapter>.*``); the
estimates come from :mod:`analysis.stats`, so the primer teaches the estimators the book uses.
Cohort times are days in the file; the primer speaks in months (:data:`DAYS_PER_MONTH`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stats import as_event, as_time

__all__ = [
    "DAYS_PER_MONTH", "nelson_aalen_by_hand", "nelson_aalen_figures", "rmst_figures", "cns_causes",
    "competing_figures", "tv_frames", "time_varying_figures",
]

DAYS_PER_MONTH = 365.25 / 12


def nelson_aalen_by_hand(time, event) -> pd.DataFrame:
    """Nelson-Aalen cumulative hazard, one row per death time: n at risk, d deaths, the increment
    d/n, H(t) their running sum, exp(-H) and the Kaplan-Meier S(t) beside it (-log S >= H)."""
    t, e = as_time(time), as_event(event)
    times = np.unique(t[e == 1])
    n = np.array([(t >= x).sum() for x in times])
    d = np.array([((t == x) & (e == 1)).sum() for x in times])
    increment = d / n
    return pd.DataFrame({"time": times, "at_risk": n, "deaths": d, "increment": increment,
                         "cumhaz": np.cumsum(increment), "exp_minus_h": np.exp(-np.cumsum(increment)),
                         "km": np.cumprod(1 - increment)})


def nelson_aalen_figures(toy: pd.DataFrame) -> dict:
    hand = nelson_aalen_by_hand(toy["months"], toy["death"]).set_index("time")
    last = hand.iloc[-1]
    return {
        "primer.na.h2": float(hand.loc[2, "cumhaz"]),
        "primer.na.h3": float(hand.loc[3, "cumhaz"]),
        "primer.na.h6": float(hand.loc[6, "cumhaz"]),
        "primer.na.exp6": float(hand.loc[6, "exp_minus_h"]),
        "primer.na.km6": float(hand.loc[6, "km"]),
        "primer.na.minus_log_km6": float(-np.log(hand.loc[6, "km"])),
        "primer.na.h_last": float(last["cumhaz"]),
        "primer.na.last_time": int(hand.index[-1]),
    }


def rmst_figures(toy: pd.DataFrame, sample: pd.DataFrame, tau_toy: float = 10, tau_sample: float = 36) -> dict:
    """RMST of the toy arms up to ``tau_toy`` and of the crossing-hazards sample up to ``tau_sample``,
    with the sample's Cox HR and medians: where PH fails, the RMST difference still has a meaning."""
    from analysis.stats import CoxModel, KaplanMeier, rmst_by_group

    toy_out = rmst_by_group(toy["months"], toy["death"], toy["arm"], tau=tau_toy)
    out = rmst_by_group(sample["months"], sample["death"], sample["group"], tau=tau_sample, reference="early")
    hr = CoxModel().fit(sample, "months", "death", ["late"]).coefficients_.loc["late"]
    medians = KaplanMeier().fit(sample["months"], sample["death"], sample["group"]).summary_["median"]
    return {
        "primer.rmst.tau": _whole(tau_toy),
        "primer.rmst.A": toy_out["groups"]["A"]["rmst"],
        "primer.rmst.B": toy_out["groups"]["B"]["rmst"],
        "primer.rmst.diff": toy_out["diff"]["B"]["diff"],
        "primer.rmst.diff_ci": [float(x) for x in toy_out["diff"]["B"]["ci"]],
        "primer.rmst.sample_tau": _whole(tau_sample),
        "primer.rmst.early": out["groups"]["early"]["rmst"],
        "primer.rmst.late": out["groups"]["late"]["rmst"],
        "primer.rmst.sample_diff": out["diff"]["late"]["diff"],
        "primer.rmst.sample_diff_ci": [float(x) for x in out["diff"]["late"]["ci"]],
        "primer.rmst.sample_hr": float(hr["hr"]),
        "primer.rmst.median_early": float(medians["early"]),
        "primer.rmst.median_late": float(medians["late"]),
    }


def _whole(value):
    value = float(value)
    return int(value) if value.is_integer() else value


def cns_causes(data: pd.DataFrame) -> pd.DataFrame:
    """Patients with CNS metastases: months from the CNS diagnosis, group, and the cause code
    0 alive, 1 death from CNS progression, 2 death from another cause (the book's coding)."""
    cns = data[data["cns"] == 1]
    dead = cns["death"].to_numpy() == 1
    from_cns = cns["cause_of_death"].astype(object).to_numpy() == "cns_progression"
    return pd.DataFrame({"months": cns["os_from_cns"].to_numpy() / DAYS_PER_MONTH,
                         "cause": np.where(dead, np.where(from_cns, 1, 2), 0),
                         "group": cns["group"].astype(str).to_numpy()})


def competing_figures(data: pd.DataFrame, at: float = 12) -> dict:
    """1 - KM of CNS death (other deaths censored) against its cumulative incidence at ``at``
    months, Gray's test across groups and the Fine-Gray SHR of L against B."""
    from analysis.stats import CumulativeIncidence, FineGray, KaplanMeier

    frame = cns_causes(data)
    km = KaplanMeier().fit(frame["months"], (frame["cause"] == 1).astype(int))
    naive = 1 - float(km.survival_at([at])["surv"].iloc[0]) if hasattr(km, "survival_at") else np.nan
    cif = CumulativeIncidence().fit(frame["months"], frame["cause"])
    aj = float(cif.at([at]).query("cause == 1")["estimate"].iloc[0])
    other = float(cif.at([at]).query("cause == 2")["estimate"].iloc[0])
    grouped = CumulativeIncidence().fit(frame["months"], frame["cause"], frame["group"])
    two = frame[frame["group"].isin(["B", "L"])]
    fg = FineGray().fit(two["months"], two["cause"], (two["group"] == "L").astype(float).to_frame("L"), of_cause=1)
    return {
        "primer.cr.n": int(len(frame)),
        "primer.cr.cns_deaths": int((frame["cause"] == 1).sum()),
        "primer.cr.other_deaths": int((frame["cause"] == 2).sum()),
        "primer.cr.at": _whole(at),
        "primer.cr.one_minus_km": naive,
        "primer.cr.cif": aj,
        "primer.cr.cif_other": other,
        "primer.cr.gray.p": float(grouped.tests_.loc[1, "p"]),
        "primer.cr.fg_shr": float(fg.coefficients_.loc["L", "hr"]),
        "primer.cr.fg.p": float(fg.coefficients_.loc["L", "p"]),
    }


def tv_frames(data: pd.DataFrame, landmark: float = 12) -> dict:
    """Three ways to ask "does a CNS metastasis shorten survival from the ABC diagnosis?" (months):

    - ``naive``: one row per patient, ``cns`` fixed at baseline (immortal time credited to it);
    - ``counting``: (start, stop] rows, ``cns`` switching from 0 to 1 at the CNS diagnosis;
    - ``landmark``: patients alive at ``landmark`` months, ``cns`` = diagnosed by then, time reset.
    """
    months = data["os_from_abc"].to_numpy() / DAYS_PER_MONTH
    to_cns = data["time_abc_to_cns"].to_numpy(dtype=float) / DAYS_PER_MONTH
    death, cns = data["death"].to_numpy(), data["cns"].to_numpy()
    naive = pd.DataFrame({"months": months, "death": death, "cns": cns})
    rows = []
    for i in range(len(months)):
        if cns[i] == 1 and 0 < to_cns[i] < months[i]:
            rows += [(i, 0.0, to_cns[i], 0, 0), (i, to_cns[i], months[i], death[i], 1)]
        else:
            rows.append((i, 0.0, months[i], death[i], int(cns[i] == 1)))
    counting = pd.DataFrame(rows, columns=["id", "start", "stop", "death", "cns"])
    alive = months > landmark
    by_then = (cns == 1) & (np.nan_to_num(to_cns, nan=np.inf) <= landmark)
    landmarked = pd.DataFrame({"months": months[alive] - landmark, "death": death[alive],
                               "cns": by_then[alive].astype(int)})
    return {"naive": naive, "counting": counting, "landmark": landmarked}


def time_varying_figures(data: pd.DataFrame, landmark: float = 12) -> dict:
    from analysis.stats import CoxModel, TimeVaryingCox

    frames = tv_frames(data, landmark)
    naive = CoxModel().fit(frames["naive"], "months", "death", ["cns"]).coefficients_.loc["cns"]
    tv = TimeVaryingCox().fit(frames["counting"], "start", "stop", "death", ["cns"]).coefficients_.loc["cns"]
    lm = CoxModel().fit(frames["landmark"], "months", "death", ["cns"]).coefficients_.loc["cns"]
    return {
        "primer.tv.n": int(len(frames["naive"])),
        "primer.tv.n_cns": int(frames["naive"]["cns"].sum()),
        "primer.tv.rows": int(len(frames["counting"])),
        "primer.tv.naive_hr": float(naive["hr"]),
        "primer.tv.tv_hr": float(tv["hr"]),
        "primer.tv.tv_ci": [float(tv["hr_lower"]), float(tv["hr_upper"])],
        "primer.tv.landmark": _whole(landmark),
        "primer.tv.landmark_n": int(len(frames["landmark"])),
        "primer.tv.landmark_cns": int(frames["landmark"]["cns"].sum()),
        "primer.tv.landmark_hr": float(lm["hr"]),
    }
