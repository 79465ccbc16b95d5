"""The critique page's table of the paper's issues, as the published statistics record them."""

from __future__ import annotations

import pandas as pd

from analysis.paper import paper_issues


def paper_issues_table() -> pd.DataFrame:
    """The recorded ambiguities and apparent errors of the paper, numbered from 1."""
    issues = paper_issues()
    return pd.DataFrame({"issue": issues}, index=pd.RangeIndex(1, len(issues) + 1, name="#"))
