"""Survival statistics, matched to R's ``survival``: is this number computed right?

Knows nothing of the paper, the cohort or the book. Estimators follow lifelines' conventions
(``fit()`` returns self, fitted attributes end in ``_``); tests pin them to R's numbers
(``tests/reference``).

One implementation of each idea: ``CoxModel`` and ``TimeVaryingCox`` run on one Newton-Raphson
(``newton_raphson``, over ``CoxEngine`` / ``CountingProcessEngine``) and one profile-likelihood root
finder (``profile_interval``: a limit that does not exist is -inf/+inf, i.e. 0 / inf on the HR scale);
``KaplanMeier`` and ``logrank_test`` wrap numpy kernels (``km_curve``, ``km_median_ci``, ``survdiff``)
that the synthetic generator calls directly. The generator's Cox search uses the engine's search
variants (``SearchCoxEngine``, ``newton_raphson_quick``, ``profile_limit_brent``, ``batch_cox_no_ties``):
the same likelihood and roots to rounding, kept because its seeded search, and so the committed
cohort, depends on their last bits.
"""

from analysis.stats._checks import as_event, as_groups, as_time, level_label, require_columns, sorted_levels
from analysis.stats._concordance import concordance
from analysis.stats._cox_engine import (
    CoxEngine, FitResult, SearchCoxEngine, batch_cox_no_ties, newton_raphson, newton_raphson_quick,
)
from analysis.stats._profile import profile_interval, profile_limit_brent
from analysis.stats.disclosure_km import AggregatedCIF, AggregatedKM, aggregate_cif, aggregate_km
from analysis.stats.contingency import (
    TestResult, chi_squared, crosstab, fisher_exact, kruskal_wallis, wilcoxon_rank_sum,
)
from analysis.stats.competing import CumulativeIncidence, aj_std_err, cif_band, cinc_variance, gray_test
from analysis.stats.cox import CoxModel, MonotoneLikelihoodWarning, fit_cox, scaled_schoenfeld
from analysis.stats.finegray import FineGray
from analysis.stats.logrank import LogRankResult, logrank_test, pairwise_logrank, survdiff
from analysis.stats.nonparametric import CONF_TYPES, KaplanMeier, aalen_johansen, cif_at, km_curve, km_median_ci
from analysis.stats.rmst import default_tau, rmst_by_group
from analysis.stats.spec import SpecError, apply_subset, run_spec
from analysis.stats.time_varying import CountingProcessEngine, TimeVaryingCox
from analysis.stats.timefix import AEQ_TOLERANCE, aeq_times

__all__ = [
    "KaplanMeier", "CONF_TYPES", "km_curve", "km_median_ci", "aeq_times", "AEQ_TOLERANCE",
    "aggregate_km", "AggregatedKM", "aggregate_cif", "AggregatedCIF",
    "aalen_johansen", "cif_at", "CumulativeIncidence", "cif_band", "cinc_variance", "aj_std_err", "gray_test",
    "FineGray", "rmst_by_group", "default_tau",
    "logrank_test", "pairwise_logrank", "LogRankResult", "survdiff",
    "CoxModel", "fit_cox", "MonotoneLikelihoodWarning", "scaled_schoenfeld", "concordance",
    "TimeVaryingCox",
    "CoxEngine", "CountingProcessEngine", "FitResult", "newton_raphson", "profile_interval",
    "SearchCoxEngine", "newton_raphson_quick", "profile_limit_brent", "batch_cox_no_ties",
    "chi_squared", "fisher_exact", "crosstab", "kruskal_wallis", "wilcoxon_rank_sum", "TestResult",
    "run_spec", "apply_subset", "SpecError",
    "as_time", "as_event", "as_groups", "level_label", "sorted_levels", "require_columns",
]
