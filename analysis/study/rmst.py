"""Restricted mean survival from the CNS diagnosis by group: the summary that needs no proportional hazards.

The Cox models of the risk-factors chapter assume proportional hazards, and the main model fails the
test on the bundled cohort; RMST up to a horizon tau (the mean number of days lived in the first tau
days) compares the groups without that assumption. tau is the survRM2 default, the smallest of the
groups' largest follow-up times, cut down to whole 30-day months: so that every group's curve is
observed up to it, and so that no single patient's follow-up time is printed as the horizon.
"""

from __future__ import annotations

import math

import pandas as pd

from analysis.cohort import CNS_GROUPS
from analysis.stats import default_tau, rmst_by_group
from analysis.study.reproduction import Section

MONTH_DAYS = 30  # the horizon is a whole number of these


def rmst_section(cohort, reference: str = CNS_GROUPS[0]) -> Section:
    """RMST of OS from the CNS diagnosis per CNS group and each group's difference from ``reference``.

    Figures ``outcomes.rmst.tau``, ``outcomes.rmst.<g>.{rmst,se}``, ``outcomes.rmst.<g>.diff.{diff,ci,p}``;
    table ``rmst`` (one row per group).
    """
    data = cohort.data
    section = Section()
    # every id exists on any cohort (NaN where a group is absent), so the prose always has its numbers
    nan = float("nan")
    section.figures["outcomes.rmst.tau"] = nan
    for g in CNS_GROUPS:
        section.put(f"outcomes.rmst.{g}", rmst=nan, se=nan)
        if g != reference:
            section.put(f"outcomes.rmst.{g}.diff", diff=nan, ci=[nan, nan], p=nan)
    cns = data[data["cns"] == 1]
    present = [g for g in CNS_GROUPS if (cns["group"].astype(str) == g).any()]
    if reference not in present or len(present) < 2:
        section.notes.append(f"Restricted mean survival needs group {reference} and at least one other group.")
        return section
    cns = cns[cns["group"].astype(str).isin(present)]
    time, event, group = cns["os_from_cns"].astype(float), cns["death"], cns["group"].astype(str)
    tau = math.floor(default_tau(time, group) / MONTH_DAYS) * MONTH_DAYS
    if tau <= 0:
        section.notes.append("Restricted mean survival needs a horizon of at least one month in every group.")
        return section
    out = rmst_by_group(time, event, group, tau=tau, reference=reference)
    section.figures["outcomes.rmst.tau"] = int(tau)
    rows = []
    for g in present:
        est = out["groups"][g]
        section.put(f"outcomes.rmst.{g}", rmst=est["rmst"], se=est["se"])
        row = {"group": g, "rmst": est["rmst"], "se": est["se"], "diff": None, "lower": None, "upper": None,
               "p": None}
        if g in out["diff"]:
            diff = out["diff"][g]
            section.put(f"outcomes.rmst.{g}.diff", diff=diff["diff"], ci=list(diff["ci"]), p=diff["p"])
            row.update(diff=diff["diff"], lower=diff["ci"][0], upper=diff["ci"][1], p=diff["p"])
        rows.append(row)
    section.tables["rmst"] = pd.DataFrame(rows)
    return section
