"""The critique page's table of the paper's issues, as the published statistics record them."""

from __future__ import annotations

import pandas as pd

from analysis.paper import paper_issues


def _sentence(issue) -> str:
    """An issue as a sentence. A YAML entry written 'claim: reason' is read as a one-item mapping;
    joined again here, so the reader never sees a Python dict."""
    if isinstance(issue, dict):
        return " ".join(f"{key}: {value}" for key, value in issue.items())
    return str(issue)


def paper_issues_table() -> pd.DataFrame:
    """The recorded ambiguities and apparent errors of the paper, numbered from 1."""
    issues = [_sentence(issue) for issue in paper_issues()]
    return pd.DataFrame({"Issue": issues}, index=pd.RangeIndex(1, len(issues) + 1, name="#"))
