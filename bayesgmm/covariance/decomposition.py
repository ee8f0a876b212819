r"""Covariances as volume, shape and orientation, as mclust decomposes them.

:math:`\Sigma_k = \lambda_k D_k A_k D_k^T` with volume :math:`\lambda_k = |\Sigma_k|^{1/D}`,
shape :math:`A_k` diagonal with :math:`|A_k| = 1` (its entries in decreasing order) and
orientation :math:`D_k` orthogonal (its columns the eigenvectors, in the same order):
mclust's ``sigma2decomp``, with each eigenvector's sign fixed so that its entry of
largest magnitude is positive (so the result does not depend on LAPACK's choice).
"""

from __future__ import annotations

import numpy as np

__all__ = ["decompose"]


def decompose(covariances: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Volumes, shapes and orientations of a stack of covariance matrices.

    Parameters
    ----------
    covariances : ndarray of shape (..., K, D, D)
        Symmetric positive definite matrices (leading dimensions such as draws allowed).

    Returns
    -------
    volumes : ndarray of shape (..., K)
        :math:`\lambda_k = |\Sigma_k|^{1/D}`.
    shapes : ndarray of shape (..., K, D)
        The diagonal of :math:`A_k`: the eigenvalues over the volume, decreasing, with
        product 1.
    orientations : ndarray of shape (..., K, D, D)
        :math:`D_k`: column ``j`` is the eigenvector of ``shapes[..., k, j]``.

    Raises
    ------
    ValueError
        When a matrix is not positive definite.

    Examples
    --------
    >>> volumes, shapes, orientations = decompose(np.array([[[4.0, 0.0], [0.0, 1.0]]]))
    >>> volumes, shapes
    (array([2.]), array([[2. , 0.5]]))
    >>> orientations[0]
    array([[1., 0.],
           [0., 1.]])
    """
    covariances = np.asarray(covariances, dtype=np.float64)
    if covariances.ndim < 3 or covariances.shape[-1] != covariances.shape[-2]:
        raise ValueError(
            "decompose expects a stack of square matrices shaped (..., K, D, D); got shape "
            f"{covariances.shape}. Use MixtureResult.covariances for (K, D, D) matrices."
        )
    eigenvalues, eigenvectors = np.linalg.eigh(covariances)
    eigenvalues, eigenvectors = eigenvalues[..., ::-1], eigenvectors[..., ::-1]
    if not np.all(eigenvalues > 0):
        raise ValueError(
            "decompose needs positive definite covariances; an eigenvalue is "
            f"{eigenvalues.min():.3g}. Fit with a larger reg_covar."
        )
    log_volumes = np.log(eigenvalues).mean(axis=-1)
    shapes = np.exp(np.log(eigenvalues) - log_volumes[..., None])
    largest = np.take_along_axis(
        eigenvectors, np.abs(eigenvectors).argmax(axis=-2)[..., None, :], axis=-2
    )
    orientations = eigenvectors * np.where(largest < 0, -1.0, 1.0)
    return np.exp(log_volumes), shapes, orientations
