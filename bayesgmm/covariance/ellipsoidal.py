r"""Ellipsoidal models: components with full covariances ``lambda_k D_k A_k D_k^T``.

=======  ===========  =================================  =============================
model    alias        covariance                         parameters
=======  ===========  =================================  =============================
EEE      tied         ``lambda D A D^T`` (one matrix)    D (D + 1) / 2
VEE      -            ``lambda_k D A D^T``               K + (D - 1) + D (D - 1) / 2
EVE      -            ``lambda D A_k D^T``               1 + K (D - 1) + D (D - 1) / 2
VVE      -            ``lambda_k D A_k D^T``             K D + D (D - 1) / 2
EEV      -            ``lambda D_k A D_k^T``             D + K D (D - 1) / 2
VEV      -            ``lambda_k D_k A D_k^T``           K + (D - 1) + K D (D - 1) / 2
EVV      -            ``lambda D_k A_k D_k^T``           1 - K + K D (D + 1) / 2
VVV      full         ``Sigma_k``                        K D (D + 1) / 2
=======  ===========  =================================  =============================

Every model but EEE (tied) and VVV (full) is reported as (K, D, D) matrices.

M-steps, from the components' regularised scatter matrices ``W_k`` and counts ``n_k``
(Celeux & Govaert 1995, section 3):

- EEE ``sum_k W_k / n``; VVV ``W_k / n_k``; EVV ``lambda W_k / |W_k|^(1/D)`` with
  ``lambda = sum_k |W_k|^(1/D) / n`` (closed forms).
- Orientation V (EEV, VEV): ``D_k`` are the eigenvectors of ``W_k`` (eigenvalues
  decreasing, paired with a shape in decreasing order), and ``lambda_k A`` is the
  diagonal model's estimate on the eigenvalues: EEI's (closed form) for EEV,
  VEI's iteration for VEV (:mod:`bayesgmm.covariance.diagonal`).
- VEE: ``C = D A D^T`` and the volumes in turn, ``C ∝ sum_k W_k / lambda_k`` with
  ``|C| = 1`` and ``lambda_k = tr(W_k C^-1) / (D n_k)``, each the exact maximum given
  the other (mclust's ``msvee``), from the previous estimate's volumes (at a start:
  VVV's).
- EVE, VVE (common orientation, shapes vary): in turn the diagonal model's estimate on
  the rotated diagonals ``diag(D^T W_k D)`` (EVI's for EVE, VVI's for VVE), and a sweep
  of plane rotations of D over every pair of axes, each the exact minimiser of
  ``sum_k tr(D^T W_k D A_k^-1) / lambda_k`` over its angle (a closed form: a sinusoid in
  twice the angle), the pairwise scheme of Flury & Gautschi's (1986) common principal
  components; from the previous estimate's orientation (the eigenvectors of a generic
  combination of its covariances, which share them), at a start the eigenvectors of
  ``sum_k W_k``. Where the sweeps slow down (a sweep gains more than
  :data:`SLOW_SWEEPS` of the one before), Newton steps on all pairs at once take over
  (:mod:`bayesgmm.covariance.orientation_newton`): on components with few points in
  many dimensions the objective is nearly flat along combinations of pairs, and sweeps
  alone creep there (M-steps end at the sweep cap far short of the minimum, as on the
  13 features of the wine data). Browne & McNicholas's (2014) majorisation-minimisation
  steps for D, which mclust uses, climb the same objective in far more steps (up to the
  cap of 1,000 in every M-step on wine).

The iterations stop when one lowers the objective by at most
:data:`~bayesgmm.covariance.base.INNER_TOL` per observation, or after
:data:`~bayesgmm.covariance.base.INNER_MAX_ITER` inner iterations (EVE and VVE:
:data:`ORIENTATION_SWEEPS` evaluations of the objective, so at most one fewer sweeps or
Newton steps); every inner step increases the
expected complete-data log-likelihood, so EM stays monotone.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.compile import inline, kernel
from .base import INNER_MAX_ITER, INNER_TOL, CovarianceModel
from .diagonal import (
    equal_shape_rule,
    equal_volume_rule,
    normalise_shape,
    per_component_rule,
    pooled_rule,
)
from .layouts import FULL, SHARED_FULL
from .orientation_newton import (
    NEWTON_CONVERGED,
    NEWTON_STEP,
    equal_volume_curvature,
    free_curvature,
    newton_rotation,
    profile,
)
from .spectral import (
    compose,
    log_volume,
    symmetric_eigen,
    trace_of_solve,
)

__all__ = ["VVV", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV"]

#: Weights of the previous covariances in the combination whose eigenvectors give
#: their common orientation: ``1 + k g`` (g the golden ratio's fractional part), so
#: that no two eigenvalues of the combination tie unless every component's do.
_GOLDEN = 0.6180339887498949
#: EVE and VVE: most evaluations of the objective in one M-step, the first at the start
#: (so at most ``ORIENTATION_SWEEPS - 1`` sweeps of plane rotations or Newton steps). EM's
#: next M-step goes on from where this one stopped (every step raises the expected
#: complete-data log-likelihood, so EM stays monotone): the cap bounds an M-step's cost
#: where the steps converge slowly.
ORIENTATION_SWEEPS = 100
#: EVE and VVE: a sweep that gains more than this fraction of the one before it
#: converges slowly, so Newton steps (:mod:`bayesgmm.covariance.orientation_newton`)
#: take over; where the Hessian is far from positive definite they fail, and sweeps go
#: on until they slow down again (a retry after 1, 2, 4, ... of them).
SLOW_SWEEPS = 0.5
#: EVE and VVE: Newton steps only up to this many features. A step solves a system in
#: the D (D - 1) / 2 pairs of axes, ~D^6 / 48 operations against ~4 K D^3 for a sweep:
#: at 32 features and 5 components one step costs about 30 sweeps, and its Hessian
#: (0.25 M entries) is still small.
NEWTON_MAX_FEATURES = 32


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


@kernel
def _estimate_evv(nk, scatter, n_features, covariances):
    """``Sigma_k = lambda W_k / |W_k|^(1/D)``, ``lambda = sum_k |W_k|^(1/D) / n``."""
    n_components = nk.shape[0]
    factor = np.empty((n_features, n_features))
    volumes = np.empty(n_components)
    total, volume = 0.0, 0.0
    for k in range(n_components):
        volumes[k] = math.exp(log_volume(scatter[k], factor))
        volume += volumes[k]
        total += nk[k]
    for k in range(n_components):
        scale = volume / (total * volumes[k])  # inf, and a failed factor, if W_k is singular
        for i in range(n_features):
            for j in range(n_features):
                covariances[k, i, j] = scale * scatter[k, i, j]


@inline
def _eigen_of_each(scatter, values, vectors):
    """Eigenvalues (decreasing) and eigenvectors of every ``W_k``."""
    work = np.empty(scatter.shape[1:])
    for k in range(scatter.shape[0]):
        symmetric_eigen(scatter[k], values[k], vectors[k], work)


@inline
def _eigen_orientations(nk, scatter, covariances, volumes_vary):
    """EEV and VEV: ``D_k`` the eigenvectors of ``W_k``; ``lambda A`` by EEI's rule on
    the eigenvalues, or ``lambda_k A`` by VEI's (from the previous shape, or EEV's)."""
    n_components, n_features = nk.shape[0], scatter.shape[1]
    values = np.empty((n_components, n_features))
    vectors = np.empty((n_components, n_features, n_features))
    _eigen_of_each(scatter, values, vectors)
    deltas = np.empty((n_components, n_features))
    pooled_rule(nk, values, deltas)
    if volumes_vary:
        shape = np.empty(n_features)
        if covariances[0, 0, 0] > 0.0:  # the previous estimate's shape (shared by all)
            previous = np.empty(n_features)
            axes = np.empty((n_features, n_features))
            symmetric_eigen(covariances[0], previous, axes, np.empty((n_features, n_features)))
            normalise_shape(previous, shape)
        else:
            normalise_shape(deltas[0], shape)
        equal_shape_rule(nk, values, shape, deltas)
    for k in range(n_components):
        compose(vectors[k], deltas[k], covariances[k])


@kernel
def _estimate_eev(nk, scatter, n_features, covariances):
    """Own orientations, equal volume and shape (closed form)."""
    _eigen_orientations(nk, scatter, covariances, False)


@kernel
def _estimate_vev(nk, scatter, n_features, covariances):
    """Own orientations, equal shape, volumes vary (iterative)."""
    _eigen_orientations(nk, scatter, covariances, True)


@kernel
def _estimate_vee(nk, scatter, n_features, covariances):
    """``lambda_k C``: the shared ``C`` (``|C| = 1``) and the volumes in turn."""
    n_components = nk.shape[0]
    factor = np.empty((n_features, n_features))
    volumes = np.empty(n_components)
    total = 0.0
    for k in range(n_components):
        total += nk[k]
        if covariances[0, 0, 0] > 0.0:  # the previous estimate's volumes
            volumes[k] = math.exp(log_volume(covariances[k], factor))
        else:  # VVV's
            volumes[k] = math.exp(log_volume(scatter[k], factor)) / nk[k]
    shared = np.empty((n_features, n_features))
    previous = np.inf
    iteration = 0
    while True:  # ends on a volume step, so volumes and C go together
        iteration += 1
        for i in range(n_features):
            for j in range(n_features):
                value = 0.0
                for k in range(n_components):
                    value += scatter[k, i, j] / volumes[k]
                shared[i, j] = value
        scale = math.exp(-log_volume(shared, factor))  # |C| = 1 ...
        shared *= scale
        factor *= 1.0 / math.sqrt(scale)  # ... and its precision factor
        objective = 0.0
        for k in range(n_components):
            volumes[k] = trace_of_solve(scatter[k], factor) / (n_features * nk[k])
            objective += nk[k] * math.log(volumes[k])
        objective *= n_features / total  # + D: the traces, n_k D each after this step
        if not previous - objective > INNER_TOL or iteration >= INNER_MAX_ITER:
            break
        previous = objective
    for k in range(n_components):
        for i in range(n_features):
            for j in range(n_features):
                covariances[k, i, j] = volumes[k] * shared[i, j]


@inline
def _start_orientation(scatter, covariances, orientation):
    """The previous estimate's common orientation, or at a start that of ``sum_k W_k``."""
    n_components, n_features = scatter.shape[0], scatter.shape[1]
    mixed = np.zeros((n_features, n_features))
    warm = covariances[0, 0, 0] > 0.0
    for k in range(n_components):
        if warm:
            trace = 0.0
            for d in range(n_features):
                trace += covariances[k, d, d]
            mixed += ((1.0 + _GOLDEN * k) / trace) * covariances[k]
        else:
            mixed += scatter[k]
    values = np.empty(n_features)
    symmetric_eigen(mixed, values, orientation, np.empty((n_features, n_features)))


@inline
def _rotate_pair(matrix, p, q, c, s):
    """``matrix = G^T matrix G`` for the plane rotation G of axes p and q by (c, s)."""
    n = matrix.shape[0]
    for m in range(n):
        left, right = matrix[m, p], matrix[m, q]
        matrix[m, p] = c * left + s * right
        matrix[m, q] = c * right - s * left
    for m in range(n):
        left, right = matrix[p, m], matrix[q, m]
        matrix[p, m] = c * left + s * right
        matrix[q, m] = c * right - s * left


@inline
def _orientation_sweep(deltas, rotated, orientation):
    """One cyclic sweep of plane rotations of the common orientation D, each the exact
    minimiser of ``sum_k tr(D^T W_k D diag(delta_k)^-1)`` over the angle of its pair of
    axes (the deltas fixed); ``rotated[k] = D^T W_k D`` is kept up to date.

    Rotating axes p and q by an angle t changes that sum by
    ``alpha (cos 2t - 1) + beta sin 2t``, with ``alpha = sum_k w_k (b_kpp - b_kqq) / 2``,
    ``beta = sum_k w_k b_kpq`` and ``w_k = 1 / delta_kp - 1 / delta_kq``: least at
    ``(cos 2t, sin 2t) = -(alpha, beta) / r``, ``r = hypot(alpha, beta)``, a decrease of
    ``alpha + r`` (zero when the axes are already best).
    """
    n_components, n_features = deltas.shape
    for p in range(n_features - 1):
        for q in range(p + 1, n_features):
            alpha, beta = 0.0, 0.0
            for k in range(n_components):
                weight = 1.0 / deltas[k, p] - 1.0 / deltas[k, q]
                alpha += 0.5 * weight * (rotated[k, p, p] - rotated[k, q, q])
                beta += weight * rotated[k, p, q]
            radius = math.hypot(alpha, beta)
            if radius == 0.0:
                continue
            cos_double, sin_double = -alpha / radius, -beta / radius  # of twice the angle
            if cos_double >= 0.0:  # the half-angle formulas without cancellation
                c = math.sqrt(0.5 * (1.0 + cos_double))
                s = sin_double / (2.0 * c)
            else:
                s = math.copysign(math.sqrt(0.5 * (1.0 - cos_double)), sin_double)
                c = sin_double / (2.0 * s)
            if s == 0.0:  # the axes are already best
                continue
            for k in range(n_components):
                _rotate_pair(rotated[k], p, q, c, s)
            for m in range(n_features):
                left, right = orientation[m, p], orientation[m, q]
                orientation[m, p] = c * left + s * right
                orientation[m, q] = c * right - s * left


@inline
def _common_orientation(nk, scatter, covariances, rule, curvature):
    """EVE and VVE: ``D delta_k D^T`` with ``delta_k = rule(diag(D^T W_k D))``."""
    n_components, n_features = nk.shape[0], scatter.shape[1]
    orientation = np.empty((n_features, n_features))
    _start_orientation(scatter, covariances, orientation)
    rotated = np.empty((n_components, n_features, n_features))
    for k in range(n_components):  # D^T W_k D
        for a in range(n_features):
            for b in range(n_features):
                value = 0.0
                for i in range(n_features):
                    row = 0.0
                    for j in range(n_features):
                        row += scatter[k, i, j] * orientation[j, b]
                    value += orientation[i, a] * row
                rotated[k, a, b] = value
    diagonals = np.empty((n_components, n_features))
    deltas = np.empty((n_components, n_features))
    total = 0.0
    for k in range(n_components):
        total += nk[k]
    previous, gain = np.inf, np.inf
    iteration = 0
    newton, newton_allowed = False, n_features <= NEWTON_MAX_FEATURES
    newton_last = False  # whether the last step was a Newton step
    retry, wait = 0, 1
    while True:  # ends on the rule, so the diagonals and D go together
        iteration += 1
        objective = profile(nk, rotated, total, rule, diagonals, deltas)
        step_gain = previous - objective
        if iteration >= ORIENTATION_SWEEPS:
            break
        if not step_gain > INNER_TOL:
            # a sweep that gains nothing may have stalled in a flat valley (the start,
            # the eigenvectors of the previous covariances, is off along it by their
            # rounding): one Newton step decides
            if newton_last or not newton_allowed:
                break
            outcome = newton_rotation(nk, total, rotated, orientation, objective, rule, curvature)
            if outcome != NEWTON_STEP:
                break
            newton = newton_last = True
            previous = objective
            continue
        slow = step_gain > SLOW_SWEEPS * gain and iteration >= retry
        newton = newton_allowed and (newton or slow)
        gain, previous = step_gain, objective
        if newton:
            newton_last = True
            outcome = newton_rotation(nk, total, rotated, orientation, objective, rule, curvature)
            if outcome == NEWTON_STEP:
                continue
            if outcome == NEWTON_CONVERGED:
                break
            # not near a minimum yet: sweep until the sweeps slow down, trying again
            # after 1, 2, 4, ... sweeps
            newton = False
            retry, wait = iteration + wait, 2 * wait
        newton_last = False
        _orientation_sweep(deltas, rotated, orientation)
    for k in range(n_components):
        compose(orientation, deltas[k], covariances[k])


@kernel
def _estimate_eve(nk, scatter, n_features, covariances):
    """Common orientation, equal volume, shapes vary (iterative)."""
    _common_orientation(nk, scatter, covariances, equal_volume_rule, equal_volume_curvature)


@kernel
def _estimate_vve(nk, scatter, n_features, covariances):
    """Common orientation, volumes and shapes vary (iterative)."""
    _common_orientation(nk, scatter, covariances, per_component_rule, free_curvature)


def _matrix_count(n_features: int) -> int:
    return n_features * (n_features + 1) // 2


def _rotations(n_features: int) -> int:
    return n_features * (n_features - 1) // 2


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
VEE = CovarianceModel(
    name="VEE",
    mclust_name="VEE",
    layout=FULL,
    estimate=_estimate_vee,
    count=lambda k, d: k + (d - 1) + _rotations(d),
    description="ellipsoidal, volume varies, equal shape and orientation",
)
EVE = CovarianceModel(
    name="EVE",
    mclust_name="EVE",
    layout=FULL,
    estimate=_estimate_eve,
    count=lambda k, d: 1 + k * (d - 1) + _rotations(d),
    description="ellipsoidal, shape varies, equal volume and orientation",
)
VVE = CovarianceModel(
    name="VVE",
    mclust_name="VVE",
    layout=FULL,
    estimate=_estimate_vve,
    count=lambda k, d: k * d + _rotations(d),
    description="ellipsoidal, volume and shape vary, equal orientation",
)
EEV = CovarianceModel(
    name="EEV",
    mclust_name="EEV",
    layout=FULL,
    estimate=_estimate_eev,
    count=lambda k, d: d + k * _rotations(d),
    description="ellipsoidal, equal volume and shape, orientation varies",
)
VEV = CovarianceModel(
    name="VEV",
    mclust_name="VEV",
    layout=FULL,
    estimate=_estimate_vev,
    count=lambda k, d: k + (d - 1) + k * _rotations(d),
    description="ellipsoidal, volume and orientation vary, equal shape",
)
EVV = CovarianceModel(
    name="EVV",
    mclust_name="EVV",
    layout=FULL,
    estimate=_estimate_evv,
    count=lambda k, d: 1 - k + k * _matrix_count(d),
    description="ellipsoidal, shape and orientation vary, equal volume",
)
