"""What the paper printed, and whether a computed figure matches it.

Reads only the project's copy of the published statistics (``data/published-statistics.yaml``)
and its documented readings (``data/paper-interpretation.yaml``).
"""

from analysis.paper.comparison import STATUSES, TOLERANCES, judge, kind_of, scorecard, totals
from analysis.paper.published import flatten, load_published, paper_issues, published_value

__all__ = [
    "load_published", "published_value", "paper_issues", "flatten",
    "judge", "kind_of", "TOLERANCES", "scorecard", "totals", "STATUSES",
]
