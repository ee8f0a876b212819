"""Diagonal models: axis-aligned components, ``Sigma_k = lambda_k A_k`` with diagonal A_k.

=======  ===========  ==================================  ==========
model    alias        covariance                          parameters
=======  ===========  ==================================  ==========
EEI      -            ``lambda A`` (one diagonal matrix)   D
VVI      diag         ``lambda_k A_k``                     K D
=======  ===========  ==================================  ==========

EEI is reported as (K, D, D) matrices, as mclust's models other than scikit-learn's
four are; VVI in scikit-learn's (K, D) variances.
"""

from __future__ import annotations

import numpy as np

from ..kernels.compile import kernel
from .base import CovarianceModel
from .layouts import DIAGONAL

__all__ = ["VVI", "EEI"]


@kernel
def _estimate_vvi(nk, scatter, n_features, covariances):
    """``sigma2_kd = W_kd / n_k`` (regularised)."""
    for k in range(nk.shape[0]):
        for d in range(n_features):
            covariances[k, d] = scatter[k, d] / nk[k]


@kernel
def _estimate_eei(nk, scatter, n_features, covariances):
    """One diagonal for all: ``sigma2_d = sum_k W_kd / n`` (regularised)."""
    total = 0.0
    for k in range(nk.shape[0]):
        total += nk[k]
    for d in range(n_features):
        pooled = 0.0
        for k in range(nk.shape[0]):
            pooled += scatter[k, d]
        for k in range(nk.shape[0]):
            covariances[k, d] = pooled / total


VVI = CovarianceModel(
    name="diag",
    mclust_name="VVI",
    layout=DIAGONAL,
    estimate=_estimate_vvi,
    count=lambda n_components, n_features: n_components * n_features,
    description="diagonal, volume and shape vary",
    aliases=("VVI",),
)


class _Matrices(CovarianceModel):
    """A diagonal-layout model reported as (K, D, D) matrices."""

    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, n_features, n_features)

    @property
    def dims(self) -> tuple[str, ...]:
        return ("component", "feature", "feature_bis")

    def to_storage(self, public: np.ndarray) -> np.ndarray:
        public = np.asarray(public, dtype=np.float64)
        diagonal = np.diagonal(public, axis1=-2, axis2=-1)
        off_diagonal = public - diagonal[..., :, None] * np.eye(public.shape[-1])
        if np.any(off_diagonal != 0):
            raise ValueError(
                f"covariance_type={self.name!r} has axis-aligned (diagonal) matrices; these "
                "have off-diagonal entries. Pass diagonal matrices, or use a model with "
                "orientation (e.g. 'VVV')."
            )
        return np.ascontiguousarray(diagonal)

    def from_storage(self, stored: np.ndarray) -> np.ndarray:
        stored = np.asarray(stored)
        return stored[..., :, None] * np.eye(stored.shape[-1])


EEI = _Matrices(
    name="EEI",
    mclust_name="EEI",
    layout=DIAGONAL,
    estimate=_estimate_eei,
    count=lambda n_components, n_features: n_features,
    description="diagonal, equal volume and shape",
)
