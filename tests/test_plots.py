"""Figures: Kaplan-Meier with numbers at risk, forest plot, flow diagram, alt texts.

The plots consume the statistics layer's tables; most tests build those
tables by hand so that what is drawn can be compared with what was given.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib import cbook
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from analysis.pages import plots
from analysis.stats import aggregate_km
from analysis.stats.nonparametric import KaplanMeier

from conftest import REFERENCE  # noqa: E402  (tests/reference, defined once)


# ----------------------------------------------------------------------------- fixtures and helpers


def km_table(rows):
    """A KaplanMeier.table_-like frame from (group, time, n_risk, n_event, n_censor, surv) tuples; the band is
    surv -/+ 0.05 so it is easy to recognise."""
    df = pd.DataFrame(rows, columns=["group", "time", "n_risk", "n_event", "n_censor", "surv"])
    return df.assign(std_err=0.01, lower=(df["surv"] - 0.05).clip(0, 1), upper=(df["surv"] + 0.05).clip(0, 1))


@pytest.fixture
def small_table():
    # Two groups; no t = 0 row; group A has a censor-only time (3) and ends censored (6).
    return km_table([
        ("A", 1.0, 10, 1, 0, 0.9), ("A", 3.0, 9, 0, 2, 0.9), ("A", 4.0, 7, 2, 0, 0.9 * 5 / 7),
        ("A", 6.0, 5, 0, 5, 0.9 * 5 / 7),
        ("B", 2.0, 8, 4, 0, 0.5), ("B", 5.0, 4, 2, 1, 0.25), ("B", 7.0, 1, 1, 0, 0.0),
    ])


@pytest.fixture
def small_risk():
    return pd.DataFrame({
        "group": ["A", "A", "A", "B", "B", "B"],
        "time": [0.0, 3.0, 6.0, 0.0, 3.0, 6.0],
        "n_risk": [10, 9, 5, 8, 4, 1],
        "n_events": [0, 1, 3, 0, 4, 6],
        "n_censored": [0, 0, 2, 0, 0, 1],
    })


@pytest.fixture(scope="module")
def lung():
    return pd.read_csv(REFERENCE / "lung.csv")


def by_gid(fig, prefix):
    """Artists of the figure (inset axes included) whose gid starts with ``prefix``."""
    return fig.findobj(lambda a: (a.get_gid() or "").startswith(prefix), include_self=False)


def risk_cells(fig):
    """{(group, time): text} of the numbers-at-risk table."""
    cells = {}
    for text in by_gid(fig, "risk-"):
        _, group, time = text.get_gid().split("-", 2)
        cells[(group, float(time))] = text.get_text()
    return cells


def render(fig):
    """Draw with Agg (as savefig does) so that layout and text extents are final."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


# ----------------------------------------------------------------------------- Kaplan-Meier


def test_km_plot_builds_a_figure_with_curve_and_risk_table(small_table, small_risk):
    fig = plots.km_plot(small_table, small_risk, xlabel="Days since CNS diagnosis")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    assert tuple(fig.get_size_inches()) == pytest.approx(plots.KM_FIGSIZE)
    main = fig.axes[0]
    assert main.get_xlabel() == "Days since CNS diagnosis"
    assert main.get_ylabel() == "Overall survival"
    assert list(main.get_xticks()) == [0.0, 3.0, 6.0]  # tick times are the risk table's
    render(fig)  # draws without error


def test_km_curves_start_at_one_at_time_zero_and_follow_the_table(small_table):
    fig = plots.km_plot(small_table)
    (curve_a,) = by_gid(fig, "km-curve-A")
    x, y = curve_a.get_data()
    assert (x[0], y[0]) == (0.0, 1.0)
    # A: event times 1 and 4, then the last (censoring) time 6; the censor-only time 3 is not a vertex.
    assert list(x) == [0.0, 1.0, 4.0, 6.0]
    assert list(y) == pytest.approx([1.0, 0.9, 0.9 * 5 / 7, 0.9 * 5 / 7])
    assert curve_a.get_drawstyle() == "steps-post"
    (curve_b,) = by_gid(fig, "km-curve-B")
    assert list(curve_b.get_xdata()) == [0.0, 2.0, 5.0, 7.0]
    assert curve_b.get_ydata()[-1] == 0.0


def test_km_event_at_time_zero_drops_the_curve_at_zero():
    table = km_table([("A", 0.0, 10, 2, 0, 0.8), ("A", 5.0, 8, 4, 4, 0.4)])
    (curve,) = by_gid(plots.km_plot(table), "km-curve-A")
    assert list(curve.get_xdata()) == [0.0, 0.0, 5.0]
    assert list(curve.get_ydata()) == pytest.approx([1.0, 0.8, 0.4])


def test_km_censor_marks_at_censoring_times_on_the_curve(small_table):
    fig = plots.km_plot(small_table)
    (marks_a,) = by_gid(fig, "km-censor-A")
    assert list(marks_a.get_xdata()) == [3.0, 6.0]
    assert list(marks_a.get_ydata()) == pytest.approx([0.9, 0.9 * 5 / 7])
    assert marks_a.get_marker() == "|"
    assert by_gid(plots.km_plot(small_table, censor_marks=False), "km-censor-") == []


def test_km_confidence_band_is_a_step_band_from_lower_and_upper(small_table):
    fig = plots.km_plot(small_table)
    (band_a,) = by_gid(fig, "km-ci-A")
    assert band_a.get_alpha() == pytest.approx(plots.CI_ALPHA)
    ys = band_a.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(0.9 * 5 / 7 - 0.05)  # the table's lower bound
    assert ys.max() == pytest.approx(1.0)  # starts at S = 1 with no width
    assert by_gid(plots.km_plot(small_table, ci=False), "km-ci-") == []


def test_km_band_runs_up_to_the_drop_to_zero_where_r_gives_na():
    # R's log band is NA once S = 0 (group B of tests/reference/edge.csv); the band of the
    # step before (time 7 to 15) must still be drawn.
    table = km_table([("B", 3.0, 5, 1, 0, 0.8), ("B", 7.0, 3, 1, 0, 0.4), ("B", 15.0, 1, 1, 0, 0.0)])
    table.loc[2, ["lower", "upper"]] = np.nan
    (band,) = by_gid(plots.km_plot(table), "km-ci-B")
    vertices = band.get_paths()[0].vertices
    assert vertices[:, 0].max() == pytest.approx(15.0)
    assert vertices[:, 1].min() == pytest.approx(0.35)  # the band of [7, 15)


def test_km_single_curve_has_no_direct_label(small_table):
    fig = plots.km_plot(small_table, groups_order=["A"])
    assert by_gid(fig, "km-label-") == []
    assert len(by_gid(fig, "km-curve-")) == 1


def test_km_risk_table_counts_drawn_equal_the_table(small_table, small_risk):
    cells = risk_cells(plots.km_plot(small_table, small_risk))
    expected = {(r.group, r.time): str(r.n_risk) for r in small_risk.itertuples()}
    assert cells == expected


def test_km_risk_table_cells_sit_at_the_tick_times_under_the_curves(small_table, small_risk):
    fig = plots.km_plot(small_table, small_risk)
    main, table_axes = fig.axes
    assert table_axes.get_shared_x_axes().joined(main, table_axes)
    for text in by_gid(fig, "risk-"):
        assert text.axes is table_axes
        assert text.get_position()[0] == float(text.get_gid().rsplit("-", 1)[1])
    # Row labels are the group names, coloured like their curves (darkened for text contrast).
    labels = {t.get_text(): t.get_color() for t in table_axes.get_yticklabels()}
    assert set(labels) == {"A", "B"}
    assert labels["A"] != labels["B"]
    for colour in labels.values():
        assert plots.contrast_ratio(colour) >= plots.TEXT_CONTRAST


def test_km_min_cell_recounts_from_grouped_data_and_masks_small_counts_but_not_zero(small_table):
    risk = pd.DataFrame({"group": ["A"] * 5 + ["B"] * 5, "time": [0.0, 2.0, 4.0, 6.0, 8.0] * 2,
                         "n_risk": [99] * 10, "n_events": [99] * 10})
    # One-day periods: B's 7 deaths (days 2, 5, 7) make one period of 7 ending on day 7; A's 3
    # deaths are too few for a step, so A keeps its own days in the counts and is not drawn.
    fig = plots.km_plot(small_table, risk, min_cell=5, period=1.0, risk_columns=("n_risk", "n_events"))
    cells = risk_cells(fig)
    # Secondary suppression along each row (at risk + events + censored = the group): A's '9 (<5)' of
    # 10 would give back one death and no censoring, B's '0 (7)' of 8 one censored patient, so the
    # at-risk 9 and the events 7 show as 'x'.
    assert [cells[("A", t)] for t in (0.0, 2.0, 4.0, 6.0, 8.0)] == ["10 (0)", "x (<5)", "7 (<5)", "5 (<5)",
                                                                 "0 (<5)"]
    assert [cells[("B", t)] for t in (0.0, 2.0, 4.0, 6.0, 8.0)] == ["8 (0)"] * 4 + ["0 (x)"]
    assert len(by_gid(fig, "km-curve-A")[0].get_xdata()) <= 1
    assert list(by_gid(fig, "km-curve-B")[0].get_ydata()) == [1.0, 0.125]  # one drop of 7 of 8, on day 7
    assert list(by_gid(fig, "km-curve-B")[0].get_xdata()) == [0.0, 7.0]
    # Without masking the given counts are printed as they are.
    assert risk_cells(plots.km_plot(small_table, risk))[("B", 2.0)] == "99"


def test_km_risk_table_can_show_cumulative_events(small_table, small_risk):
    cells = risk_cells(plots.km_plot(small_table, small_risk, risk_columns=("n_risk", "n_events")))
    assert cells[("A", 6.0)] == "5 (3)"
    assert cells[("A", 3.0)] == "9 (1)"
    assert cells[("B", 6.0)] == "1 (6)"


def test_km_groups_differ_in_line_style_and_colour_not_colour_alone():
    rows = [(g, 1.0, 10, 1, 0, 0.9) for g in ("g1", "g2", "g3", "g4", "g5")]
    fig = plots.km_plot(km_table(rows))
    curves = [by_gid(fig, f"km-curve-g{i}")[0] for i in range(1, 6)]
    # get_linestyle() calls every custom dash "--": compare the dash patterns themselves.
    styles = [(c.get_linestyle(), str(c._unscaled_dash_pattern)) for c in curves]
    colours = [c.get_color() for c in curves]
    assert len(set(styles)) == 5
    assert len(set(colours)) == 5
    for colour in colours:  # lines reach 3:1 on white (WCAG 1.4.11, graphical objects)
        assert plots.contrast_ratio(colour) >= 3.0
    # Each curve also carries its name at its right end.
    names = [by_gid(fig, f"km-label-g{i}")[0].get_text() for i in range(1, 6)]
    assert names == ["g1", "g2", "g3", "g4", "g5"]


def test_km_direct_labels_do_not_overlap_when_curves_end_together():
    rows = [(g, 5.0, 10, 1, 0, 0.30) for g in ("A", "B", "C")]
    fig = plots.km_plot(km_table(rows))
    renderer = render(fig)
    # the text's own box (an annotation's extent would include its leader line)
    boxes = [Text.get_window_extent(by_gid(fig, f"km-label-{g}")[0], renderer) for g in ("A", "B", "C")]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not boxes[i].overlaps(boxes[j])


def test_km_groups_order_and_labels(small_table, small_risk):
    fig = plots.km_plot(small_table, small_risk, groups_order=["B", "A"], labels={"A": "Group A", "B": "Group B"})
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == ["Group A", "Group B"]  # B on top
    assert by_gid(fig, "km-curve-B")[0].get_color() == plots.OKABE_ITO[0]
    assert by_gid(fig, "km-label-A")[0].get_text() == "Group A"
    only_b = plots.km_plot(small_table, groups_order=["B"])
    assert by_gid(only_b, "km-curve-A") == []


def test_km_errors_name_the_argument(small_table, small_risk):
    with pytest.raises(ValueError, match="groups_order.*'C'.*not in the table"):
        plots.km_plot(small_table, groups_order=["C"])
    with pytest.raises(ValueError, match="table column 'surv'"):
        plots.km_plot(small_table.drop(columns="surv"))
    with pytest.raises(ValueError, match="risk_table: group.*'B'"):
        plots.km_plot(small_table, small_risk[small_risk["group"] == "A"])
    with pytest.raises(ValueError, match="min_cell"):
        plots.km_plot(small_table, small_risk, min_cell=-1)


def test_km_risk_row_labels_do_not_collide_with_the_first_column(small_table):
    risk = pd.DataFrame({"group": ["A", "B"], "time": [0.0, 0.0], "n_risk": [12345, 1]})
    fig = plots.km_plot(small_table, risk, risk_columns=("n_risk",))
    renderer = render(fig)
    label_boxes = [t.get_window_extent(renderer) for t in fig.axes[1].get_yticklabels()]
    cell_boxes = [t.get_window_extent(renderer) for t in by_gid(fig, "risk-")]
    assert not any(a.overlaps(b) for a in label_boxes for b in cell_boxes)


def test_km_curve_vertices_grow_with_distinct_times_not_patients():
    # 100k patients, 500 distinct times (seed 20261127): the line must stay light.
    rng = np.random.default_rng(20261127)
    n = 100_000
    time = rng.integers(1, 501, n).astype(float)
    event = (rng.random(n) < 0.6).astype(int)
    km = KaplanMeier().fit(time, event)
    fig = plots.km_plot(km.table_, km.risk_table([0, 100, 200, 300, 400, 500]))
    (curve,) = by_gid(fig, "km-curve-all")
    n_times = km.table_["time"].nunique()
    assert n_times == 500
    assert len(curve.get_xdata()) <= n_times + 1
    # What the renderer walks: the step path has at most 2 vertices per time.
    assert curve.get_drawstyle() == "steps-post"
    steps = cbook.pts_to_poststep(curve.get_xdata(), curve.get_ydata())
    assert steps.shape[1] <= 2 * (n_times + 1)
    (band,) = by_gid(fig, "km-ci-all")
    assert len(band.get_paths()[0].vertices) <= 4 * (n_times + 1) + 3


def test_km_plot_draws_into_a_given_axes_with_an_inset_risk_table(small_table, small_risk):
    fig = Figure(figsize=(7.5, 6))
    ax = fig.add_subplot(position=[0.1, 0.4, 0.85, 0.55])
    assert plots.km_plot(small_table, small_risk, ax=ax) is fig
    assert risk_cells(fig)[("A", 6.0)] == "5"
    render(fig)


def test_km_plot_on_lung_with_kaplan_meier_tables(lung, tmp_path):
    km = KaplanMeier().fit(lung["time"], lung["event"], lung["sex"].map({1: "male", 2: "female"}))
    risk = km.risk_table([0, 250, 500, 750, 1000])
    fig = plots.km_plot(km.table_, risk, xlabel="Days since enrolment", min_cell=5)
    cells = risk_cells(fig)
    # Under disclosure control the counts are those of the grouped data (see test_km_disclosure).
    grouped = aggregate_km(km.table_, 5, plots.DAYS_PER_UNIT["months"]).km.risk_table(risk["time"].unique())
    assert not grouped["n_risk"].equals(risk["n_risk"])
    for r in grouped.itertuples():
        expected = "<5" if 0 < r.n_risk < 5 else str(r.n_risk)
        assert cells[(r.group, r.time)] == expected
    fig.savefig(tmp_path / "km.png")
    assert (tmp_path / "km.png").stat().st_size > 10_000


# ----------------------------------------------------------------------------- shared figure rules


def all_figures(small_table, small_risk):
    coefficients = pd.DataFrame({"hr": [1.5, 0.5], "hr_profile_lower": [1.1, 0.2],
                                 "hr_profile_upper": [2.0, np.nan], "p_lr": [0.01, 0.2]}, index=["x1", "x2"])
    # R's log band is NA where S = 0: the band must stop there without a warning.
    ends_at_zero = small_table.copy()
    ends_at_zero.loc[ends_at_zero["surv"] == 0, ["lower", "upper"]] = np.nan
    return [
        plots.km_plot(ends_at_zero, small_risk, min_cell=3),
        plots.forest_plot(coefficients, paper=coefficients.rename(
            columns={"hr_profile_lower": "lower", "hr_profile_upper": "upper"}).drop(columns="p_lr")),
        plots.flow_diagram({"all": 10, "cns": 4, "no_cns": 6, "B": 2, "BL": 1, "L": 1}),
    ]


def test_figures_use_no_pyplot_state_and_emit_no_warnings(small_table, small_risk):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the book build turns stray warnings into failures
        figures = all_figures(small_table, small_risk)
        for fig in figures:
            fig.savefig(io.BytesIO(), format="png")
    assert plt.get_fignums() == before
    assert matplotlib.rcParams["font.size"] == matplotlib.rcParamsDefault["font.size"]


def test_all_text_is_at_least_9_points(small_table, small_risk):
    for fig in all_figures(small_table, small_risk):
        render(fig)
        texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
        assert texts
        assert min(t.get_fontsize() for t in texts) >= 9


def test_output_is_deterministic(small_table, small_risk):
    def png():
        buffer = io.BytesIO()
        plots.km_plot(small_table, small_risk).savefig(buffer, format="png", metadata={"Software": None})
        return buffer.getvalue()

    assert png() == png()


def test_text_colour_is_darkened_to_aa_contrast():
    assert plots.contrast_ratio("#000000") == pytest.approx(21.0)
    assert plots.contrast_ratio("#ffffff") == pytest.approx(1.0)
    vermillion = plots.OKABE_ITO[1]
    assert plots.contrast_ratio(vermillion) < 4.5  # as a line colour it is too light for text...
    assert plots.contrast_ratio(plots._text_colour(vermillion)) >= 4.5  # ...so text uses a darker shade


# ----------------------------------------------------------------------------- forest plot


@pytest.fixture
def coefficients():
    return pd.DataFrame(
        {"hr": [1.983, 0.583, 2.344], "hr_profile_lower": [1.253, 0.35, 0.847],
         "hr_profile_upper": [3.096, 0.98, np.nan], "p_lr": [0.0038, 0.0433, 0.00001],
         "label": ["Lung metastasis", "Local RT", "Bone metastasis"]},
        index=["lung", "local_rt", "bone"],
    )


def test_forest_plot_log_axis_reference_line_and_text_columns(coefficients):
    fig = plots.forest_plot(coefficients, label_col="label", title="Risk of BM")
    ax, ax_text = fig.axes
    assert ax.get_xscale() == "log"
    assert any(list(line.get_xdata()) == [1.0, 1.0] for line in ax.get_lines())  # reference at HR = 1
    # Each label on its own line above its whiskers, top to bottom in the table's order.
    labels = sorted((t for t in ax.texts if (t.get_gid() or "").startswith("forest-label-")),
                    key=lambda t: -t.get_position()[1])
    assert [t.get_text() for t in labels] == ["Lung metastasis", "Local RT", "Bone metastasis"]
    texts = {t.get_gid(): t.get_text() for t in ax_text.texts if t.get_gid()}
    assert texts["forest-text-0"] == "1.98 (1.25\u20133.10)"
    assert texts["forest-p-0"] == "0.0038"
    assert texts["forest-p-2"] == "<0.0001"
    headers = [t.get_text() for t in ax_text.texts if not t.get_gid()]
    assert headers == ["HR (95% CI)", "p"]
    (point,) = by_gid(fig, "forest-0-point")
    assert point.get_xdata()[0] == pytest.approx(1.983)


def test_forest_plot_nan_upper_bound_is_an_open_arrow_to_the_edge(coefficients):
    fig = plots.forest_plot(coefficients)
    ax = fig.axes[0]
    arrows = by_gid(fig, "forest-2-arrow")
    assert len(arrows) == 1
    assert arrows[0].xy[0] == pytest.approx(ax.get_xlim()[1])  # runs to the right edge
    assert arrows[0].xyann[0] == pytest.approx(2.344)  # from the estimate
    assert by_gid(fig, "forest-0-arrow") == []  # closed intervals are plain whiskers
    texts = {t.get_gid(): t.get_text() for t in fig.axes[1].texts if t.get_gid()}
    assert texts["forest-text-2"] == "2.34 (0.85\u2013NA)"
    render(fig)


def test_forest_plot_infinite_values_stay_on_the_plot(coefficients):
    coefficients.loc["bone", ["hr", "hr_profile_lower", "hr_profile_upper"]] = [np.inf, 5.0, np.inf]
    coefficients.loc["lung", "hr_profile_lower"] = 0.0
    fig = plots.forest_plot(coefficients)
    x_lo, x_hi = fig.axes[0].get_xlim()
    assert np.isfinite(x_lo) and np.isfinite(x_hi) and x_lo > 0
    (triangle,) = by_gid(fig, "forest-2-point")
    assert triangle.get_marker() == ">" and triangle.get_xdata()[0] == pytest.approx(x_hi)
    assert len(by_gid(fig, "forest-0-arrow")) == 1  # lower bound 0 -> open to the left
    texts = {t.get_gid(): t.get_text() for t in fig.axes[1].texts if t.get_gid()}
    assert texts["forest-text-2"] == "\u221e (5.00\u2013\u221e)"
    render(fig)


def test_forest_plot_with_paper_values_hollow_markers_and_legend(coefficients):
    paper = pd.DataFrame({"hr": [1.983, 2.344], "lower": [1.253, np.nan], "upper": [3.096, np.nan],
                          "p": [0.0038, "<0.01"]}, index=["lung", "bone"])
    fig = plots.forest_plot(coefficients, paper=paper)
    (computed,) = by_gid(fig, "forest-0-point")
    (published,) = by_gid(fig, "forest-paper-0-point")
    assert published.get_markerfacecolor() in ("white", (1.0, 1.0, 1.0, 1.0))  # hollow
    assert published.get_ydata()[0] != computed.get_ydata()[0]  # offset, side by side
    assert by_gid(fig, "forest-paper-1-point") == []  # no paper value for local_rt
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend_texts == ["This book (95% CI)", "Paper"]
    texts = {t.get_gid(): t.get_text() for t in fig.axes[1].texts if t.get_gid()}
    assert texts["forest-paper-text-2"] == "paper 2.344"  # the paper printed no CI
    with pytest.raises(ValueError, match="paper: index value.*'liver'"):
        plots.forest_plot(coefficients, paper=paper.rename(index={"lung": "liver"}))


def test_forest_plot_prints_the_papers_p_from_the_published_statistics():
    # the risk-factor forests overlay the paper's p as well as its HR (analysis.paper, never typed in)
    from analysis.paper import published_value
    from analysis.pages import paper_hazard_ratios

    paper = paper_hazard_ratios("risk_factors.all_cns")
    assert paper["p"].tolist() == [published_value(f"risk_factors.all_cns.{t}")["p"]
                                   for t in ("age_65_or_over_at_cns", "local_rt", "subsequent_systemic_therapy")]
    ours = paper[["hr"]].assign(hr_profile_lower=paper["hr"] / 2, hr_profile_upper=paper["hr"] * 2, p_lr=0.01)
    fig = plots.forest_plot(ours, paper=paper)
    texts = {t.get_gid(): t.get_text() for t in fig.axes[1].texts if t.get_gid()}
    assert [texts[f"forest-paper-p-{i}"] for i in range(3)] == ["0.0446", "0.0433", "<0.0001"]
    # a term the paper printed no p for gets none
    fig = plots.forest_plot(ours, paper=paper.assign(p=[None, 0.0433, "<0.0001"]))
    assert "forest-paper-p-0" not in {t.get_gid() for t in fig.axes[1].texts}


def test_forest_plot_tick_labels_never_touch(coefficients):
    """A range of four decades (group L: 0.0077 to 18.4) once printed 0.005 and 0.01 as one blur."""
    from analysis.pages.plots.forest import SMALL_FONT_SIZE, TICK_GAP

    coefficients.loc["lung", ["hr", "hr_profile_lower", "hr_profile_upper"]] = [0.063, 0.0077, 0.306]
    coefficients.loc["bone", ["hr", "hr_profile_lower", "hr_profile_upper"]] = [4.595, 1.32, 18.395]
    fig = plots.forest_plot(coefficients)
    render(fig)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    boxes = sorted((t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()),
                   key=lambda b: b.x0)
    assert len(boxes) >= 3
    points = fig.dpi / 72
    assert all(right.x0 - left.x1 >= TICK_GAP * points * 0.9 for left, right in zip(boxes, boxes[1:]))
    assert min(t.get_fontsize() for t in ax.get_xticklabels()) >= SMALL_FONT_SIZE >= 11


def test_immortal_time_forest_marks_the_papers_naive_hazard_ratio():
    from analysis.paper import published_value

    comparison = pd.DataFrame({"hr": [0.129, 0.212], "lower": [0.063, 0.102], "upper": [0.261, 0.425],
                               "p": [0.00001, 0.00001]}, index=["Naive (as the paper)", "Time-varying"])
    fig = plots.immortal_time_forest(comparison)
    paper = published_value("risk_factors.all_cns.subsequent_systemic_therapy")
    (published,) = by_gid(fig, "forest-paper-0-point")
    assert published.get_xdata()[0] == pytest.approx(paper["hr"])
    assert by_gid(fig, "forest-paper-1-point") == []  # the paper fitted no time-varying model
    texts = {t.get_gid(): t.get_text() for t in fig.axes[1].texts if t.get_gid()}
    assert texts["forest-paper-text-0"] == f"paper {paper['hr']:.3f}"


def test_forest_plot_on_cox_model_coefficients(lung):
    from analysis.stats.cox import CoxModel

    model = CoxModel().fit(lung, "time", "event", ["age", "sex"])
    fig = plots.forest_plot(model.coefficients_)
    texts = {t.get_gid(): t.get_text() for t in fig.axes[1].texts if t.get_gid()}
    row = model.coefficients_.loc["sex"]
    assert texts["forest-text-1"] == (f"{row['hr']:.2f} ({row['hr_profile_lower']:.2f}"
                                      f"\u2013{row['hr_profile_upper']:.2f})")


def test_forest_plot_errors_name_the_column(coefficients):
    with pytest.raises(ValueError, match="coefficients column 'p_lr'"):
        plots.forest_plot(coefficients.drop(columns="p_lr"))
    with pytest.raises(ValueError, match="no rows"):
        plots.forest_plot(coefficients.iloc[:0])


# ----------------------------------------------------------------------------- flow diagram


def test_flow_diagram_boxes_show_counts_and_percentages_of_their_parent():
    fig = plots.flow_diagram({"all": 369, "cns": 102, "no_cns": 267, "B": 70, "BL": 13, "L": 19})
    texts = {t.get_gid(): t.get_text() for t in fig.axes[0].texts if t.get_gid()}
    assert texts["flow-text-all"].endswith("n = 369")
    assert texts["flow-text-cns"].endswith("n = 102 (27.6%)")
    assert texts["flow-text-no_cns"].endswith("n = 267 (72.4%)")
    assert texts["flow-text-B"].endswith("n = 70 (68.6%)")
    assert texts["flow-text-BL"].endswith("n = 13 (12.7%)")  # 13/102 = 12.75 -> 12.7 (float: 12.7450...)
    assert len(by_gid(fig, "flow-box-")) == 6
    assert len(by_gid(fig, "flow-arrow-")) == 5
    renderer = render(fig)
    for key in ("all", "cns", "no_cns", "B", "BL", "L"):  # text fits inside its box
        box = by_gid(fig, f"flow-box-{key}")[0].get_window_extent(renderer)
        text = by_gid(fig, f"flow-text-{key}")[0].get_window_extent(renderer)
        assert box.x0 < text.x0 and text.x1 < box.x1 and box.y0 < text.y0 and text.y1 < box.y1


def test_flow_diagram_rejects_counts_that_do_not_add_up():
    good = {"all": 10, "cns": 4, "no_cns": 6, "B": 2, "BL": 1, "L": 1}
    with pytest.raises(ValueError, match="cns \\+ no_cns = 11 but all = 10"):
        plots.flow_diagram({**good, "no_cns": 7})
    with pytest.raises(ValueError, match="B \\+ BL \\+ L = 5 but cns = 4"):
        plots.flow_diagram({**good, "B": 3})
    with pytest.raises(ValueError, match="'L'"):
        plots.flow_diagram({k: v for k, v in good.items() if k != "L"})
    with pytest.raises(ValueError, match="counts\\['B'\\]"):
        plots.flow_diagram({**good, "B": 1.5})


# ----------------------------------------------------------------------------- alt texts


def test_alt_text_km_names_groups_and_medians():
    summary = pd.DataFrame({"n": [70, 13, 19], "median": [295.0, 146.0, 99.0]},
                           index=pd.Index(["B", "BL", "L"], name="group"))
    assert plots.alt_text_km(summary, "overall survival from CNS diagnosis") == (
        "Kaplan-Meier curves of overall survival from CNS diagnosis for groups B, BL and L; "
        "medians 295, 146 and 99 days.")
    summary.loc["L", "median"] = np.nan
    assert plots.alt_text_km(summary, "OS", groups_order=["L", "B"]) == (
        "Kaplan-Meier curves of OS for groups L and B; medians not reached and 295 days.")
    one = pd.DataFrame({"median": [616.5]}, index=pd.Index(["all"], name="group"))
    assert plots.alt_text_km(one, "time to CNS metastasis.") == (
        "Kaplan-Meier curve of time to CNS metastasis; median 616.5 days.")


def test_alt_text_forest_lists_each_term(coefficients):
    text = plots.alt_text_forest(coefficients, "overall survival", label_col="label")
    assert text == (
        "Forest plot of hazard ratios (95% CI) for overall survival: "
        "Lung metastasis 1.98 (1.25\u20133.10; p = 0.0038), Local RT 0.58 (0.35\u20130.98; p = 0.0433), "
        "Bone metastasis 2.34 (0.85\u2013NA; p < 0.0001).")


def test_format_p():
    from analysis.pages.format import p_cell

    assert p_cell(0.0446) == "0.0446"
    assert p_cell(3e-6) == "<0.0001"
    assert p_cell("<0.01") == "<0.01"
    assert p_cell(np.nan) == "NA"


def test_risk_times_keep_the_chosen_times_when_they_fit_the_follow_up():
    table = pd.DataFrame({"time": [10.0, 400.0, 1702.0]})
    chosen = [0, 180, 365, 730, 1095, 1460, 1825]
    assert plots.risk_times(table, chosen) == [float(t) for t in chosen]


def test_risk_times_extend_to_long_follow_up_and_never_crowd():
    # follow-up to 6,027 days: the yearly step continues, and times closer than 1/12 of the axis go
    table = pd.DataFrame({"time": [5.0, 6027.0]})
    times = plots.risk_times(table, [0, 180, 365, 730, 1095, 1460, 1825])
    assert times[0] == 0 and times[-1] <= 6027 and times[-1] > 6027 - 730
    assert min(b - a for a, b in zip(times, times[1:])) >= 6027 / 12


def test_censor_marks_are_thinned_on_a_large_cohort():
    n = 5000
    rows = pd.DataFrame({"group": "A", "time": np.arange(1.0, n + 1), "n_risk": np.arange(n, 0, -1),
                         "n_event": np.tile([1, 0], n // 2), "n_censor": np.tile([0, 1], n // 2)})
    rows["surv"] = np.cumprod(1 - rows["n_event"] / rows["n_risk"])
    rows["lower"], rows["upper"] = rows["surv"] * 0.9, np.minimum(rows["surv"] * 1.1, 1)
    fig = plots.km_plot(rows)
    (marks,) = by_gid(fig, "km-censor-A")
    assert 0 < len(marks.get_xdata()) <= plots.MAX_CENSOR_MARKS
    (curve,) = by_gid(fig, "km-curve-A")
    assert len(curve.get_xdata()) <= n + 2  # one vertex per distinct time, not per patient


# ----------------------------------------------------------------------------- survival figure (months, legend, marks)


def test_km_time_unit_months_scales_curves_ticks_and_risk_cells(small_table):
    days = 365.25 / 12
    table = small_table.assign(time=small_table["time"] * days)
    risk = pd.DataFrame({"group": ["A", "B"] * 2, "time": [0.0, 0.0, 3 * days, 3 * days],
                         "n_risk": [10, 8, 9, 4], "n_events": [0, 0, 1, 4]})
    fig = plots.km_plot(table, risk, time_unit="months", risk_columns=("n_risk", "n_events"))
    assert list(by_gid(fig, "km-curve-A")[0].get_xdata()) == pytest.approx([0.0, 1.0, 4.0, 6.0])
    assert list(fig.axes[0].get_xticks()) == pytest.approx([0.0, 3.0])
    cell = by_gid(fig, f"risk-B-{3 * days:g}")[0]  # ids keep the table's days
    assert cell.get_position()[0] == pytest.approx(3.0) and cell.get_text() == "4 (4)"
    with pytest.raises(ValueError, match="time_unit"):
        plots.km_plot(table, time_unit="fortnights")


def test_unit_breaks_are_regular_multiples_and_never_crowd():
    days = 365.25 / 12
    table = pd.DataFrame({"time": [0.0, 56 * days]})
    assert plots.unit_breaks(table, "months") == pytest.approx([k * 12 * days for k in range(5)])
    long = pd.DataFrame({"time": [0.0, 224 * days]})
    breaks = np.array(plots.unit_breaks(long, "months")) / days
    assert len(breaks) <= plots.survival.MAX_BREAKS and np.allclose(np.diff(breaks), breaks[1]) and breaks[1] % 12 == 0
    assert plots.unit_breaks(table, "months", step=6)[:3] == pytest.approx([0, 6 * days, 12 * days])


def test_km_group_labels_sit_above_the_plot_never_on_it():
    # C ends early and low: a label at its end would sit among the other curves.
    rows = [("A", 10.0, 10, 1, 9, 0.9), ("B", 10.0, 10, 3, 7, 0.7), ("C", 2.0, 10, 10, 0, 0.0)]
    fig = plots.km_plot(km_table(rows))
    renderer = render(fig)
    plot_box = fig.axes[0].get_window_extent(renderer)
    for group in ("A", "B", "C"):
        box = Text.get_window_extent(by_gid(fig, f"km-label-{group}")[0], renderer)
        assert box.y0 >= plot_box.y1 - 1 and box.x1 <= fig.bbox.x1 + 1, group
    assert fig.axes[0].texts == [] or all(t.get_gid() != "km-label-C" for t in fig.axes[0].texts)


def test_km_medians_pvalue_and_paper_marks(small_table):
    summary = pd.DataFrame({"median": [4.0, 2.0]}, index=pd.Index(["A", "B"], name="group"))
    paper = {"A": {"median": 5.0, "ci": [3.0, 6.0]}, "B": {"median": 2.0, "ci": [4.0, 1.0]}}
    fig = plots.km_plot(small_table, medians=summary, pvalue=0.0123, paper=paper)
    assert list(by_gid(fig, "km-median-A")[0].get_xdata()) == [4.0, 4.0]
    assert list(by_gid(fig, "km-median-line")[0].get_ydata()) == [0.5, 0.5]
    assert by_gid(fig, "km-pvalue")[0].get_text() == "Log-rank p = 0.0123"
    assert by_gid(fig, "km-paper-A")[0].get_xdata()[0] == 5.0
    assert list(by_gid(fig, "km-paper-ci-A")[0].get_xdata()) == [3.0, 6.0]
    assert by_gid(fig, "km-paper-ci-B") == []  # a printed "interval" that excludes its median is left out
    assert by_gid(fig, "km-paper-B")[0].get_xdata()[0] == 2.0


def test_figure_legends_and_tables_share_one_label_registry():
    # the legend words are the tables' words (analysis.pages.labels), not a second list in plots
    from analysis.pages import group_label, group_legend
    from analysis.pages.labels import GROUP_WORDS

    assert not hasattr(plots, "GROUP_LABELS")
    assert group_legend("BL") == "Brain and leptomeningeal (BL)"
    assert group_legend("no_cns") == group_label("no_cns") == "No CNS metastasis"
    assert group_legend("B").lower().startswith(GROUP_WORDS["B"])
    assert group_legend("somewhere") == "somewhere"


def test_table_headers_start_with_a_capital_but_symbols_and_model_terms_keep_their_case():
    # a journal table's headers are in sentence case ("Observed events"); "p (Wald)", "df" and "n" are
    # symbols and a model term such as "armB" is a name, so lowering or raising them would misquote them
    from analysis.pages import header_words

    assert header_words("observed events") == "Observed events"
    assert header_words("expected_events") == header_words("Expected events") == "Expected events"
    for symbol in ("p (Wald)", "p", "p-value", "df", "n", "d / (n (n - d))", "armB"):
        assert header_words(symbol) == symbol
    assert header_words(3) == 3 and header_words("") == ""


def test_figure_label_of_a_block_named_by_its_prefix():
    # a comparison whose prefix is the whole id (a bare count) printed ", patients" with no words
    from analysis.pages import figure_words

    assert figure_words("treatments.craniospinal_irradiation", "treatments.craniospinal_irradiation") \
        == "Craniospinal irradiation"
    assert figure_words("treatments.initial_rt.L.n", "treatments") == "Radiotherapy first, group L, patients"


def test_paper_medians_come_from_the_published_statistics():
    from analysis.paper import published_value

    marks = plots.paper_medians("outcomes.os_from_abc", ["B", "no_cns", "nobody"])
    assert set(marks) == {"B", "no_cns"}
    assert marks["B"]["median"] == published_value("outcomes.os_from_abc.B.median")
    assert marks["B"]["ci"] == published_value("outcomes.os_from_abc.B.ci")
    # group L's printed interval is not an interval: the mark keeps only the median
    assert plots.paper_medians("outcomes.os_from_cns", ["L"])["L"]["ci"] is None


def test_survival_figure_reads_groups_as_words_and_prints_events(lung):
    from analysis.stats import logrank_test

    frame = lung.assign(group=np.where(lung["sex"] == 1, "no_cns", "B"))
    km = KaplanMeier().fit(frame["time"], frame["event"], frame["group"])
    test = logrank_test(frame["time"], frame["event"], frame["group"])
    fig = plots.survival_figure(km, test, xlabel="Months")
    texts = [t.get_text() for t in fig.findobj(Text)]
    assert "No CNS metastasis" in texts and "Brain only (B)" in texts and "no_cns" not in texts
    assert by_gid(fig, "km-pvalue")[0].get_text().startswith("Log-rank p")
    assert by_gid(fig, "km-ci-") == []  # bands only on request
    cells = risk_cells(fig)
    assert cells[("B", 0.0)] == f"{(frame['group'] == 'B').sum()} (0)"
    # 34 months of follow-up: 6-month steps would give 7 columns (more than MAX_BREAKS): 0, 12, 24
    assert list(fig.axes[0].get_xticks()) == pytest.approx([0, 12, 24])


# ----------------------------------------------------------------------------- proportional hazards (R pinned)


@pytest.fixture(scope="module")
def zph_r():
    import json

    return json.loads((REFERENCE / "zph_residuals_R.json").read_text())


@pytest.fixture(scope="module")
def lung_fit(lung):
    from analysis.stats import fit_cox

    return fit_cox(lung, "time", "event", ["age", "sex", "ph.ecog"], firth=False)


def test_scaled_schoenfeld_residuals_match_r_cox_zph(lung_fit, zph_r):
    frame = plots.scaled_schoenfeld(lung_fit)
    assert len(frame) == len(zph_r["y"]["age"])
    assert frame["time"].to_numpy() == pytest.approx(zph_r["time"])
    assert frame["x"].to_numpy() == pytest.approx(zph_r["x"], abs=1e-12)
    for term in ("age", "sex", "ph.ecog"):
        assert frame[term].to_numpy() == pytest.approx(zph_r["y"][term], rel=1e-7, abs=1e-9), term


def test_zph_smooth_is_r_natural_spline_fit(lung_fit, zph_r):
    frame = plots.scaled_schoenfeld(lung_fit)
    for term in ("age", "sex", "ph.ecog"):
        fitted, se = plots.zph_smooth(frame["x"], frame[term])
        assert fitted == pytest.approx(zph_r["smooth"][term], rel=1e-7, abs=1e-9), term
        assert np.all(se > 0)


def test_zph_plot_one_panel_per_term_with_p_in_the_title(lung_fit):
    fig = plots.zph_plot(lung_fit, labels={"ph.ecog": "ECOG"}, tests=lung_fit.zph())
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 3
    assert panels[2].get_title(loc="left").startswith("ECOG (PH test p = ")
    for term in ("age", "sex", "ph.ecog"):
        assert by_gid(fig, f"zph-smooth-{term}") and by_gid(fig, f"zph-points-{term}")
        assert by_gid(fig, f"zph-coef-{term}")[0].get_ydata()[0] == pytest.approx(lung_fit.coef_[term])
    render(fig)
