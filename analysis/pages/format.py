"""Every number the book prints, as text: one module, one rounding rule.

Rounding: fixed decimals by Python's correctly rounded formatting of the exact binary value
(:func:`_fixed`); only plot labels of small hazard ratios switch to significant digits. How many
decimals a figure gets is :mod:`analysis.study.precision`, the rule the sensitivity section also
uses to say whether a figure moves.

==================  ===========================================  ==================================
function            for                                          gives
==================  ===========================================  ==================================
``figure_text``     a figure in a table or the prose             ``310.0``, ``1.234``, ``12.5–30.1``
``figure_text``     ``trim=True``: the primer, "Beyond" pages    ``7.5`` (not ``7.500``), ``0.730``
``id_text``         a recorded figure, by its id                 ``figure_text``, ``p_cell``; ``1260`` days
``p_cell``          a p-value in a table cell                    ``0.0123``, ``<0.0001``
``p_prose``         a p-value after "p" in a sentence            ``= 0.0123``, ``< 0.0001``
``p_phrase``        "p" and its relation, unbreakable (prose)    ``p = 0.0123`` (no-break spaces)
``significant``     a p-value checked against a printed bound    ``9.9e-05``, ``0.000438``
``label_number``    a number in a figure's labels                ``0.58``, ``0.042``, ``∞``
``days_text``       a median in days in an alt text              ``295``, ``146.5``, ``not reached``
``percent_text``    a share in the flow diagram                  ``12.7%``
``word_list``       names in a sentence                          ``B, BL and L``, ``30, 60 and 90``
==================  ===========================================  ==================================

Missing values print as ``NA`` everywhere; text (a paper's ``"<0.01"``) passes through unchanged.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from analysis.study import P_DECIMALS, P_FLOOR, reported_digits

__all__ = ["figure_text", "id_text", "p_cell", "p_prose", "p_phrase", "label_number", "days_text", "percent_text",
           "word_list", "significant", "reported_digits"]

RANGE_DASH = "\u2013"  # en dash between the two limits of an interval


def _fixed(value: float, digits: int) -> str:
    return f"{float(value):.{digits}f}"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _at_most_one_decimal(value: float) -> bool:
    return abs(round(float(value) * 10) - float(value) * 10) < 1e-9


def figure_text(value: Any, digits: int = 1, *, trim: bool = False) -> str:
    """A figure with ``digits`` decimals; intervals as 'a–b' ('a to b' when a limit is negative),
    whole numbers as they are, NaN as NA.

    ``trim``: a value with at most one decimal keeps only that one (7.5, not 7.500; 6.0 is 6), for
    pages that print three decimals of probabilities beside times in months.
    """
    if _missing(value):
        return "NA"
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        # a dash between negative numbers reads as a minus ("-345.9--54.6"): those ranges say "to"
        negative = any(isinstance(v, (int, float, np.number)) and not _missing(v) and v < 0 for v in value)
        return (" to " if negative else RANGE_DASH).join(figure_text(v, digits, trim=trim) for v in value)
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):d}"
    if trim and _at_most_one_decimal(value):
        return _fixed(value, 1).removesuffix(".0")
    return _fixed(value, digits)


def p_cell(p: Any) -> str:
    """A p-value for a table: P_DECIMALS decimals, '<0.0001' below P_FLOOR; text passes; NaN -> 'NA'."""
    if isinstance(p, str):
        return p
    if p is None or pd.isna(p):
        return "NA"
    return f"<{P_FLOOR:g}" if float(p) < P_FLOOR else _fixed(p, P_DECIMALS)


def p_prose(p: Any) -> str:
    """A p-value with its relation, for prose after "p": '= 0.0123', '< 0.0001' (a paper's '<0.01'
    too), '= NA'; never 'p = <0.0001'."""
    text = p_cell(p)
    return text.replace("<", "< ") if text.startswith("<") else f"= {text}"


def p_phrase(p: Any) -> str:
    """'p = 0.0123' for a sentence, held together by no-break spaces: a line (on a phone, in the PDF)
    never ends on 'p' or '=' with the value on the next."""
    return "p\u00a0" + p_prose(p).replace(" ", "\u00a0")


# Id segments that hold times in whole days (medians, ranges, their CIs, listed survival times)
DAY_SEGMENTS = {"median", "min", "max", "ci", "ci_as_printed", "reverse_km_median", "survival_days"}


def _is_days(dotted: str) -> bool:
    parts = dotted.split(".")
    return reported_digits(dotted) == 1 and bool(DAY_SEGMENTS & set(parts[-2:]))


def _whole_days(value: Any) -> Any:
    """Whole days as whole numbers (1260, not 1260.0); a half day keeps its decimal (602.5)."""
    if isinstance(value, (list, tuple)):
        return [_whole_days(v) for v in value]
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return value


def id_text(dotted: str, value: Any) -> str:
    """A recorded figure as the book prints it: p-values as :func:`p_cell`, times in days as whole
    days when whole, the rest at the precision of its id (:func:`analysis.study.reported_digits`)."""
    if dotted.endswith(".p"):
        return p_cell(value)
    if _is_days(dotted):
        value = _whole_days(value)
    return figure_text(value, reported_digits(dotted))


def significant(value: Any, digits: int = 3) -> str:
    """``digits`` significant digits (a p-value far below the bound it is checked against); NaN -> 'NA'."""
    return "NA" if _missing(value) else f"{float(value):.{digits}g}"


def label_number(value: Any, digits: int = 2) -> str:
    """A number for a figure's label: NA for NaN, the infinity sign, ``digits`` decimals (two
    significant digits below 0.1, so that small hazard ratios keep their meaning)."""
    if value is None or pd.isna(value):
        return "NA"
    value = float(value)
    if np.isinf(value):
        return "\u221e" if value > 0 else "-\u221e"
    if value != 0 and abs(value) < 0.1:
        return f"{value:.{max(digits, 2)}g}"
    return _fixed(value, digits)


def days_text(value: Any) -> str:
    """A median in days: a whole day without decimals, a half day with one; NaN -> 'not reached'."""
    if value is None or pd.isna(value):
        return "not reached"
    return f"{float(value):g}"


def percent_text(part: int, whole: int) -> str:
    """``part`` as a percentage of ``whole`` with one decimal; 'NA' when ``whole`` is 0."""
    return f"{_fixed(100.0 * part / whole, 1)}%" if whole else "NA"


def word_list(words) -> str:
    """'B', 'BL', 'L' -> 'B, BL and L' (numbers as they print: 30, 60, 90 -> '30, 60 and 90')."""
    words = [str(w) for w in words]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


# every ASCII punctuation character: CommonMark lets any of them be backslash-escaped
_MARKUP = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")


def markdown_text(text: Any) -> str:
    """``text`` as literal text inside a Markdown/MyST output (an IPython ``Markdown`` object).

    A note can quote what a user controls (the cohort file's name, a column name), and the notebook's
    Markdown is parsed again by MyST: ``<img ...>`` would be raw HTML, ``**x**`` bold, ``$x$`` maths,
    ``{glue:text}`x``` a role. Each punctuation character is backslash-escaped, so it shows as itself."""
    return _MARKUP.sub(r"\\\1", str(text)).replace("\n", " ")


def plot_text(text: Any) -> str:
    """``text`` for a matplotlib text: a ``$`` would start mathtext (and an odd number of them fails)."""
    return str(text).replace("$", r"\$")


def markdown_code(text: Any) -> str:
    """``text`` as a Markdown code span, literal whatever it holds: the fence is one backtick longer
    than its longest run of backticks (CommonMark), spaces keep a backtick at either end off the fence."""
    text = str(text).replace("\n", " ")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
