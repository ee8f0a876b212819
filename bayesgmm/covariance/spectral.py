r"""Compiled helpers for covariances written as volume, shape and orientation.

mclust's models (Celeux & Govaert 1995) write each covariance as
:math:`\Sigma_k = \lambda_k D_k A_k D_k^T`: volume :math:`\lambda_k = |\Sigma_k|^{1/D}`,
shape :math:`A_k` diagonal with :math:`|A_k| = 1`, orientation :math:`D_k` orthogonal.
Their M-steps (:mod:`bayesgmm.covariance.diagonal`, :mod:`~bayesgmm.covariance.ellipsoidal`)
share these helpers: a symmetric eigen-decomposition (a kernel of its own, compiled
once rather than into every caller), and inline the log-determinant and trace terms
through a precision factor and ``Sigma = D diag(delta) D^T``. All work on small (D, D)
float64 arrays.

The eigen-decomposition is cyclic Jacobi: a rotation is skipped when its off-diagonal
entry is below ``eps sqrt(a_pp a_qq)``, which gives the eigenvalues of a positive
definite matrix to high *relative* accuracy (Demmel & Veselić 1992), also for features
on very different scales, where LAPACK's tridiagonal methods lose the small ones.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.compile import inline, kernel
from .layout_kernels import upper_precision_factor

__all__ = [
    "JACOBI_SWEEPS",
    "symmetric_eigen",
    "log_mean",
    "log_volume",
    "trace_of_solve",
    "compose",
]

#: Most Jacobi sweeps (each sweep rotates every pair once); converges in well under 10
#: sweeps in double precision for the matrices of a mixture's M-step.
JACOBI_SWEEPS = 60
_EPS = float(np.finfo(np.float64).eps)


@inline
def _rotate(a, vectors, p, q):
    """One Jacobi rotation zeroing ``a[p, q]`` (``a`` and ``vectors`` updated in place)."""
    theta = (a[q, q] - a[p, p]) / (2.0 * a[p, q])
    t = math.copysign(1.0, theta) / (abs(theta) + math.sqrt(theta * theta + 1.0))
    c = 1.0 / math.sqrt(t * t + 1.0)
    s = t * c
    n = a.shape[0]
    for m in range(n):
        left, right = a[m, p], a[m, q]
        a[m, p] = c * left - s * right
        a[m, q] = s * left + c * right
    for m in range(n):
        left, right = a[p, m], a[q, m]
        a[p, m] = c * left - s * right
        a[q, m] = s * left + c * right
    for m in range(n):
        left, right = vectors[m, p], vectors[m, q]
        vectors[m, p] = c * left - s * right
        vectors[m, q] = s * left + c * right


@kernel
def symmetric_eigen(matrix, values, vectors, work):
    """Eigenvalues (decreasing) and eigenvectors (columns) of a symmetric matrix.

    ``matrix`` is left as it was; ``work`` is (D, D) scratch.
    """
    n = matrix.shape[0]
    for i in range(n):
        for j in range(n):
            work[i, j] = matrix[i, j]
            vectors[i, j] = 1.0 if i == j else 0.0
    for _ in range(JACOBI_SWEEPS):
        rotated = False
        for p in range(n - 1):
            for q in range(p + 1, n):
                if abs(work[p, q]) > _EPS * math.sqrt(abs(work[p, p] * work[q, q])):
                    _rotate(work, vectors, p, q)
                    rotated = True
        if not rotated:
            break
    for i in range(n):
        values[i] = work[i, i]
    for i in range(n):  # selection sort, decreasing, with the columns
        best = i
        for j in range(i + 1, n):
            if values[j] > values[best]:
                best = j
        if best != i:
            values[i], values[best] = values[best], values[i]
            for m in range(n):
                vectors[m, i], vectors[m, best] = vectors[m, best], vectors[m, i]


@inline
def log_mean(values):
    """``log`` of the geometric mean of positive values (-inf if one is not positive)."""
    total = 0.0
    for value in values:
        if not value > 0.0:
            return -np.inf
        total += math.log(value)
    return total / values.shape[0]


@inline
def log_volume(matrix, factor):
    """``log |matrix|^(1/D)``, leaving the upper precision factor of ``matrix`` in
    ``factor``; -inf when ``matrix`` is not positive definite."""
    if not upper_precision_factor(matrix, factor):
        return -np.inf
    total = 0.0
    for d in range(matrix.shape[0]):
        total += math.log(factor[d, d])
    return -2.0 * total / matrix.shape[0]


@inline
def trace_of_solve(scatter, factor):
    """``tr(W Sigma^-1) = tr(U^T W U)`` from the upper precision factor U of Sigma."""
    n = scatter.shape[0]
    total = 0.0
    for c in range(n):  # column c of U: U[i, c] = 0 for i > c
        for i in range(c + 1):
            row = 0.0
            for j in range(c + 1):
                row += scatter[i, j] * factor[j, c]
            total += factor[i, c] * row
    return total


@inline
def compose(orientation, diagonal, out):
    """``out = D diag(delta) D^T``."""
    n = orientation.shape[0]
    for a in range(n):
        for b in range(a, n):
            total = 0.0
            for j in range(n):
                total += orientation[a, j] * diagonal[j] * orientation[b, j]
            out[a, b] = total
            out[b, a] = total
