"""Tables for the Methods page: the conventions and the readings of the paper."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from analysis.study import METHODS
from analysis.paths import INTERPRETATION_PATH
from analysis.pages.labels import METHOD_WORDS, READING_WORDS

JMP_EQUIVALENT = {
    "km_median": "JMP Survival platform: median survival time",
    "median_ci": "JMP reports a median CI without naming its band; the log band is R's default",
    "logrank": "JMP Survival platform: Log-Rank test",
    "cox": "JMP Fit Proportional Hazards: Risk Ratios with profile-likelihood limits, Effect Likelihood Ratio Tests",
    "chisq": "JMP Contingency: Pearson chi-square",
    "fisher": "JMP Contingency: Fisher's exact test",
}


def methods_table() -> pd.DataFrame:
    return pd.DataFrame(
        [{"what": METHOD_WORDS.get(key, key.replace("_", " ").capitalize()), "method in this book": text, "in JMP (the paper's software)": JMP_EQUIVALENT[key]}
         for key, text in METHODS.items()])


def interpretation_table(path: Path = INTERPRETATION_PATH, *, own: bool = False) -> pd.DataFrame:
    """The book's readings of the paper, one row per item; ``own=True`` (a user's cohort) leaves out
    the items marked ``about: bundled cohort``, which say how the bundled cohort was generated and
    are not true of the user's file."""
    items = yaml.safe_load(path.read_text(encoding="utf-8"))["items"]
    return pd.DataFrame(
        [{"item": READING_WORDS.get(key, key.replace("_", " ").capitalize()), "choice": item["choice"], "why": item.get("why", "")}
         for key, item in items.items() if not (own and item.get("about") == "bundled cohort")])
