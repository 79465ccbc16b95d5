"""The precision at which the book reports each figure: one rule for the printed text and for "does it move".

The pages print a figure at this precision (:mod:`analysis.pages.format`); the sensitivity section
says a figure *moves* under another convention when its value at this precision changes. Keeping the
rule here, below both, means the two can never disagree about what "the same figure" is.
"""

from __future__ import annotations

import math
from typing import Any

P_DECIMALS = 4
P_FLOOR = 1e-4  # a smaller p-value is reported as below it ("<0.0001"), not by its digits
HR_DECIMALS = 3
DEFAULT_DECIMALS = 1  # days, percentages


def reported_digits(dotted: str) -> int:
    """Decimals of a (non-p) figure: three for hazard ratios and every figure of a Cox model, else one."""
    last = dotted.rsplit(".", 1)[-1]
    if last == "hr" or ".risk_of_" in dotted or dotted.startswith("risk_factors"):
        return HR_DECIMALS
    return DEFAULT_DECIMALS


def as_reported(dotted: str, value: Any) -> Any:
    """``value`` as the book reports it, for comparing two computations of the same figure.

    Rounded to :func:`reported_digits` (p-values to P_DECIMALS, all below P_FLOOR alike); a missing
    value (None, NaN) is None; infinities, words and whole numbers are kept as they are.
    ``round`` and the pages' fixed-decimal text agree: both round the exact binary value.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, (list, tuple)):
        return tuple(as_reported(dotted, v) for v in value)
    value = float(value)
    if math.isnan(value):
        return None
    if math.isinf(value):
        return value
    if dotted.endswith(".p"):
        return "below floor" if value < P_FLOOR else round(value, P_DECIMALS)
    return round(value, reported_digits(dotted))
