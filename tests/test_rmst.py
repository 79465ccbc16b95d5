"""RMST per group and the difference from the reference group, pinned to R (tests/reference/rmst_R.json,
written by competing_risks.R from lung.csv: print(survfit, rmean = tau) and the z test)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.stats import rmst_by_group
from analysis.stats.spec import run_spec
from test_competing_risks import max_rel_diff  # noqa: E402  (tests is not a package)

REF = Path(__file__).parent / "reference"


def test_rmst_spec_matches_r():
    R = json.loads((REF / "rmst_R.json").read_text())
    ours = run_spec(pd.read_csv(REF / "lung.csv"), json.loads((REF / "rmst_spec.json").read_text()))
    for name in R:
        if name != "_meta":
            assert max_rel_diff(R[name], ours[name]) < 1e-9, name


def test_default_tau_is_the_smallest_largest_follow_up():
    out = rmst_by_group([1, 5, 2, 3], [1, 0, 1, 0], ["a", "a", "b", "b"])
    assert out["tau"] == 3 and out["reference"] == "a"


def test_difference_by_hand():
    # a: curve 1 to t=1, 0.5 to t=2, 0 after; RMST(3) = 1 + 0.5 = 1.5. b: 1 to t=3: RMST = 3
    out = rmst_by_group([1, 2, 4, 5], [1, 1, 1, 1], ["a", "a", "b", "b"], tau=3)
    assert out["groups"]["a"]["rmst"] == pytest.approx(1.5)
    assert out["diff"]["b"]["diff"] == pytest.approx(1.5)
    with pytest.raises(ValueError, match="reference"):
        rmst_by_group([1, 2], [1, 1], ["a", "b"], reference="c")
