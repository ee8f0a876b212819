r"""Diagonal models: axis-aligned components, ``Sigma_k = lambda_k A_k`` with diagonal A_k.

=======  ===========  ======================================  ==============
model    alias        covariance                              parameters
=======  ===========  ======================================  ==============
EEI      -            ``lambda A`` (one diagonal matrix)      D
VEI      -            ``lambda_k A`` (shape shared)           K + D - 1
EVI      -            ``lambda A_k`` (volume shared)          1 + K (D - 1)
VVI      diag         ``lambda_k A_k``                        K D
=======  ===========  ======================================  ==============

EEI, VEI and EVI are reported as (K, D, D) matrices, as mclust's models other than
scikit-learn's four are; VVI in scikit-learn's (K, D) variances.

Each estimate is a *rule* on the components' diagonals ``w_k`` (K, D) of the
regularised scatter: given counts ``n_k``, the diagonal matrices ``lambda_k A_k`` that
maximise :math:`-\tfrac12 \sum_k [n_k \log|\Sigma_k| + \mathrm{tr}(W_k \Sigma_k^{-1})]`.
The ellipsoidal models reuse the rules in a rotated frame
(:mod:`bayesgmm.covariance.ellipsoidal`): on each component's eigenvalues (orientation
V) or on the diagonals in a common orientation (orientation E).

Closed forms (Celeux & Govaert 1995, section 3): EEI ``sum_k w_k / n``; VVI
``w_k / n_k``; EVI ``A_k = w_k / g(w_k)``, ``lambda = sum_k g(w_k) / n`` with
``g`` the geometric mean. VEI has none; its estimate alternates the volumes given the
shape, :math:`\lambda_k = \sum_j w_{kj} / (a_j D n_k)`, and the shape given the volumes,
:math:`a_j \propto \sum_k w_{kj} / \lambda_k` (geometric mean 1), each the exact
maximum given the other, until the objective falls by at most
:data:`~bayesgmm.covariance.base.INNER_TOL` per observation, or
:data:`~bayesgmm.covariance.base.INNER_MAX_ITER` times; it starts from the previous
estimate's shape (at a start: the shape of EEI's estimate), as mclust's ``msvei`` does
from a unit shape.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.compile import inline, kernel
from .base import INNER_MAX_ITER, INNER_TOL, CovarianceModel, DiagonalMatrices
from .layouts import DIAGONAL
from .spectral import log_mean

__all__ = [
    "EEI",
    "VEI",
    "EVI",
    "VVI",
    "pooled_rule",
    "per_component_rule",
    "equal_volume_rule",
    "equal_shape_rule",
    "normalise_shape",
]


@inline
def _total(nk):
    total = 0.0
    for k in range(nk.shape[0]):
        total += nk[k]
    return total


@inline
def pooled_rule(nk, diagonals, out):
    """EEI: ``out[k] = sum_k w_k / n`` for every k."""
    total = _total(nk)
    for j in range(diagonals.shape[1]):
        pooled = 0.0
        for k in range(nk.shape[0]):
            pooled += diagonals[k, j]
        for k in range(nk.shape[0]):
            out[k, j] = pooled / total


@inline
def per_component_rule(nk, diagonals, out):
    """VVI: ``out[k] = w_k / n_k``."""
    for k in range(nk.shape[0]):
        for j in range(diagonals.shape[1]):
            out[k, j] = diagonals[k, j] / nk[k]


@inline
def equal_volume_rule(nk, diagonals, out):
    """EVI: ``out[k] = lambda w_k / g(w_k)``, ``lambda = sum_k g(w_k) / n``."""
    total = _total(nk)
    volume = 0.0
    for k in range(nk.shape[0]):
        volume += math.exp(log_mean(diagonals[k]))
    volume /= total
    for k in range(nk.shape[0]):
        scale = volume / math.exp(log_mean(diagonals[k]))
        for j in range(diagonals.shape[1]):
            out[k, j] = scale * diagonals[k, j]


@inline
def normalise_shape(values, shape):
    """``shape = values / g(values)``: a shape with geometric mean (determinant) 1."""
    scale = math.exp(-log_mean(values))
    for j in range(values.shape[0]):
        shape[j] = values[j] * scale


@inline
def equal_shape_rule(nk, diagonals, shape, out):
    """VEI: ``out[k] = lambda_k a`` by coordinate ascent from the shape ``a`` (updated).

    Returns the inner iterations run.
    """
    n_components, n_features = diagonals.shape
    total = _total(nk)
    volumes = np.empty(n_components)
    sums = np.empty(n_features)
    previous = np.inf
    iteration = 0
    while True:  # ends on a volume step, so volumes and shape go together
        iteration += 1
        objective = 0.0
        for k in range(n_components):
            volume = 0.0
            for j in range(n_features):
                volume += diagonals[k, j] / shape[j]
            volumes[k] = volume / (n_features * nk[k])
            objective += nk[k] * math.log(volumes[k])
        objective *= n_features / total  # + D: the traces, n_k D each after this step
        if not previous - objective > INNER_TOL or iteration >= INNER_MAX_ITER:
            break
        previous = objective
        for j in range(n_features):
            sums[j] = 0.0
            for k in range(n_components):
                sums[j] += diagonals[k, j] / volumes[k]
        normalise_shape(sums, shape)
    for k in range(n_components):
        for j in range(n_features):
            out[k, j] = volumes[k] * shape[j]
    return iteration


@kernel
def _estimate_eei(nk, scatter, n_features, covariances):
    """One diagonal for all: ``sigma2_d = sum_k W_kd / n`` (regularised)."""
    pooled_rule(nk, scatter, covariances)


@kernel
def _estimate_vvi(nk, scatter, n_features, covariances):
    """``sigma2_kd = W_kd / n_k`` (regularised)."""
    per_component_rule(nk, scatter, covariances)


@kernel
def _estimate_evi(nk, scatter, n_features, covariances):
    """Equal volume, varying shape (closed form)."""
    equal_volume_rule(nk, scatter, covariances)


@kernel
def _estimate_vei(nk, scatter, n_features, covariances):
    """Varying volume, equal shape: iterative, from the previous shape (or EEI's)."""
    shape = np.empty(n_features)
    if covariances[0, 0] > 0.0:  # the previous estimate: every row has the same shape
        normalise_shape(covariances[0], shape)
    else:
        pooled = np.empty((nk.shape[0], n_features))
        pooled_rule(nk, scatter, pooled)
        normalise_shape(pooled[0], shape)
    equal_shape_rule(nk, scatter, shape, covariances)


VVI = CovarianceModel(
    name="diag",
    mclust_name="VVI",
    layout=DIAGONAL,
    estimate=_estimate_vvi,
    count=lambda n_components, n_features: n_components * n_features,
    description="diagonal, volume and shape vary",
    aliases=("VVI",),
)
EEI = DiagonalMatrices(
    name="EEI",
    mclust_name="EEI",
    layout=DIAGONAL,
    estimate=_estimate_eei,
    count=lambda n_components, n_features: n_features,
    description="diagonal, equal volume and shape",
)
VEI = DiagonalMatrices(
    name="VEI",
    mclust_name="VEI",
    layout=DIAGONAL,
    estimate=_estimate_vei,
    count=lambda n_components, n_features: n_components + n_features - 1,
    description="diagonal, volume varies, equal shape",
)
EVI = DiagonalMatrices(
    name="EVI",
    mclust_name="EVI",
    layout=DIAGONAL,
    estimate=_estimate_evi,
    count=lambda n_components, n_features: 1 + n_components * (n_features - 1),
    description="diagonal, equal volume, shape varies",
)
