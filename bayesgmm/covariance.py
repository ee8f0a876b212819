"""The four covariance types: shapes, parameter counts, M-step estimators, conversions.

Each type is one small object with the same methods, so nothing outside this module
branches on the type's name. Shapes follow scikit-learn:

============  ==========================  =============================
type          ``covariances_``            ``precisions_cholesky_``
============  ==========================  =============================
full          (K, D, D)                   (K, D, D) upper triangular
tied          (D, D)                      (D, D) upper triangular
diag          (K, D)                      (K, D) inverse std. deviations
spherical     (K,)                        (K,) inverse std. deviations
============  ==========================  =============================

M-step statistics are sums over rows (``nk``, ``sum r x`` and a second-order term
per type), so that blocks of rows, or chunks of a dask array, are reduced
independently and added.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import gaussian
from .exceptions import CovarianceError

__all__ = ["CovarianceType", "COVARIANCE_TYPES", "get_covariance_type", "CovarianceError"]


def _not_positive_definite(component: int | None, weight: float | None) -> CovarianceError:
    who = "the tied covariance" if component is None else f"component {component}"
    weight_text = "" if weight is None else f" (weight {weight:.3g})"
    return CovarianceError(
        f"Fitting the mixture model failed because {who}{weight_text} has an ill-defined "
        "empirical covariance: it collapsed onto too few distinct points. Try one of: "
        "fewer components (n_components), a larger reg_covar, or a simpler covariance_type "
        "('diag' or 'spherical'); for float32 data, dtype='float64'."
    )


class CovarianceType:
    """Interface of a covariance type. Subclasses fill in every method."""

    name: str

    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        raise NotImplementedError

    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Free parameters of the covariances."""
        raise NotImplementedError

    def second_moment(self, X: np.ndarray, resp: np.ndarray) -> np.ndarray:
        """Block statistic: responsibility-weighted second moments of the rows X."""
        raise NotImplementedError

    def estimate(
        self, second: np.ndarray, nk: np.ndarray, means: np.ndarray, reg: np.ndarray
    ) -> np.ndarray:
        """Covariances from summed statistics; ``reg`` (D,) is added to the variances."""
        raise NotImplementedError

    def precision_cholesky(self, covariances: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Precision factors; raises :class:`CovarianceError` naming a failed component."""
        raise NotImplementedError

    def precision_cholesky_from_precisions(self, precisions: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def covariances_from_precision_cholesky(self, prec_chol: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def precisions(self, prec_chol: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def log_density(self, X: np.ndarray, means: np.ndarray, prec_chol: np.ndarray) -> np.ndarray:
        """``(N, D) x (..., K, D) x factors -> (..., N, K)`` log-densities."""
        raise NotImplementedError

    def to_full(self, covariances: np.ndarray, n_components: int, n_features: int) -> np.ndarray:
        """Covariances as a ``(..., K, D, D)`` stack."""
        raise NotImplementedError

    def marginal_variances(
        self, covariances: np.ndarray, n_components: int, n_features: int
    ) -> np.ndarray:
        """Per-component, per-feature variances ``(..., K, D)``."""
        full = self.to_full(covariances, n_components, n_features)
        return np.diagonal(full, axis1=-2, axis2=-1)


def _batched_precision_cholesky(cov: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    try:
        return gaussian.precision_cholesky_full(cov)
    except np.linalg.LinAlgError:
        if cov.ndim == 2:
            raise _not_positive_definite(None, None) from None
        for index in range(cov.shape[0]):
            try:
                np.linalg.cholesky(cov[index])
            except np.linalg.LinAlgError:
                weight = None if weights is None else float(weights[index])
                raise _not_positive_definite(index, weight) from None
        raise


def _check_positive(values: np.ndarray, weights: np.ndarray, per_component: bool) -> None:
    bad = ~(values > 0)
    if bad.any():
        index = int(np.argwhere(bad)[0][0]) if per_component else None
        weight = float(weights[index]) if per_component else None
        raise _not_positive_definite(index, weight)


@dataclass(frozen=True)
class Full(CovarianceType):
    """One full covariance per component."""

    name: str = "full"

    def covariance_shape(self, n_components, n_features):
        return (n_components, n_features, n_features)

    def n_parameters(self, n_components, n_features):
        return n_components * n_features * (n_features + 1) // 2

    def second_moment(self, X, resp):
        # sum_n r_nk x_n x_n^T for every k: per block of rows one GEMM of (D, B) x (B, K D)
        # against the rows weighted once per component (einsum took 4 s at 1M rows)
        n_features, n_components = X.shape[1], resp.shape[1]
        total = np.zeros((n_features, n_components * n_features))
        step = max(1, 2**17 // (n_components * n_features))  # ~1 MB of weighted rows
        for start in range(0, len(X), step):
            rows, weights = X[start : start + step], resp[start : start + step]
            weighted = (weights[:, :, None] * rows[:, None, :]).reshape(len(rows), -1)
            total += rows.T @ weighted
        return total.reshape(n_features, n_components, n_features).transpose(1, 0, 2).copy()

    def estimate(self, second, nk, means, reg):
        cov = second / nk[:, None, None] - means[:, :, None] * means[:, None, :]
        cov = 0.5 * (cov + np.swapaxes(cov, -1, -2))
        index = np.arange(means.shape[1])
        cov[:, index, index] += reg
        return cov

    def precision_cholesky(self, covariances, weights):
        return _batched_precision_cholesky(covariances, weights)

    def precision_cholesky_from_precisions(self, precisions):
        # the upper factor U with U U^T = P: Cholesky of the flipped matrix, flipped back
        flipped = np.linalg.cholesky(precisions[..., ::-1, ::-1])
        return np.ascontiguousarray(flipped[..., ::-1, ::-1])

    def covariances_from_precision_cholesky(self, prec_chol):
        return gaussian.covariance_from_precision_cholesky(prec_chol)

    def precisions(self, prec_chol):
        return prec_chol @ np.swapaxes(prec_chol, -1, -2)

    def log_density(self, X, means, prec_chol):
        return gaussian.log_density_full(X, means, prec_chol)

    def to_full(self, covariances, n_components, n_features):
        return covariances


@dataclass(frozen=True)
class Tied(Full):
    """One full covariance shared by all components."""

    name: str = "tied"

    def covariance_shape(self, n_components, n_features):
        return (n_features, n_features)

    def n_parameters(self, n_components, n_features):
        return n_features * (n_features + 1) // 2

    def second_moment(self, X, resp):
        weight = resp.sum(axis=1)
        return (X * weight[:, None]).T @ X

    def estimate(self, second, nk, means, reg):
        cov = (second - (means.T * nk) @ means) / nk.sum()
        cov = 0.5 * (cov + cov.T)
        index = np.arange(means.shape[1])
        cov[index, index] += reg
        return cov

    def precision_cholesky(self, covariances, weights):
        return _batched_precision_cholesky(covariances, None)

    def to_full(self, covariances, n_components, n_features):
        return np.broadcast_to(
            covariances[..., None, :, :],
            (*covariances.shape[:-2], n_components, *covariances.shape[-2:]),
        )


@dataclass(frozen=True)
class Diag(CovarianceType):
    """One diagonal covariance per component."""

    name: str = "diag"

    def covariance_shape(self, n_components, n_features):
        return (n_components, n_features)

    def n_parameters(self, n_components, n_features):
        return n_components * n_features

    def second_moment(self, X, resp):
        return resp.T @ (X * X)

    def estimate(self, second, nk, means, reg):
        return second / nk[:, None] - means**2 + reg

    def precision_cholesky(self, covariances, weights):
        _check_positive(covariances, weights, per_component=True)
        return 1.0 / np.sqrt(covariances)

    def precision_cholesky_from_precisions(self, precisions):
        return np.sqrt(precisions)

    def covariances_from_precision_cholesky(self, prec_chol):
        return 1.0 / prec_chol**2

    def precisions(self, prec_chol):
        return prec_chol**2

    def log_density(self, X, means, prec_chol):
        return gaussian.log_density_diag(X, means, prec_chol)

    def to_full(self, covariances, n_components, n_features):
        return covariances[..., :, None] * np.eye(n_features)


@dataclass(frozen=True)
class Spherical(Diag):
    """One variance per component, the same for every feature."""

    name: str = "spherical"

    def covariance_shape(self, n_components, n_features):
        return (n_components,)

    def n_parameters(self, n_components, n_features):
        return n_components

    def second_moment(self, X, resp):
        # sum_n r_nk |x_n|^2: the one second-order statistic a spherical variance needs
        return resp.T @ np.einsum("nd,nd->n", X, X)

    def estimate(self, second, nk, means, reg):
        # mean over features of the diagonal estimate: (sum r |x|^2 / nk - |mu|^2) / D
        n_features = means.shape[-1]
        return (second / nk - np.einsum("kd,kd->k", means, means)) / n_features + np.mean(reg)

    def log_density(self, X, means, prec_chol):
        prec_sqrt = np.broadcast_to(prec_chol[..., None], means.shape)
        return gaussian.log_density_diag(X, means, prec_sqrt)

    def to_full(self, covariances, n_components, n_features):
        return covariances[..., :, None, None] * np.eye(n_features)


COVARIANCE_TYPES: dict[str, CovarianceType] = {
    kind.name: kind for kind in (Full(), Tied(), Diag(), Spherical())
}


def get_covariance_type(name: str) -> CovarianceType:
    """Return the covariance type object for ``name`` (already validated)."""
    return COVARIANCE_TYPES[name]
