"""Whole EM runs in compiled code, for data that fit in one block.

On small data an EM iteration of the block engine (:mod:`bayesgmm._blocks`) costs
about 0.3 ms of Python and numpy calls on arrays of a few numbers (the coefficients,
the M-step, the Cholesky factors), ten times its arithmetic at 1,000 rows; the
default ``n_init="auto"`` runs 40 starts to convergence there. This module runs all
iterations of one start in one numba call: the same features ``[q(x), x, 1]``,
coefficients and kernels as the block engine (:func:`bayesgmm._kernels.fill_features`,
:func:`~bayesgmm._kernels.responsibilities`), the same M-step, the same stopping
rule (:func:`bayesgmm.em.aitken_converged`, compiled from its one Python source).

Every covariance type is held in one layout here: ``(K, D, D)`` covariances and
upper-triangular precision factors (tied repeats its one matrix, diag and spherical
are diagonal), so one Cholesky and one set of coefficient formulas serve all four;
:func:`to_layout` and :func:`from_layout` convert. The caller, :mod:`bayesgmm.em`,
falls back to the block engine for data larger than a block, for dask arrays and for
``verbose=2``, and turns a failed factorisation into the engine's own error.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba.core import types
from numba.extending import overload

from . import _kernels
from ._kernels import (
    QUADRATIC_CODES,
    fill_features,
    n_quadratic,
    responsibilities,
    responsibilities32,
)
from .em.estimator import aitken_converged

__all__ = ["run", "to_layout", "from_layout"]

LOG_2PI = math.log(2.0 * math.pi)
FULL = QUADRATIC_CODES["full"]
TIED = QUADRATIC_CODES["tied"]
DIAG = QUADRATIC_CODES["diag"]
SPHERICAL = QUADRATIC_CODES["spherical"]
#: Stand-in for log(0) (an empty component) in the coefficients: exp of it is 0 in
#: float64 and float32 alike, and it stays finite in float32.
EMPTY_LOG_WEIGHT = -1e30
#: nk + NK_FLOOR keeps an empty component's mean finite (as the block engine's M-step).
NK_FLOOR = 10 * np.finfo(np.float64).eps
CHUNK = _kernels.CHUNK

_kernel = _kernels._kernel
_sum_kernel = _kernels._sum_kernel
_converged_by = numba.njit(aitken_converged)


def _responsibilities(L, row_weights):
    """Responsibilities in place, in the block's precision (typed at compile time)."""
    raise NotImplementedError("only called from compiled code")


@overload(_responsibilities)
def _responsibilities_typed(L, row_weights):
    if L.dtype == types.float32:
        return lambda L, row_weights: responsibilities32(L, row_weights)
    return lambda L, row_weights: responsibilities(L, row_weights, np.zeros(L.shape[0]))


def to_layout(covariance_type: str, array: np.ndarray, n_components: int, n_features: int):
    """A covariance-type-shaped array (covariances or precision factors) as (K, D, D)."""
    array = np.asarray(array, dtype=np.float64)
    if covariance_type == "full":
        layout = array
    elif covariance_type == "tied":
        layout = np.repeat(array[None], n_components, axis=0)
    else:
        diagonal = np.broadcast_to(array.reshape(n_components, -1), (n_components, n_features))
        layout = np.einsum("kd,de->kde", diagonal, np.eye(n_features))
    return np.array(layout, order="C")  # a C-ordered copy: the compiled loop updates it


def from_layout(covariance_type: str, array: np.ndarray) -> np.ndarray:
    """The inverse of :func:`to_layout`: (K, D, D) to the covariance type's shape."""
    if covariance_type == "full":
        return array
    if covariance_type == "tied":
        return np.ascontiguousarray(array[0])
    diagonal = np.ascontiguousarray(np.diagonal(array, axis1=1, axis2=2))
    return diagonal if covariance_type == "diag" else np.ascontiguousarray(diagonal[:, 0])


# --------------------------------------------------------------------------- kernels
@_kernel
def _coefficients(code, weights, means, prec_chol, precision, theta):
    """``theta`` (K, P): the weighted log-densities' coefficients of ``[q(x), x, 1]``.

    As :class:`bayesgmm._blocks.FeatureMap`'s ``theta``: full, diag and spherical
    components' whole log-density; tied only the terms that differ between
    components (``x^T Lambda x`` and the normalising constant enter through the data's
    second moment). ``precision`` is a (D, D) work array.
    """
    n_components, n_features = means.shape
    q = n_quadratic(code, n_features)
    for k in range(n_components):
        factor = prec_chol[k]
        for i in range(n_features):
            for j in range(i, n_features):
                total = 0.0
                for m in range(j, n_features):  # upper factors: U[i, m] = 0 for m < i
                    total += factor[i, m] * factor[j, m]
                precision[i, j] = total
                precision[j, i] = total
        column = 0
        if code == FULL:
            for i in range(n_features):
                for j in range(i, n_features):
                    value = -precision[i, j]
                    theta[k, column] = 0.5 * value if i == j else value
                    column += 1
        elif code == DIAG:
            for d in range(n_features):
                theta[k, d] = -0.5 * precision[d, d]
        elif code == SPHERICAL:
            theta[k, 0] = -0.5 * precision[0, 0]
        quadratic_form = 0.0
        for d in range(n_features):
            linear = 0.0
            for e in range(n_features):
                linear += precision[d, e] * means[k, e]
            theta[k, q + d] = linear
            quadratic_form += linear * means[k, d]
        log_weight = math.log(weights[k]) if weights[k] > 0 else EMPTY_LOG_WEIGHT
        constant = -0.5 * quadratic_form + log_weight
        if code != TIED:
            for d in range(n_features):
                constant += math.log(factor[d, d])
            constant -= 0.5 * n_features * LOG_2PI
        theta[k, q + n_features] = max(constant, EMPTY_LOG_WEIGHT)


@_kernel
def _logits(theta, Z, L):
    """``L = theta @ Z``: (K, P) coefficients times (P, B) features, chunk by chunk."""
    n_components, n_columns = theta.shape
    n_rows = Z.shape[1]
    for start in range(0, n_rows, CHUNK):
        stop = min(start + CHUNK, n_rows)
        for k in range(n_components):
            out = L[k, start:stop]
            constant = theta[k, n_columns - 1]  # the feature 1
            for b in range(stop - start):
                out[b] = constant
            for p in range(n_columns - 1):
                coefficient = theta[k, p]
                feature = Z[p, start:stop]
                for b in range(stop - start):
                    out[b] += coefficient * feature[b]


@_sum_kernel
def _feature_sums(R, Z, T):
    """``T = R @ Z^T`` in float64: sums in the blocks' precision over chunks of rows."""
    n_components, n_rows = R.shape
    n_columns = Z.shape[0]
    for k in range(n_components):
        for p in range(n_columns):
            T[k, p] = 0.0
    zero = np.zeros(1, dtype=Z.dtype)[0]  # sums within a chunk in the blocks' precision
    for start in range(0, n_rows, CHUNK):
        stop = min(start + CHUNK, n_rows)
        for k in range(n_components):
            weights = R[k, start:stop]
            for p in range(n_columns):
                feature = Z[p, start:stop]
                total = zero
                for b in range(stop - start):
                    total += weights[b] * feature[b]
                T[k, p] += total


@_kernel
def _tied_terms(prec_chol, data_second, total_weight):
    """``W (log|U| - D log(2 pi) / 2) - tr(U^T S U) / 2`` of the tied factor U."""
    n_features = prec_chol.shape[0]
    log_det = 0.0
    for d in range(n_features):
        log_det += math.log(prec_chol[d, d])
    trace = 0.0
    for c in range(n_features):  # column c of U: sum_ij U[i, c] S[i, j] U[j, c]
        for i in range(c + 1):
            row = 0.0
            for j in range(c + 1):
                row += data_second[i, j] * prec_chol[j, c]
            trace += prec_chol[i, c] * row
    return total_weight * (log_det - 0.5 * n_features * LOG_2PI) - 0.5 * trace


@_kernel
def _e_step(code, weights, means, prec_chol, Z, row_weights, data_second, work, L, T):
    """Log-likelihood and total weight of the features Z; feature sums into ``T``.

    ``work`` holds a (D, D) array, the (K, P) coefficients in float64 and the same in
    Z's precision; ``L`` (K, B) in Z's precision ends as the weighted responsibilities.
    """
    precision, theta, coefficients = work
    _coefficients(code, weights, means, prec_chol, precision, theta)
    for k in range(theta.shape[0]):
        for p in range(theta.shape[1]):
            coefficients[k, p] = theta[k, p]
    _logits(coefficients, Z, L)
    log_likelihood = _responsibilities(L, row_weights)
    _feature_sums(L, Z, T)
    if Z.itemsize == 4:
        # the float32 coefficients' rounding, to first order, through the feature sums
        for k in range(theta.shape[0]):
            for p in range(theta.shape[1]):
                log_likelihood += (theta[k, p] - np.float64(coefficients[k, p])) * T[k, p]
    total_weight = 0.0
    for k in range(theta.shape[0]):
        total_weight += T[k, theta.shape[1] - 1]
    if code == TIED:
        log_likelihood += _tied_terms(prec_chol[0], data_second, total_weight)
    return log_likelihood, total_weight


@_kernel
def _factorise(covariance, prec_chol):
    """Upper precision factor ``(L^-1)^T`` of ``covariance = L L^T``; False if not PD."""
    n_features = covariance.shape[0]
    lower = np.zeros((n_features, n_features))
    for j in range(n_features):
        total = covariance[j, j]
        for m in range(j):
            total -= lower[j, m] * lower[j, m]
        if not total > 0.0:
            return False
        pivot = math.sqrt(total)
        lower[j, j] = pivot
        for i in range(j + 1, n_features):
            total = covariance[i, j]
            for m in range(j):
                total -= lower[i, m] * lower[j, m]
            lower[i, j] = total / pivot
    for i in range(n_features):
        for j in range(n_features):
            prec_chol[i, j] = 0.0
    for c in range(n_features):  # column c of L^-1, by forward substitution
        for i in range(c, n_features):
            total = 1.0 if i == c else 0.0
            for m in range(c, i):
                total -= lower[i, m] * prec_chol[c, m]
            prec_chol[c, i] = total / lower[i, i]  # (L^-1)[i, c] -> U[c, i]
    return True


@_kernel
def _m_step(code, T, data_second, reg, weights, means, covariances, prec_chol):
    """Parameters from the feature sums; returns the first component (or -2 for the
    tied covariance) whose covariance is not positive definite, or -1."""
    n_components, n_features = means.shape
    q = n_quadratic(code, n_features)
    last = T.shape[1] - 1
    total = 0.0
    for k in range(n_components):
        total += T[k, last] + NK_FLOOR
    for k in range(n_components):
        nk = T[k, last] + NK_FLOOR
        weights[k] = nk / total
        for d in range(n_features):
            means[k, d] = T[k, q + d] / nk
    for k in range(n_components):
        for i in range(n_features):
            for j in range(n_features):
                covariances[k, i, j] = 0.0
    if code == TIED:
        shared = covariances[0]
        for i in range(n_features):
            for j in range(n_features):
                between = 0.0
                for k in range(n_components):
                    between += means[k, i] * (T[k, last] + NK_FLOOR) * means[k, j]
                shared[i, j] = (data_second[i, j] - between) / total
        for i in range(n_features):
            for j in range(i + 1, n_features):
                value = 0.5 * (shared[i, j] + shared[j, i])
                shared[i, j] = value
                shared[j, i] = value
            shared[i, i] += reg[i]
        if not _factorise(shared, prec_chol[0]):
            return -2
        for k in range(1, n_components):
            for i in range(n_features):
                for j in range(n_features):
                    covariances[k, i, j] = shared[i, j]
                    prec_chol[k, i, j] = prec_chol[0, i, j]
        return -1
    mean_reg = 0.0
    for d in range(n_features):
        mean_reg += reg[d]
    mean_reg /= n_features
    for k in range(n_components):
        nk = T[k, last] + NK_FLOOR
        cov = covariances[k]
        if code == FULL:
            column = 0
            for i in range(n_features):
                for j in range(i, n_features):
                    value = T[k, column] / nk - means[k, i] * means[k, j]
                    cov[i, j] = value
                    cov[j, i] = value
                    column += 1
            for d in range(n_features):
                cov[d, d] += reg[d]
        elif code == DIAG:
            for d in range(n_features):
                cov[d, d] = T[k, d] / nk - means[k, d] ** 2 + reg[d]
        else:
            squares = 0.0
            for d in range(n_features):
                squares += means[k, d] ** 2
            variance = (T[k, 0] / nk - squares) / n_features + mean_reg
            for d in range(n_features):
                cov[d, d] = variance
        if not _factorise(cov, prec_chol[k]):
            return k
    return -1


@_kernel
def _run(
    code, X, shift, row_weights, data_second, reg,
    weights, means, covariances, prec_chol, max_iter, tol, history,
):  # fmt: skip
    n_rows, n_features = X.shape
    n_components = means.shape[0]
    n_columns = n_quadratic(code, n_features) + n_features + 1
    Z = np.empty((n_columns, n_rows), dtype=X.dtype)
    fill_features(X, shift, Z, code)  # the data's features do not change between iterations
    work = (
        np.empty((n_features, n_features)),
        np.empty((n_components, n_columns)),
        np.empty((n_components, n_columns), dtype=X.dtype),
    )
    L = np.empty((n_components, n_rows), dtype=X.dtype)
    T = np.empty((n_components, n_columns))
    n_iter = 0
    converged = False
    for iteration in range(max_iter):
        n_iter = iteration + 1
        log_likelihood, total_weight = _e_step(
            code, weights, means, prec_chol, Z, row_weights, data_second, work, L, T
        )
        history[iteration] = log_likelihood / total_weight
        failed = _m_step(code, T, data_second, reg, weights, means, covariances, prec_chol)
        if failed != -1:
            return n_iter, converged, failed
        if _converged_by(history, n_iter, tol):
            converged = True
            break
    log_likelihood, total_weight = _e_step(
        code, weights, means, prec_chol, Z, row_weights, data_second, work, L, T
    )
    history[n_iter] = log_likelihood / total_weight
    return n_iter, converged, -1


def run(
    covariance_type: str,
    X: np.ndarray,
    row_weights: np.ndarray,
    shift: np.ndarray,
    data_second: np.ndarray | None,
    reg: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    prec_chol: np.ndarray,
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, int, bool, int]:
    """EM from the given parameters (layout (K, D, D), updated in place) to the end.

    Returns the mean log-likelihood per iteration (``n_iter + 1`` values: the last is
    at the final parameters), ``n_iter``, whether the stopping rule was met, and the
    component whose covariance failed to factorise (-2: the tied one; -1: none; the
    parameters then hold the failed M-step).
    """
    n_features = X.shape[1]
    history = np.empty(max_iter + 1)
    second = np.zeros((n_features, n_features)) if data_second is None else data_second
    n_iter, converged, failed = _run(
        QUADRATIC_CODES[covariance_type],
        np.ascontiguousarray(X),
        np.asarray(shift, dtype=np.float64),
        np.ascontiguousarray(row_weights, dtype=np.float64),
        np.ascontiguousarray(second, dtype=np.float64),
        np.asarray(reg, dtype=np.float64),
        weights,
        means,
        covariances,
        prec_chol,
        max_iter,
        tol,
        history,
    )
    end = n_iter + 1 if failed == -1 else n_iter
    return history[:end], n_iter, converged, failed
