"""Spherical models: every component's covariance is a multiple of the identity.

=======  ===========  ===============================  ==========
model    alias        covariance                       parameters
=======  ===========  ===============================  ==========
EII      -            ``lambda I`` (one for all)       1
VII      spherical    ``lambda_k I``                   K
=======  ===========  ===============================  ==========

EII is reported as (K, D, D) matrices, as mclust's models other than scikit-learn's
four are, and stored as the diagonal layout's (K, D) variances (whose public shape
needs D); VII in scikit-learn's (K,) variances.
"""

from __future__ import annotations

from ..kernels.compile import kernel
from .base import CovarianceModel, DiagonalMatrices
from .layouts import DIAGONAL, SPHERICAL

__all__ = ["EII", "VII"]


@kernel
def _estimate_vii(nk, scatter, n_features, covariances):
    """``lambda_k = tr(W_k) / (n_k D)`` (``scatter`` holds the regularised traces)."""
    for k in range(nk.shape[0]):
        covariances[k] = scatter[k] / (nk[k] * n_features)


@kernel
def _estimate_eii(nk, scatter, n_features, covariances):
    """``lambda = sum_k tr(W_k) / (n D)`` (``scatter`` holds the diagonals)."""
    total, trace = 0.0, 0.0
    for k in range(nk.shape[0]):
        total += nk[k]
        for d in range(n_features):
            trace += scatter[k, d]
    for k in range(nk.shape[0]):
        for d in range(n_features):
            covariances[k, d] = trace / (total * n_features)


VII = CovarianceModel(
    name="spherical",
    mclust_name="VII",
    layout=SPHERICAL,
    estimate=_estimate_vii,
    count=lambda n_components, n_features: n_components,
    description="spherical, volume varies",
    aliases=("VII",),
)
EII = DiagonalMatrices(
    name="EII",
    mclust_name="EII",
    layout=DIAGONAL,
    estimate=_estimate_eii,
    count=lambda n_components, n_features: 1,
    description="spherical, equal volume",
)
