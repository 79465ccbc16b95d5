"""The event counts behind each model term, median, RMST and cumulative incidence the study publishes.

Disclosure control (:mod:`analysis.pages.disclosure`) withholds an estimate that rests on 1 to k - 1
events: a hazard ratio for a level with one death says that patient died, a cumulative incidence of
16.7% in a group of six is one death. Which events an estimate rests on is the study's knowledge
(which patients, which event, which reference level), so it is written down here, next to the
models, and the pages only apply the threshold.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from analysis.cohort import CNS_GROUPS
from analysis.study.competing_risks import CAUSES, CIF_DAYS, cause_codes
from analysis.study.reproduction import (
    OS_ALL_CNS_TERMS, OS_L_GROUP_TERMS, SITES_AT_ABC, TERM_LABELS, risk_model_data,
)

CAUSE_KEYS = {1: "cns", 2: "other"}


@dataclasses.dataclass(frozen=True)
class EventBasis:
    """The events one published estimate rests on.

    Attributes
    ----------
    prefix : str
        The figure id (or id prefix: every non-count figure under it) of the estimate.
    events : tuple of int
        The event counts it rests on (a term's level and its reference level, a group's deaths).
    table : str or None
        The section table that shows the estimate (``Section.tables`` key), if any.
    row : str or tuple or None
        That table's row: a term label, or the (cause, group) or (group, day) index of the page's table.
    column : str or None
        For a table of estimates per cell (cumulative incidence), the source column.
    what : str
        The estimate in words, for the note that says what was withheld.
    patients : tuple of int
        The patients of those levels or groups: a level of 1 to k - 1 patients tells their outcome
        even with no event (a hazard ratio near 0 says none of them died).
    """

    prefix: str
    events: tuple
    table: str | None = None
    row: object = None
    column: str | None = None
    what: str = ""
    patients: tuple = ()


def _split(event: pd.Series, level: pd.Series) -> tuple[int, int]:
    """Events at level 1 and at the reference level 0 of a binary covariate."""
    return int(event[level == 1].sum()), int(event[level == 0].sum())


def _sizes(level: pd.Series) -> tuple[int, int]:
    return int((level == 1).sum()), int((level == 0).sum())


def _complete(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.dropna()  # as the Cox fit: complete cases only


def _model_terms(out: list, prefix: str, table: str, frame: pd.DataFrame, event: str, terms: dict,
                 model: str) -> None:
    frame = _complete(frame)
    for name, column in terms.items():
        if frame[column].nunique() > 2:  # a continuous covariate has no level of its own
            continue
        label = TERM_LABELS.get(name, name)
        out.append(EventBasis(f"{prefix}.{name}", _split(frame[event], frame[column]), table, label,
                              what=f"{label} ({model})", patients=_sizes(frame[column])))


def event_bases(cohort) -> list[EventBasis]:
    """Every estimate of the study with the events it rests on (see :class:`EventBasis`).

    Models whose columns the cohort lacks are skipped (they are not fitted either).
    """
    data = getattr(cohort, "data", cohort)
    out: list[EventBasis] = []
    cns = data[data["cns"] == 1]
    groups = cns["group"].astype(str)
    # Cox models of overall survival from the CNS diagnosis (risk-factors chapter)
    for key, members, terms in (("all_cns", cns, OS_ALL_CNS_TERMS), ("l_group", cns[groups == "L"], OS_L_GROUP_TERMS)):
        try:
            frame = pd.DataFrame({"time": members["os_from_cns"], "death": members["death"]})
            for column in terms.values():
                frame[column] = members[column].astype(float)
        except KeyError:
            continue
        _model_terms(out, f"risk_factors.{key}", key, frame, "death", terms, {"all_cns": "all CNS patients", "l_group": "group L"}[key])
    # Cox models of the risk of CNS metastasis (backgrounds, critique)
    try:
        for key, event_groups in (("risk_of_bm_multivariate", ("B", "BL")), ("risk_of_lm_multivariate", ("L",))):
            _model_terms(out, f"backgrounds.{key}", key, risk_model_data(data, event_groups), "event", SITES_AT_ABC,
                         "risk of " + key.split("_")[2].upper())
        bm = next(b for b in out if b.prefix == "backgrounds.risk_of_bm_multivariate.bone")
        lm = next(b for b in out if b.prefix == "backgrounds.risk_of_lm_multivariate.bone")
        out.append(EventBasis("critique.bm_bone_hr", bm.events, what="critique: BM model, bone", patients=bm.patients))
        alt = _complete(risk_model_data(data, ("B", "BL"))[data["group"].astype(str) != "L"])
        out.append(EventBasis("critique.bm_bone_hr_excluded", _split(alt["event"], alt[SITES_AT_ABC["bone"]]),
                              what="critique: BM model without group L, bone", patients=_sizes(alt[SITES_AT_ABC["bone"]])))
        for name in ("critique.lm_bone_profile", "critique.lm_bone_wald"):
            out.append(EventBasis(name, lm.events, what="critique: LM model, bone", patients=lm.patients))
    except (KeyError, StopIteration):
        pass
    # Kaplan-Meier medians and RMST per group: a group's deaths
    for prefix, members, labels, event in (
            ("outcomes.os_from_cns", cns, groups, "death"),
            ("outcomes.os_from_abc", data, data["group"].astype(str).replace({"none": "no_cns"}), "death"),
            ("backgrounds.time_abc_to_cns_by_group", cns, groups, None)):
        for g in (*CNS_GROUPS, "no_cns"):
            mine = members[labels == g]
            if len(mine):
                n_events = len(mine) if event is None else int(mine[event].sum())
                out.append(EventBasis(f"{prefix}.{g}", (n_events,), what=f"{prefix} {g}", patients=(len(mine),)))
    reference = CNS_GROUPS[0]
    for g in CNS_GROUPS:
        deaths, n = int(cns.loc[groups == g, "death"].sum()), int((groups == g).sum())
        if n:
            ref = (int(cns.loc[groups == reference, "death"].sum()), int((groups == reference).sum()))
            out.append(EventBasis(f"outcomes.rmst.{g}", (deaths,), "rmst", g, what=f"RMST of group {g}",
                                  patients=(n,)))
            if g != reference:
                out.append(EventBasis(f"outcomes.rmst.{g}.diff", (deaths, ref[0]), "rmst", g,
                                      what=f"RMST difference of group {g}", patients=(n, ref[1])))
    out.extend(_competing_bases(cns))
    out.extend(_immortal_time_bases(data))
    out.extend(_contingency_bases(cns))
    # the sensitivity chapter's worked examples repeat two of these estimates under other conventions
    for alias, prefix in (("sensitivity.example.median_ci", "outcomes.os_from_cns.B"),
                          ("sensitivity.example.l_group_therapy", "risk_factors.l_group.subsequent_systemic_therapy")):
        for b in [b for b in out if b.prefix == prefix]:
            out.append(dataclasses.replace(b, prefix=alias, table=None, row=None))
    return out


def _immortal_time_bases(data: pd.DataFrame) -> list[EventBasis]:
    """Subsequent therapy, treated against untreated, in each analysis of the immortal-time chapter."""
    from analysis.study.immortal_time import (
        LANDMARKS, THERAPY, _cns_frame, counting_process_data, landmark_data,
    )

    try:
        frame = _cns_frame(data)
        frames = [("naive", "Naive (as the paper)", frame, THERAPY, frame[THERAPY])]
        frames += [(f"landmark{d}", f"Landmark, day {d:g}", (f := landmark_data(data, d)), "treated", f["treated"])
                   for d in LANDMARKS]
        cp = counting_process_data(data)
        treated_ids = cp.loc[cp["treated"] == 1, "id"].unique()
        frames.append(("time_varying", "Time-varying", cp, "treated",
                       frame[THERAPY].reset_index(drop=True).where(lambda s: s.index.isin(treated_ids), 0.0)))
    except (KeyError, ValueError):  # the chapter is not computed on this cohort either
        return []
    out, union, sizes = [], [], []
    for key, label, rows, level, per_patient in frames:
        events = _split(rows["death"], rows[level])
        out.append(EventBasis(f"immortal_time.{key}", events, "comparison", label,
                              what=f"subsequent therapy ({label.lower()})", patients=_sizes(per_patient)))
        union += events
        sizes += _sizes(per_patient)
    out.append(EventBasis("immortal_time.direction", tuple(union), what="the direction of the change",
                          patients=tuple(sizes)))
    return out


def _competing_bases(cns: pd.DataFrame) -> list[EventBasis]:
    """Cause-specific and Fine-Gray terms (group vs B) and cumulative incidence at the published days."""
    if "cause_of_death" not in cns or cns.empty or not cns["death"].sum():
        return []
    try:
        cause = cause_codes(cns).to_numpy()
    except ValueError:
        return []
    time = cns["os_from_cns"].to_numpy(dtype=float)
    groups = cns["group"].astype(str).to_numpy()
    out = []
    for k, key in CAUSE_KEYS.items():
        per_group = {g: int(((groups == g) & (cause == k)).sum()) for g in CNS_GROUPS if (groups == g).any()}
        size = {g: int((groups == g).sum()) for g in per_group}
        for g in CNS_GROUPS[1:]:
            if g in per_group and CNS_GROUPS[0] in per_group:
                events = (per_group[g], per_group[CNS_GROUPS[0]])
                patients = (size[g], size[CNS_GROUPS[0]])
                out.append(EventBasis(f"competing_risks.cs.{key}.{g}", events, "cause_specific", (CAUSES[k], g),
                                      what=f"cause-specific HR, {CAUSES[k].lower()}, group {g}", patients=patients))
                out.append(EventBasis(f"competing_risks.fg.{key}.{g}", events, "fine_gray", (CAUSES[k], g),
                                      what=f"Fine-Gray HR, {CAUSES[k].lower()}, group {g}", patients=patients))
        out.append(EventBasis(f"competing_risks.cs.{key}.group", tuple(per_group.values()),
                              what=f"group term, {CAUSES[k].lower()}", patients=tuple(size.values())))
        for g in per_group:
            for days in CIF_DAYS:
                so_far = int(((groups == g) & (cause == k) & (time <= days)).sum())
                out.append(EventBasis(f"competing_risks.cif.{g}.{key}.d{days}", (so_far,), "cif_at", (g, days),
                                      f"cif_{k}", what=f"group {g} at day {days}",
                                      patients=(size[g],)))
    return out


def _contingency_bases(cns: pd.DataFrame) -> list[EventBasis]:
    """The p-values of the tests on count tables by group that results.json and the prose print:
    each rests on every cell of its table. With the margins published, a reader who lists every
    table that fits them can compute each one's p-value, and a p-value given to four decimals often
    fits only one: so a test on a table with a count of 1 to k - 1 is withheld with it."""
    out: list[EventBasis] = []
    groups = cns["group"].astype(str) if "group" in cns else None
    if groups is None:
        return out
    tables = []
    if "skull_mets_at_cns" in cns:
        known = cns["skull_mets_at_cns"].notna()
        tables.append(("backgrounds.skull_involvement.test", groups[known], cns.loc[known, "skull_mets_at_cns"],
                       "the test of skull involvement by group"))
    if "histology" in cns:
        known = cns["histology"].astype(str).isin(["IDC", "ILC", "other"])
        tables.append(("backgrounds.lobular_histology.p", groups[known], cns.loc[known, "histology"].astype(str) == "ILC",
                       "the test of lobular histology by group"))
    if {"death", "cause_of_death"} <= set(cns.columns):
        dead = cns["death"] == 1
        for prefix in ("outcomes.cause_of_death", "competing_risks.chisq"):
            tables.append((prefix, groups[dead], cns.loc[dead, "cause_of_death"].astype(str) == "cns_progression",
                           "the test of the cause of death by group"))
    for prefix, by, level, what in tables:
        cells = pd.crosstab(by, level.astype(str)).to_numpy().ravel() if len(by) else np.zeros(0, dtype=int)
        out.append(EventBasis(prefix, tuple(int(c) for c in cells), what=what))
    return out


def few_events(bases: list[EventBasis], k: int) -> list[EventBasis]:
    """The bases with an event count, or a level or group of patients, from 1 to k - 1 (0 reveals nobody)."""
    return [b for b in bases if k and any(0 < int(e) < k for e in np.asarray((*b.events, *b.patients), dtype=int))]
