"""The proportional-hazards plot: scaled Schoenfeld residuals against Kaplan-Meier-transformed time,
one panel per term, with a natural-spline smooth and its +/-2 standard-error band, as R's
``plot(cox.zph(fit))``.

The residuals come from the statistics layer (:func:`analysis.stats.scaled_schoenfeld`), pinned to
R's ``cox.zph(fit, transform="km")$y`` by tests/reference/zph_residuals_R.json.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.figure import Figure

from analysis.pages.format import p_phrase, p_prose, word_list
from analysis.pages.plots.style import FONT_SIZE, OKABE_ITO, SMALL_FONT_SIZE, _new_figure, _text_colour
from analysis.stats import scaled_schoenfeld

DAYS_PER_MONTH = 365.25 / 12


def km_transform(time, event, at) -> np.ndarray:
    """1 - KM(t-) of (time, event) at the times ``at``: the x axis of the PH plot (0 at the start of
    follow-up, rising to about 1 at its end, evenly spread over the deaths)."""
    time, event, at = (np.asarray(a, dtype=float) for a in (time, event, at))
    unique, inverse = np.unique(time, return_inverse=True)
    deaths = np.bincount(inverse, weights=event)
    at_risk = len(time) - np.concatenate([[0], np.cumsum(np.bincount(inverse))[:-1]])
    surv = np.cumprod(1 - deaths / at_risk)
    # S(t-): the value of the step before the first unique time >= t
    before = np.searchsorted(unique, at, side="left")
    return 1 - np.concatenate([[1.0], surv])[before]


def _ns_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Natural cubic spline basis with an intercept (ESL eq. 5.4): the same column space as R's
    ``cbind(1, ns(x, knots = interior, Boundary.knots = range))``, so the least-squares fit is R's."""
    k = knots

    def d(j):
        return (np.clip(x - k[j], 0, None) ** 3 - np.clip(x - k[-1], 0, None) ** 3) / (k[-1] - k[j])

    columns = [np.ones_like(x), x] + [d(j) - d(len(k) - 2) for j in range(len(k) - 2)]
    return np.column_stack(columns)


def zph_smooth(x, y, df: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Fitted values and pointwise standard errors of ``lm(y ~ ns(x, df))``, as plot.cox.zph draws
    them (interior knots at the quantiles of x, boundary knots at its range)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    interior = np.quantile(x, np.linspace(0, 1, df + 1)[1:-1])
    knots = np.unique(np.concatenate([[x.min()], interior, [x.max()]]))
    basis = _ns_basis(x, knots)
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    fitted = basis @ coef
    rank = np.linalg.matrix_rank(basis)
    sigma2 = float(np.sum((y - fitted) ** 2) / max(len(y) - rank, 1))
    leverage = np.einsum("ij,ij->i", basis @ np.linalg.pinv(basis.T @ basis), basis)
    return fitted, np.sqrt(sigma2 * leverage)


def zph_plot(fit, *, labels: Mapping | None = None, tests: pd.DataFrame | None = None,
             month_ticks: Sequence[float] = (0, 3, 6, 12, 24, 36, 60), ncols: int = 1) -> Figure:
    """One panel per coefficient: scaled Schoenfeld residuals (points), their natural-spline smooth
    with a +/-2 SE band, and the Cox model's hazard ratio as a flat line. A flat smooth means a
    constant effect; a slope means the effect changes over follow-up.

    ``labels`` renames coefficients; ``tests`` (``fit.zph()``) adds each term's p-value to its title.
    The x axis is the Kaplan-Meier scale of R's default; its ticks are labelled in months.
    """
    frame = scaled_schoenfeld(fit)
    terms = [c for c in frame.columns if c not in ("time", "x")]
    labels = {str(k): str(v) for k, v in (labels or {}).items()}
    ncols = max(1, min(ncols, len(terms)))
    nrows = -(-len(terms) // ncols)
    # One column by default: each panel keeps the full width on a phone and the titles never collide.
    fig = _new_figure((6.4 if ncols == 1 else 3.6 * ncols, 2.4 * nrows + 0.4))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    months = [m for m in month_ticks if m * DAYS_PER_MONTH <= frame["time"].max()]
    positions = km_transform(fit._time, fit._event, [m * DAYS_PER_MONTH for m in months])
    # On the KM scale late months crowd together: keep a tick only if it is clear of the previous one.
    tick_x, tick_months = [], []
    for m, x in zip(months, positions):
        if not tick_x or x - tick_x[-1] >= 0.07:
            tick_x.append(x)
            tick_months.append(m)
    order = np.argsort(frame["x"].to_numpy(), kind="stable")
    for ax, term in zip(axes, terms):
        x, y = frame["x"].to_numpy()[order], frame[term].to_numpy()[order]
        fitted, se = zph_smooth(x, y)
        ax.scatter(x, y, s=7, color="0.55", linewidths=0, gid=f"zph-points-{term}")
        ax.fill_between(x, fitted - 2 * se, fitted + 2 * se, color=OKABE_ITO[0], alpha=0.15, linewidth=0)
        ax.plot(x, fitted, color=OKABE_ITO[0], linewidth=1.8, gid=f"zph-smooth-{term}")
        ax.axhline(float(fit.coef_[term]), color=OKABE_ITO[1], linestyle="--", linewidth=1.2,
                   gid=f"zph-coef-{term}")
        # Residuals of a binary term sit in two far bands; R's plot shows them all and flattens the
        # smooth. Zoom on the smooth instead (points beyond the panel are clipped; the caption says so).
        low, high = np.min(fitted - 3 * se), np.max(fitted + 3 * se)
        pad = 0.15 * (high - low)
        ax.set_ylim(low - pad, high + pad)
        title = labels.get(term, term)
        if tests is not None and term in tests.index:
            title += f" (PH test p {p_prose(tests.loc[term, 'p'])})"
        ax.set_title(title, fontsize=FONT_SIZE, loc="left")
        ax.set_ylabel("\u03b2(t), log hazard ratio", fontsize=SMALL_FONT_SIZE)
        ax.set_xticks(tick_x)
        ax.xaxis.set_major_formatter(ticker.FixedFormatter([f"{m:g}" for m in tick_months]))
        ax.set_xlabel("Months (Kaplan-Meier scale)", fontsize=SMALL_FONT_SIZE)
        ax.tick_params(labelsize=SMALL_FONT_SIZE)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    for ax in axes[len(terms):]:
        ax.set_visible(False)
    fig.legend(handles=[axes[0].lines[0], axes[0].lines[1]],
               labels=["Smooth of the residuals (\u00b12 SE)", "Cox model's log hazard ratio (constant)"],
               loc="outside lower center", ncols=2, frameon=False, fontsize=SMALL_FONT_SIZE,
               labelcolor=[_text_colour(OKABE_ITO[0]), _text_colour(OKABE_ITO[1])])
    return fig


def ph_reading(fit, labels: Mapping | None = None, alpha: float = 0.05) -> str:
    """The proportional-hazards test of ``fit`` (``fit.zph()``) read out in two sentences for the
    prose: the global verdict, then which terms fail on their own at ``alpha`` and which do not.
    Every number is the test's; only the wording is chosen here."""
    tests = fit.zph()
    labels = {str(k): str(v) for k, v in (labels or {}).items()}
    terms = [t for t in tests.index if t != "GLOBAL"]

    def named(term):
        label = labels.get(term, term)
        # mid-sentence: lower the first letter only, so CNS, RT and LM keep their capitals
        label = label[:1].lower() + label[1:] if label[1:2].islower() else label
        return f"{label} ({p_phrase(tests.loc[term, 'p'])})"

    fails = [named(t) for t in terms if tests.loc[t, "p"] < alpha]
    holds = [named(t) for t in terms if not tests.loc[t, "p"] < alpha]
    global_p = p_phrase(tests.loc["GLOBAL", "p"])
    if tests.loc["GLOBAL", "p"] < alpha:
        head = f"The model as a whole fails the test (global {global_p})."
    else:
        head = f"The test finds no evidence against proportional hazards for the model as a whole (global {global_p})."
    if fails and holds:
        tail = (f" Taken one at a time, {word_list(fails)} {'fails' if len(fails) == 1 else 'fail'}; "
                f"{word_list(holds)} {'does' if len(holds) == 1 else 'do'} not reach p\u00a0<\u00a0{alpha:g} on "
                f"{'its' if len(holds) == 1 else 'their'} own.")
    elif fails:
        tail = f" Every term fails on its own: {word_list(fails)}."
    else:
        tail = f" No term fails on its own at p\u00a0<\u00a0{alpha:g}: {word_list(holds)}."
    return head + tail


def ph_verdict(fit, alpha: float = 0.05) -> str:
    """The global test of ``fit`` as a clause: "the model fails that test (global p < 0.0001)" or
    "the test finds no evidence against it (global p = 0.7705)"."""
    p = fit.zph().loc["GLOBAL", "p"]
    if p < alpha:
        return f"the model fails that test (global {p_phrase(p)})"
    return f"the test finds no evidence against it (global {p_phrase(p)})"


def ph_texts(fit, labels: Mapping | None = None) -> dict[str, str]:
    """``{"reading": ph_reading(...), "verdict": ph_verdict(...)}`` for the prose, or what to say
    instead when the model was not fitted or is a Firth fit (cox.zph is not defined for it)."""
    if fit is None or getattr(fit, "method_", None) != "cox":
        return {"reading": "The test is not computed for this model (not fitted, or fitted with Firth's penalty).",
                "verdict": "the test could not be computed"}
    return {"reading": ph_reading(fit, labels), "verdict": ph_verdict(fit)}
