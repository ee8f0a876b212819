"""Starts beside a uniform noise component, as mclust makes them.

mclust starts a fit with noise from a guess of which rows are noise
(``initialization = list(noise = ...)``): the components start from the other rows (its
hierarchical clustering runs on them alone), and the noise from the guessed rows, so the
first M-step gives the noise the guessed rows' share of the weight. Here every start
(Ward, k-means, random ...) runs on the rows not guessed to be noise, and the weights are
then shared out the same way. The guess is the user's ``noise_init`` mask on the fit's
rows, or :func:`bayesgmm.noise.initial_noise` of the rows a start sees (a sample of large
or dask data).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..noise import initial_noise
from .loop import Parameters

__all__ = ["starting_noise", "clean_rows", "with_noise_weight", "user_weights_with_noise"]


def starting_noise(user_mask: Any, X: Any, rows: Any, weights: Any) -> np.ndarray:
    """The guess of which of ``rows`` are noise: the user's mask when ``rows`` are the
    fit's rows ``X`` themselves, else the nearest-neighbour rule on ``rows``."""
    if user_mask is not None and rows is X:
        return np.asarray(user_mask, dtype=bool) & (np.asarray(weights) > 0)
    return initial_noise(rows, weights)


def clean_rows(rows: Any, weights: Any, noise: np.ndarray, n_components: int) -> tuple:
    """The rows not guessed to be noise, their weights and the noise's share of the weight
    (at least ``1 / (N + 1)``).

    Raises
    ------
    ValueError
        When fewer than ``n_components`` rows are left for the components.
    """
    weights = np.asarray(weights, dtype=np.float64)
    total = float(weights.sum())
    clean = ~noise
    if np.count_nonzero(clean & (weights > 0)) < max(n_components, 2):
        raise ValueError(
            f"noise_init marks {int(noise.sum())} of {len(noise)} rows as noise, leaving "
            f"fewer than {max(n_components, 2)} rows to start {n_components} component(s) "
            "from. Mark fewer rows as noise (noise_init=None guesses them from the data)."
        )
    fraction = float(weights[noise].sum()) / total if total > 0 else 0.0
    # at least one row's share: a noise weight of 0 would stay 0 in every EM step
    fraction = max(fraction, 1.0 / (len(noise) + 1))
    return np.asarray(rows)[clean], weights[clean], fraction


def with_noise_weight(params: Parameters, fraction: float) -> Parameters:
    """``params`` of K components with the noise's weight ``fraction`` appended (the
    components' weights scaled to ``1 - fraction``)."""
    weights = np.asarray(params.weights, dtype=np.float64)[: len(params.means)]
    weights = np.append(weights / weights.sum() * (1.0 - fraction), fraction)
    return Parameters(weights, params.means, params.covariances, params.prec, params.dof)


def user_weights_with_noise(user_weights: np.ndarray, problem: Any) -> np.ndarray:
    """The user's K starting weights scaled beside the noise's starting weight (the
    guessed noise rows' share, on the rows a start sees: a sample of dask data)."""
    X, weights, mask = problem.X, problem.weights, problem.noise_init
    if not isinstance(X, np.ndarray):  # dask: guess on the first rows
        rows = slice(0, min(X.shape[0], 100_000))
        X, weights, mask = np.asarray(X[rows]), np.asarray(weights[rows]), None
    noise = starting_noise(mask, X, X, weights)
    fraction = clean_rows(X, weights, noise, problem.n_components)[2]
    weights = np.asarray(user_weights, dtype=np.float64)
    return np.append(weights / weights.sum() * (1.0 - fraction), fraction)
