r"""Mixture components on the observed coordinates of rows with missing values (NaN).

A row's missing values are integrated out: its density is the marginal density of its
observed coordinates ``o``, a Gaussian (or Student-t) with mean :math:`\mu_o` and
covariance (scale) :math:`\Sigma_{oo}`. Rows are grouped by their missingness pattern,
so every pattern costs one Cholesky factorisation of :math:`\Sigma_{oo}` per component,
and the rows of a pattern are processed together. :class:`ObservedCoordinates` also
gives what EM with missing values needs (Ghahramani & Jordan 1994): the conditional
means of the missing coordinates given the observed ones,
:math:`\hat x_m = \mu_m + \Sigma_{mo} \Sigma_{oo}^{-1} (x_o - \mu_o)`, and their
conditional covariance :math:`\Sigma_{mm} - \Sigma_{mo} \Sigma_{oo}^{-1} \Sigma_{om}`,
by triangular solves with the factor, never an inverse.

A row with every value missing has density 1 (log-density 0) under every component, so
its responsibilities are the mixture's weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["missingness_patterns", "ObservedCoordinates", "observed_log_density"]


def missingness_patterns(missing: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rows grouped by which of their values are missing.

    Parameters
    ----------
    missing : ndarray of bool, shape (N, D)
        True where a value is missing (``np.isnan(X)``).

    Returns
    -------
    list of (ndarray of bool (D,), ndarray of int)
        Per pattern: which coordinates are observed, and the rows (in order) that have
        that pattern.

    Examples
    --------
    >>> X = np.array([[1.0, np.nan], [2.0, 3.0], [4.0, np.nan]])
    >>> [(observed.tolist(), rows.tolist()) for observed, rows in missingness_patterns(np.isnan(X))]
    [([True, True], [1]), ([True, False], [0, 2])]
    """
    missing = np.asarray(missing, dtype=bool)
    if missing.shape[0] == 0:
        return []
    patterns, inverse = np.unique(missing, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=len(patterns)))[:-1]
    return [
        (~pattern, rows) for pattern, rows in zip(patterns, np.split(order, bounds), strict=True)
    ]


def _solve_lower(factor: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``factor^-1 right`` for lower-triangular factors ``(K, d, d)`` and ``(K, d, n)``."""
    if factor.shape[-1] == 0:
        return np.zeros(right.shape)
    return np.linalg.solve(factor, right)


class ObservedCoordinates:
    """The components restricted to the observed coordinates of one missingness pattern.

    Parameters
    ----------
    means : ndarray of shape (K, D)
    covariances : ndarray of shape (K, D, D)
        Full covariance (for the t family: scale) matrices.
    observed : ndarray of bool, shape (D,)
        The pattern's observed coordinates.

    Examples
    --------
    >>> part = ObservedCoordinates(np.zeros((1, 2)), np.eye(2)[None] * 4.0, np.array([True, False]))
    >>> part.mahalanobis(np.array([[2.0, np.nan]]))[1]
    array([[1.]])
    """

    def __init__(self, means: np.ndarray, covariances: np.ndarray, observed: np.ndarray) -> None:
        self.observed = np.flatnonzero(observed)
        self.missing = np.flatnonzero(~np.asarray(observed, dtype=bool))
        self.means = np.asarray(means, dtype=np.float64)
        self.covariances = np.asarray(covariances, dtype=np.float64)
        o = self.observed
        self.cholesky = np.linalg.cholesky(self.covariances[:, o[:, None], o[None, :]])
        diagonal = np.diagonal(self.cholesky, axis1=-2, axis2=-1)
        #: log-determinant of the precision factor of Sigma_oo: -log|Sigma_oo| / 2
        self.log_det = -np.log(diagonal).sum(axis=-1)

    @property
    def n_observed(self) -> int:
        """Number of observed coordinates."""
        return len(self.observed)

    def mahalanobis(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whitened residuals ``L^-1 (x_o - mu_o)`` (K, D_o, n) and squared Mahalanobis
        distances (n, K) of rows (n, D) over the observed coordinates (others ignored)."""
        o = self.observed
        residuals = np.asarray(rows, dtype=np.float64)[:, o][None] - self.means[:, None, o]
        whitened = _solve_lower(self.cholesky, np.swapaxes(residuals, -1, -2))
        return whitened, np.einsum("kdn,kdn->nk", whitened, whitened)

    def log_density(self, maha: np.ndarray, family: Any, dof: np.ndarray | None) -> np.ndarray:
        """Log-densities (n, K) of the observed coordinates, from :meth:`mahalanobis`."""
        return family.log_density(maha, self.log_det, dof, self.n_observed)

    def conditional(self, rows: np.ndarray, whitened: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows completed by their conditional means, ``(K, n, D)`` (the observed
        values kept), and the missing coordinates' conditional covariance ``(K, D_m, D_m)``."""
        o, m = self.observed, self.missing
        n_rows = len(rows)
        completed = np.empty((len(self.means), n_rows, self.means.shape[1]))
        completed[:, :, o] = np.asarray(rows, dtype=np.float64)[:, o][None]
        cross = self.covariances[:, o[:, None], m[None, :]]  # Sigma_om (K, D_o, D_m)
        solved = _solve_lower(self.cholesky, cross)  # L^-1 Sigma_om
        completed[:, :, m] = self.means[:, None, m] + np.swapaxes(
            np.swapaxes(solved, -1, -2) @ whitened, -1, -2
        )
        residual = (
            self.covariances[:, m[:, None], m[None, :]] - np.swapaxes(solved, -1, -2) @ solved
        )
        return completed, residual


def observed_log_density(
    X: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    family: Any,
    dof: np.ndarray | None = None,
) -> np.ndarray:
    """Log-densities ``(N, K)`` of each row's observed coordinates (NaN: missing).

    Parameters
    ----------
    X : ndarray of shape (N, D)
    means : ndarray of shape (K, D)
    covariances : ndarray of shape (K, D, D)
        Full covariance (t family: scale) matrices.
    family : Family
        :data:`bayesgmm.family.GAUSSIAN` or :data:`~bayesgmm.family.STUDENT_T`.
    dof : ndarray of shape (K,) or None
        The t family's degrees of freedom.

    Examples
    --------
    >>> from bayesgmm.family import GAUSSIAN
    >>> X = np.array([[0.0, np.nan], [np.nan, np.nan]])
    >>> observed_log_density(X, np.zeros((1, 2)), np.eye(2)[None], GAUSSIAN).round(4)
    array([[-0.9189],
           [ 0.    ]])
    """
    X = np.asarray(X, dtype=np.float64)
    out = np.empty((X.shape[0], len(means)))
    for observed, rows in missingness_patterns(np.isnan(X)):
        part = ObservedCoordinates(means, covariances, observed)
        out[rows] = part.log_density(part.mahalanobis(X[rows])[1], family, dof)
    return out
