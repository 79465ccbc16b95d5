"""Immortal-time bias of "subsequent systemic therapy": landmark and time-varying Cox reanalyses.

The paper's Cox model codes subsequent systemic therapy as a baseline covariate, although a patient
had to survive long enough to start it. The time from the CNS diagnosis to the therapy start is
"immortal" for the treated group, which biases the hazard ratio toward benefit. Two standard remedies:

- **Landmark analysis** (Anderson, Cain & Gelber 1983): keep the patients alive and in follow-up at a
  landmark day L, classify them by whether therapy had started by L, and restart the clock at L.
- **Time-varying covariate** (counting-process data, Andersen & Gill 1982): each patient contributes
  an untreated interval (0, s] and a treated interval (s, T], where s is the therapy start day.

``analysis.stats._cox_engine`` fits right-censored data only (every row at risk from time 0), so this
module adds the smallest missing piece: :class:`TimeVaryingCox`, the Cox partial likelihood for
(start, stop] data with Efron (or Breslow) ties, maximised by Newton-Raphson with step halving as the
package's ordinary engine is. Day conventions are stated in :func:`counting_process_data` and
:func:`landmark_data`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.stats import as_event, require_columns
from analysis.stats._cox_engine import pseudo_risk_sets
from analysis.stats import CoxModel

__all__ = [
    "TimeVaryingCox",
    "therapy_start_day",
    "counting_process_data",
    "landmark_data",
    "landmark_analysis",
    "naive_model",
    "time_varying_model",
    "immortal_time_summary",
    "comparison_table",
    "LANDMARKS",
    "ADJUSTMENT",
    "immortal_time_section",
]

# Clinically sensible landmarks (days after the CNS diagnosis): the usual time for RT to be completed
# and systemic therapy to be (re)started is weeks to about three months.
LANDMARKS = (30, 60, 90)
# The paper's other covariates of the all-CNS model (age >= 65, local RT), kept in every reanalysis.
ADJUSTMENT = ("age65_at_cns", "local_rt")
THERAPY = "subsequent_systemic"
# A death on the day of the CNS diagnosis has stop = 0; (0, 0] is empty, so such an interval is
# moved to (0, ZERO_DAY]. Times are whole days, so this keeps every risk set as it was.
ZERO_DAY = 0.5


# --------------------------------------------------------------------------- the model
class TimeVaryingCox:
    """Cox model for counting-process (start, stop] data, Efron or Breslow ties.

    The partial likelihood of Andersen & Gill: at each distinct death time t the risk set is the
    rows with start < t <= stop; tied deaths are handled by Efron's approximation (R's default)
    or Breslow's. Newton-Raphson with step halving; Wald and profile-likelihood intervals and
    likelihood-ratio tests of each term (the model refitted without it), as :class:`CoxModel`.

    Parameters
    ----------
    ties : {"efron", "breslow"}
    conf_level : float

    Attributes (after ``fit``)
    --------------------------
    coefficients_ : DataFrame indexed by covariate: coef, se, hr, hr_lower, hr_upper (Wald), z, p
        (Wald), hr_profile_lower, hr_profile_upper, p_lr.
    loglik_, loglik_null_ : float
    n_rows_, n_events_ : int
    converged_ : bool
    """

    def __init__(self, ties: str = "efron", conf_level: float = 0.95):
        if ties not in ("efron", "breslow"):
            raise ValueError(f"ties: expected 'efron' or 'breslow', got {ties!r}")
        if not 0 < conf_level < 1:
            raise ValueError(f"conf_level: expected a number in (0, 1), got {conf_level!r}")
        self.ties = ties
        self.conf_level = conf_level

    # ------------------------------------------------------------------ likelihood
    def _prepare(self, start, stop, event, X):
        """Sort once so that each evaluation is a few bucket sums: O(n log n) set-up, O(n p^2) per
        evaluation, no (death times x rows) matrix."""
        n, p = X.shape
        death_times = np.unique(stop[event == 1])
        # columns 1, x, x x' of every row (as rows of F): one weighted pass gives S0, S1, S2
        F = np.vstack([np.ones(n), X.T, (X[:, :, None] * X[:, None, :]).reshape(n, -1).T])
        # risk set at t: rows with stop >= t, minus those with start >= t (start < stop, so the
        # second set is inside the first); both are suffixes of a sorted order
        self._sorted = []
        for times in (stop, start):
            order = np.argsort(times, kind="stable")
            pos = np.searchsorted(times[order], death_times, side="left")
            ends = np.append(pos[1:], n)
            # F in that order, with a zero column at n (reduceat may point there)
            self._sorted.append((order, pos, pos == ends, np.hstack([F[:, order], np.zeros((len(F), 1))])))
        dead = np.flatnonzero(event == 1)
        dead = dead[np.argsort(stop[dead], kind="stable")]
        m = np.bincount(np.searchsorted(death_times, stop[dead]), minlength=len(death_times))
        self._dead, self._dead_starts, self._F_dead = dead, np.concatenate([[0], np.cumsum(m)[:-1]]), F[:, dead]
        self._rep, self._frac = pseudo_risk_sets(m, self.ties)
        self._X = X
        self._x_death_sum = X[event == 1].sum(axis=0)
        self._n_deaths = int(event.sum())

    @staticmethod
    def _suffix_sums(w, order, pos, empty, F_sorted):
        """For each death time d, the sum of w * F over the sorted rows pos[d], ..., n - 1:
        sums over the buckets between consecutive death times, accumulated from the last."""
        weights = np.append(w[order], 0.0)
        buckets = np.add.reduceat(F_sorted * weights, pos, axis=1)
        buckets[:, empty] = 0.0  # an empty bucket: reduceat returned the element at its start
        return np.cumsum(buckets[:, ::-1], axis=1)[:, ::-1]

    def _evaluate(self, beta):
        """Log partial likelihood, score and information at ``beta``."""
        X, p = self._X, self._X.shape[1]
        eta = X @ beta
        c = eta.max()
        w = np.exp(eta - c)
        (stop_sorted, start_sorted) = self._sorted
        S = (self._suffix_sums(w, *stop_sorted) - self._suffix_sums(w, *start_sorted)).T
        D = np.add.reduceat(self._F_dead * w[self._dead], self._dead_starts, axis=1).T
        S0, S1, S2 = S[:, 0], S[:, 1:1 + p], S[:, 1 + p:]
        D0, D1, D2 = D[:, 0], D[:, 1:1 + p], D[:, 1 + p:]
        rep, frac = self._rep, self._frac
        S0k = S0[rep] - frac * D0[rep]
        S1k = S1[rep] - frac[:, None] * D1[rep]
        mu = S1k / S0k[:, None]
        ll = float(self._x_death_sum @ beta - self._n_deaths * c - np.log(S0k).sum())
        score = self._x_death_sum - mu.sum(axis=0)
        # sum over pseudo risk sets of S2k / S0k, without a (pseudo sets x p x p) array
        inv0 = 1.0 / S0k
        a = np.bincount(rep, weights=inv0, minlength=len(S0))
        b = np.bincount(rep, weights=frac * inv0, minlength=len(S0))
        info = (a @ S2 - b @ D2).reshape(p, p) - mu.T @ mu
        return ll, score, info

    def _maximize(self, beta0, free, max_iter=100, tol=1e-10):
        beta = np.array(beta0, dtype=float)
        ll, score, info = self._evaluate(beta)
        converged = not free.any()
        for _ in range(max_iter):
            if converged:
                break
            step = np.zeros_like(beta)
            fi = np.ix_(free, free)
            step[free] = np.linalg.solve(info[fi], score[free])
            new = beta + step
            ll_new, score_new, info_new = self._evaluate(new)
            halvings = 0
            while (not np.isfinite(ll_new) or ll_new < ll - 1e-12 * (1 + abs(ll))) and halvings < 40:
                step /= 2
                new = beta + step
                ll_new, score_new, info_new = self._evaluate(new)
                halvings += 1
            beta, ll, score, info = new, ll_new, score_new, info_new
            if np.max(np.abs(step)) <= tol * (1 + np.max(np.abs(beta))):
                converged = True
        return beta, ll, info, converged

    # ------------------------------------------------------------------ fit
    def fit(self, df: pd.DataFrame, start: str, stop: str, event: str, covariates,
            profile_ci: bool = True) -> "TimeVaryingCox":
        """Fit by Newton-Raphson on the counting-process log partial likelihood.

        Rows with a missing value in a column used are dropped (``n_dropped_``). Every row must have
        start < stop.
        """
        covariates = [covariates] if isinstance(covariates, str) else list(covariates)
        if not covariates:
            raise ValueError("covariates: expected at least one column name, got none")
        used = [start, stop, event, *covariates]
        require_columns(df, used)
        data = df[list(dict.fromkeys(used))].dropna()
        self.n_dropped_ = int(len(df) - len(data))
        t0 = data[start].to_numpy(dtype=float)
        t1 = data[stop].to_numpy(dtype=float)
        bad = ~(t0 < t1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"columns {start!r}/{stop!r}: found an interval ({t0[i]:g}, {t1[i]:g}] with "
                             f"start >= stop in {int(bad.sum())} row(s); expected start < stop")
        e = as_event(data[event], name=f"event column {event!r}")
        if e.sum() == 0:
            raise ValueError(f"event column {event!r} has no events among the {len(e)} rows used")
        X = data[covariates].to_numpy(dtype=float)
        self._prepare(t0, t1, e, X)
        p = X.shape[1]
        self.covariates_ = covariates
        self.n_rows_, self.n_events_ = int(len(data)), int(e.sum())
        self.loglik_null_ = self._evaluate(np.zeros(p))[0]
        beta, ll, info, converged = self._maximize(np.zeros(p), np.ones(p, dtype=bool))
        self.loglik_, self.converged_ = ll, converged
        if not converged:
            warnings.warn("TimeVaryingCox: Newton-Raphson did not converge in 100 iterations", stacklevel=2)
        var = np.linalg.inv(info)
        se = np.sqrt(np.diag(var))
        zq = stats.norm.ppf(1 - (1 - self.conf_level) / 2)
        z = beta / se
        table = pd.DataFrame({
            "coef": beta, "se": se, "hr": np.exp(beta),
            "hr_lower": np.exp(beta - zq * se), "hr_upper": np.exp(beta + zq * se),
            "z": z, "p": 2 * stats.norm.sf(np.abs(z)),
        }, index=pd.Index(covariates, name="term"))
        self._beta_hat, self._se = beta, se
        p_lr, lower, upper = [], [], []
        for j in range(p):
            free = np.ones(p, dtype=bool)
            free[j] = False
            start_beta = beta.copy()
            start_beta[j] = 0.0
            ll0 = self._maximize(start_beta, free)[1]
            p_lr.append(float(stats.chi2.sf(max(2 * (ll - ll0), 0.0), 1)))
            lo, up = self._profile_bounds(j) if profile_ci else (np.nan, np.nan)
            lower.append(np.exp(lo))
            upper.append(np.exp(up))
        table["hr_profile_lower"], table["hr_profile_upper"], table["p_lr"] = lower, upper, p_lr
        self.coefficients_ = table
        return self

    def _profile_drop(self, j, value):
        """Twice the drop of the profile log partial likelihood at beta_j = value, minus the quantile."""
        p = len(self._beta_hat)
        free = np.ones(p, dtype=bool)
        free[j] = False
        start_beta = self._beta_hat.copy()
        start_beta[j] = value
        ll = self._maximize(start_beta, free)[1]
        return 2 * (self.loglik_ - ll) - stats.chi2.ppf(self.conf_level, 1)

    def _profile_bounds(self, j):
        """Profile-likelihood interval of beta_j: the roots of the profile drop on each side (Brent)."""
        bounds = []
        for direction in (-1, 1):
            near = self._beta_hat[j]
            far = near + direction * 2 * self._se[j]
            found = np.nan
            for _ in range(12):
                if self._profile_drop(j, far) > 0:
                    found = optimize.brentq(lambda b: self._profile_drop(j, b), *sorted((near, far)),
                                            xtol=1e-12, rtol=1e-12)
                    break
                near, far = far, near + 2 * (far - near)
            bounds.append(found)  # NaN: the profile never drops enough (monotone likelihood)
        return bounds[0], bounds[1]


# --------------------------------------------------------------------------- data
def therapy_start_day(data: pd.DataFrame) -> pd.Series:
    """Days from the CNS diagnosis to the start of subsequent systemic therapy (NaN if none)."""
    require_columns(data, ["cns_date", THERAPY, "subsequent_systemic_start_date"])
    days = (data["subsequent_systemic_start_date"] - data["cns_date"]).dt.days.astype(float)
    treated = data[THERAPY].astype(float) == 1
    missing = treated & days.isna()
    if missing.any():
        raise ValueError(f"subsequent_systemic_start_date: missing for {int(missing.sum())} treated patient(s); "
                         "expected a start date whenever subsequent_systemic is 1")
    return days.where(treated)


def _cns_frame(data: pd.DataFrame, adjust=ADJUSTMENT) -> pd.DataFrame:
    cns = data[data["cns"] == 1]
    frame = pd.DataFrame({
        "id": np.arange(len(cns)),  # a running number, never the patient identifier
        "time": cns["os_from_cns"].astype(float),
        "death": cns["death"].astype(int),
        THERAPY: cns[THERAPY].astype(float),
        "start_day": therapy_start_day(cns),
    }, index=cns.index)
    for column in adjust:
        frame[column] = cns[column].astype(float)
    return frame.dropna(subset=[THERAPY, *adjust])


def counting_process_data(data: pd.DataFrame, adjust=ADJUSTMENT) -> pd.DataFrame:
    """One row per patient and treatment status: columns id, start, stop, death, treated, adjusters.

    A patient whose therapy starts on day s contributes (0, s] untreated and (s, T] treated, T being
    the survival time from the CNS diagnosis (a death counts in the interval that ends at T).
    Therapy started on day 0 makes the whole follow-up treated; therapy started on the last day
    (s = T) leaves the patient untreated (a treated interval of zero length carries no risk).
    """
    frame = _cns_frame(data, adjust).reset_index(drop=True)
    end = frame["time"].clip(lower=ZERO_DAY)
    s = frame["start_day"]
    split = s.notna() & (s > 0) & (s < frame["time"])  # (0, s] untreated, then (s, T] treated
    whole = pd.DataFrame({"id": frame["id"], **{c: frame[c] for c in adjust}, "start": 0.0, "stop": end,
                          "death": frame["death"], "treated": (s.notna() & (s <= 0)).astype(float)})
    whole.loc[split, "stop"] = s[split]
    whole.loc[split, "death"] = 0
    whole.loc[split, "treated"] = 0.0
    treated = whole[split].assign(start=s[split], stop=end[split], death=frame.loc[split, "death"], treated=1.0)
    # each patient's rows together, untreated interval first (a stable sort keeps that order)
    rows = pd.concat([whole, treated]).sort_index(kind="stable").reset_index(drop=True)
    columns = ["id", "start", "stop", "death", "treated", *adjust]
    return rows[columns]


def landmark_data(data: pd.DataFrame, landmark: float, adjust=ADJUSTMENT) -> pd.DataFrame:
    """Patients alive and in follow-up beyond ``landmark`` days, clock restarted at the landmark.

    ``treated`` is 1 when therapy started on or before the landmark day (later starts count as
    untreated: the landmark analysis is by intention as of the landmark). Columns id, time
    (days after the landmark), death, treated, adjusters.
    """
    if landmark < 0:
        raise ValueError(f"landmark: expected a non-negative number of days, got {landmark!r}")
    frame = _cns_frame(data, adjust)
    kept = frame[frame["time"] > landmark]
    out = pd.DataFrame({
        "id": kept["id"],
        "time": kept["time"] - landmark,
        "death": kept["death"],
        "treated": (kept["start_day"] <= landmark).astype(float),
    })
    for column in adjust:
        out[column] = kept[column]
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- analyses
def _row(label, table, term, n, events, n_treated, how):
    row = table.loc[term]
    return {"analysis": label, "patients": n, "deaths": events, "treated": n_treated,
            "hr": float(row["hr"]), "lower": float(row["hr_profile_lower"]),
            "upper": float(row["hr_profile_upper"]), "p": float(row["p_lr"]), "how": how}


def naive_model(data: pd.DataFrame, adjust=ADJUSTMENT) -> CoxModel:
    """The paper's model: therapy as a baseline covariate (Cox, Efron ties)."""
    frame = _cns_frame(data, adjust)
    return CoxModel().fit(frame, "time", "death", [THERAPY, *adjust])


def time_varying_model(data: pd.DataFrame, adjust=ADJUSTMENT) -> TimeVaryingCox:
    """Therapy as a time-varying covariate from its start day (counting process, Efron ties)."""
    cp = counting_process_data(data, adjust)
    return TimeVaryingCox().fit(cp, "start", "stop", "death", ["treated", *adjust])


def landmark_analysis(data: pd.DataFrame, landmarks=LANDMARKS, adjust=ADJUSTMENT) -> pd.DataFrame:
    """Cox model of survival after each landmark by therapy status at the landmark.

    Efron ties; profile-likelihood 95% CI and likelihood-ratio p of the therapy term. Columns:
    landmark, patients, deaths, treated, hr, lower, upper, p (NaN when a landmark has no treated
    or no untreated patient, or no death).
    """
    rows = []
    for landmark in landmarks:
        frame = landmark_data(data, landmark, adjust)
        n, events, n_treated = len(frame), int(frame["death"].sum()), int(frame["treated"].sum())
        row = {"landmark": landmark, "patients": n, "deaths": events, "treated": n_treated,
               "hr": np.nan, "lower": np.nan, "upper": np.nan, "p": np.nan}
        if events and 0 < n_treated < n:
            fit = CoxModel().fit(frame, "time", "death", ["treated", *adjust])
            coef = fit.coefficients_.loc["treated"]
            row.update(hr=float(coef["hr"]), lower=float(coef["hr_profile_lower"]),
                       upper=float(coef["hr_profile_upper"]), p=float(coef["p_lr"]))
        rows.append(row)
    return pd.DataFrame(rows)


def immortal_time_summary(data: pd.DataFrame) -> dict:
    """How much immortal time the naive model gives the treated group.

    Returns treated (patients), median_start_day (days from CNS diagnosis to therapy start),
    immortal_days (sum of those waits: person-time the naive model counts as treated although
    the patients were untreated and could not die while remaining in the treated group),
    immortal_share (that sum over all person-time the naive model counts as treated, in %).
    """
    frame = _cns_frame(data, ())
    treated = frame[frame[THERAPY] == 1]
    waits = treated["start_day"].clip(lower=0)
    treated_time = float(treated["time"].sum())
    return {
        "treated": int(len(treated)),
        "median_start_day": float(waits.median()) if len(waits) else float("nan"),
        "immortal_days": float(waits.sum()),
        "immortal_share": 100.0 * float(waits.sum()) / treated_time if treated_time else float("nan"),
    }


def comparison_table(data: pd.DataFrame, landmarks=LANDMARKS, adjust=ADJUSTMENT) -> pd.DataFrame:
    """The therapy hazard ratio under each analysis, indexed by a readable label.

    Columns: patients, deaths, treated, hr, lower, upper (profile 95% CI), p (likelihood ratio),
    how. Rows: the naive model, one landmark model per landmark, the time-varying model.
    """
    naive = naive_model(data, adjust)
    frame = _cns_frame(data, adjust)
    rows = [_row("Naive (as the paper)", naive.coefficients_, THERAPY, naive.n_,
                 naive.n_events_, int(frame[THERAPY].sum()), "baseline covariate")]
    for r in landmark_analysis(data, landmarks, adjust).itertuples(index=False):
        rows.append({"analysis": f"Landmark, day {r.landmark:g}", "patients": r.patients, "deaths": r.deaths,
                     "treated": r.treated, "hr": r.hr, "lower": r.lower, "upper": r.upper, "p": r.p,
                     "how": f"status at day {r.landmark:g}"})
    tv = time_varying_model(data, adjust)
    rows.append(_row("Time-varying", tv.coefficients_, "treated", int(len(frame)),
                     tv.n_events_, int(frame[THERAPY].sum()), "counting process"))
    return pd.DataFrame(rows).set_index("analysis")


# --------------------------------------------------------------------------- what the chapter shows
FIGURE_KEYS = ("naive", *(f"landmark{d}" for d in LANDMARKS), "time_varying")


def _empty_figures() -> dict:
    figures = {f"immortal_time.{key}.{what}": float("nan")
               for key in FIGURE_KEYS for what in ("hr", "ci", "p", "n", "deaths", "treated")}
    figures.update({f"immortal_time.summary.{k}": float("nan")
                    for k in ("treated", "median_start_day", "immortal_days", "immortal_share")})
    figures["immortal_time.direction"] = "NA"
    return figures


def immortal_time_section(cohort):
    """The chapter's figures (ids ``immortal_time.<analysis>.<hr|ci|p|n|deaths|treated>`` and
    ``immortal_time.summary.*``), the comparison table, and notes when the cohort cannot support
    the reanalysis (no start dates, no treated or untreated patients). Returns a
    :class:`analysis.study.reproduction.Section`; figures not computed are NaN, so the prose shows NA."""
    from analysis.study.reproduction import Section, cns_patients_with_deaths, has

    section = Section(figures=_empty_figures())
    for analysis in ("cox_os_all_cns", "time_dependent_subsequent_systemic"):
        if not has(cohort, analysis):
            section.notes.append(cohort.switched_off_note(analysis))
    if section.notes:
        return section
    data = cohort.data
    if cns_patients_with_deaths(data, section) is None:
        return section
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a diverging fit must not pass silently
            table = comparison_table(data)
    except (Warning, ValueError, np.linalg.LinAlgError) as exc:
        section.notes.append(f"Not computed: {exc}")
        return section
    section.tables["comparison"] = table
    for key, (_, row) in zip(FIGURE_KEYS, table.iterrows()):
        section.put(f"immortal_time.{key}", hr=float(row["hr"]), ci=[float(row["lower"]), float(row["upper"])],
                    p=float(row["p"]), n=int(row["patients"]), deaths=int(row["deaths"]),
                    treated=int(row["treated"]))
    summary = immortal_time_summary(data)
    summary["immortal_share"] = round(summary["immortal_share"], 1)  # a percentage, printed to 0.1
    section.put("immortal_time.summary", **summary)
    naive, varying = table["hr"].iloc[0], table["hr"].iloc[-1]
    section.figures["immortal_time.direction"] = (
        "closer to 1" if abs(np.log(varying)) < abs(np.log(naive)) else "further from 1")
    return section

