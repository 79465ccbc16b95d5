"""The scorecard page: totals by status and the full table, recorded for results.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from analysis.pages.chapter import comparison_frame
from analysis.results import Results
from analysis.paper import scorecard, totals


def scorecard_tables(figures: dict[str, Any], results_path: str | Path | None, min_cell: int = 0
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Totals per status (recorded as ``scorecard.<status>``) and the formatted full table."""
    counts = totals(scorecard(figures))
    results = Results("scorecard", results_path)
    results.add("total", int(counts.sum()))
    for status, n in counts.items():
        results.add(status.replace(" ", "_"), int(n))
    return counts.rename_axis("status").to_frame("figures"), comparison_frame(figures, "", min_cell=min_cell)
