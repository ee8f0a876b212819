r"""Compiled passes over the rows for Newton's finish of one-dimensional EM runs.

:class:`~bayesgmm.em.newton_finish.NewtonFinish` needs, at each trial point, the
mean log-likelihood and, at accepted points, the per-row scores and a few
responsibility-weighted sums. Written with numpy, each of those passes makes tens
of temporary ``(rows, K)`` arrays and calls SciPy's general ``logsumexp``, and costs
tens of EM iterations; one compiled pass per row costs about one.

For row ``i`` and component ``k``, with ``z_ik = (x_i - mu_k) / sigma_k`` and
responsibilities ``r_ik``, the derivatives of ``log phi_ik`` are
``d_mu = z / sigma`` (mean) and ``d_eta = (z^2 - 1) / 2`` (log variance).
:func:`row_scores` fills each row's score ``g_i`` (its gradient of the row's
log-likelihood in the coordinates: free logits, means, log variances) and the
sums ``sum_i w_i r_ik t_ik`` for the terms ``t`` in :data:`SUM_TERMS`.

numba is used directly, as for the other kernels: no installed library evaluates
these mixture derivatives in one pass.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["SUM_TERMS", "mean_log_likelihood", "row_scores"]

#: The rows of the sums :func:`row_scores` fills, in order.
SUM_TERMS = ("count", "d_mu", "d_eta", "d_mu^2", "d_mu d_eta", "d_eta^2", "z^2")

_HALF_LOG_2PI = 0.5 * float(np.log(2.0 * np.pi))


@numba.njit(cache=True, nogil=True)
def mean_log_likelihood(
    rows: np.ndarray,
    row_weights: np.ndarray,
    log_weights: np.ndarray,
    means: np.ndarray,
    log_variances: np.ndarray,
    var_index: np.ndarray,
) -> float:
    """``sum_i w_i log sum_k pi_k phi(x_i; mu_k, sigma_k^2)``; -inf or NaN where a row's
    density is not finite (the caller rejects those points)."""
    K = means.shape[0]
    inv_sd = np.empty(K)
    const = np.empty(K)
    for k in range(K):
        eta = log_variances[var_index[k]]
        inv_sd[k] = np.exp(-0.5 * eta)
        const[k] = log_weights[k] - _HALF_LOG_2PI - 0.5 * eta
    log_p = np.empty(K)
    total = 0.0
    for i in range(rows.shape[0]):
        top = -np.inf
        for k in range(K):
            z = (rows[i] - means[k]) * inv_sd[k]
            log_p[k] = const[k] - 0.5 * z * z
            if log_p[k] > top:
                top = log_p[k]
        acc = 0.0
        for k in range(K):
            acc += np.exp(log_p[k] - top)
        total += row_weights[i] * (top + np.log(acc))
    return total


@numba.njit(cache=True, nogil=True)
def row_scores(
    rows: np.ndarray,
    row_weights: np.ndarray,
    log_weights: np.ndarray,
    means: np.ndarray,
    log_variances: np.ndarray,
    var_index: np.ndarray,
    free: np.ndarray,
    equal: bool,
    scores: np.ndarray,
    sums: np.ndarray,
) -> float:
    """The mean log-likelihood (as :func:`mean_log_likelihood`), with each row's score
    times the square root of its weight written into ``scores`` (N, P), so that
    ``scores.T @ scores`` is the weighted sum of the scores' outer products, and the
    weighted sums of :data:`SUM_TERMS` added into ``sums`` (7, K)."""
    K = means.shape[0]
    n_free = free.shape[0]
    inv_sd = np.empty(K)
    const = np.empty(K)
    weights = np.empty(K)
    for k in range(K):
        eta = log_variances[var_index[k]]
        inv_sd[k] = np.exp(-0.5 * eta)
        const[k] = log_weights[k] - _HALF_LOG_2PI - 0.5 * eta
        weights[k] = np.exp(log_weights[k])
    log_p = np.empty(K)
    z = np.empty(K)
    r = np.empty(K)
    total = 0.0
    for i in range(rows.shape[0]):
        top = -np.inf
        for k in range(K):
            z[k] = (rows[i] - means[k]) * inv_sd[k]
            log_p[k] = const[k] - 0.5 * z[k] * z[k]
            if log_p[k] > top:
                top = log_p[k]
        acc = 0.0
        for k in range(K):
            log_p[k] = np.exp(log_p[k] - top)
            acc += log_p[k]
        total += row_weights[i] * (top + np.log(acc))
        w = row_weights[i]
        root = np.sqrt(w)
        if equal:
            scores[i, 2 * K - 1] = 0.0
        for k in range(K):
            r[k] = log_p[k] / acc
            d_mu = z[k] * inv_sd[k]
            d_eta = 0.5 * (z[k] * z[k] - 1.0)
            wr = w * r[k]
            sums[0, k] += wr
            sums[1, k] += wr * d_mu
            sums[2, k] += wr * d_eta
            sums[3, k] += wr * d_mu * d_mu
            sums[4, k] += wr * d_mu * d_eta
            sums[5, k] += wr * d_eta * d_eta
            sums[6, k] += wr * z[k] * z[k]
            scores[i, n_free + k] = root * r[k] * d_mu
            if equal:
                scores[i, 2 * K - 1] += root * r[k] * d_eta
            else:
                scores[i, 2 * K - 1 + k] = root * r[k] * d_eta
        for j in range(n_free):
            scores[i, j] = root * (r[free[j]] - weights[free[j]])
    return total
