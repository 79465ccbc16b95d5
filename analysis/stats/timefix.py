"""Times equal to within floating-point noise are one time, as R's ``survival::aeqSurv``.

R's ``survfit``, ``survdiff`` and ``coxph`` (``timefix = TRUE``, the default) pass their ``Surv``
object through ``aeqSurv`` before anything else: among the sorted distinct finite times, a gap
``dy`` with ``dy <= tol`` or ``dy / mean(|y|) <= tol`` (tol = sqrt(.Machine$double.eps), about
1.5e-8) ties the two times, and every time in a run of tied gaps becomes the first (smallest) time
of the run. Times computed as differences of dates in floating point (``x / 365.25`` and the like)
otherwise split tied deaths into separate risk sets and shift every figure that depends on ties.
"""

from __future__ import annotations

import numpy as np

__all__ = ["aeq_times", "AEQ_TOLERANCE"]

# R: aeqSurv(tolerance = sqrt(.Machine$double.eps))
AEQ_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


def aeq_times(*times, tolerance: float = AEQ_TOLERANCE):
    """Merge times closer than ``tolerance`` (absolute or relative to the mean |time|), as R's ``aeqSurv``.

    Parameters
    ----------
    *times : 1-d float arrays
        The time column(s) of one data set (one for right-censored data; start and stop for
        counting-process data). The distinct finite values of all of them together decide the
        merging, as ``aeqSurv`` pools the columns of a ``Surv`` object.
    tolerance : float
        R's default; 0 returns the times unchanged (``timefix = FALSE``).

    Returns
    -------
    ndarray, or a tuple of them when several arrays are given: each value replaced by the smallest
    value of its run of tied times. Arrays are returned as given (not copied) when nothing is tied.

    Examples
    --------
    >>> aeq_times(np.array([1.0, 1.0 + 1e-10, 2.0])).tolist()
    [1.0, 1.0, 2.0]
    """
    arrays = [np.asarray(t, dtype=float) for t in times]
    out = arrays
    if tolerance > 0 and arrays:
        y = np.unique(np.concatenate([a.ravel() for a in arrays]))
        y = y[np.isfinite(y)]
        dy = np.diff(y)
        tied = (dy <= tolerance) | (dy / np.mean(np.abs(y)) <= tolerance) if len(y) > 1 else dy > 0
        if tied.any():
            cuts = y[np.concatenate([[True], ~tied])]
            out = []
            for a in arrays:
                # R's findInterval: the largest cut <= x (every finite x is >= the first cut)
                idx = np.searchsorted(cuts, a, side="right") - 1
                out.append(np.where(np.isfinite(a), cuts[np.clip(idx, 0, None)], a))
    return out[0] if len(out) == 1 else tuple(out)
