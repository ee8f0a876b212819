"""Batched Gaussian log-densities through Cholesky factors of precisions.

One set of Gaussian maths for the whole numpy side: the EM E-step, the
responsibilities of a fitted model and those of every posterior draw. Two kernels
cover the four covariance types (``covariance.py`` presents each type as one of
them):

* :func:`log_density_full` takes upper-triangular precision factors ``P`` with
  ``precision = P @ P.T`` (scikit-learn's ``precisions_cholesky_``), either one per
  component ``(..., K, D, D)`` or one shared by all ``(..., D, D)`` (tied);
* :func:`log_density_diag` takes per-feature inverse standard deviations
  ``(..., K, D)`` (spherical broadcasts its one value over D).

Leading batch dimensions (``...``), such as ``(chain, draw)``, broadcast, so a stack
of parameter sets is not a special case. Both kernels shift X and the means by a
common reference point first, so data far from the origin (offset by 1e8) lose no
accuracy in the expanded quadratic forms.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

__all__ = [
    "LOG_2PI",
    "log_density_full",
    "log_density_diag",
    "mahalanobis_full",
    "mahalanobis_diag",
    "log_det_full",
    "log_det_diag",
    "precision_cholesky_full",
    "covariance_from_precision_cholesky",
    "log_mixture_density",
    "with_noise_column",
]

LOG_2PI = float(np.log(2.0 * np.pi))


def _reference_point(means: np.ndarray) -> np.ndarray:
    return means.reshape(-1, means.shape[-1]).mean(axis=0)


def log_det_full(prec_chol: np.ndarray) -> np.ndarray:
    """Log-determinant of a precision's Cholesky factor, ``(..., D, D) -> (...)``.

    Examples
    --------
    >>> float(log_det_full(np.eye(2) * 2.0))  # factor 2 I: log det = 2 log 2
    1.3862943611198906
    """
    return np.log(np.diagonal(prec_chol, axis1=-2, axis2=-1)).sum(axis=-1)


def log_det_diag(prec_sqrt: np.ndarray) -> np.ndarray:
    """Log-determinant of a diagonal precision's square root, ``(..., D) -> (...)``.

    Examples
    --------
    >>> float(log_det_diag(np.array([2.0, 2.0])))
    1.3862943611198906
    """
    return np.log(prec_sqrt).sum(axis=-1)


def log_density_full(X: np.ndarray, means: np.ndarray, prec_chol: np.ndarray) -> np.ndarray:
    """Log-density of every row of X under every component with a full precision factor.

    Parameters
    ----------
    X : ndarray of shape (N, D)
        Points.
    means : ndarray of shape (..., K, D)
        Component means.
    prec_chol : ndarray of shape (..., K, D, D) or (..., D, D)
        Upper-triangular factors with ``precision = P @ P.T``; the second form is one
        factor shared by every component (tied covariance).

    Returns
    -------
    ndarray of shape (..., N, K)
        ``log N(x_n | mu_k, Sigma_k)``.

    Examples
    --------
    >>> log_density_full(np.zeros((1, 2)), np.zeros((1, 2)), np.eye(2)[None]).round(4)
    array([[-1.8379]])
    """
    n_features = X.shape[-1]
    maha, log_det = mahalanobis_full(X, means, prec_chol)
    return -0.5 * (n_features * LOG_2PI + maha) + log_det[..., None, :]


def mahalanobis_full(
    X: np.ndarray, means: np.ndarray, prec_chol: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Squared Mahalanobis distances ``(..., N, K)`` and log-determinants ``(..., K)`` of
    the precision factors (see :func:`log_density_full`).

    Examples
    --------
    >>> maha, log_det = mahalanobis_full(np.ones((1, 2)), np.zeros((1, 2)), np.eye(2)[None])
    >>> maha.tolist(), log_det.tolist()
    ([[2.0]], [0.0])
    """
    n_features = X.shape[-1]
    center = _reference_point(means)
    Xc = X - center
    mc = means - center
    shared = prec_chol.ndim == means.ndim
    if shared:
        # one factor: y = x P once, then |y - mu P|^2 = |y|^2 - 2 y.(mu P) + |mu P|^2
        y = Xc @ prec_chol  # (..., N, D)
        mu_p = mc @ prec_chol  # (..., K, D)
        maha = (
            np.einsum("...nd,...nd->...n", y, y)[..., :, None]
            - 2.0 * (y @ np.swapaxes(mu_p, -1, -2))
            + np.einsum("...kd,...kd->...k", mu_p, mu_p)[..., None, :]
        )
        np.maximum(maha, 0.0, out=maha)
        log_det = np.broadcast_to(log_det_full(prec_chol)[..., None], mu_p.shape[:-1])
    else:
        n_components = means.shape[-2]
        # stack the K factors into one (D, K*D) matrix: one GEMM for all components
        stacked = np.swapaxes(prec_chol, -3, -2).reshape(
            *prec_chol.shape[:-3], n_features, n_components * n_features
        )
        y = Xc @ stacked  # (..., N, K*D): batch dims of the factors come first
        y = y.reshape(*y.shape[:-1], n_components, n_features)
        if y.ndim < mc.ndim + 1:
            y = np.broadcast_to(y, (*mc.shape[:-2], *y.shape))
        mu_p = np.einsum("...kd,...kde->...ke", mc, prec_chol)
        y = y - mu_p[..., None, :, :]
        maha = np.einsum("...nkd,...nkd->...nk", y, y)
        log_det = log_det_full(prec_chol)
    return maha, log_det


def log_density_diag(X: np.ndarray, means: np.ndarray, prec_sqrt: np.ndarray) -> np.ndarray:
    """Log-density of every row of X under diagonal Gaussians.

    Parameters
    ----------
    X : ndarray of shape (N, D)
        Points.
    means : ndarray of shape (..., K, D)
        Component means.
    prec_sqrt : ndarray of shape (..., K, D)
        Inverse standard deviations per component and feature.

    Returns
    -------
    ndarray of shape (..., N, K)

    Examples
    --------
    >>> log_density_diag(np.zeros((1, 1)), np.zeros((1, 1)), np.ones((1, 1))).round(4)
    array([[-0.9189]])
    """
    n_features = X.shape[-1]
    maha, log_det = mahalanobis_diag(X, means, prec_sqrt)
    return -0.5 * (n_features * LOG_2PI + maha) + log_det[..., None, :]


def mahalanobis_diag(
    X: np.ndarray, means: np.ndarray, prec_sqrt: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Squared Mahalanobis distances ``(..., N, K)`` and log-determinants ``(..., K)`` of
    diagonal precision factors (see :func:`log_density_diag`).

    Examples
    --------
    >>> mahalanobis_diag(np.ones((1, 1)), np.zeros((1, 1)), np.full((1, 1), 2.0))[0].tolist()
    [[4.0]]
    """
    center = _reference_point(means)
    Xc = X - center
    mc = means - center
    precision = prec_sqrt**2
    maha = (
        (Xc**2) @ np.swapaxes(precision, -1, -2)
        - 2.0 * (Xc @ np.swapaxes(mc * precision, -1, -2))
        + np.einsum("...kd,...kd->...k", mc**2, precision)[..., None, :]
    )
    np.maximum(maha, 0.0, out=maha)
    return maha, log_det_diag(prec_sqrt)


def precision_cholesky_full(covariances: np.ndarray) -> np.ndarray:
    """Upper-triangular precision factors from covariances, batched ``(..., D, D)``.

    Raises
    ------
    numpy.linalg.LinAlgError
        When a covariance is not positive definite; callers translate this into a
        message naming the component.

    Examples
    --------
    >>> precision_cholesky_full(np.eye(2) * 4.0)
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    cov_chol = np.linalg.cholesky(covariances)
    return np.swapaxes(_triangular_inverse(cov_chol, lower=True), -1, -2)


def covariance_from_precision_cholesky(prec_chol: np.ndarray) -> np.ndarray:
    """Covariances ``(P P^T)^{-1}`` from upper-triangular precision factors.

    Examples
    --------
    >>> covariance_from_precision_cholesky(np.eye(2) * 0.5)
    array([[4., 0.],
           [0., 4.]])
    """
    inverse = _triangular_inverse(prec_chol, lower=False)  # P^{-1}
    return np.swapaxes(inverse, -1, -2) @ inverse


#: Up to this many matrices, invert each with LAPACK's ``trtri`` (exact triangles, a
#: few microseconds each); a larger stack goes through numpy's batched inverse.
_TRTRI_BATCH = 64


def _triangular_inverse(factors: np.ndarray, lower: bool) -> np.ndarray:
    """Inverse of every triangular matrix of a ``(..., D, D)`` stack."""
    n_features = factors.shape[-1]
    stack = factors.reshape(-1, n_features, n_features)
    if len(stack) > _TRTRI_BATCH:
        inverse = np.linalg.inv(stack)
        inverse = np.tril(inverse) if lower else np.triu(inverse)
        return inverse.reshape(factors.shape)
    trtri = lapack.get_lapack_funcs("trtri", (stack,))
    inverse = np.empty_like(stack)
    for index, factor in enumerate(stack):
        inverse[index], info = trtri(factor, lower=int(lower))
        if info != 0:
            raise np.linalg.LinAlgError("Singular triangular factor.")
    inverse += 0.0  # -0.0 (from -0 / x) prints as "-0."; make it +0.0
    return inverse.reshape(factors.shape)


def log_mixture_density(weighted_log_prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-sum-exp over components: the log-density and log-responsibilities.

    Parameters
    ----------
    weighted_log_prob : ndarray of shape (..., N, K)
        ``log pi_k + log N(x_n | k)``.

    Returns
    -------
    log_prob : ndarray of shape (..., N)
    log_resp : ndarray of shape (..., N, K)

    Examples
    --------
    >>> log_prob, log_resp = log_mixture_density(np.log([[0.5, 0.5]]))
    >>> float(log_prob[0]), np.exp(log_resp).round(2).tolist()
    (0.0, [[0.5, 0.5]])
    """
    top = weighted_log_prob.max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    log_prob = np.log(np.exp(weighted_log_prob - top).sum(axis=-1)) + top[..., 0]
    return log_prob, weighted_log_prob - log_prob[..., None]


def with_noise_column(
    weighted_log_prob: np.ndarray, noise_weight: float | None, log_vinv: float | None
) -> np.ndarray:
    """The weighted log-densities (N, K) with a uniform noise component's column last.

    Parameters
    ----------
    weighted_log_prob : ndarray of shape (N, K)
        ``log pi_k + log f_k(x_n)`` of the components.
    noise_weight : float or None
        The noise component's weight (None: no noise component; the array is returned
        as it is).
    log_vinv : float or None
        The log of the noise's density, ``-log V`` (:mod:`bayesgmm.noise`).

    Returns
    -------
    ndarray of shape (N, K + 1), or (N, K) without noise

    Examples
    --------
    >>> with_noise_column(np.zeros((2, 1)), 0.5, np.log(0.25)).round(3).tolist()
    [[0.0, -2.079], [0.0, -2.079]]
    """
    if noise_weight is None:
        return weighted_log_prob
    with np.errstate(divide="ignore"):
        noise = np.log(noise_weight) + log_vinv
    return np.concatenate([weighted_log_prob, np.full((len(weighted_log_prob), 1), noise)], axis=1)
