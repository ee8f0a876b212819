r"""The compiled maths of the four kernel layouts: coefficients, statistics, factors.

A kernel layout is how a covariance model's parameters are stored and evaluated
(:mod:`bayesgmm.covariance.layouts`); every model of a layout shares these kernels and
adds only its own M-step estimate. Per layout:

``coefficients(weights, means, prec, theta)``
    the coefficients ``theta`` (K, Q + D + 1) of the weighted log-densities in the
    features ``[q(x), x, 1]`` of :mod:`bayesgmm.kernels.features` (shared-full: only
    the terms that differ between components);
``likelihood_terms(prec, data_second, total_weight)``
    what the coefficients leave out of the log-likelihood (shared-full only:
    :math:`W (\log|U| - \tfrac D2 \log 2\pi) - \tfrac12 \mathrm{tr}(U^T S U)` with ``S``
    the data's weighted second moment);
``statistics(T, data_second, reg, nk, means, scatter)``
    from the responsibility-weighted feature sums ``T`` (K, P) and the counts
    :math:`n_k` (given in ``nk``, floored there): the means and the **regularised scatter**
    :math:`\tilde W_k = \sum_n r_{nk} (x_n - \mu_k)(x_n - \mu_k)^T + n_k\,\mathrm{diag}(r)`
    in the layout's form (full: (K, D, D); shared-full: their sum (D, D); diagonal:
    the diagonals (K, D); spherical: the traces (K,));
``factorise(covariances, prec)``
    precision factors from covariances: upper-triangular ``U`` with
    :math:`U U^T = \Sigma^{-1}` (full, shared-full) or inverse standard deviations
    (diagonal, spherical); returns the first component that is not positive definite
    (-2 for the shared matrix), or -1.

Parameters are in the engine's shifted coordinates; everything is float64.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.compile import inline, kernel

__all__ = [
    "NO_FAILURE",
    "SHARED_FAILURE",
    "EMPTY_LOG_WEIGHT",
    "cholesky_lower",
    "NK_FLOOR",
    "full_coefficients",
    "shared_coefficients",
    "diagonal_coefficients",
    "spherical_coefficients",
    "no_likelihood_terms",
    "shared_likelihood_terms",
    "full_statistics",
    "shared_statistics",
    "diagonal_statistics",
    "spherical_statistics",
    "full_offsets",
    "shared_offsets",
    "diagonal_offsets",
    "spherical_offsets",
    "no_row_quadratic",
    "shared_row_quadratic",
    "full_factorise",
    "shared_factorise",
    "diagonal_factorise",
    "upper_precision_factor",
]

LOG_2PI = math.log(2.0 * math.pi)
#: ``factorise`` found every covariance positive definite.
NO_FAILURE = -1
#: ``factorise`` failed on the one shared covariance.
SHARED_FAILURE = -2
#: Stand-in for log(0) (an empty component) in the coefficients: its exp is 0 in
#: float64 and float32 alike, and it stays finite in float32.
EMPTY_LOG_WEIGHT = -1e30
#: Added to every count, so that an empty component's mean stays finite.
NK_FLOOR = 10 * np.finfo(np.float64).eps


@inline
def _log_weight(weight):
    return math.log(weight) if weight > 0 else EMPTY_LOG_WEIGHT


@inline
def _precision(factor, out):
    """``out = U U^T`` of an upper-triangular factor U (D, D)."""
    n_features = factor.shape[0]
    for i in range(n_features):
        for j in range(i, n_features):
            total = 0.0
            for m in range(j, n_features):  # U[i, m] = 0 for m < i
                total += factor[i, m] * factor[j, m]
            out[i, j] = total
            out[j, i] = total


@inline
def _linear_terms(precision, means, k, theta, column):
    """``theta[k, column + d] = (P mu_k)_d``; returns ``mu_k^T P mu_k``."""
    n_features = means.shape[1]
    quadratic_form = 0.0
    for d in range(n_features):
        linear = 0.0
        for e in range(n_features):
            linear += precision[d, e] * means[k, e]
        theta[k, column + d] = linear
        quadratic_form += linear * means[k, d]
    return quadratic_form


@kernel
def full_coefficients(weights, means, prec, theta):
    """Full layout: ``[-vech(P_k) (halved diagonal), P_k mu_k, constant]`` per component."""
    n_components, n_features = means.shape
    q = n_features * (n_features + 1) // 2
    precision = np.empty((n_features, n_features))
    for k in range(n_components):
        _precision(prec[k], precision)
        column = 0
        for i in range(n_features):
            for j in range(i, n_features):
                value = -precision[i, j]
                theta[k, column] = 0.5 * value if i == j else value
                column += 1
        quadratic_form = _linear_terms(precision, means, k, theta, q)
        constant = -0.5 * quadratic_form + _log_weight(weights[k]) - 0.5 * n_features * LOG_2PI
        for d in range(n_features):
            constant += math.log(prec[k, d, d])
        theta[k, q + n_features] = max(constant, EMPTY_LOG_WEIGHT)


@kernel
def shared_coefficients(weights, means, prec, theta):
    """Shared-full layout: ``[P mu_k, log pi_k - mu_k^T P mu_k / 2]``; the rest is common."""
    n_components, n_features = means.shape
    precision = np.empty((n_features, n_features))
    _precision(prec, precision)
    for k in range(n_components):
        quadratic_form = _linear_terms(precision, means, k, theta, 0)
        constant = -0.5 * quadratic_form + _log_weight(weights[k])
        theta[k, n_features] = max(constant, EMPTY_LOG_WEIGHT)


@kernel
def diagonal_coefficients(weights, means, prec, theta):
    """Diagonal layout (``prec`` (K, D) inverse standard deviations)."""
    n_components, n_features = means.shape
    for k in range(n_components):
        constant = _log_weight(weights[k]) - 0.5 * n_features * LOG_2PI
        for d in range(n_features):
            precision = prec[k, d] * prec[k, d]
            theta[k, d] = -0.5 * precision
            theta[k, n_features + d] = precision * means[k, d]
            constant += math.log(prec[k, d]) - 0.5 * precision * means[k, d] * means[k, d]
        theta[k, 2 * n_features] = max(constant, EMPTY_LOG_WEIGHT)


@kernel
def spherical_coefficients(weights, means, prec, theta):
    """Spherical layout (``prec`` (K,) inverse standard deviations)."""
    n_components, n_features = means.shape
    for k in range(n_components):
        precision = prec[k] * prec[k]
        theta[k, 0] = -0.5 * precision
        squares = 0.0
        for d in range(n_features):
            theta[k, 1 + d] = precision * means[k, d]
            squares += means[k, d] * means[k, d]
        constant = (
            _log_weight(weights[k])
            - 0.5 * n_features * LOG_2PI
            + n_features * math.log(prec[k])
            - 0.5 * precision * squares
        )
        theta[k, 1 + n_features] = max(constant, EMPTY_LOG_WEIGHT)


@kernel
def no_likelihood_terms(prec, data_second, total_weight):
    """The coefficients hold the whole log-density: nothing to add."""
    return 0.0


@kernel
def shared_likelihood_terms(prec, data_second, total_weight):
    """``W (log|U| - D log(2 pi) / 2) - tr(U^T S U) / 2`` of the shared factor U."""
    n_features = prec.shape[0]
    log_det = 0.0
    for d in range(n_features):
        log_det += math.log(prec[d, d])
    trace = 0.0
    for c in range(n_features):  # column c of U: sum_ij U[i, c] S[i, j] U[j, c]
        for i in range(c + 1):
            row = 0.0
            for j in range(c + 1):
                row += data_second[i, j] * prec[j, c]
            trace += prec[i, c] * row
    return total_weight * (log_det - 0.5 * n_features * LOG_2PI) - 0.5 * trace


@inline
def _log_factor(prec, k, diagonal, per_feature, n_features):
    """log |U_k| of a precision factor: its diagonal's logs (a spherical one D times)."""
    if not diagonal:
        total = 0.0
        for d in range(n_features):
            total += math.log(prec[k, d, d])
        return total
    if per_feature:
        total = 0.0
        for d in range(n_features):
            total += math.log(prec[k, d])
        return total
    return n_features * math.log(prec[k])


@inline
def _offsets(weights, means, prec, offsets, log_norm, diagonal, per_feature):
    n_features = means.shape[1]
    for k in range(weights.shape[0]):
        factor = _log_factor(prec, k, diagonal, per_feature, n_features)
        log_norm[k] = _log_weight(weights[k]) + factor
        offsets[k] = log_norm[k] - 0.5 * n_features * LOG_2PI


@kernel
def full_offsets(weights, means, prec, offsets, log_norm):
    """``offsets_k`` with ``L = offsets - delta / 2`` for the coefficients' logits ``L``
    (``delta``: the squared Mahalanobis distance), and ``log_norm_k = log pi_k + log|U_k|``:
    what a family other than the Gaussian needs."""
    _offsets(weights, means, prec, offsets, log_norm, False, True)


@kernel
def diagonal_offsets(weights, means, prec, offsets, log_norm):
    """:func:`full_offsets` of inverse standard deviations (K, D)."""
    _offsets(weights, means, prec, offsets, log_norm, True, True)


@kernel
def spherical_offsets(weights, means, prec, offsets, log_norm):
    """:func:`full_offsets` of inverse standard deviations (K,)."""
    _offsets(weights, means, prec, offsets, log_norm, True, False)


@kernel
def shared_offsets(weights, means, prec, offsets, log_norm):
    """The shared layout's logits lack ``-x^T P x / 2`` (``row_quadratic`` gives it) and
    the constants: ``offsets_k = log pi_k``."""
    n_features = prec.shape[0]
    log_det = 0.0
    for d in range(n_features):
        log_det += math.log(prec[d, d])
    for k in range(weights.shape[0]):
        offsets[k] = _log_weight(weights[k])
        log_norm[k] = offsets[k] + log_det


@kernel
def no_row_quadratic(Z, prec, q):
    """The logits hold every row's whole quadratic form: nothing per row."""
    for b in range(q.shape[0]):
        q[b] = 0.0


@kernel
def shared_row_quadratic(Z, prec, q):
    """``q_b = |U^T (x_b - s)|^2`` of the shared factor U, from the features' rows ``x - s``."""
    n_features = prec.shape[0]
    n_rows = q.shape[0]
    for b in range(n_rows):
        q[b] = 0.0
    for c in range(n_features):  # column c of U: (x - s) . U[:, c]
        column = np.zeros(n_rows)
        for e in range(c + 1):  # U is upper triangular: U[e, c] = 0 for e > c
            weight = prec[e, c]
            feature = Z[e]
            for b in range(n_rows):
                column[b] += np.float64(feature[b]) * weight
        for b in range(n_rows):
            q[b] += column[b] * column[b]


@inline
def _counts_and_means(T, q, nk, means, mass):
    """``nk`` (the counts, given) floored; ``mass`` the means' denominators (T's last
    column: the counts for the Gaussian family, the scale-weighted counts for the t)."""
    n_components, n_features = means.shape
    last = T.shape[1] - 1
    for k in range(n_components):
        nk[k] += NK_FLOOR
        mass[k] = T[k, last] + NK_FLOOR
        for d in range(n_features):
            means[k, d] = T[k, q + d] / mass[k]


@kernel
def full_statistics(T, data_second, reg, nk, means, scatter):
    """Means and regularised scatter matrices (K, D, D) from ``vech`` sums."""
    n_components, n_features = means.shape
    mass = np.empty(n_components)
    _counts_and_means(T, n_features * (n_features + 1) // 2, nk, means, mass)
    for k in range(n_components):
        column = 0
        for i in range(n_features):
            for j in range(i, n_features):
                value = T[k, column] - mass[k] * means[k, i] * means[k, j]
                scatter[k, i, j] = value
                scatter[k, j, i] = value
                column += 1
            scatter[k, i, i] += nk[k] * reg[i]


@kernel
def shared_statistics(T, data_second, reg, nk, means, scatter):
    """Means and the pooled regularised scatter (D, D), through the data's second moment
    ``S = sum_n w_n x_n x_n^T`` (shifted; scale-weighted for the t family)."""
    n_components, n_features = means.shape
    mass = np.empty(n_components)
    _counts_and_means(T, 0, nk, means, mass)
    total = 0.0
    for k in range(n_components):
        total += nk[k]
    for i in range(n_features):
        for j in range(i, n_features):
            between = 0.0
            for k in range(n_components):
                between += means[k, i] * mass[k] * means[k, j]
            value = 0.5 * (data_second[i, j] + data_second[j, i]) - between
            scatter[i, j] = value
            scatter[j, i] = value
        scatter[i, i] += total * reg[i]


@kernel
def diagonal_statistics(T, data_second, reg, nk, means, scatter):
    """Means and regularised per-feature scatters (K, D)."""
    n_components, n_features = means.shape
    mass = np.empty(n_components)
    _counts_and_means(T, n_features, nk, means, mass)
    for k in range(n_components):
        for d in range(n_features):
            value = T[k, d] - mass[k] * means[k, d] * means[k, d]
            scatter[k, d] = value + nk[k] * reg[d]


@kernel
def spherical_statistics(T, data_second, reg, nk, means, scatter):
    """Means and regularised scatter traces (K,)."""
    n_components, n_features = means.shape
    mass = np.empty(n_components)
    _counts_and_means(T, 1, nk, means, mass)
    reg_total = 0.0
    for d in range(n_features):
        reg_total += reg[d]
    for k in range(n_components):
        squares = 0.0
        for d in range(n_features):
            squares += means[k, d] * means[k, d]
        scatter[k] = T[k, 0] - mass[k] * squares + nk[k] * reg_total


@inline
def cholesky_lower(matrix, lower):
    """The lower Cholesky factor of ``matrix`` into the lower triangle of ``lower``
    (which may be ``matrix`` itself); reads only the lower triangle. False if not
    positive definite."""
    n = matrix.shape[0]
    for j in range(n):
        total = matrix[j, j]
        for m in range(j):
            total -= lower[j, m] * lower[j, m]
        if not total > 0.0:
            return False
        pivot = math.sqrt(total)
        lower[j, j] = pivot
        for i in range(j + 1, n):
            total = matrix[i, j]
            for m in range(j):
                total -= lower[i, m] * lower[j, m]
            lower[i, j] = total / pivot
    return True


@inline
def upper_precision_factor(covariance, prec):
    """Upper precision factor ``(L^-1)^T`` of ``covariance = L L^T``; False if not PD."""
    n_features = covariance.shape[0]
    lower = np.zeros((n_features, n_features))
    if not cholesky_lower(covariance, lower):
        return False
    for i in range(n_features):
        for j in range(n_features):
            prec[i, j] = 0.0
    for c in range(n_features):  # column c of L^-1, by forward substitution
        for i in range(c, n_features):
            total = 1.0 if i == c else 0.0
            for m in range(c, i):
                total -= lower[i, m] * prec[c, m]
            prec[c, i] = total / lower[i, i]  # (L^-1)[i, c] -> U[c, i]
    return True


@kernel
def full_factorise(covariances, prec):
    """Per-component upper precision factors of (K, D, D) covariances."""
    for k in range(covariances.shape[0]):
        if not upper_precision_factor(covariances[k], prec[k]):
            return k
    return NO_FAILURE


@kernel
def shared_factorise(covariance, prec):
    """The upper precision factor of the one shared (D, D) covariance."""
    return NO_FAILURE if upper_precision_factor(covariance, prec) else SHARED_FAILURE


@kernel
def diagonal_factorise(variances, prec):
    """Inverse standard deviations of variances shaped (K, D) or (K,)."""
    flat_variances = variances.reshape(-1)
    flat_prec = prec.reshape(-1)
    width = flat_variances.shape[0] // variances.shape[0]
    for index in range(flat_variances.shape[0]):
        if not flat_variances[index] > 0.0:
            return index // width
        flat_prec[index] = 1.0 / math.sqrt(flat_variances[index])
    return NO_FAILURE
