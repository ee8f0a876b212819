r"""Newton steps for the common orientation of EVE and VVE.

The M-step of a model with one orientation ``D`` and shapes that vary (EVE, VVE) has
no closed form. Given ``D``, the diagonal matrices ``delta_k`` have one (the diagonal
model's rule on ``b_kj = (D^T W_k D)_jj``), so the M-step minimises the profile

.. math:: f(D) = \frac1n \sum_{k,j} \Big[n_k \log \delta_{kj} + \frac{b_{kj}}{\delta_{kj}}\Big],
   \quad \delta = \mathrm{rule}(b(D)),

over orthogonal ``D``. Plane rotations (:func:`bayesgmm.covariance.ellipsoidal`'s
sweeps) descend it one pair of axes at a time; where the components are thin in many
dimensions the profile is nearly flat along combinations of pairs, and the sweeps creep
(each gains barely less than the one before, and the M-step ends at the sweep cap far
from its minimum). A Newton step moves all pairs at once.

It works in the frame of the current ``D``: ``D <- D R(omega)``, with ``R`` the Cayley
transform of the skew matrix whose upper triangle is ``omega`` (one entry per pair
``p < q``). With ``B_k = D^T W_k D`` and ``Phi_kj = 1 / (n delta_kj)`` (the profile's
derivative in ``b_kj``, by the envelope theorem, for any rule):

- gradient: ``g_pq = 2 sum_k B_k[p, q] (Phi_kq - Phi_kp)``;
- Hessian: the second derivatives of ``b_kj(omega) = (R^T B_k R)_jj`` weighted by
  ``Phi`` (nonzero only between pairs that share an axis, through
  ``M[j] = sum_k Phi_kj B_k``), plus ``J^T F'' J``, with ``J`` the derivatives of the
  ``b_kj`` and ``F''`` the rule's second derivatives of the profile in ``b``, written
  as a diagonal plus low-rank terms (:func:`free_curvature`, VVI's rule, and
  :func:`equal_volume_curvature`, EVI's).

Both were checked against finite differences of the profile
(``tests/test_covariance_models.py``). The step solves the Hessian's system after a
symmetric diagonal scaling (the features' scales differ by orders of magnitude), with
Levenberg damping until the scaled matrix has a Cholesky factor, and is halved until it
lowers the profile by more than :data:`~bayesgmm.covariance.base.INNER_TOL`; a step that
does not is not taken (the caller sweeps instead), so every accepted step raises the
expected complete-data log-likelihood and EM stays monotone.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.compile import inline
from .base import INNER_TOL
from .layout_kernels import cholesky_lower
from .spectral import log_mean

__all__ = [
    "NEWTON_FAILED",
    "NEWTON_STEP",
    "NEWTON_CONVERGED",
    "free_curvature",
    "equal_volume_curvature",
    "derivatives",
    "newton_rotation",
    "pairs_of",
    "profile",
]

#: What :func:`newton_rotation` did: no step that lowers the profile (far from a
#: minimum), a step taken, or none needed (the undamped step would gain at most
#: :data:`~bayesgmm.covariance.base.INNER_TOL`: the M-step has converged).
NEWTON_FAILED, NEWTON_STEP, NEWTON_CONVERGED = 0, 1, 2
#: Damping factors tried on the scaled Hessian, in turn, until it has a Cholesky factor.
_DAMPING = (0.0, 1e-8, 1e-6, 1e-4)
#: Halvings of a step that does not lower the profile before it is given up.
_HALVINGS = 6
#: Largest rotation (radians) of one pair in a step; a longer step is scaled down.
_LONGEST = 0.5


@inline
def free_curvature(nk, diagonals, total, curvature, beta, rho):
    """VVI's rule (``delta_kj = b_kj / n_k``): ``F'' = diag(-n_k / (n b_kj^2))``."""
    for k in range(nk.shape[0]):
        beta[k] = 0.0
        rho[k] = 0.0
        for j in range(diagonals.shape[1]):
            curvature[k, j] = -nk[k] / (total * diagonals[k, j] * diagonals[k, j])
    return 0.0


@inline
def equal_volume_curvature(nk, diagonals, total, curvature, beta, rho):
    """EVI's rule: the profile is ``D log sum_k g_k`` (``g_k`` the geometric mean of
    ``b_k``), so ``F''`` is ``diag(-g_k / (S b_kj^2))`` plus ``g_k / (D S) v_k v_k^T``
    (``v_k = 1 / b_k`` on component k) less ``u u^T / (D S^2)`` (``u = g_k / b_kj``):
    the diagonal here, ``beta_k = g_k / (D S)``, ``rho_k = g_k``, and the returned
    ``-1 / (D S^2)``."""
    n_components, n_features = diagonals.shape
    spread = 0.0
    for k in range(n_components):
        rho[k] = math.exp(log_mean(diagonals[k]))
        spread += rho[k]
    for k in range(n_components):
        beta[k] = rho[k] / (n_features * spread)
        for j in range(n_features):
            curvature[k, j] = -rho[k] / (spread * diagonals[k, j] * diagonals[k, j])
    return -1.0 / (n_features * spread * spread)


@inline
def profile(nk, rotated, total, rule, diagonals, deltas):
    """The profile objective at ``rotated = D^T W_k D``; leaves its diagonals and the
    rule's deltas in ``diagonals`` and ``deltas``."""
    n_components, n_features = diagonals.shape
    for k in range(n_components):
        for j in range(n_features):
            diagonals[k, j] = rotated[k, j, j]
    rule(nk, diagonals, deltas)
    objective = 0.0
    for k in range(n_components):
        for j in range(n_features):
            objective += nk[k] * math.log(deltas[k, j]) + diagonals[k, j] / deltas[k, j]
    return objective / total


@inline
def _hessian_entry(p, q, r, s, mixed, squares):
    """The part of the Hessian between pairs (p, q) and (r, s) (p < q, r < s) that is
    nonzero only when they share an axis: ``Phi``-weighted second derivatives of the
    diagonals (``mixed[j] = sum_k Phi_kj B_k``) and the rule's diagonal curvature
    (``squares[j, a, b] = sum_k F''_kj B_k[j, a] B_k[j, b]``)."""
    value = 0.0
    # tr(Phi E_P^T B E_P') + tr(Phi E_P'^T B E_P) + tr(Phi B E_P E_P') + tr(Phi B E_P' E_P)
    if q == s:
        value += 2.0 * mixed[q, p, r] - mixed[r, r, p] - mixed[p, p, r]
    if q == r:
        value += -2.0 * mixed[q, p, s] + mixed[s, s, p] + mixed[p, p, s]
    if p == s:
        value += -2.0 * mixed[p, q, r] + mixed[r, r, q] + mixed[q, q, r]
    if p == r:
        value += 2.0 * mixed[p, q, s] - mixed[s, s, q] - mixed[q, q, s]
    # J^T diag(F'') J: b_j moves with pair (p, q) as 2 sign B[j, other]
    if q == s:
        value += 4.0 * squares[q, p, r]
    if q == r:
        value -= 4.0 * squares[q, p, s]
    if p == s:
        value -= 4.0 * squares[p, q, r]
    if p == r:
        value += 4.0 * squares[p, q, s]
    return value


@inline
def _cayley(step, pair_p, pair_q, length, rotation, left):
    """``rotation = (I - S/2)^-1 (I + S/2)``, S skew with ``S[p, q] = length step_pq``.

    ``I - S/2`` has the identity as its symmetric part, so elimination needs no pivots.
    """
    n = rotation.shape[0]
    for i in range(n):
        for j in range(n):
            left[i, j] = 1.0 if i == j else 0.0
            rotation[i, j] = 1.0 if i == j else 0.0
    for index in range(step.shape[0]):
        p, q = pair_p[index], pair_q[index]
        half = 0.5 * length * step[index]
        left[p, q] -= half
        left[q, p] += half
        rotation[p, q] += half
        rotation[q, p] -= half
    for c in range(n):  # forward elimination
        for i in range(c + 1, n):
            factor = left[i, c] / left[c, c]
            if factor != 0.0:
                for j in range(c, n):
                    left[i, j] -= factor * left[c, j]
                for j in range(n):
                    rotation[i, j] -= factor * rotation[c, j]
    for c in range(n - 1, -1, -1):  # back substitution
        for j in range(n):
            value = rotation[c, j]
            for i in range(c + 1, n):
                value -= left[c, i] * rotation[i, j]
            rotation[c, j] = value / left[c, c]


@inline
def _rotate_all(rotated, rotation, out, work):
    """``out[k] = R^T rotated[k] R``."""
    n_components, n = rotated.shape[0], rotated.shape[1]
    for k in range(n_components):
        for i in range(n):
            for j in range(n):
                value = 0.0
                for m in range(n):
                    value += rotated[k, i, m] * rotation[m, j]
                work[i, j] = value
        for i in range(n):
            for j in range(i, n):
                value = 0.0
                for m in range(n):
                    value += rotation[m, i] * work[m, j]
                out[k, i, j] = value
                out[k, j, i] = value


@inline
def pairs_of(n):
    """The pairs of axes ``p < q`` in the order of the steps' entries."""
    pairs = n * (n - 1) // 2
    pair_p = np.empty(pairs, dtype=np.int64)
    pair_q = np.empty(pairs, dtype=np.int64)
    index = 0
    for p in range(n - 1):
        for q in range(p + 1, n):
            pair_p[index], pair_q[index] = p, q
            index += 1
    return pair_p, pair_q


@inline
def derivatives(nk, total, rotated, rule, curvature_rule, pair_p, pair_q, gradient, hessian):
    """Gradient and Hessian of the profile at ``rotated = D^T W_k D`` in the rotation's
    pair coordinates (``omega_pq`` of ``D <- D R(omega)``); returns the profile value."""
    n_components, n = rotated.shape[0], rotated.shape[1]
    pairs = pair_p.shape[0]
    diagonals = np.empty((n_components, n))
    deltas = np.empty((n_components, n))
    objective = profile(nk, rotated, total, rule, diagonals, deltas)
    weight = np.empty((n_components, n))  # Phi
    for k in range(n_components):
        for j in range(n):
            weight[k, j] = 1.0 / (total * deltas[k, j])
    curvature = np.empty((n_components, n))
    beta = np.empty(n_components)
    rho = np.empty(n_components)
    gamma = curvature_rule(nk, diagonals, total, curvature, beta, rho)
    mixed = np.zeros((n, n, n))
    squares = np.zeros((n, n, n))
    for k in range(n_components):
        for j in range(n):
            phi, second = weight[k, j], curvature[k, j]
            for a in range(n):
                row = second * rotated[k, j, a]
                for b in range(n):
                    mixed[j, a, b] += phi * rotated[k, a, b]
                    squares[j, a, b] += row * rotated[k, j, b]
    for first in range(pairs):
        p, q = pair_p[first], pair_q[first]
        value = 0.0
        for k in range(n_components):
            value += 2.0 * rotated[k, p, q] * (weight[k, q] - weight[k, p])
        gradient[first] = value
        for second in range(first, pairs):
            entry = _hessian_entry(p, q, pair_p[second], pair_q[second], mixed, squares)
            hessian[first, second] = entry
            hessian[second, first] = entry
    low_rank = gamma != 0.0
    for k in range(n_components):
        low_rank = low_rank or beta[k] != 0.0
    if low_rank:
        moves = np.empty((n_components, pairs))  # c_k = J_k^T (1 / b_k)
        combined = np.zeros(pairs)  # u = sum_k rho_k c_k
        for k in range(n_components):
            for index in range(pairs):
                p, q = pair_p[index], pair_q[index]
                moves[k, index] = (
                    2.0 * rotated[k, p, q] * (1.0 / diagonals[k, q] - 1.0 / diagonals[k, p])
                )
                combined[index] += rho[k] * moves[k, index]
        for first in range(pairs):
            for second in range(pairs):
                value = gamma * combined[first] * combined[second]
                for k in range(n_components):
                    value += beta[k] * moves[k, first] * moves[k, second]
                hessian[first, second] += value
    return objective


@inline
def newton_rotation(nk, total, rotated, orientation, objective, rule, curvature_rule):
    """One Newton step on the common orientation, from ``rotated[k] = D^T W_k D`` at
    profile value ``objective`` (the rule's deltas for it).

    Updates ``rotated`` and ``orientation`` and returns :data:`NEWTON_STEP` when the
    step (or one of its halvings) lowers the profile by more than
    :data:`~bayesgmm.covariance.base.INNER_TOL`; otherwise changes nothing and returns
    :data:`NEWTON_CONVERGED` where the Hessian is positive definite and the step's
    predicted gain ``-g's / 2`` is at most that, :data:`NEWTON_FAILED` else.
    """
    n_components, n = rotated.shape[0], rotated.shape[1]
    pair_p, pair_q = pairs_of(n)
    pairs = pair_p.shape[0]
    gradient = np.empty(pairs)
    hessian = np.empty((pairs, pairs))
    derivatives(nk, total, rotated, rule, curvature_rule, pair_p, pair_q, gradient, hessian)
    diagonals = np.empty((n_components, n))
    deltas = np.empty((n_components, n))
    scale = np.empty(pairs)  # symmetric diagonal scaling
    largest = 0.0
    for index in range(pairs):
        largest = max(largest, abs(hessian[index, index]))
    if not largest > 0.0:
        return NEWTON_FAILED
    for index in range(pairs):
        scale[index] = 1.0 / math.sqrt(max(abs(hessian[index, index]), 1e-12 * largest))
    factor = np.empty((pairs, pairs))
    step = np.empty(pairs)
    solved, undamped = False, True
    for damping in _DAMPING:
        for i in range(pairs):
            for j in range(pairs):
                factor[i, j] = scale[i] * hessian[i, j] * scale[j]
            factor[i, i] += damping
        if cholesky_lower(factor, factor):
            solved = True
            break
        undamped = False
    if not solved:
        return NEWTON_FAILED
    for i in range(pairs):  # forward: L y = -scale g
        value = -scale[i] * gradient[i]
        for m in range(i):
            value -= factor[i, m] * step[m]
        step[i] = value / factor[i, i]
    longest = 0.0
    for i in range(pairs - 1, -1, -1):  # back: L^T z = y, then the step is scale z
        value = step[i]
        for m in range(i + 1, pairs):
            value -= factor[m, i] * step[m]
        step[i] = value / factor[i, i]
    predicted = 0.0  # the quadratic model's gain, -g's / 2
    for i in range(pairs):
        step[i] *= scale[i]
        longest = max(longest, abs(step[i]))
        predicted -= 0.5 * gradient[i] * step[i]
    if undamped and not predicted > INNER_TOL:
        return NEWTON_CONVERGED
    length = 1.0 if longest <= _LONGEST else _LONGEST / longest
    rotation = np.empty((n, n))
    left = np.empty((n, n))
    trial = np.empty_like(rotated)
    work = np.empty((n, n))
    for _ in range(_HALVINGS + 1):
        _cayley(step, pair_p, pair_q, length, rotation, left)
        _rotate_all(rotated, rotation, trial, work)
        value = profile(nk, trial, total, rule, diagonals, deltas)
        # a step must gain what would keep the M-step going: one that gains less,
        # rounding included, would only make two runs whose sums differ in their last
        # bits (the engines, say) part along a flat valley
        if value < objective - INNER_TOL:
            rotated[:] = trial
            for i in range(n):
                for j in range(n):
                    total_ij = 0.0
                    for m in range(n):
                        total_ij += orientation[i, m] * rotation[m, j]
                    work[i, j] = total_ij
            orientation[:] = work
            return NEWTON_STEP
        length *= 0.5
    return NEWTON_FAILED
