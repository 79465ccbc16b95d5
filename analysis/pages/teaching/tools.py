"""The same computation with three tools: this package, lifelines and R's survival.

Each Python snippet below is both what the page shows and what is run: :func:`three_tools` executes
it on the toy table and prints its output under it, so the code a student copies is the code that
produced the numbers. R's tab comes from ``primer_R.json`` (R is run once, not at build time).
:func:`tool_figures` measures how far the three agree, for the page to glue.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd

from analysis.pages.teaching.data import r_reference

__all__ = ["SNIPPETS", "run_snippet", "three_tools", "tool_figures"]

SNIPPETS = {
    ("km", "package"): """\
from analysis.stats import KaplanMeier

km = KaplanMeier().fit(toy["months"], toy["death"])  # log band, as R
print(km.table_[["time", "n_risk", "n_event", "surv", "lower", "upper"]].round(3).to_string(index=False))
print(km.summary_[["n", "events", "median", "median_lower", "median_upper"]])
""",
    ("km", "lifelines"): """\
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times

kmf = KaplanMeierFitter().fit(toy["months"], toy["death"])  # log-log band
print(kmf.survival_function_.join(kmf.confidence_interval_).round(3))
print("median", kmf.median_survival_time_)
print(median_survival_times(kmf.confidence_interval_))
""",
    ("logrank", "package"): """\
from analysis.stats import logrank_test

test = logrank_test(toy["months"], toy["death"], toy["arm"])
print(test.table)
print(f"chisq = {test.chisq:.4f}, p = {test.p:.4f}")
""",
    ("logrank", "lifelines"): """\
from lifelines.statistics import logrank_test as lifelines_logrank

a, b = toy[toy["arm"] == "A"], toy[toy["arm"] == "B"]
test = lifelines_logrank(a["months"], b["months"], a["death"], b["death"])
print(f"chisq = {test.test_statistic:.4f}, p = {test.p_value:.4f}")
""",
    ("cox", "package"): """\
from analysis.stats import CoxModel

model = CoxModel().fit(toy, "months", "death", ["arm"], factors=["arm"], ref={"arm": "A"})
print(model.coefficients_[["coef", "hr", "hr_lower", "hr_upper", "p", "p_lr"]].round(4))
""",
    ("cox", "lifelines"): """\
from lifelines import CoxPHFitter

coded = toy.assign(armB=(toy["arm"] == "B").astype(int))[["months", "death", "armB"]]
cph = CoxPHFitter().fit(coded, "months", "death")  # Efron ties, as R
print(cph.summary[["coef", "exp(coef)", "exp(coef) lower 95%", "exp(coef) upper 95%", "p"]].round(4))
""",
    ("nelson_aalen", "package"): """\
from analysis.pages import nelson_aalen_by_hand

print(nelson_aalen_by_hand(toy["months"], toy["death"]).round(4).to_string(index=False))
""",
    ("nelson_aalen", "lifelines"): """\
from lifelines import NelsonAalenFitter

naf = NelsonAalenFitter(nelson_aalen_smoothing=False).fit(toy["months"], toy["death"])
print(naf.cumulative_hazard_.round(4))
""",
    ("rmst", "package"): """\
from analysis.stats import rmst_by_group

out = rmst_by_group(toy["months"], toy["death"], toy["arm"], tau=10)
print({arm: round(v["rmst"], 3) for arm, v in out["groups"].items()})
print("B - A:", round(out["diff"]["B"]["diff"], 3), "95% CI", [round(x, 3) for x in out["diff"]["B"]["ci"]])
""",
    ("rmst", "lifelines"): """\
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time

for arm, rows in toy.groupby("arm"):
    kmf = KaplanMeierFitter().fit(rows["months"], rows["death"])
    print(arm, round(restricted_mean_survival_time(kmf, t=10), 3))
""",
}

TAB_TITLES = {"package": "this package", "lifelines": "lifelines", "r": "R (survival)"}


def run_snippet(kind: str, tool: str, toy: pd.DataFrame) -> str:
    """Run one snippet with ``toy`` defined, as a student's notebook would; return what it printed."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(SNIPPETS[(kind, tool)], {"toy": toy.copy()})  # noqa: S102 - the snippets above, no input
    return buffer.getvalue().rstrip()


def _fence(language: str, text: str) -> str:
    return f"```{language}\n{text.rstrip()}\n```"


def three_tools(kind: str, toy: pd.DataFrame) -> str:
    """A MyST tab-set: per tool, the code and what it printed (R's from its stored output)."""
    r = r_reference(kind)
    tabs = []
    for tool in ("package", "lifelines"):
        tabs.append((TAB_TITLES[tool], _fence("python", SNIPPETS[(kind, tool)]),
                     _fence("text", run_snippet(kind, tool, toy))))
    tabs.append((TAB_TITLES["r"], _fence("r", r["code"]),
                 _fence("text", r["output"]) + f"\n\n*Output stored from {r['versions']}.*"))
    body = "\n\n".join(f":::{{tab-item}} {title}\n{code}\n\nOutput:\n\n{output}\n:::" for title, code, output in tabs)
    return f"::::{{tab-set}}\n{body}\n::::"


def _agreement(difference: float) -> str:
    return "to the last digit" if difference == 0 else f"to within {difference:.0e}"


def tool_figures(toy: pd.DataFrame, kind: str | None = None) -> dict:
    """How far the package, lifelines and R agree on the toy table (glued beside the tabs); with
    ``kind`` (``km``, ``logrank``, ``cox``, ``na``) only that computation's ids, so that each chapter
    records its own."""
    from lifelines import CoxPHFitter, KaplanMeierFitter, NelsonAalenFitter
    from lifelines.statistics import logrank_test as lifelines_logrank
    from lifelines.utils import median_survival_times

    from analysis.pages.primer import toy_cox
    from analysis.pages.teaching.courses import nelson_aalen_by_hand
    from analysis.stats import KaplanMeier, logrank_test

    km = KaplanMeier().fit(toy["months"], toy["death"])
    jumps = km.table_[km.table_["n_event"] > 0]
    kmf = KaplanMeierFitter().fit(toy["months"], toy["death"])
    lifelines_surv = kmf.survival_function_.iloc[:, 0].reindex(jumps["time"]).to_numpy()
    r_km = r_reference("km")["numbers"]
    ll_ci = median_survival_times(kmf.confidence_interval_).iloc[0].to_numpy(dtype=float)
    log_log = km.median_ci("log-log").iloc[0]

    test = logrank_test(toy["months"], toy["death"], toy["arm"])
    a, b = toy[toy["arm"] == "A"], toy[toy["arm"] == "B"]
    ll_test = lifelines_logrank(a["months"], b["months"], a["death"], b["death"])
    r_lr = r_reference("logrank")["numbers"]

    hr = float(toy_cox(toy).coefficients_.iloc[0]["hr"])
    coded = toy.assign(armB=(toy["arm"] == "B").astype(int))[["months", "death", "armB"]]
    ll_hr = float(CoxPHFitter().fit(coded, "months", "death").summary["exp(coef)"].iloc[0])
    r_cox = r_reference("cox")["numbers"]

    hand = nelson_aalen_by_hand(toy["months"], toy["death"])
    naf = NelsonAalenFitter(nelson_aalen_smoothing=False).fit(toy["months"], toy["death"])
    ll_h = naf.cumulative_hazard_.iloc[:, 0].reindex(hand["time"]).to_numpy()
    r_na = pd.Series(r_reference("nelson_aalen")["numbers"]["cumhaz"], index=r_reference("nelson_aalen")["numbers"]["time"])

    def worst(x, y):
        return float(np.max(np.abs(np.asarray(x, dtype=float) - np.asarray(y, dtype=float))))

    figures = {
        "primer.tools.km.lifelines": _agreement(worst(jumps["surv"], lifelines_surv)),
        "primer.tools.km.r": _agreement(worst(jumps["surv"], r_km["surv"])),
        "primer.tools.km.r_median_ci": [float(r_km["median_lower"]), float(r_km["median_upper"])],
        # lifelines writes a limit that does not exist as inf; the book prints it as NA, like R
        "primer.tools.km.lifelines_median_ci": [float(x) if np.isfinite(x) else float("nan") for x in ll_ci],
        "primer.tools.km.package_loglog_ci": [float(log_log["lower"]), float(log_log["upper"])],
        "primer.tools.logrank.lifelines": _agreement(abs(test.chisq - ll_test.test_statistic)),
        "primer.tools.logrank.r": _agreement(abs(test.chisq - r_lr["chisq"])),
        "primer.tools.cox.lifelines": _agreement(abs(hr - ll_hr)),
        "primer.tools.cox.r": _agreement(abs(hr - r_cox["hr"])),
        "primer.tools.na.lifelines": _agreement(worst(hand["cumhaz"], ll_h)),
        "primer.tools.na.r": _agreement(worst(hand["cumhaz"], r_na.reindex(hand["time"]))),
    }
    return figures if kind is None else {k: v for k, v in figures.items() if k.startswith(f"primer.tools.{kind}.")}

