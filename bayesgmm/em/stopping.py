"""The stopping rule of EM, one Python source that numba also compiles.

EM stops when both the last gain in mean log-likelihood per observation and the gain
still to come, projected by Aitken acceleration (as mclust does), are below ``tol``.
With ``tol=1e-6`` this reaches the optimum where scikit-learn's default (``tol=1e-3``
on the last gain alone) stops early on slowly converging data.
"""

from __future__ import annotations

import math
from typing import Any

from ..kernels.compile import inline, kernel

__all__ = [
    "aitken_converged",
    "aitken_limit",
    "converged_by",
    "remaining_gain",
    "why_not_converged",
]


@inline
def remaining_gain(gain, previous):
    """The gain still to come after ``gain``, by Aitken's projection of the last two gains.

    The gains shrink geometrically at ``rate = gain / previous``, so ``gain * rate /
    (1 - rate)`` is still to come: 0 when a gain is not positive (the optimum, to
    rounding), infinity when the gains do not shrink.

    Examples
    --------
    >>> remaining_gain(0.25, 0.5)
    0.25
    """
    if gain <= 0 or previous <= 0:
        return 0.0
    rate = gain / previous
    if rate >= 1:
        return math.inf
    return gain * rate / (1.0 - rate)


def converged_by(history: Any, n_values: int, tol: float) -> bool:
    """Last gain and Aitken-projected remaining gain both below ``tol`` (per observation).

    ``history`` holds at least ``n_values`` mean log-likelihoods, oldest first (a list
    or an array). A gain below zero is the optimum reached to rounding.

    Examples
    --------
    >>> converged_by([-2.0, -1.5, -1.4, -1.39], 4, 0.05)
    True
    >>> converged_by([-2.0, -1.5, -1.4, -1.39], 4, 0.001)
    False
    """
    if tol <= 0 or n_values < 2:
        return False
    gain = history[n_values - 1] - history[n_values - 2]
    if gain < 0:
        return True  # at the optimum to rounding
    if gain >= tol:
        return False
    if n_values < 3:
        return False
    return remaining_gain(gain, history[n_values - 2] - history[n_values - 3]) < tol


#: :func:`converged_by`, compiled: what the EM loop calls (from Python and compiled code).
aitken_converged = kernel(converged_by)


def aitken_limit(history: list[float]) -> float:
    """The log-likelihood a run is heading for, by Aitken's projection of its last steps.

    Used to rank starts that have not converged yet: a slowly climbing start can end
    above one that is higher now but already flat. A run whose gains do not shrink is
    ranked where it is.

    Examples
    --------
    >>> round(aitken_limit([-2.0, -1.5, -1.25]), 6)
    -1.0
    """
    if len(history) < 3:
        return history[-1]
    remaining = remaining_gain(history[-1] - history[-2], history[-2] - history[-3])
    return history[-1] + remaining if math.isfinite(remaining) else history[-1]


def why_not_converged(history: list[float], tol: float) -> str:
    """Which quantity of the stopping rule was not below ``tol``, with its value.

    ``history`` is what the rule saw: the mean log-likelihoods before each M-step.

    Examples
    --------
    >>> why_not_converged([-2.0, -1.5, -1.25], 1e-3)
    'the last gain, 0.25 per observation, is not below tol=0.001'
    >>> why_not_converged([-2.0, -1.9999, -1.99985], 1e-3)
    'the projected remaining gain (Aitken), 5e-05 per observation, is not below tol=0.001 \
(the last gain was 5e-05)'
    """
    if len(history) < 2:
        return f"no gain was measured (tol={tol:g})"
    gain = history[-1] - history[-2]
    if not gain < tol:
        return f"the last gain, {gain:.3g} per observation, is not below tol={tol:g}"
    if len(history) < 3:
        return (
            f"the last gain, {gain:.3g} per observation, is below tol={tol:g}, but the "
            "projection of the gain still to come needs two gains"
        )
    remaining = remaining_gain(gain, history[-2] - history[-3])
    return (
        f"the projected remaining gain (Aitken), {remaining:.3g} per observation, is not "
        f"below tol={tol:g} (the last gain was {gain:.3g})"
    )
