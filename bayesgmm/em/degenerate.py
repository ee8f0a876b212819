"""Degenerate components: collapsed onto tied values, or with a near-singular covariance.

Such a component makes the likelihood unbounded, so a fit that has one is not comparable
with others (its BIC is meaningless): the default starts prefer fits without, and the
estimator warns when every start has one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..covariance import CovarianceModel
from .loop import Parameters

__all__ = ["DEGENERATE_EIGENVALUE", "RESOLUTION_ROWS", "data_grid_step", "degenerate_components"]

#: A component whose standardised covariance has an eigenvalue below this, or a
#: standard deviation below 1/20 of the step of the grid the data sit on (whole
#: minutes, say), is degenerate: its points share one value of that feature.
DEGENERATE_EIGENVALUE = 1e-4
#: Rows looked at to detect a feature recorded on a grid (tied values).
RESOLUTION_ROWS = 10_000


def data_grid_step(X: Any, weights: Any) -> np.ndarray:
    """Per feature, the step of the grid the values sit on (0 when they are continuous).

    Looks at a fixed sample of rows with its own seed, so the random stream of the
    starts does not depend on it.

    Examples
    --------
    >>> data_grid_step(np.array([[1.0, 0.1], [2.0, 0.7], [2.0, 0.2], [1.0, 0.9]]), np.ones(4))
    array([1., 0.])
    """
    rng = np.random.default_rng(0)
    n_samples = X.shape[0]
    rows = np.sort(rng.choice(n_samples, size=min(n_samples, RESOLUTION_ROWS), replace=False))
    sample = np.asarray(X[rows], dtype=np.float64)
    sample_weights = np.asarray(weights[rows])
    sample = sample[sample_weights > 0]
    steps = np.zeros(X.shape[1])
    for feature in range(X.shape[1]):
        values = np.unique(sample[:, feature])
        if len(values) > 1 and len(values) <= 0.5 * len(sample):
            steps[feature] = np.diff(values).min()
    return steps


def degenerate_components(
    params: Parameters,
    model: CovarianceModel,
    reg: np.ndarray,
    variance: np.ndarray,
    grid: np.ndarray,
) -> list[str]:
    """Describe components that collapsed (below the data's resolution or rank)."""
    n_components, n_features = params.means.shape
    full = np.array(model.layout.to_full(params.covariances, n_components, n_features))
    index = np.arange(n_features)
    full[:, index, index] -= reg
    marginal = np.diagonal(full, axis1=-2, axis2=-1)
    scale = np.sqrt(variance)
    standardised = full / (scale[:, None] * scale[None, :])
    smallest = np.linalg.eigvalsh(standardised)[:, 0]
    found = []
    for k in range(n_components):
        below_grid = np.flatnonzero((grid > 0) & (marginal[k] < (grid / 20) ** 2))
        if params.weights[k] <= 0:
            found.append(f"component {k} is empty (weight 0)")
        elif len(below_grid):
            found.append(
                f"component {k} (weight {params.weights[k]:.3g}) sits on tied values of "
                f"feature(s) {below_grid.tolist()} (standard deviation below 1/20 of the "
                "data's grid step)"
            )
        elif smallest[k] < DEGENERATE_EIGENVALUE:
            found.append(
                f"component {k} (weight {params.weights[k]:.3g}) has a near-singular "
                f"covariance (smallest standardised eigenvalue {smallest[k]:.2g})"
            )
    return found
