"""Restricted mean survival time per group and its difference from a reference group.

RMST(tau) is the area under the Kaplan-Meier curve up to tau: the mean survival time over the first
tau days. Unlike a hazard ratio it needs no proportional hazards. Each group's RMST and standard error
are R's ``print(survfit(...), rmean = tau)`` (:meth:`analysis.stats.KaplanMeier.rmst`); the groups are
independent samples, so the difference from the reference has variance se_g^2 + se_ref^2, with a
normal (Wald) interval and z test, as survRM2's ``rmst2`` reports it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats._checks import as_groups, as_time
from analysis.stats.nonparametric import KaplanMeier

__all__ = ["rmst_by_group", "default_tau"]


def default_tau(time, group) -> float:
    """The smallest of the groups' largest follow-up times (survRM2's default): every group's curve
    is observed up to it."""
    t, g = as_time(time), as_groups(group)
    return float(min(t[g == v].max() for v in pd.unique(g)))


def rmst_by_group(time, event, group, tau: float | None = None, reference=None,
                  conf_level: float = 0.95) -> dict:
    """RMST per group up to ``tau`` and each group's difference from ``reference``.

    Parameters
    ----------
    time, event, group : array-like
        Follow-up time, 0/1 event, group label.
    tau : float, optional
        Horizon (default :func:`default_tau`).
    reference : str, optional
        Reference group (default the first level in sorted order).
    conf_level : float
        Level of the difference's Wald interval.

    Returns
    -------
    dict
        ``tau``, ``reference``, ``groups`` {g: {rmst, se}}, ``diff`` {g: {diff, se, ci, p}} for every
        group but the reference.

    Examples
    --------
    >>> out = rmst_by_group([1, 2, 3, 4], [1, 1, 1, 1], ["a", "a", "b", "b"], tau=2)
    >>> out["groups"]["a"]["rmst"], out["diff"]["b"]["diff"]
    (1.5, 0.5)
    """
    if tau is None:
        tau = default_tau(time, group)
    km = KaplanMeier().fit(time, event, group)
    table = km.rmst(float(tau)).set_index("group")
    reference = km.groups_[0] if reference is None else str(reference)
    if reference not in table.index:
        raise ValueError(f"reference: group {reference!r} not found; groups are {km.groups_}")
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    ref = table.loc[reference]
    out = {"tau": float(tau), "reference": reference,
           "groups": {g: {"rmst": float(r.rmean), "se": float(r.rmean_se)} for g, r in table.iterrows()},
           "diff": {}}
    for g, r in table.iterrows():
        if g == reference:
            continue
        diff = float(r.rmean - ref.rmean)
        se = float(np.hypot(r.rmean_se, ref.rmean_se))
        out["diff"][g] = {"diff": diff, "se": se, "ci": [diff - z * se, diff + z * se],
                          "p": float(2 * stats.norm.sf(abs(diff / se))) if se > 0 else float("nan")}
    return out
