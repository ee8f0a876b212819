"""The stopping rule of EM, one Python source that numba also compiles.

EM stops when both the last gain in mean log-likelihood per observation and the gain
still to come, projected by Aitken acceleration (as mclust does), are below ``tol``.
With ``tol=1e-6`` this reaches the optimum where scikit-learn's default (``tol=1e-3``
on the last gain alone) stops early on slowly converging data.
"""

from __future__ import annotations

from typing import Any

from ..kernels.compile import kernel

__all__ = ["aitken_converged", "aitken_limit", "converged_by"]


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
    previous = history[n_values - 2] - history[n_values - 3]
    if previous <= 0:
        return True
    rate = gain / previous
    if rate >= 1:
        return False
    return gain * rate / (1.0 - rate) < tol


#: :func:`converged_by`, compiled: what the EM loop calls (from Python and compiled code).
aitken_converged = kernel(converged_by)


def aitken_limit(history: list[float]) -> float:
    """The log-likelihood a run is heading for, by Aitken's projection of its last steps.

    Used to rank starts that have not converged yet: a slowly climbing start can end
    above one that is higher now but already flat.

    Examples
    --------
    >>> round(aitken_limit([-2.0, -1.5, -1.25]), 6)
    -1.0
    """
    if len(history) < 3:
        return history[-1]
    gain = history[-1] - history[-2]
    previous = history[-2] - history[-3]
    if gain <= 0 or previous <= 0:
        return history[-1]
    rate = gain / previous
    if rate >= 1:
        return history[-1]
    return history[-1] + gain * rate / (1.0 - rate)
