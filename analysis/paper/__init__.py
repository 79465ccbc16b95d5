"""What the paper printed, and whether a computed figure matches it.

Reads only the project's copy of the published statistics (``data/published-statistics.yaml``)
and its documented readings (``data/paper-interpretation.yaml``).
"""

from analysis.paper.comparison import (
    DIFFERS, EXACT, MET, NOT_COMPUTABLE, PAPER_ISSUE, STATUSES, TOLERANCES, WITHIN, explained, judge, judge_limit,
    kind_of, rule_text, scorecard, totals,
)
from analysis.paper.published import flatten, load_published, paper_issues, published_value

__all__ = [
    "load_published", "published_value", "paper_issues", "flatten",
    "judge", "judge_limit", "explained", "kind_of", "rule_text", "TOLERANCES", "scorecard", "totals",
    "STATUSES", "MET", "EXACT", "WITHIN", "DIFFERS", "PAPER_ISSUE", "NOT_COMPUTABLE",
]
