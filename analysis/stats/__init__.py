"""Survival statistics, matched to R's ``survival``: is this number computed right?

Knows nothing of the paper, the cohort or the book. Estimators follow lifelines' conventions
(``fit()`` returns self, fitted attributes end in ``_``); tests pin them to R's numbers
(``tests/reference``).
"""

from analysis.stats._checks import as_event, as_groups, as_time, level_label, require_columns, sorted_levels
from analysis.stats._concordance import concordance
from analysis.stats.contingency import (
    TestResult, chi_squared, crosstab, fisher_exact, kruskal_wallis, wilcoxon_rank_sum,
)
from analysis.stats.cox import CoxModel, MonotoneLikelihoodWarning, fit_cox
from analysis.stats.logrank import LogRankResult, logrank_test, pairwise_logrank
from analysis.stats.nonparametric import CONF_TYPES, KaplanMeier
from analysis.stats.spec import SpecError, apply_subset, run_spec

__all__ = [
    "KaplanMeier", "CONF_TYPES",
    "logrank_test", "pairwise_logrank", "LogRankResult",
    "CoxModel", "fit_cox", "MonotoneLikelihoodWarning", "concordance",
    "chi_squared", "fisher_exact", "crosstab", "kruskal_wallis", "wilcoxon_rank_sum", "TestResult",
    "run_spec", "apply_subset", "SpecError",
    "as_time", "as_event", "as_groups", "level_label", "sorted_levels", "require_columns",
]
