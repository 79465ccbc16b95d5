"""The disclosure attacker shared by tests/test_disclosure.py (the builders) and
tests/test_disclosure_outputs.py (what a build published): an integer programme (scipy ``milp``)
bounds every cell that is not printed as a number, subject to the published equalities."""

from __future__ import annotations

import re

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from analysis.pages.disclosure import NOT_SHOWN, SECONDARY

K = 5


def solve(published: list[str], lines, truth: list[int] | None = None,
          big: float = 1e6, at_most=()) -> dict[int, tuple[float, float]]:
    """Min and max of each cell that is not printed as a number. ``published``: '12', '12 (40%)',
    '<5', 'x' / 'suppressed' (a count that is 0 or at least K), '·' or '' (anything >= 0);
    ``lines``: (members, constant or None, total cell or None): the members add up to the total cell,
    else to the constant; ``at_most``: (members, total cell): the members add up to at most the total
    (events so far never exceed the deaths)."""
    unknown = [i for i, t in enumerate(published) if not re.fullmatch(r"\d+(\s\(.*\))?", t)]
    if not unknown:
        return {}
    col = {c: j for j, c in enumerate(unknown)}
    binaries = [c for c in unknown if published[c] == SECONDARY]
    nvar = len(unknown) + len(binaries)
    lo, up = np.zeros(nvar), np.full(nvar, big)
    for c in unknown:
        if published[c] == f"<{K}":
            lo[col[c]], up[col[c]] = 1, K - 1
    cons = []
    for members, constant, total in lines:
        row, known = np.zeros(nvar), 0.0
        for i, sign in [(m, 1) for m in members] + ([(total, -1)] if total is not None else []):
            if i in col:
                row[col[i]] += sign
            else:
                known += sign * int(re.match(r"\d+", published[i]).group(0))
        rhs = (constant or 0) - known
        if row.any():
            cons.append(LinearConstraint(row.reshape(1, -1), rhs, rhs))
    for members, total in at_most:
        row, known = np.zeros(nvar), 0.0
        for i, sign in [(m, 1) for m in members] + [(total, -1)]:
            if i in col:
                row[col[i]] += sign
            else:
                known += sign * int(re.match(r"\d+", published[i]).group(0))
        if row.any():
            cons.append(LinearConstraint(row.reshape(1, -1), -np.inf, -known))
    for b, c in enumerate(binaries):  # 'x' is not small: 0 or at least K
        z = len(unknown) + b
        lo[z], up[z] = 0, 1
        r1, r2 = np.zeros(nvar), np.zeros(nvar)
        r1[col[c]], r1[z], r2[col[c]], r2[z] = 1, -K, 1, -big
        cons += [LinearConstraint(r1.reshape(1, -1), 0, np.inf), LinearConstraint(r2.reshape(1, -1), -np.inf, 0)]
    out = {}
    for c in unknown:
        ends = []
        for sign in (1, -1):
            objective = np.zeros(nvar)
            objective[col[c]] = sign
            res = milp(objective, constraints=cons, integrality=np.ones(nvar), bounds=Bounds(lo, up))
            assert res.status == 0, f"the published cells contradict each other ({res.message})"
            ends.append(sign * res.fun)
        out[c] = (ends[0], ends[1])
        if truth is not None:
            assert ends[0] <= truth[c] <= ends[1], (c, ends, truth[c])
    return out


def risk_cells(fit, logrank, rule, k: int = K) -> dict[tuple[str, float], tuple[str, str]]:
    """The OS figure's at-risk row as ChapterPage.figure draws it under ``rule`` (a Disclosure):
    (group, time) -> (at risk, cumulative events), each as printed."""
    from analysis.pages import survival_figure
    from analysis.pages.plots import hidden_risk_rows

    with hidden_risk_rows(rule.suppressed_sizes, {g: rule.deaths[g] for g in rule.suppressed_deaths}):
        figure = survival_figure(fit, logrank, paper="outcomes.os_from_cns", min_cell=k)
    cells = {}
    for text in figure.findobj(lambda a: hasattr(a, "get_gid")):
        gid = text.get_gid() or ""
        if gid.startswith("risk-") and hasattr(text, "get_text"):
            _, group, time = gid.split("-", 2)
            shown = text.get_text()
            cells[group, float(time)] = (NOT_SHOWN, NOT_SHOWN) if shown == NOT_SHOWN else \
                tuple(re.fullmatch(r"(\S+) \((\S+)\)", shown).groups())
    return cells
