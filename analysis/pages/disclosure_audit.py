"""The attacker inside disclosure control: the least and greatest value every suppressed cell can
take given what an exhibit publishes (an integer linear programme, scipy's ``milp``).

:func:`analysis.pages.disclosure.protect` calls :func:`audit` after the least-cost heuristic and
suppresses more until no suppressed cell has a single possible value.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def _sensitive(value, k: int) -> bool:
    # as analysis.pages.disclosure.sensitive, for whole-number cells (the grid's values are ints)
    return bool(k) and 0 < value < k


def cell_bounds(values_known: dict[int, float], unknown: dict[int, tuple[float, float, bool]],
                lines: Sequence[tuple[Sequence[int], int | None, float]]) -> dict[int, tuple[float, float]]:
    """The attacker: min and max of each unknown cell given the published ones.

    ``unknown``: cell -> (lower, upper, secondary); a secondary cell is known not to be small, so
    it is 0 or at least the threshold carried as ``lower`` (modelled with a binary variable).
    ``lines``: (members, total or None, constant): members sum to the total cell, or to
    ``constant`` when total is None. Integer linear programme (scipy.optimize.milp).
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    cells = list(unknown)
    if not cells:
        return {}
    index = {c: j for j, c in enumerate(cells)}
    binaries = [c for c in cells if unknown[c][2]]
    nvar = len(cells) + len(binaries)
    rows, rhs = [], []
    for members, total, constant in lines:
        row = np.zeros(nvar)
        known = 0.0
        for i, sign in [(m, 1.0) for m in members] + ([(total, -1.0)] if total is not None else []):
            if i in index:
                row[index[i]] += sign
            else:
                known += sign * values_known[i]
        if total is None:
            known -= constant
        if row.any():
            rows.append(row)
            rhs.append(-known)
    big = 10.0 ** 7
    lower = np.zeros(nvar)
    upper = np.full(nvar, np.inf)
    for c in cells:
        low, up, secondary = unknown[c]
        lower[index[c]], upper[index[c]] = (0.0, big) if secondary else (low, up)
    for b, c in enumerate(binaries):  # x = 0 or x >= threshold: x >= t*z, x <= big*z, z in {0, 1}
        z = len(cells) + b
        lower[z], upper[z] = 0, 1
        threshold = unknown[c][0]
        for coeffs, lo, up in (({index[c]: 1.0, z: -threshold}, 0, np.inf), ({index[c]: 1.0, z: -big}, -np.inf, 0)):
            row = np.zeros(nvar)
            for j, v in coeffs.items():
                row[j] = v
            rows.append(row)
            rhs.append((lo, up))
    constraints = []
    for row, r in zip(rows, rhs):
        lo, up = r if isinstance(r, tuple) else (r, r)
        constraints.append(LinearConstraint(row.reshape(1, -1), lo, up))
    out = {}
    for c in cells:
        ends = []
        for sign in (1.0, -1.0):
            objective = np.zeros(nvar)
            objective[index[c]] = sign
            result = milp(objective, constraints=constraints, integrality=np.ones(nvar),
                          bounds=Bounds(lower, upper))
            ends.append(sign * result.fun if result.status == 0 else sign * math.inf)
        out[c] = (ends[0], ends[1])
    return out


def audit(grid: Grid, hidden: set[int], k: int, first: set[int]) -> list[int]:
    """Suppressed cells of ``grid`` whose value follows from what is published (min == max)."""
    known = {i: grid.values[i] for i in range(len(grid.values)) if i not in hidden and grid.published[i]}
    unknown = {}
    for i in range(len(grid.values)):
        if i in known:
            continue
        if i in first:
            unknown[i] = (1.0, float(k - 1), False)
        elif grid.published[i]:
            unknown[i] = (float(k), math.inf, True)
        else:
            unknown[i] = (0.0, math.inf, False)
    lines = [(m, t, 0.0) if t is not None else (m, None, float(sum(grid.values[i] for i in m)))
             for m, t in grid.lines]
    bounds = cell_bounds(known, unknown, lines)
    return [i for i, (lo, up) in bounds.items()
            if i in hidden and (grid.published[i] or i in grid.watched or _sensitive(grid.values[i], k))
            and abs(lo - up) < 1e-6]


