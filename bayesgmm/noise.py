r"""The uniform noise component: its box, its density and its starting guess.

A noise component (Banfield & Raftery 1993; mclust's ``Vinv``) is a uniform density
``1 / V`` over a box of volume ``V`` around the data, with a weight of its own that EM
estimates beside the Gaussian (or Student-t) components'. Rows in sparse regions (outliers,
background clutter) go to it instead of stretching a component.

:func:`hypervolume_box` is mclust's ``hypvol``: the smaller of the data's bounding box
(sides along the features) and its principal-component box (sides along the principal
axes of the data's covariance, as ``princomp`` scores). :func:`box_of_volume` gives a box
for a density the user chose (the bounding box scaled to volume ``1 / Vinv``), so that a
fit's noise can always be sampled. :func:`initial_noise` is the default guess of which rows
are noise, where EM starts from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .data import is_dask_array

__all__ = [
    "NoiseBox",
    "hypervolume_box",
    "box_of_volume",
    "initial_noise",
    "NEIGHBOURS",
    "NOISE_MADS",
    "FLAT_SIDE",
]

#: The k of the k-th nearest neighbour distance that :func:`initial_noise` looks at.
NEIGHBOURS = 10
#: ... and how many robust standard deviations above the median log local volume a row
#: must be to start as noise.
NOISE_MADS = 3.0
#: A box side below this fraction of the data's magnitude is rounding (D ulps of the
#: projections onto the axes): the data are flat in that direction.
FLAT_SIDE = 1e3 * np.finfo(np.float64).eps
#: Median absolute deviation to standard deviation, for Gaussian data.
_MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class NoiseBox:
    """A box ``centre + sum_d t_d axes[d]`` with ``|t_d| <= half_widths[d]``, and the noise
    density ``exp(log_vinv)`` on it.

    Attributes
    ----------
    centre : ndarray of shape (D,)
    axes : ndarray of shape (D, D)
        Orthonormal rows: the box's directions (the identity for the bounding box).
    half_widths : ndarray of shape (D,)
    log_vinv : float
        Log of the noise density (minus the log-volume of the box, for a box made here).

    Examples
    --------
    >>> box = NoiseBox(np.zeros(2), np.eye(2), np.ones(2), -math.log(4.0))
    >>> box.sample(np.random.default_rng(0), 3).shape
    (3, 2)
    """

    centre: np.ndarray
    axes: np.ndarray
    half_widths: np.ndarray
    log_vinv: float

    @property
    def vinv(self) -> float:
        """The noise density ``1 / V``."""
        return math.exp(self.log_vinv)

    def sample(self, rng: np.random.Generator, n_samples: int) -> np.ndarray:
        """``n_samples`` rows drawn uniformly in the box, (n_samples, D)."""
        t = rng.uniform(-1.0, 1.0, (n_samples, len(self.centre))) * self.half_widths
        return self.centre + t @ self.axes


def _positive_rows(X: Any, weights: Any) -> Any:
    """The rows of positive weight, float64 (a dask array stays lazy)."""
    X = X.astype(np.float64) if is_dask_array(X) else np.asarray(X, dtype=np.float64)
    if weights is None:
        return X
    keep = weights > 0 if is_dask_array(weights) else np.asarray(weights) > 0
    return X[keep]


def _computed(*arrays: Any) -> tuple:
    """numpy values of arrays, dask ones computed together (one pass over the data)."""
    if any(is_dask_array(array) for array in arrays):
        import dask

        arrays = dask.compute(*arrays)
    return tuple(np.asarray(array, dtype=np.float64) for array in arrays)


def _side_box(X: Any, axes: np.ndarray, origin: np.ndarray) -> tuple:
    """Box along ``axes`` (rows) around the rows of X: centre, half widths, log-volume
    (-inf when a side is rounding: below :data:`FLAT_SIDE` of the data's magnitude)."""
    scores = (X - origin) @ axes.T
    low, high, largest = _computed(scores.min(axis=0), scores.max(axis=0), abs(X).max())
    sides = high - low
    magnitude = float(largest) + sides.max()
    if (sides <= FLAT_SIDE * magnitude).any():
        return origin, 0.5 * sides, -math.inf
    return origin + 0.5 * (low + high) @ axes, 0.5 * sides, float(np.sum(np.log(sides)))


def hypervolume_box(X: Any, weights: Any = None) -> NoiseBox:
    """mclust's ``hypvol``: the smaller of the bounding box and the principal-component box.

    Parameters
    ----------
    X : array-like of shape (N, D)
    weights : array-like of shape (N,) or None, default=None
        Rows of weight 0 are left out (the box is of the rows that count).

    Returns
    -------
    NoiseBox
        With ``log_vinv = -log V``.

    Raises
    ------
    ValueError
        When the box has no volume (a constant feature, or collinear features).

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    >>> round(hypervolume_box(X).vinv, 12)
    0.5
    """
    X = _positive_rows(X, weights)
    n_features = X.shape[1]
    identity = np.eye(n_features)
    bounding = _side_box(X, identity, np.zeros(n_features))
    (mean,) = _computed(X.mean(axis=0))
    centred = X - mean
    # princomp's axes: the eigenvectors of the covariance
    (scatter,) = _computed(centred.T @ centred)
    axes = np.linalg.eigh(scatter)[1].T
    principal = _side_box(X, axes, mean)
    candidates = [
        pair for pair in ((bounding, identity), (principal, axes)) if pair[0][2] > -np.inf
    ]
    if not candidates:
        raise ValueError(
            "noise='hypvolume' needs data that fill a box of positive volume, but these have "
            "a constant feature or collinear features (the volume is 0). Drop or combine "
            "those features, or give the noise density as a number: noise=<Vinv>."
        )
    (centre, half, log_volume), chosen = min(candidates, key=lambda pair: pair[0][2])
    return NoiseBox(centre, chosen, half, -log_volume)


def box_of_volume(X: Any, vinv: float, weights: Any = None) -> NoiseBox:
    """The data's bounding box, scaled about its centre to volume ``1 / vinv``.

    The box of a noise density the user chose: it says where :meth:`NoiseBox.sample`
    draws noise rows.

    Examples
    --------
    >>> box = box_of_volume(np.array([[0.0, 0.0], [1.0, 1.0]]), 0.25)
    >>> box.half_widths
    array([1., 1.])
    """
    X = _positive_rows(X, weights)
    low, high = _computed(X.min(axis=0), X.max(axis=0))
    sides = np.where(high > low, high - low, 1.0)
    log_volume = -math.log(vinv)
    scale = math.exp((log_volume - float(np.sum(np.log(sides)))) / X.shape[1])
    return NoiseBox(0.5 * (low + high), np.eye(X.shape[1]), 0.5 * sides * scale, -log_volume)


def initial_noise(X: Any, weights: Any = None) -> np.ndarray:
    """The default guess of which rows are noise: rows in sparse regions.

    A row's local volume is ``D log d_k`` with ``d_k`` its distance to its
    :data:`NEIGHBOURS`-th nearest neighbour, on features scaled by their standard
    deviations; a row starts as noise when that exceeds the median by :data:`NOISE_MADS`
    robust standard deviations (1.4826 median absolute deviations). A simpler relative
    of Byers & Raftery's (1998) nearest-neighbour cleaning (R's ``NNclean``), which
    mclust's documentation suggests; EM then re-estimates every row's noise probability.

    Returns
    -------
    ndarray of bool, shape (N,)
        True for rows that start as noise (rows of weight 0 never do).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(200, 2)), [[30.0, 30.0]]])
    >>> np.flatnonzero(initial_noise(X))
    array([200])
    """
    from scipy.spatial import cKDTree

    X = np.asarray(X, dtype=np.float64)
    counted = np.ones(len(X), bool) if weights is None else np.asarray(weights) > 0
    rows = X[counted]
    noise = np.zeros(len(X), dtype=bool)
    k = min(NEIGHBOURS, len(rows) - 1)
    if k < 1:
        return noise
    spread = rows.std(axis=0)
    scaled = rows / np.where(spread > 0, spread, 1.0)
    distances = cKDTree(scaled).query(scaled, k=k + 1)[0][:, -1]
    with np.errstate(divide="ignore"):
        volume = X.shape[1] * np.log(distances)
    finite = np.isfinite(volume)
    if finite.sum() < 2:
        return noise
    median = np.median(volume[finite])
    mad = _MAD_TO_SD * np.median(np.abs(volume[finite] - median))
    noise[np.flatnonzero(counted)] = finite & (volume > median + NOISE_MADS * mad)
    return noise
