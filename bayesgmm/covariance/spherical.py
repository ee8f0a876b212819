"""Spherical models: every component's covariance is a multiple of the identity.

=======  ===========  ===============================  ==========
model    alias        covariance                       parameters
=======  ===========  ===============================  ==========
VII      spherical    ``lambda_k I``                   K
=======  ===========  ===============================  ==========
"""

from __future__ import annotations

from ..kernels.compile import kernel
from .base import CovarianceModel
from .layouts import SPHERICAL

__all__ = ["VII"]


@kernel
def _estimate_vii(nk, scatter, n_features, covariances):
    """``lambda_k = tr(W_k) / (n_k D)`` (``scatter`` holds the regularised traces)."""
    for k in range(nk.shape[0]):
        covariances[k] = scatter[k] / (nk[k] * n_features)


VII = CovarianceModel(
    name="spherical",
    mclust_name="VII",
    layout=SPHERICAL,
    estimate=_estimate_vii,
    count=lambda n_components, n_features: n_components,
    description="spherical, volume varies",
    aliases=("VII",),
)
