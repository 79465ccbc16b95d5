"""The ``stats`` cross-check command against every figure R's survival package produced.

R side: tests/reference/{lung,edge}_R.json, computed by R 4.2.2 / survival 3.5-3 from
the CSV and spec beside them (survfit, quantile.survfit, print(rmean=tau), summary(times,
extend=TRUE), survdiff, coxph + cox.zph(transform="km") + drop-one-term anova + profile
likelihood, chisq.test, fisher.test). This test walks the R JSON and ours in parallel and
compares every number with the tolerance of its kind (issue 4); nothing is loosened.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.stats.spec import apply_subset, run_spec

from conftest import REFERENCE  # noqa: E402  (tests/reference, defined once)

# Figures we do not reproduce, with the reason (also in the stats report):
#  zph_legacy      the survival < 3.0 formula; not part of the package (issue 4).
SKIP_KEYS = {"zph_legacy", "_meta"}


def tolerance(analysis_type: str, path: tuple) -> float:
    """Relative tolerance of a figure, by analysis and key (issue 4)."""
    if analysis_type in ("km", "logrank", "chisq", "fisher"):
        return 1e-9
    if analysis_type == "cox":
        return 1e-5 if path and path[0] == "profile_ci" else 1e-6
    raise AssertionError(f"no tolerance for {analysis_type}")


def compare(ours, theirs, rel, path=()):
    """Yield a message per mismatch between our JSON and R's (R's keys must all exist)."""
    if isinstance(theirs, dict):
        if not isinstance(ours, dict):
            yield f"{path}: expected an object, got {ours!r}"
            return
        for key, value in theirs.items():
            if key in SKIP_KEYS:
                continue
            if key not in ours:
                yield f"{path + (key,)}: missing"
                continue
            yield from compare(ours[key], value, rel, path + (key,))
    elif isinstance(theirs, list):
        if not isinstance(ours, list) or len(ours) != len(theirs):
            yield f"{path}: expected list of {len(theirs)}, got {ours!r}"
            return
        for i, (a, b) in enumerate(zip(ours, theirs)):
            yield from compare(a, b, rel, path + (i,))
    elif theirs is None:
        if ours is not None:
            yield f"{path}: R gives NA, we give {ours!r}"
    elif isinstance(theirs, str):
        if path[-1] != "median_rule" and ours != theirs and path[-2:-1] != ("warnings",):
            yield f"{path}: {ours!r} != {theirs!r}"
    elif isinstance(theirs, bool):
        assert ours == theirs
    else:
        if ours is None or abs(ours - theirs) > rel * abs(theirs) + 1e-14:
            yield f"{path}: ours {ours!r} vs R {theirs!r} (rel tol {rel})"


def load(name):
    return json.loads((REFERENCE / f"{name}.json").read_text())


@pytest.fixture(scope="module", params=["lung", "edge"])
def both(request):
    import pandas as pd

    name = request.param
    ours = run_spec(pd.read_csv(REFERENCE / f"{name}.csv"), load(f"{name}_spec"))
    return name, ours, load(f"{name}_R")


def test_every_r_figure_matches(both):
    name, ours, r = both
    problems = []
    for analysis, expected in r.items():
        if analysis == "_meta":
            continue
        got = ours.get(analysis)
        assert got is not None, f"{name}: analysis {analysis} missing"
        if "error" in expected:
            # R: the analysis could not run -> we must report an error too, and nothing else
            assert "error" in got, f"{name}/{analysis}: R reports an error, we ran it: {got}"
            continue
        assert "error" not in got, f"{name}/{analysis}: {got.get('error')}"
        for key, value in expected.items():
            if key in SKIP_KEYS:
                continue
            problems += [f"{name}/{analysis}: {m}" for m in
                         compare(got.get(key), value, tolerance(expected["type"], (key,)), (key,))]
    assert not problems, "\n".join(problems)


def test_walker_catches_a_wrong_number(both):
    # the comparison itself must be able to fail
    _, ours, r = both
    cox = next(v for v in r.values() if isinstance(v, dict) and v.get("type") == "cox")
    coef = next(iter(cox["coefficients"].values()))
    bad = {"coef": coef["coef"] * (1 + 1e-5)}
    assert list(compare(bad, {"coef": coef["coef"]}, 1e-6))
    assert list(compare({"x": 1.0}, {"x": None}, 1e-9))


def test_error_entries_do_not_stop_other_analyses():
    import pandas as pd

    df = pd.read_csv(REFERENCE / "edge.csv")
    out = run_spec(df, {"a": {"type": "weird"}, "b": {"type": "km", "time": "t", "event": "x"},
                        "c": {"type": "logrank", "time": "t", "event": "e", "group": "arm"}})
    assert "unknown analysis type" in out["a"]["error"]
    assert "0/1" in out["b"]["error"]
    assert out["c"]["df"] == 1


def test_subset_parser():
    import pandas as pd

    df = pd.read_csv(REFERENCE / "edge.csv")
    # R: subset(edge, arm == "A" & x >= 1)  (x NA dropped)
    assert len(apply_subset(df, "arm==A & x>=1")) == 4
    assert len(apply_subset(df, "arm!=A")) == 5
    with pytest.raises(ValueError, match="not understood"):
        apply_subset(df, "arm ~ A")


def test_command_line_writes_r_shaped_json(tmp_path):
    out = tmp_path / "edge.json"
    proc = subprocess.run(
        [sys.executable, "-m", "analysis", "stats", str(REFERENCE / "edge.csv"), str(REFERENCE / "edge_spec.json"),
         "-o", str(out)], capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert set(load("edge_R").keys()) <= set(data.keys())
    # R's NA is JSON null
    assert data["km_arm"]["groups"]["A"]["median_ci"]["log"][1] is None
