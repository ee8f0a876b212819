"""Degenerate components, and the per-feature scales that the variance floor and the
rule share.

Degeneracy is about support, not shape. A component whose points span fewer
dimensions than it has (it sits on fewer distinct points than it has dimensions, or on
exactly collinear ones), or whose spread is below the resolution the data were recorded
at (whole minutes, say), has a likelihood that grows without bound as its variance
shrinks: only the variance floor stops it, so its fit is not comparable with others
(its BIC is meaningless). A thin component with many points is not degenerate: its
spread in the thin direction is its own, not the floor's, however small. The default
starts prefer fits without degenerate components, and the estimator warns when every
start has one.

The data themselves can be singular (a constant feature, identical columns, fewer rows
than features): then every component shares the data's flat directions, and a
component is degenerate only when it has more flat directions than the data.

:func:`summarise_features` looks once per fit at a fixed sample of rows (its own seed,
so the starts' random stream does not depend on it) for what the floor, this rule and
the data's warnings need: a robust spread, the grid step and the magnitude per feature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..covariance import CovarianceModel
from ..data import is_dask_array
from .loop import Parameters

__all__ = [
    "AUTO_REG_COVAR",
    "SUMMARY_ROWS",
    "FLAT_FRACTION",
    "FeatureSummary",
    "summarise_features",
    "weighted_quantiles",
    "variance_floor",
    "DegeneracyRule",
]

#: ``reg_covar="auto"``: the floor is this fraction of each feature's squared spread.
AUTO_REG_COVAR = 1e-6
#: ... and at least this many float64 ulps of the squared largest distance from the
#: mean: the rounding of the M-step's one-pass scatter (about 2 ulps for one point).
RESOLUTION_ULPS = 16

#: Rows in the fixed sample that the per-feature summary looks at.
SUMMARY_ROWS = 10_000
#: A direction in which a component's own spread (its covariance less the floor) is
#: below this fraction of the floor is flat: the floor, not the data, sets its variance.
FLAT_FRACTION = 1e-3
#: Float64 ulps of the cancelling terms that the M-step's scatter may lose: spreads
#: below that are rounding, flat whatever the floor (reg_covar=0 included).
SCATTER_ROUNDING_ULPS = 1e3
#: A component whose standard deviation in a feature is below this fraction of the
#: step of the grid the feature's values sit on has collapsed onto tied values.
GRID_FRACTION = 1 / 20
#: The interquartile range of a normal distribution, in standard deviations.
NORMAL_IQR = 1.3489795003921634


@dataclass(frozen=True)
class FeatureSummary:
    """Per-feature facts about the data, from a fixed sample of rows.

    Attributes
    ----------
    spread : ndarray of shape (n_features,)
        A robust standard deviation: the smaller of the weighted standard deviation and
        the interquartile range over :data:`NORMAL_IQR` (the standard deviation where the
        interquartile range is 0); 0 for a constant feature. One outlier 1e6 away
        inflates the standard deviation, not this.
    grid : ndarray of shape (n_features,)
        Step of the grid the values sit on (0 when they are continuous).
    magnitude : ndarray of shape (n_features,)
        Largest absolute value in the sample.
    reach : ndarray of shape (n_features,)
        Largest distance of any row from the fit's shift (the weighted mean), over all
        rows: what the M-step's one-pass scatter loses to rounding scales with its square.
    sample, sample_weights : ndarray
        The sampled rows with a positive weight (float64), and their weights.
    """

    spread: np.ndarray
    grid: np.ndarray
    magnitude: np.ndarray
    reach: np.ndarray
    sample: np.ndarray
    sample_weights: np.ndarray


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, q: float) -> np.ndarray:
    """Per column, the weighted ``q``-quantile by the inverted empirical CDF.

    The smallest value whose weighted empirical CDF reaches ``q``: numpy's
    ``np.quantile(..., weights=..., method="inverted_cdf")``, here for numpy < 2 too.

    Examples
    --------
    >>> weighted_quantiles(np.array([[1.0], [2.0], [3.0]]), np.array([1.0, 1.0, 2.0]), 0.5)
    array([2.])
    """
    order = np.argsort(values, axis=0, kind="stable")
    cumulative = np.cumsum(weights[order], axis=0)
    index = [
        np.searchsorted(cumulative[:, j], q * cumulative[-1, j], side="left")
        for j in range(values.shape[1])
    ]
    rows = order[np.minimum(index, len(values) - 1), np.arange(values.shape[1])]
    return values[rows, np.arange(values.shape[1])]


def _grid_steps(sample: np.ndarray) -> np.ndarray:
    """Per feature, the step of the grid the values sit on (0 when they are continuous)."""
    steps = np.zeros(sample.shape[1])
    for feature in range(sample.shape[1]):
        values = np.unique(sample[:, feature])
        if len(values) > 1 and len(values) <= 0.5 * len(sample):
            steps[feature] = np.diff(values).min()
    return steps


def _reach(X: Any, shift: np.ndarray) -> np.ndarray:
    """Per feature, the largest distance of a row from ``shift`` (one pass over X)."""
    if is_dask_array(X):
        import dask

        low, high = dask.compute(X.min(axis=0), X.max(axis=0))
    else:
        low, high = X.min(axis=0), X.max(axis=0)  # no temporary copy of X
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    return np.maximum(high - shift, shift - low)


def summarise_features(
    X: Any, weights: Any, shift: np.ndarray, variance: np.ndarray
) -> FeatureSummary:
    """Robust spread, grid step and magnitude per feature, from a fixed sample of rows,
    and the reach of every row from ``shift``.

    Parameters
    ----------
    X : ndarray or dask array of shape (n_samples, n_features)
    weights : ndarray or dask array of shape (n_samples,)
    shift : ndarray of shape (n_features,)
        The weighted mean, about which the engine computes.
    variance : ndarray of shape (n_features,)
        The weighted variance of every row (a constant feature has 0).

    Examples
    --------
    >>> X = np.array([[1.0, 0.1], [2.0, 0.7], [2.0, 0.2], [1.0, 0.9]])
    >>> summarise_features(X, np.ones(4), X.mean(axis=0), X.var(axis=0)).grid
    array([1., 0.])
    """
    rng = np.random.default_rng(0)
    n_samples, n_features = X.shape
    size = min(n_samples, max(SUMMARY_ROWS, 4 * n_features))
    rows = np.sort(rng.choice(n_samples, size=size, replace=False))
    sample = np.asarray(X[rows], dtype=np.float64)  # computes the rows of a dask array
    sample_weights = np.asarray(weights[rows], dtype=np.float64)
    positive = sample_weights > 0
    sample, sample_weights = sample[positive], sample_weights[positive]
    std = np.sqrt(np.asarray(variance, dtype=np.float64))
    iqr = weighted_quantiles(sample, sample_weights, 0.75) - weighted_quantiles(
        sample, sample_weights, 0.25
    )
    robust = iqr / NORMAL_IQR
    spread = np.where(robust > 0, np.minimum(std, robust), std)
    return FeatureSummary(
        spread=spread,
        grid=_grid_steps(sample),
        magnitude=np.abs(sample).max(axis=0),
        reach=_reach(X, np.asarray(shift, dtype=np.float64)),
        sample=sample,
        sample_weights=sample_weights,
    )


def variance_floor(
    reg_covar: float | str, spread: np.ndarray, reach: np.ndarray | None = None
) -> np.ndarray:
    """The variance floor per feature: what ``reg_covar`` adds to every covariance.

    ``"auto"``: :data:`AUTO_REG_COVAR` times each feature's squared robust spread
    (:class:`FeatureSummary`), and :data:`AUTO_REG_COVAR` in the data's units for a
    constant feature, which has no scale of its own; but never below what the M-step
    can resolve: it forms a scatter as a difference of second moments about the data's
    mean, whose rounding is :data:`RESOLUTION_ULPS` float64 ulps of the squared
    ``reach`` (a far outlier's component would otherwise get a negative variance). A
    float: itself, for every feature.

    Examples
    --------
    >>> variance_floor("auto", np.array([2.0, 0.0]))
    array([4.e-06, 1.e-06])
    >>> variance_floor(0.1, np.array([2.0, 0.0]))
    array([0.1, 0.1])
    """
    spread = np.asarray(spread, dtype=np.float64)
    if reg_covar != "auto":
        return np.full(spread.shape, float(reg_covar))
    floor = AUTO_REG_COVAR * np.where(spread > 0, spread**2, 1.0)
    if reach is not None:
        floor = np.maximum(floor, RESOLUTION_ULPS * np.finfo(np.float64).eps * reach**2)
    return floor


def _flat_count(matrix: np.ndarray, threshold: float | np.ndarray) -> np.ndarray:
    """Eigenvalues below ``threshold`` of symmetric matrices (..., D, D)."""
    eigenvalues = np.linalg.eigvalsh(matrix)
    return (eigenvalues < np.asarray(threshold)[..., None]).sum(axis=-1)


@dataclass(frozen=True)
class DegeneracyRule:
    """The degeneracy rule of one fit: its scales, floor and the data's own flat directions.

    Build it with :meth:`for_fit`; :meth:`describe` names the degenerate components of
    a start's parameters. Covariances are compared in units of each feature's robust
    spread (one common unit for spherical models), constant features left out.
    """

    reg: np.ndarray
    grid: np.ndarray
    units: np.ndarray
    varying: np.ndarray
    threshold: float
    data_flat: int

    @classmethod
    def for_fit(
        cls, summary: FeatureSummary, reg: np.ndarray, model: CovarianceModel
    ) -> DegeneracyRule:
        """The rule for a fit with variance floor ``reg`` (per feature) and this model."""
        layout = model.layout
        varying = np.flatnonzero(summary.spread > 0)
        units = summary.spread[varying] ** 2
        if layout.diagonal and not layout.per_feature:
            units = np.full(len(varying), units.mean() if len(units) else 1.0)
        floor = reg[varying] / units if len(varying) else np.zeros(0)
        threshold = FLAT_FRACTION * float(floor.max(initial=0.0))
        data_flat = 0
        if not layout.diagonal and len(varying) > 1:  # diagonal models see no collinearity
            sample = summary.sample[:, varying]
            centred = (sample - np.average(sample, axis=0, weights=summary.sample_weights)) / (
                np.sqrt(units)
            )
            weighted = centred * (summary.sample_weights / summary.sample_weights.sum())[:, None]
            covariance = weighted.T @ centred
            rounding = SCATTER_ROUNDING_ULPS * np.finfo(np.float64).eps * np.diag(covariance).max()
            data_flat = int(_flat_count(covariance, max(threshold, rounding)))
        return cls(reg, summary.grid, units, varying, threshold, data_flat)

    def describe(self, params: Parameters, model: CovarianceModel) -> list[str]:
        """Descriptions of the degenerate components of ``params`` (empty if none)."""
        n_components, n_features = params.means.shape
        layout = model.layout
        full = np.array(layout.to_full(params.covariances, n_components, n_features))
        floor = np.full(n_features, self.reg.mean()) if not layout.per_feature else self.reg
        index = np.arange(n_features)
        full[:, index, index] -= floor  # the components' own scatter, without the floor
        marginal = np.diagonal(full, axis1=-2, axis2=-1)
        flat = self._flat_directions(full, params.means)
        found = []
        tied = self._tied_features(marginal)
        for k in range(1 if layout.shared else n_components):
            who = "the shared covariance" if layout.shared else f"component {k}"
            weight = "" if layout.shared else f" (weight {params.weights[k]:.3g})"
            below_grid = np.flatnonzero(tied[k])
            if not layout.shared and params.weights[k] <= 0:
                found.append(f"component {k} is empty (weight 0)")
            elif len(below_grid):
                found.append(
                    f"{who}{weight} sits on tied values of feature(s) {below_grid.tolist()} "
                    f"(standard deviation below {GRID_FRACTION:g} of the data's grid step)"
                )
            elif flat[k] > self.data_flat:
                found.append(
                    f"{who}{weight} has no spread of its own in {flat[k] - self.data_flat} "
                    "direction(s): it sits on fewer distinct points than it has dimensions "
                    "(or on exactly collinear ones), so the floor alone sets its variance "
                    "there"
                )
        return found

    def on_tied_values(self, params: Parameters, model: CovarianceModel) -> bool:
        """Whether a component of ``params`` with weight sits on tied values of a
        feature: its variance there is zero but for rounding (and the floor)."""
        layout = model.layout
        n_components, n_features = params.means.shape
        full = np.array(layout.to_full(params.covariances, n_components, n_features))
        floor = np.full(n_features, self.reg.mean()) if not layout.per_feature else self.reg
        marginal = np.diagonal(full, axis1=-2, axis2=-1) - floor
        tied = self._tied_features(marginal).any(axis=-1)
        if layout.shared:
            return bool(tied[0])
        return bool((tied & (np.asarray(params.weights[:n_components]) > 0)).any())

    def _tied_features(self, marginal: np.ndarray) -> np.ndarray:
        """Per component and feature: variance below :data:`GRID_FRACTION` of the grid
        step, squared (the component's values there are tied)."""
        return (self.grid > 0) & (marginal < (GRID_FRACTION * self.grid) ** 2)

    def _flat_directions(self, scatter: np.ndarray, means: np.ndarray) -> np.ndarray:
        """Per component, directions in which its own spread is below the threshold."""
        varying = self.varying
        if not len(varying):
            return np.zeros(len(scatter), dtype=int)
        root = np.sqrt(self.units)
        own = scatter[:, varying][:, :, varying] / (root[:, None] * root[None, :])
        # the scatter is a difference of second moments about the data's mean: what
        # rounding leaves of it scales with those moments (means are shifted by it)
        moments = np.diagonal(own, axis1=-2, axis2=-1) + means[:, varying] ** 2 / self.units
        rounding = SCATTER_ROUNDING_ULPS * np.finfo(np.float64).eps * moments.max(axis=-1)
        return _flat_count(own, np.maximum(self.threshold, rounding))
