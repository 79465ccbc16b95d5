"""The book's figure style: palette, line styles, font sizes, contrast, and how a figure is made.

Design rules, all enforced by tests/test_plots.py and tests/test_accessibility.py:

- nothing is conveyed by colour alone: every group has an Okabe-Ito colour
  *and* its own line style *and* a direct text label; colours are ordered so
  that lines reach 3:1 contrast on white, and text drawn in a group's colour
  is darkened (same hue) to 4.5:1 (WCAG 2 AA);
- fonts are set explicitly (>= 9 pt at the book's 7.5 in page width), never
  through ``rcParams``, so that nothing depends on or changes global state;
- a figure is created through pyplot (so the active backend, e.g. the notebook's
  inline backend, is loaded and knows how to display it) and released from
  pyplot's registry at once: no global state leaks and notebooks do not show
  it twice. Show it with ``IPython.display.display(fig)``, as a cell's last
  expression, or with myst-nb's ``glue``; save it with ``fig.savefig``;
- output is deterministic (no randomness; curves are drawn from the table's
  rows only, one vertex per distinct event time, so 100k patients stay light).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import matplotlib.pyplot as plt
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure


# Okabe & Ito (2008) colour-blind-safe palette, reordered so the first colours
# have the most contrast on white (blue 5.2:1, vermillion 3.9:1, bluish green
# 3.4:1, reddish purple 3.1:1, black). Orange, sky blue and yellow (< 2.4:1)
# are left out: too faint for thin lines on a white page.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#000000")
# One dash pattern per group (solid, dashed, dotted, dash-dot, long dash-dot-dot).
LINE_STYLES = ("-", "--", ":", "-.", (0, (8, 2, 1, 2, 1, 2)))

FONT_SIZE = 10  # labels, titles
SMALL_FONT_SIZE = 9  # ticks, table cells, legends: the smallest size used
# Survival figures are narrower than the page (6.4 in, not 7.5) and their text large for their size:
# on a 390 px phone the image spans the screen (book.css gives figures the article's side padding
# back), so 12-13 pt text is about 10-11 px high, the smallest a phone reader can read without
# zooming (at 11-12 pt in a 342 px column it was 8 px); at 1280 px and in print they are scaled up.
KM_FONT_SIZE = 13  # survival figures: axis labels, p-value
KM_SMALL_FONT_SIZE = 12  # survival figures: ticks, legend, risk table
KM_FIGSIZE = (6.4, 5.6)  # inches, with the numbers-at-risk table and a legend above the plot
KM_FIGSIZE_NO_TABLE = (6.4, 4.4)
# Light enough that three overlapping bands still show the curves and each other (survminer: 0.3 of
# a pale fill; here the fill is the curve's own saturated colour).
CI_ALPHA = 0.08
# How a time axis in days is shown: divisor per unit (a month is 1/12 of a Julian year, as
# ggsurvfit and survminer's xscale "d_m").
DAYS_PER_UNIT = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12, "years": 365.25}
# At most this many censor marks per curve, one per equal slice of the time axis: beyond it the
# marks of a large cohort merge into a solid band that hides the curve.
MAX_CENSOR_MARKS = 120
# Numbers-at-risk times closer than this fraction of the time axis would print on top of each other.
MIN_TICK_GAP = 1 / 12
TEXT_CONTRAST = 4.5  # WCAG 2 AA for normal-size text
_DPI = 150


# ----------------------------------------------------------------------------- colour helpers


def _relative_luminance(colour) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""
    channels = np.asarray(to_rgb(colour), dtype=float)
    linear = np.where(channels <= 0.03928, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def contrast_ratio(colour, background="white") -> float:
    """WCAG 2 contrast ratio (1 to 21) between two colours."""
    lighter, darker = sorted((_relative_luminance(colour), _relative_luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _text_colour(colour, minimum: float = TEXT_CONTRAST) -> str:
    """The colour darkened towards black (same hue) until it reaches ``minimum``
    contrast on white, so coloured text stays readable."""
    rgb = np.asarray(to_rgb(colour), dtype=float)
    for factor in np.linspace(1.0, 0.0, 101):
        candidate = rgb * factor
        if contrast_ratio(candidate) >= minimum:
            return to_hex(candidate)
    return "#000000"


def _new_figure(figsize) -> Figure:
    """A figure made through pyplot (which loads the active backend, so notebooks
    know how to display it) and at once released from pyplot's registry: nothing
    leaks, and the inline backend does not show it a second time at cell end.
    The figure stays fully usable: display, glue or savefig it."""
    fig = plt.figure(figsize=figsize, dpi=_DPI, layout="constrained")
    plt.close(fig)
    return fig


def _style(position: int) -> tuple[str, object]:
    """Colour and line style of the group at ``position`` (cycling when there are more groups)."""
    return OKABE_ITO[position % len(OKABE_ITO)], LINE_STYLES[position % len(LINE_STYLES)]


def _group_order(table_groups: Sequence[str], groups_order) -> list[str]:
    """Groups in drawing order: ``groups_order`` (a subset allowed) or the table's order."""
    if groups_order is None:
        return list(table_groups)
    wanted = [str(g) for g in groups_order]
    unknown = [g for g in wanted if g not in set(table_groups)]
    if unknown:
        raise ValueError(
            f"groups_order: {', '.join(map(repr, unknown))} not in the table's 'group' column "
            f"(groups are: {', '.join(map(repr, table_groups))})"
        )
    return wanted
