"""``python -m analysis stats CSV SPEC.json [-o OUT.json]``: run an analysis spec, write R-shaped JSON.

The spec format is that of ``tests/reference/*_spec.json`` (types km, logrank,
cox, chisq, fisher, cif, finegray, rmst; optional ``subset``); the output has the keys of the
``*_R.json`` files R's survival package produced, with null where R has NA, so
the book's engine can be compared with R on any data. An analysis that cannot
run gives ``{"type": ..., "error": "..."}`` and the others still run.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.stats._checks import as_event

__all__ = ["configure_parser", "run", "run_spec", "apply_subset"]

_MEDIAN_RULE = "survival::quantile.survfit (first t with S(t)<=0.5; midpoint if S==0.5 on an interval)"
_SUBSET_RE = re.compile(r"^\s*([^\s=!<>]+)\s*(==|!=|>=|<=|>|<)\s*(.+?)\s*$")


class SpecError(ValueError):
    """An analysis of the spec cannot run (reported in its JSON entry)."""


def configure_parser(parser) -> None:
    parser.add_argument("csv", help="data file (CSV with a header row)")
    parser.add_argument("spec", help="analysis spec (JSON, format of tests/reference/*_spec.json)")
    parser.add_argument("-o", "--output", help="write the JSON here (default: standard output)")


def run(args) -> int:
    csv, spec_path = Path(args.csv), Path(args.spec)
    for path in (csv, spec_path):
        if not path.is_file():
            print(f"stats: file not found: {path}", file=sys.stderr)
            return 2
    df = pd.read_csv(csv)
    spec = json.loads(spec_path.read_text())
    result = run_spec(df, spec, csv_name=csv.name, spec_name=spec_path.name)
    text = json.dumps(_jsonable(result), indent=1)
    if args.output:
        Path(args.output).write_text(text + "\n")
    else:
        print(text)
    return 0


def run_spec(df: pd.DataFrame, spec: dict, csv_name: str = "", spec_name: str = "") -> dict:
    """Run every analysis of ``spec`` on ``df``; returns the R-shaped, JSON-ready
    dict (None where R has NA)."""
    import analysis

    analyses = spec.get("analyses", spec)
    from importlib.metadata import PackageNotFoundError, version

    def _version(pkg):
        try:
            return version(pkg)
        except PackageNotFoundError:
            return None

    out: dict = {"_meta": {"csv": csv_name, "spec": spec_name, "rows": int(len(df)),
                           "engine": f"analysis {analysis.__version__}",
                           "python_packages": {p: _version(p) for p in
                                               ("numpy", "scipy", "pandas", "statsmodels", "lifelines")}}}
    for name, item in analyses.items():
        kind = item.get("type")
        try:
            runner = _RUNNERS.get(kind)
            if runner is None:
                raise SpecError(f"unknown analysis type {kind!r}")
            data = apply_subset(df, item.get("subset"))
            out[name] = {"type": kind, **runner(data, item)}
        except Exception as exc:  # one failing analysis must not stop the others
            out[name] = {"type": kind, "error": str(exc)}
    return _jsonable(out)


def apply_subset(df: pd.DataFrame, subset: str | None) -> pd.DataFrame:
    """Rows meeting ``col OP value`` conditions joined by ``&`` (OP: == != >= <= > <)."""
    if not subset:
        return df
    mask = pd.Series(True, index=df.index)
    for cond in subset.split("&"):
        m = _SUBSET_RE.match(cond)
        if not m:
            raise SpecError(f"subset condition {cond.strip()!r} not understood; expected e.g. 'sex==2'")
        col, op, raw = m.groups()
        if col not in df.columns:
            raise SpecError(f"subset column {col!r} not in CSV")
        raw = raw.strip().strip("'\"")
        series = df[col]
        if pd.api.types.is_numeric_dtype(series):
            try:
                value = float(raw)
            except ValueError as exc:
                raise SpecError(f"subset value {raw!r} for numeric column {col!r} is not a number") from exc
        else:
            value = raw
            series = series.astype(str).where(series.notna())
        ops = {"==": series.eq, "!=": series.ne, ">=": series.ge, "<=": series.le, ">": series.gt, "<": series.lt}
        mask &= ops[op](value) & series.notna()
    return df[mask]


def _need(data, item, fields):
    cols = []
    for f in fields:
        value = item.get(f)
        for col in value if isinstance(value, list) else [value]:
            if col is None:
                continue
            if col not in data.columns:
                raise SpecError(f"column {col!r} not in CSV")
            cols.append(col)
    return data.dropna(subset=cols)


def _check_event(data, col):
    try:
        as_event(data[col], name=f"event column {col!r}")
    except ValueError as exc:
        raise SpecError("event column must be coded 0/1 (recode e.g. lung status 1/2 first)") from exc


def _km(data, item):
    from analysis.stats.nonparametric import CONF_TYPES, KaplanMeier

    data = _need(data, item, ["time", "event", "group"])
    _check_event(data, item["event"])
    group = item.get("group")
    conf_level = float(item.get("conf_level", 0.95))
    km = KaplanMeier(conf_level=conf_level).fit(
        data[item["time"]], data[item["event"]], None if group is None else data[group]
    )
    tau = item.get("rmean_tau")
    tau = float(data[item["time"]].max()) if tau is None else float(tau)
    rm = km.rmst(tau).set_index("group")
    medians = {ct: km.median_ci(ct).set_index("group") for ct in CONF_TYPES}
    groups = {}
    for g in km.groups_:
        entry = {
            "n": int(km.summary_.loc[g, "n"]),
            "events": int(km.summary_.loc[g, "events"]),
            "median": km.summary_.loc[g, "median"],
            "rmean": rm.loc[g, "rmean"],
            "rmean_se": rm.loc[g, "rmean_se"],
            "median_ci": {ct: [medians[ct].loc[g, "lower"], medians[ct].loc[g, "upper"]] for ct in CONF_TYPES},
        }
        if item.get("times"):
            at = {}
            for ct in CONF_TYPES:
                s = km.survival_at(item["times"], conf_type=ct)
                s = s[s["group"] == g]
                at.setdefault("time", s["time"].tolist())
                at.setdefault("n_risk", [int(v) for v in s["n_risk"]])
                at.setdefault("surv", s["surv"].tolist())
                at.setdefault("std_err", s["std_err"].tolist())
                at.setdefault("ci", {})[ct] = {"lower": s["lower"].tolist(), "upper": s["upper"].tolist()}
            entry["at_times"] = at
        groups[g] = entry
    return {"n_total": int(len(data)), "conf_level": conf_level, "median_rule": _MEDIAN_RULE,
            "rmean_tau": tau, "groups": groups}


def _logrank(data, item):
    from analysis.stats.logrank import logrank_test

    data = _need(data, item, ["time", "event", "group"])
    _check_event(data, item["event"])
    rho = item.get("rho", 0)
    res = logrank_test(data[item["time"]], data[item["event"]], data[item["group"]], rho=rho)
    groups = {r.group: {"n": int(r.n), "observed": r.observed, "expected": r.expected}
              for r in res.table.itertuples()}
    return {"rho": rho, "n_total": int(len(data)), "chisq": res.chisq, "df": res.df, "p": res.p, "groups": groups}


def _cox(data, item):
    from analysis.stats.cox import CoxModel

    fields = ["time", "event", "covariates", "strata"]
    data_used = _need(data, item, fields)
    _check_event(data_used, item["event"])
    ties = item.get("ties", "efron")
    model = CoxModel(ties=ties).fit(
        data, item["time"], item["event"], item["covariates"], strata=item.get("strata"),
        factors=item.get("factors"), ref=item.get("ref"),
    )
    c = model.coefficients_
    coefs = {k: {key: c.loc[k, key] for key in ("coef", "se", "hr", "hr_lower", "hr_upper", "z", "p")}
             for k in c.index}
    tests = {k: {"stat": model.tests_.loc[k, "stat"], "df": int(model.tests_.loc[k, "df"]),
                 "p": model.tests_.loc[k, "p"]} for k in ("lr", "wald", "score")}
    zph = model.zph()
    return {
        "ties": ties, "n": model.n_, "nevent": model.n_events_, "n_dropped": model.n_dropped_,
        "loglik_null": model.loglik_null_, "loglik": model.loglik_,
        "coefficients": coefs, **tests, "concordance": model.concordance_,
        "concordance_se": model.concordance_se_,
        "zph_transform": "km",
        "zph": {k: {"chisq": r.chisq, "df": int(r.df), "p": r.p} for k, r in zph.iterrows()},
        "term_lr": {k: {"stat": r.stat, "df": int(r.df), "p": r.p} for k, r in model.term_tests_.iterrows()},
        "profile_ci": {k: {"coef_lower": c.loc[k, "coef_profile_lower"], "coef_upper": c.loc[k, "coef_profile_upper"],
                           "hr_lower": c.loc[k, "hr_profile_lower"], "hr_upper": c.loc[k, "hr_profile_upper"]}
                       for k in c.index},
        "monotone_likelihood": model.monotone_likelihood_,
    }


def _table(data, item):
    from analysis.stats.contingency import crosstab

    data = _need(data, item, ["row", "col"])
    return crosstab(data, item["row"], item["col"])


def _chisq(data, item):
    from analysis.stats.contingency import chi_squared

    tab = _table(data, item)
    correct = bool(item.get("correct", False))
    res = chi_squared(tab, correct=correct)
    out = {"correct": correct, "n": res.details["n"], "dim": res.details["dim"], "statistic": res.statistic,
           "df": res.df, "p": res.p, "min_expected": res.details["min_expected"]}
    if "warnings" in res.details:
        out["warnings"] = res.details["warnings"]
    return out


def _fisher(data, item):
    from analysis.stats.contingency import fisher_exact

    res = fisher_exact(_table(data, item))
    out = {"n": res.details["n"], "dim": res.details["dim"], "p": res.p}
    if "odds_ratio_cmle" in res.details:
        out["odds_ratio_cmle"] = res.details["odds_ratio_cmle"]
        out["odds_ratio_ci"] = res.details["odds_ratio_ci"]
    return out


def _status(data, col):
    values = data[col]
    if not np.isin(values, np.arange(0, 100)).all():
        raise SpecError(f"status column {col!r} must be coded 0 (censored), 1, 2, ... (the causes)")
    return values.astype(int).to_numpy()


def _cif(data, item):
    from analysis.stats.competing import CumulativeIncidence

    data = _need(data, item, ["time", "status", "group"])
    group = item.get("group")
    status = _status(data, item["status"])
    ci = CumulativeIncidence().fit(data[item["time"]], status, None if group is None else data[group])
    table = ci.table_
    groups = {}
    for g in ci.groups_:
        block = table[table["group"] == g]
        groups[g] = {"n": ci.n_[g], "causes": {str(k): {"time": block["time"].tolist(),
                                                        "estimate": block[f"cif_{k}"].tolist(),
                                                        "std_err": block[f"se_{k}"].tolist()}
                                               for k in ci.causes_}}
    out = {"causes": [str(k) for k in ci.causes_], "groups": groups}
    if item.get("times"):
        read = ci.at(item["times"])
        out["at"] = {f"{g} {k}": {"times": r["time"].tolist(), "estimate": r["estimate"].tolist(),
                                  "var_cmprsk": r["var_cmprsk"].tolist()}
                     for (g, k), r in read.groupby(["group", "cause"], sort=False)}
    if ci.tests_ is not None:
        out["gray"] = {str(k): {"stat": r.stat, "p": r.p, "df": int(r.df)} for k, r in ci.tests_.iterrows()}
    return out


def _finegray(data, item):
    from analysis.stats.cox import _build_design
    from analysis.stats.finegray import FineGray

    data = _need(data, item, ["time", "status", "covariates"])
    status = _status(data, item["status"])
    design = _build_design(data, item["covariates"], item.get("factors"), item.get("ref"))
    cause = int(item.get("cause", 1))
    fit = FineGray().fit(data[item["time"]], status, design.X, design.names, of_cause=cause)
    terms = [{"name": name, **{k: r[k] for k in ("coef", "se", "z", "p")}}
             for name, r in fit.coefficients_.iterrows()]
    return {"n": fit.n_, "cause": cause, "terms": terms, "loglik": fit.loglik_, "converged": fit.converged_}


def _rmst(data, item):
    from analysis.stats.rmst import rmst_by_group

    data = _need(data, item, ["time", "event", "group"])
    _check_event(data, item["event"])
    return rmst_by_group(data[item["time"]], data[item["event"]], data[item["group"]], tau=item.get("tau"))


_RUNNERS = {"km": _km, "logrank": _logrank, "cox": _cox, "chisq": _chisq, "fisher": _fisher}
_RUNNERS.update(cif=_cif, finegray=_finegray, rmst=_rmst)  # competing risks and RMST (issue points 2-4)


def _jsonable(obj):
    """NaN/inf -> null (R's NA), numpy scalars -> Python numbers."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        if not math.isfinite(value):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    return obj
