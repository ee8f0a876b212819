"""Ellipsoidal models: components with full covariances ``lambda_k D_k A_k D_k^T``.

=======  ===========  ==================================  ==============
model    alias        covariance                          parameters
=======  ===========  ==================================  ==============
EEE      tied         ``Sigma`` (one matrix for all)       D (D + 1) / 2
VVV      full         ``Sigma_k``                          K D (D + 1) / 2
=======  ===========  ==================================  ==============
"""

from __future__ import annotations

from ..kernels.compile import kernel
from .base import CovarianceModel
from .layouts import FULL, SHARED_FULL

__all__ = ["VVV", "EEE"]


@kernel
def _estimate_vvv(nk, scatter, n_features, covariances):
    """``Sigma_k = W_k / n_k`` (regularised)."""
    for k in range(nk.shape[0]):
        for i in range(n_features):
            for j in range(n_features):
                covariances[k, i, j] = scatter[k, i, j] / nk[k]


@kernel
def _estimate_eee(nk, scatter, n_features, covariances):
    """``Sigma = sum_k W_k / n`` (``scatter`` is already the pooled, regularised sum)."""
    total = 0.0
    for k in range(nk.shape[0]):
        total += nk[k]
    for i in range(n_features):
        for j in range(n_features):
            covariances[i, j] = scatter[i, j] / total


def _matrix_count(n_features: int) -> int:
    return n_features * (n_features + 1) // 2


VVV = CovarianceModel(
    name="full",
    mclust_name="VVV",
    layout=FULL,
    estimate=_estimate_vvv,
    count=lambda n_components, n_features: n_components * _matrix_count(n_features),
    description="ellipsoidal, volume, shape and orientation vary",
    aliases=("VVV",),
)
EEE = CovarianceModel(
    name="tied",
    mclust_name="EEE",
    layout=SHARED_FULL,
    estimate=_estimate_eee,
    count=lambda n_components, n_features: _matrix_count(n_features),
    description="ellipsoidal, equal volume, shape and orientation",
    aliases=("EEE",),
)
