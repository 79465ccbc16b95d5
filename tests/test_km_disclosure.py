"""Disclosure control of the Kaplan-Meier figures: with min_cell = k no step of a curve shows fewer
than k events, and no count from 1 to k - 1 is printed anywhere in the figure.

The groups are small on purpose (3, 7, 12 patients): those are the curves that show every death.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

from analysis.pages import plots
from analysis.stats import KaplanMeier, aggregate_km

MONTH = 365.25 / 12
K = 5


def cohort(sizes=(3, 7, 12), seed=7, censoring=True):
    """Exponential survival (median about 10 months), with uniform censoring over 3 years."""
    rng = np.random.default_rng(seed)
    frames = []
    for name, n in zip("ABC", sizes):
        death = rng.exponential(300.0, n).round(0) + 1
        censor = rng.uniform(0, 1100, n).round(0) + 1 if censoring else np.full(n, np.inf)
        frames.append(pd.DataFrame({"time": np.minimum(death, censor), "event": (death <= censor).astype(int),
                                    "group": name}))
    return pd.concat(frames, ignore_index=True)


def fit(frame):
    return KaplanMeier().fit(frame["time"], frame["event"], frame["group"])


def curve(fig, group):
    line = next(a for a in fig.axes[0].lines if a.get_gid() == f"km-curve-{group}")
    return np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)


def texts(fig):
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def tick_texts(fig):
    return {id(t) for ax in fig.axes for t in [*ax.get_xticklabels(), *ax.get_yticklabels()]}


SMALL = re.compile(r"(?<![<\d.])([1-4])(?![\d.])")  # a bare 1..4, not '<5', not part of 12 or 0.4


@pytest.mark.parametrize("seed", [7, 11, 2024])
def test_every_step_of_the_aggregated_curve_holds_at_least_k_events(seed):
    frame = cohort(seed=seed)
    aggregated = aggregate_km(fit(frame).table_, K, MONTH)
    table = aggregated.km.table_
    for group, rows in table.groupby("group"):
        if group in aggregated.withheld:
            continue
        steps = rows[rows["n_event"] > 0]
        assert (steps["n_event"] >= K).all(), group
        # every time the curve can drop at is a grid point, never a patient's own day
        assert np.allclose(steps["time"] / MONTH, np.round(steps["time"] / MONTH))
    # a group with 1..k-1 events cannot have a step of k: it is withheld
    events = frame.groupby("group")["event"].sum()
    assert set(aggregated.withheld) == {g for g, d in events.items() if 0 < d < K}
    assert set(aggregated.small) == {g for g, n in frame.groupby("group").size().items() if n < K}


@pytest.mark.parametrize("seed", [7, 11, 2024])
def test_drawn_steps_are_k_events_and_no_small_count_is_printed(seed):
    frame = cohort(seed=seed)
    km = fit(frame)
    fig = plots.survival_figure(km, min_cell=K, xlabel="Months")
    aggregated = aggregate_km(km.table_, K, MONTH)
    for group in km.groups_:
        x, y = curve(fig, group)
        if group in aggregated.withheld:
            assert len(x) <= 1  # no curve, only the legend entry
            continue
        rows = aggregated.km.table_[aggregated.km.table_["group"] == group]
        n_at = dict(zip(rows["time"] / MONTH, rows["n_risk"]))
        drops = np.flatnonzero(np.diff(y) < 0) + 1
        for i in drops:  # each drop is the grouped d / n of a period with d >= k
            row = rows.loc[np.isclose(rows["time"] / MONTH, x[i])].iloc[0]
            assert row["n_event"] >= K
            assert y[i] == pytest.approx(y[i - 1] * (1 - row["n_event"] / n_at[row["time"] / MONTH]))
    # no censor marks: aggregated censorings are not drawn one by one
    assert all(len(a.get_xdata()) == 0 for a in fig.axes[0].lines if (a.get_gid() or "").startswith("km-censor"))
    ticks = tick_texts(fig)
    printed = [t.get_text() for t in texts(fig) if id(t) not in ticks and t.get_gid() != "km-disclosure-note"]
    assert printed and not any(SMALL.search(s) for s in printed), printed


def test_risk_table_counts_come_from_the_grouped_data_and_are_masked():
    frame = cohort(sizes=(12, 40), seed=3)
    km = fit(frame)
    fig = plots.survival_figure(km, min_cell=K)
    aggregated = aggregate_km(km.table_, K, MONTH)
    breaks = plots.unit_breaks(km.table_)
    expected = aggregated.km.risk_table(breaks)
    cells = {tuple(t.get_gid().split("-", 2)[1:]): t.get_text() for t in fig.findobj(Text)
             if (t.get_gid() or "").startswith("risk-")}
    sizes = km.table_.groupby("group")["n_risk"].max()
    for r in expected.itertuples():
        risk = f"<{K}" if 0 < r.n_risk < K else str(r.n_risk)
        events = f"<{K}" if 0 < r.n_events < K else str(r.n_events)
        censored = sizes[r.group] - r.n_risk - r.n_events  # implied: the group less both printed counts
        shown = cells[(r.group, f"{r.time:g}")]
        if 0 < censored < K and risk.isdigit() and events.isdigit():
            # both printed would give back a small censored count: one of them is secondarily suppressed
            assert shown in (f"x ({events})", f"{risk} (x)"), shown
        else:
            assert shown == f"{risk} ({events})"
        assert r.n_events == 0 or r.n_events >= K  # cumulative events move in periods of >= k


@pytest.mark.parametrize("seed", [7, 11, 2024])
def test_aggregated_curve_stays_within_the_original_range_at_period_ends(seed):
    frame = cohort(sizes=(12, 30), seed=seed)
    km = fit(frame)
    aggregated = aggregate_km(km.table_, K, MONTH)

    def original(group, t):
        rows = km.table_[(km.table_["group"] == group) & (km.table_["time"] <= t + 1e-9)]
        return float(rows["surv"].iloc[-1]) if len(rows) else 1.0

    for group, ends in aggregated.period_ends.items():
        rows = aggregated.km.table_[aggregated.km.table_["group"] == group].set_index("time")
        start = 0.0
        for end in ends:
            value = float(rows.loc[end, "surv"])
            # Censorings rounded up stay at risk through their period: never below the original,
            # and the original passes through the same level within the period.
            assert value >= original(group, end) - 1e-12
            assert value <= original(group, start) + 1e-12
            start = end


def test_without_censoring_the_aggregated_curve_equals_the_original_at_period_ends():
    frame = cohort(sizes=(12, 30), censoring=False)
    km = fit(frame)
    aggregated = aggregate_km(km.table_, K, MONTH)
    for group, ends in aggregated.period_ends.items():
        rows = km.table_[km.table_["group"] == group]
        agg = aggregated.km.table_[aggregated.km.table_["group"] == group].set_index("time")
        for end in ends:
            assert agg.loc[end, "surv"] == pytest.approx(rows.loc[rows["time"] <= end + 1e-9, "surv"].iloc[-1])


def test_medians_are_read_from_the_grouped_curve_and_withheld_for_small_groups():
    frame = cohort(sizes=(3, 30), seed=5)
    km = fit(frame)
    fig = plots.survival_figure(km, min_cell=K)
    aggregated = aggregate_km(km.table_, K, MONTH)
    lines = {a.get_gid(): a for a in fig.axes[0].lines}
    assert "km-median-A" not in lines  # 3 patients: no median
    median_b = aggregated.km.summary_.loc["B", "median"]
    assert np.isfinite(median_b)
    assert lines["km-median-B"].get_xdata()[0] == pytest.approx(median_b / MONTH)
    assert median_b / MONTH == pytest.approx(round(median_b / MONTH))  # a period end


def test_band_if_drawn_comes_from_the_grouped_data():
    frame = cohort(sizes=(40,), seed=9)
    km = fit(frame)
    fig = plots.survival_figure(km, min_cell=K, ci=True)
    aggregated = aggregate_km(km.table_, K, MONTH)
    band = next(c for c in fig.axes[0].collections if c.get_gid() == "km-ci-A")
    vertices = band.get_paths()[0].vertices
    lowers = set(np.round(aggregated.km.table_["lower"].dropna(), 9)) | {1.0}
    assert set(np.round(vertices[:, 1], 9)) <= lowers | set(np.round(aggregated.km.table_["upper"].dropna(), 9))


def test_the_method_is_stated_under_the_figure_and_in_the_alt_text():
    frame = cohort(seed=7)
    km = fit(frame)
    fig = plots.survival_figure(km, min_cell=K)
    note = next(t for t in fig.findobj(Text) if t.get_gid() == "km-disclosure-note").get_text()
    note = " ".join(note.split())
    assert "at least 5 events" in note and "<5" in note and "censoring marks" in note
    aggregated = aggregate_km(km.table_, K, MONTH)
    alt = plots.alt_text_km(aggregated.km.summary_, "overall survival", min_cell=K)
    assert "at least 5 events" in alt and "withheld" in alt
    assert not SMALL.search(alt)


def test_min_cell_zero_draws_the_fit_unchanged():
    frame = cohort(seed=7)
    km = fit(frame)

    def png(fig):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", metadata={"Software": None})
        return buffer.getvalue()

    plain = plots.survival_figure(km)
    assert png(plain) == png(plots.survival_figure(km, min_cell=0))
    x, y = curve(plain, "C")
    rows = km.table_[(km.table_["group"] == "C") & (km.table_["n_event"] > 0)]
    assert set(np.round(y[1:-1], 12)) <= set(np.round(rows["surv"], 12))
    assert not any(t.get_gid() == "km-disclosure-note" for t in plain.findobj(Text))


def test_aggregate_km_errors_name_the_argument():
    table = fit(cohort()).table_
    with pytest.raises(ValueError, match="min_events"):
        aggregate_km(table, 0, MONTH)
    with pytest.raises(ValueError, match="period"):
        aggregate_km(table, K, 0.0)
