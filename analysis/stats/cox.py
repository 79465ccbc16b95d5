"""Cox proportional-hazards regression matching R's ``survival::coxph``.

Partial likelihood with Efron (default), Breslow or exact ties, maximised by
Newton-Raphson (vectorised engine in :mod:`analysis.stats._cox_engine`; the exact
partial likelihood of R's ``ties = "exact"`` in :mod:`analysis.stats._cox_exact`).
Times closer than R's ``aeqSurv`` tolerance are merged first (:func:`aeq_times`). Reported per
coefficient: Wald SE/CI/p from the inverse information, profile-likelihood CI
(the coefficient value where twice the drop of the profile log partial
likelihood equals the chi-squared(1) quantile, other coefficients refitted) and
the likelihood-ratio test of its term (the model refitted without the term;
a factor is one term with levels-1 df). Whole-model likelihood-ratio, Wald and
score tests; Harrell's concordance as R computes it (within strata, tied
predictions count 1/2); the proportional-hazards score test of ``cox.zph``
(survival >= 3.0, KM time transform). Firth's penalised partial likelihood
(Heinze & Schemper 2001, as R's ``coxphf``) handles monotone likelihood.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats._checks import as_event, as_time, labels_of, level_label, require_columns, sorted_levels
from analysis.stats._cox_engine import CoxEngine
from analysis.stats._cox_exact import ExactCoxEngine
from analysis.stats._profile import profile_interval
from analysis.stats.timefix import aeq_times

__all__ = ["CoxModel", "fit_cox", "MonotoneLikelihoodWarning", "scaled_schoenfeld"]


class MonotoneLikelihoodWarning(UserWarning):
    """The ordinary Cox fit diverges (separation); a Firth fit was used instead."""


@dataclass(frozen=True)
class _Design:
    X: np.ndarray
    names: list[str]
    terms: dict[str, list[int]]  # term -> column positions


def _build_design(df: pd.DataFrame, covariates, factors, ref) -> _Design:
    """Model matrix with R's treatment contrasts: a factor ``arm`` with levels
    A < B gives the column ``armB``; the reference is the first sorted level
    unless ``ref[col]`` names another. String/categorical/boolean columns are
    factors; so is every column listed in ``factors``."""
    cols, names, terms = [], [], {}
    factors = set(factors or [])
    ref = dict(ref or {})
    for cov in covariates:
        ser = df[cov]
        is_factor = (
            cov in factors
            or ser.dtype == object
            or isinstance(ser.dtype, pd.CategoricalDtype)
            or pd.api.types.is_string_dtype(ser)
        )
        if not is_factor:
            if pd.api.types.is_bool_dtype(ser):
                ser = ser.astype(int)
            terms[cov] = [len(names)]
            names.append(cov)
            cols.append(pd.to_numeric(ser).to_numpy(dtype=float))
            continue
        levels = sorted_levels(ser)
        labels = [level_label(v) for v in levels]
        keyed = labels_of(ser)
        empty = [lab for lab in labels if not (keyed == lab).any()]
        if empty:
            raise ValueError(f"factor {cov!r}: level(s) {empty} have no rows among the rows used; drop unused levels")
        if cov in ref:
            want = level_label(ref[cov])
            if want not in labels:
                raise ValueError(f"ref[{cov!r}] = {ref[cov]!r} is not a level of {cov!r} (levels: {labels})")
            labels = [want] + [lab for lab in labels if lab != want]
        if len(labels) < 2:
            raise ValueError(f"factor {cov!r} has a single level {labels} among the rows used; it cannot be estimated")
        terms[cov] = []
        for lab in labels[1:]:
            terms[cov].append(len(names))
            names.append(f"{cov}{lab}")
            cols.append((keyed == lab).astype(float))
    X = np.column_stack(cols) if cols else np.zeros((len(df), 0))
    return _Design(X, names, terms)


def _refuse_aliased(design: _Design, n_rows: int) -> None:
    """Refuse columns that are constant or a linear combination of earlier ones among the rows used.

    Their coefficient is not identifiable: R's coxph reports it as NA; a Newton fit would instead
    look like a diverging (monotone) likelihood and send the caller to Firth for no reason.
    """
    X = design.X
    if X.shape[1] == 0:
        return
    centred = X - X.mean(axis=0)
    scale = np.abs(centred).max(axis=0)
    aliased, kept = [], []
    for j in range(X.shape[1]):
        if scale[j] == 0:
            aliased.append(design.names[j])
            continue
        candidate = centred[:, kept + [j]] / np.maximum(scale[kept + [j]], 1e-300)
        if np.linalg.matrix_rank(candidate) < len(kept) + 1:
            aliased.append(design.names[j])
        else:
            kept.append(j)
    if aliased:
        which = f"covariate {aliased[0]!r} is" if len(aliased) == 1 else \
            f"covariates {', '.join(map(repr, aliased))} are"
        raise ValueError(f"{which} constant or collinear with the other covariates among the {n_rows} rows "
                         "used: not estimable (R's coxph reports NA); leave it out of the model")


class CoxModel:
    """Cox proportional-hazards model (partial likelihood, Efron, Breslow or exact ties).

    Parameters
    ----------
    ties : {"efron", "breslow", "exact"}
        Tie handling of the partial likelihood (R's default is Efron). ``"exact"`` is
        R's ``coxph(ties = "exact")``: the exact (discrete, conditional-logistic) partial
        likelihood, each death time's term the elementary symmetric sum over its risk set
        evaluated by recursion; coefficients, tests, profile intervals and term LR tests are
        the same machinery on that likelihood; ``zph`` is R's ``cox.zph`` of such a fit (its
        Breslow-form score test at the exact estimate); Firth's penalty is not offered.
    conf_level : float
        Level of the Wald and profile-likelihood intervals.
    penalty : None or "firth"
        ``"firth"`` maximises the penalised log partial likelihood
        l(beta) + 0.5 log|I(beta)| (Heinze & Schemper 2001); its intervals are
        profile penalised-likelihood intervals and ``p_lr`` the penalised
        likelihood-ratio test, as R's ``coxphf`` reports.

    Attributes
    ----------
    coefficients_ : DataFrame
        Indexed by coefficient (R naming, e.g. ``armB``): coef, se, hr, hr_lower,
        hr_upper (Wald), z, p (Wald), coef_profile_lower, coef_profile_upper,
        hr_profile_lower, hr_profile_upper (a limit that does not exist, the
        profile never dropping enough, is -inf/+inf on the coef scale, 0/inf on
        the HR scale), p_lr (term LR test; for a factor the same multi-df p on
        each of its rows), term.
    term_tests_ : DataFrame
        Indexed by term: stat, df, p (likelihood-ratio).
    tests_ : DataFrame
        Indexed lr / wald / score: stat, df, p.
    loglik_, loglik_null_ : float
    concordance_, concordance_se_ : float
        Harrell's C as R's coxph reports it, and its standard error.
    n_, n_events_, n_dropped_ : int
    converged_, monotone_likelihood_ : bool
    method_ : {"cox", "firth"}
    var_ : DataFrame
        Covariance matrix of the coefficients.

    Examples
    --------
    >>> CoxModel().fit(df, "time", "event", ["age", "arm"]).coefficients_["hr"]  # doctest: +SKIP
    """

    def __init__(self, ties: str = "efron", conf_level: float = 0.95, penalty: str | None = None):
        if ties not in ("efron", "breslow", "exact"):
            raise ValueError(f"ties: expected 'efron', 'breslow' or 'exact', got {ties!r}")
        if ties == "exact" and penalty is not None:
            raise ValueError("penalty='firth' is not offered with ties='exact'; use 'efron' or 'breslow'")
        if not 0 < conf_level < 1:
            raise ValueError(f"conf_level: expected a number in (0, 1), got {conf_level!r}")
        if penalty not in (None, "firth"):
            raise ValueError(f"penalty: expected None or 'firth', got {penalty!r}")
        self.ties = ties
        self.conf_level = conf_level
        self.penalty = penalty

    # ------------------------------------------------------------------
    def fit(
        self,
        df: pd.DataFrame,
        time: str,
        event: str,
        covariates,
        strata=None,
        factors=None,
        ref=None,
        profile_ci: bool = True,
        term_tests: bool = True,
    ) -> "CoxModel":
        """Fit by Newton-Raphson on the (penalised) log partial likelihood.

        Rows with a missing value in any column used are dropped first (counted
        in ``n_dropped_``), as R's ``na.omit``.
        """
        if isinstance(covariates, str):
            covariates = [covariates]
        covariates = list(covariates)
        if not covariates:
            raise ValueError("covariates: expected at least one column name, got none")
        strata = [strata] if isinstance(strata, str) else list(strata or [])
        used = [time, event, *covariates, *strata]
        require_columns(df, used)
        for name in list(factors or []) + list((ref or {}).keys()):
            if name not in covariates:
                raise ValueError(f"factors/ref name {name!r}, which is not among the covariates {covariates}")
        data = df[list(dict.fromkeys(used))].dropna()
        self.n_dropped_ = int(len(df) - len(data))
        if len(data) == 0:
            raise ValueError("no rows left after dropping rows with missing values in " + ", ".join(used))
        # R's coxph(timefix = TRUE): times equal to within aeqSurv's tolerance are one time
        t = aeq_times(as_time(data[time], name=f"time column {time!r}"))
        e = as_event(data[event], name=f"event column {event!r}")
        if e.sum() == 0:
            raise ValueError(f"event column {event!r} has no events among the {len(e)} rows used")
        design = _build_design(data, covariates, factors, ref)
        _refuse_aliased(design, len(data))
        if strata:
            strata_codes = data.groupby(strata, sort=True).ngroup().to_numpy()
        else:
            strata_codes = None
        self._design = design
        self._time, self._event, self._strata = t, e, strata_codes
        self.n_, self.n_events_ = int(len(t)), int(e.sum())
        self.strata_ = list(strata)
        self.terms_ = {k: [design.names[i] for i in v] for k, v in design.terms.items()}
        if self.ties == "exact":
            self._engine = ExactCoxEngine(t, e, design.X, strata_codes)
        else:
            self._engine = CoxEngine(t, e, design.X, strata_codes, self.ties)
        firth = self.penalty == "firth"
        self.method_ = "firth" if firth else "cox"

        p = design.X.shape[1]
        null = self._engine.evaluate(np.zeros(p), firth)
        self.loglik_null_ = float(null[0])
        res = self._engine.maximize(firth=firth)
        self._res = res
        self.loglik_ = float(res.loglik)
        self.converged_ = bool(res.converged)
        scale = np.maximum(1.0, np.abs(res.beta))
        moving = np.abs(res.next_step) > 1e-4 * scale
        self.monotone_likelihood_ = bool(not firth and (not res.converged or moving.any()))
        # coefficients still moving when the loglik has stopped rising
        self.diverging_ = [n for n, m in zip(design.names, moving) if m] if self.monotone_likelihood_ else []
        if self.monotone_likelihood_ and not self.diverging_:
            self.diverging_ = list(design.names)
        self.coef_ = pd.Series(res.beta, index=design.names)
        if self.monotone_likelihood_:
            # R's coxph warns likewise ("coefficient may be infinite")
            warnings.warn(
                f"monotone likelihood: coefficient(s) {', '.join(self.diverging_)} diverge (separation); "
                "their estimates, Wald and profile intervals are not finite in truth. "
                "Use penalty='firth' or fit_cox(..., firth='auto').",
                MonotoneLikelihoodWarning,
                stacklevel=2,
            )
        try:
            var = np.linalg.inv(res.info)
        except np.linalg.LinAlgError:
            var = np.full((p, p), np.nan)
        self.var_ = pd.DataFrame(var, index=design.names, columns=design.names)
        se = np.sqrt(np.diag(var))
        zq = stats.norm.ppf(1 - (1 - self.conf_level) / 2)
        z = res.beta / se
        # a diverging (monotone) fit overflows exp(); its HR is reported as inf
        with np.errstate(over="ignore"):
            table = self._wald_table(res.beta, se, z, zq, design.names)
        table["term"] = [next(k for k, v in design.terms.items() if i in v) for i in range(p)]

        # whole-model tests: LR against beta = 0, Wald beta' I beta, score U(0)' I(0)^-1 U(0)
        lr = 2 * (self.loglik_ - self.loglik_null_)
        wald = float(res.beta @ res.info @ res.beta) if np.all(np.isfinite(var)) else np.nan
        _, u0, i0 = self._engine.evaluate(np.zeros(p))
        try:
            score = float(u0 @ np.linalg.solve(i0, u0))
        except np.linalg.LinAlgError:
            score = np.nan
        self.tests_ = pd.DataFrame(
            {"stat": [lr, wald, score], "df": [p] * 3, "p": [stats.chi2.sf(x, p) for x in (lr, wald, score)]},
            index=pd.Index(["lr", "wald", "score"], name="test"),
        )

        if profile_ci:
            lo, hi = zip(*(self._profile_bounds(j) for j in range(p)))
            table["coef_profile_lower"], table["coef_profile_upper"] = lo, hi
            table["hr_profile_lower"], table["hr_profile_upper"] = np.exp(lo), np.exp(hi)
        else:
            for col in ("coef_profile_lower", "coef_profile_upper", "hr_profile_lower", "hr_profile_upper"):
                table[col] = np.nan
        if term_tests:
            rows = {}
            for term, cols in design.terms.items():
                rows[term] = self._term_lr(cols)
            self.term_tests_ = pd.DataFrame.from_dict(rows, orient="index", columns=["stat", "df", "p"])
            self.term_tests_.index.name = "term"
            table["p_lr"] = [self.term_tests_.loc[term, "p"] for term in table["term"]]
        else:
            self.term_tests_ = pd.DataFrame(columns=["stat", "df", "p"])
            table["p_lr"] = np.nan
        self.coefficients_ = table
        self.__dict__.pop("_concordance_value", None)  # computed on first use (an O(n log n) pass)
        return self

    @staticmethod
    def _wald_table(beta, se, z, zq, names) -> pd.DataFrame:
        """Wald statistics: HR = exp(coef), CI exp(coef -/+ z se), p = 2 P(Z > |z|)."""
        return pd.DataFrame(
            {
                "coef": beta,
                "se": se,
                "hr": np.exp(beta),
                "hr_lower": np.exp(beta - zq * se),
                "hr_upper": np.exp(beta + zq * se),
                "z": z,
                "p": 2 * stats.norm.sf(np.abs(z)),
            },
            index=pd.Index(names, name="term"),
        )

    # ------------------------------------------------------------------
    def _term_lr(self, cols):
        """Likelihood-ratio test of a term: the model refitted with its columns
        fixed at 0 (for the ordinary likelihood this is the model without the
        term; with Firth the penalty keeps the full information matrix, as
        ``coxphftest`` does)."""
        firth = self.method_ == "firth"
        p = self._design.X.shape[1]
        free = np.ones(p, dtype=bool)
        free[cols] = False
        start = self._res.beta.copy()
        start[cols] = 0.0
        reduced = self._engine.maximize(start, free, firth=firth)
        stat = max(0.0, 2 * (self.loglik_ - reduced.loglik))
        return stat, len(cols), float(stats.chi2.sf(stat, len(cols)))

    def _profile_bounds(self, j):
        """Profile-likelihood interval of coefficient j (:func:`analysis.stats._profile.profile_interval`,
        the package's one root finder): +/-inf when the profile never drops enough (monotone likelihood)."""
        diverging = self._design.names[j] in getattr(self, "diverging_", [])
        return profile_interval(self._engine, self._res, self.var_.to_numpy(), j, self.conf_level,
                                firth=self.method_ == "firth", diverging=diverging)

    @property
    def concordance_(self) -> float:
        """Harrell's C as R's coxph reports it: pairs within strata; a censoring tied with a death
        counts as later; tied risk scores count 1/2 (see :mod:`analysis.stats._concordance`).
        Computed on first access."""
        return self._concordance_pair()[0]

    @property
    def concordance_se_(self) -> float:
        """Infinitesimal-jackknife standard error of ``concordance_`` (R's coxph)."""
        return self._concordance_pair()[1]

    def _concordance_pair(self) -> tuple[float, float]:
        if "_concordance_value" not in self.__dict__:
            from analysis.stats._concordance import concordance

            eta = self._design.X @ self._res.beta
            self._concordance_value = concordance(self._time, self._event, eta, self._strata)
        return self._concordance_value

    # ------------------------------------------------------------------
    def zph(self) -> pd.DataFrame:
        """Proportional-hazards test of R's ``cox.zph(fit, transform="km")``
        (survival >= 3.0): score test, at gamma = 0, of adding x_j * g(t) for the
        covariates of each term, where g = 1 - KM(t-) of all rows, centred at its
        mean over deaths; GLOBAL tests all terms at once. Not defined for Firth fits.
        Returns a DataFrame indexed by term + "GLOBAL": chisq, df, p.
        """
        if not hasattr(self, "_res"):
            raise ValueError("zph: fit the model first")
        if self.method_ == "firth":
            raise ValueError("zph: cox.zph is defined for the ordinary partial likelihood, not a Firth fit")
        eng = self._engine
        if self.ties == "exact":
            # R's cox.zph treats every method but Efron in Breslow form (its efron flag is false)
            eng = CoxEngine(self._time, self._event, self._design.X, self._strata, "breslow")
        p = eng.p
        beta = self._res.beta
        # KM of all rows (strata ignored, as cox.zph); left-continuous value at each death time
        t_all, e_all = self._time, self._event
        uniq, inv = np.unique(t_all, return_inverse=True)
        d = np.bincount(inv, weights=e_all)
        n_at = len(t_all) - np.concatenate([[0], np.cumsum(np.bincount(inv))[:-1]])
        surv = np.cumprod(1 - d / n_at)
        surv_left = np.concatenate([[1.0], surv[:-1]])
        g_of = dict(zip(uniq, 1 - surv_left))
        g_mean = np.mean([g_of[x] for x in t_all[e_all == 1]])

        U_g = np.zeros(p)
        imat = np.zeros((2 * p, 2 * p))
        for s in eng.strata_list:
            _, _, _, pc = eng._stratum_terms(s, beta)
            if pc is None:
                continue
            t_sorted = self._time[s.order]
            gblock = np.array([g_of[x] for x in t_sorted[s.block_last[s.death_blocks]]]) - g_mean
            gk = gblock[s.rep]
            # Schoenfeld sums per death block: sum of x over deaths - sum of pseudo-risk-set means
            resid = np.zeros((len(s.death_blocks), p))
            np.add.at(resid, s.death_block_of_row, s.X[s.death_rows])
            np.add.at(resid, s.rep, -pc.mu)
            U_g += gblock @ resid
            V = pc.V
            imat[:p, :p] += V.sum(axis=0)
            cross = np.einsum("k,kij->ij", gk, V)
            imat[:p, p:] += cross
            imat[p:, :p] += cross
            imat[p:, p:] += np.einsum("k,kij->ij", gk**2, V)
        rows, index = [], []
        u_full = np.concatenate([np.zeros(p), U_g])
        for term, cols in self._design.terms.items():
            kk = list(range(p)) + [p + c for c in cols]
            u = u_full[kk]
            stat = float(u @ np.linalg.solve(imat[np.ix_(kk, kk)], u))
            rows.append((stat, len(cols), stats.chi2.sf(stat, len(cols))))
            index.append(term)
        stat = float(u_full @ np.linalg.solve(imat, u_full))
        rows.append((stat, p, stats.chi2.sf(stat, p)))
        index.append("GLOBAL")
        return pd.DataFrame(rows, columns=["chisq", "df", "p"], index=pd.Index(index, name="term"))

    def scaled_schoenfeld(self) -> pd.DataFrame:
        """Scaled Schoenfeld residuals, one row per death in time order, as R's
        ``cox.zph(fit, transform="km")$x`` and ``$y`` (tests/reference/zph_residuals_R.json).

        Returns
        -------
        DataFrame
            ``time``; ``x``, the Kaplan-Meier transform 1 - KM(t-) of all rows (strata ignored, as
            cox.zph); one column per coefficient, beta + d V r, with r the Schoenfeld residual (the
            covariates minus the risk-set mean; for tied deaths under Efron's method the mean of the
            tie's pseudo risk sets), d the number of deaths and V the model's variance.
        """
        if not hasattr(self, "_res"):
            raise ValueError("scaled_schoenfeld: fit the model first")
        if self.method_ == "firth":
            raise ValueError("scaled_schoenfeld: defined for the ordinary partial likelihood, not a Firth fit")
        eng, beta = self._engine, self._res.beta
        if self.ties == "exact":
            # as zph(): R's cox.zph reads an exact fit in Breslow form
            eng = CoxEngine(self._time, self._event, self._design.X, self._strata, "breslow")
        times, residuals = [], []
        for s in eng.strata_list:
            _, _, _, pieces = eng._stratum_terms(s, beta)
            if pieces is None:
                continue
            n_blocks = len(s.death_blocks)
            # one pseudo risk set per death of a tie: their means averaged, so tied deaths share one
            mean = np.zeros((n_blocks, eng.p))
            np.add.at(mean, s.rep, pieces.mu)
            mean /= np.bincount(s.rep, minlength=n_blocks)[:, None]
            residuals.append(s.X[s.death_rows] - mean[s.death_block_of_row])
            times.append(self._time[s.order][s.death_rows])
        time = np.concatenate(times)
        order = np.argsort(time, kind="stable")
        time, resid = time[order], np.vstack(residuals)[order]
        frame = pd.DataFrame(resid @ self.var_.to_numpy() * len(time) + beta, columns=list(self.coef_.index))
        uniq, inv = np.unique(self._time, return_inverse=True)
        at_risk = len(self._time) - np.concatenate([[0], np.cumsum(np.bincount(inv))[:-1]])
        surv_left = np.concatenate([[1.0], np.cumprod(1 - np.bincount(inv, weights=self._event) / at_risk)])
        frame.insert(0, "x", 1 - surv_left[np.searchsorted(uniq, time, side="left")])
        frame.insert(0, "time", time)
        return frame

    def summary(self) -> pd.DataFrame:
        """``coefficients_`` (convenience for notebooks)."""
        return self.coefficients_


def scaled_schoenfeld(fit: CoxModel) -> pd.DataFrame:
    """Scaled Schoenfeld residuals of a fitted ordinary :class:`CoxModel`
    (:meth:`CoxModel.scaled_schoenfeld`), the points of R's ``plot(cox.zph(fit))``."""
    return fit.scaled_schoenfeld()


def fit_cox(df, time, event, covariates, ties="efron", firth="auto", **kw) -> CoxModel:
    """Fit a Cox model; with ``firth="auto"`` (ties other than "exact") refit with Firth's penalty when the
    ordinary partial likelihood is monotone (a coefficient diverges while the
    loglik still rises: separation), and warn. ``firth=True`` always uses
    Firth, ``firth=False`` never. ``method_`` on the result says which fit it is.
    Other keyword arguments go to :class:`CoxModel` (``conf_level``) or
    :meth:`CoxModel.fit`.
    """
    conf_level = kw.pop("conf_level", 0.95)
    if firth not in ("auto", True, False):
        raise ValueError(f"firth: expected 'auto', True or False, got {firth!r}")
    if ties == "exact" and firth == "auto":
        firth = False  # no Firth penalty on the exact likelihood: a monotone fit only warns
    if firth is True:
        return CoxModel(ties, conf_level, penalty="firth").fit(df, time, event, covariates, **kw)
    if firth == "auto":
        # a cheap ordinary fit first: profile intervals of a diverging fit are meaningless
        probe_kw = {k: v for k, v in kw.items() if k not in ("profile_ci", "term_tests")}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MonotoneLikelihoodWarning)  # replaced by the warning below
            probe = CoxModel(ties, conf_level).fit(
                df, time, event, covariates, profile_ci=False, term_tests=False, **probe_kw
            )
        if probe.monotone_likelihood_:
            warnings.warn(
                "monotone likelihood in the ordinary Cox fit (coefficient(s) "
                f"{', '.join(probe.diverging_)} diverge: separation); "
                "refitted with Firth's penalised likelihood (Heinze & Schemper 2001)",
                MonotoneLikelihoodWarning,
                stacklevel=2,
            )
            model = CoxModel(ties, conf_level, penalty="firth").fit(df, time, event, covariates, **kw)
            model.monotone_likelihood_ = True
            return model
        if not kw.get("profile_ci", True) and not kw.get("term_tests", True):
            return probe
    return CoxModel(ties, conf_level).fit(df, time, event, covariates, **kw)
