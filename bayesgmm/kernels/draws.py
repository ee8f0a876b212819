"""Compiled (numba) passes over the rows of a Gaussian mixture, for posterior work.

Three entry points share one block loop (:func:`_block_terms`): :func:`likelihood_sums`
returns the total (optionally row-weighted) log-likelihood and the responsibility-weighted
sums that its gradient needs (the log posterior of ``bayes/density.py``);
:func:`likelihood_rows` returns each row's log-density and responsibilities (the PyTensor
Op of ``bayes/likelihood.py``);
:func:`log_likelihood_draws` fills the pointwise log-likelihood of many posterior draws
(``result.py``). numpy and numba only, so ``result.py`` may use it.

The data come transposed, (D, N) and C-contiguous, so every inner loop runs over
contiguous rows of a block that stays in the first-level cache, and vectorises. The
components' Mahalanobis terms use inverse Cholesky factors ``L_k^{-1}`` (lower
triangular; diagonal for diagonal covariances). Every function compiles on first use
and is cached on disk; they release the GIL so that samplers' threads run in parallel.
"""

from __future__ import annotations

import numba
import numpy as np

from ..gaussian import LOG_2PI
from .fastmath import EXP_TAYLOR, horner

#: exp's Taylor coefficients 1/12! down to 1/0!
EXP_TAYLOR_12 = EXP_TAYLOR[1:]

__all__ = ["likelihood_rows", "likelihood_sums", "log_likelihood_draws"]

_LOG_BLOCK = 32  # rows whose normalisers (each in [1, K]) are multiplied before one log
_ROW_BLOCK = 256  # rows per block: the (K, block) terms stay in L1 cache
# reassociation lets the row sums vectorise; no nnan/ninf: -inf and NaN keep their meaning
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
_inline = numba.njit(nogil=True, fastmath=_FASTMATH, inline="always", error_model="numpy")
_kernel = numba.njit(cache=True, nogil=True, fastmath=_FASTMATH, error_model="numpy")


@_inline
def _exp_nonpositive(value):  # pragma: no cover - compiled
    """exp(value) for value <= 0, in plain arithmetic so that loops of it vectorise.

    ``exp(v) = (e^{-5/16} exp(v/64 + 5/16))^64``: a degree-12 Taylor polynomial on
    ``|w| <= 5/16`` (truncation 4e-17), then six squarings, which multiply the
    rounding error by 64: at most 1.8e-14 relative against ``np.exp`` on 200,000 values
    (``tests/test_kernels.py``).
    Values below -40 (relative terms under 4e-18, which cannot change a sum that
    holds a 1) give 0. numba's ``np.exp`` is a scalar call per value (7 ns here);
    this is 1.3 ns in a vectorised loop, and unlike a bit-shifting ``exp`` it stays
    exact under the reassociation that the row sums here need.
    """
    w = max(value, -40.0) * (1.0 / 64.0) + 0.3125
    p = horner(w, EXP_TAYLOR_12)
    p *= 0.7316156289466418  # exp(-5/16)
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    return p if value > -40.0 else 0.0


@_inline
def _centre(zt, start, m, means, k, diff):  # pragma: no cover - compiled
    for a in range(zt.shape[0]):
        mu = means[k, a]
        for i in range(m):
            diff[a, i] = zt[a, start + i] - mu


@_inline
def _block_terms(
    zt, start, m, const, means, inverses, diagonal, terms, diff, y, top, norm
):  # pragma: no cover - compiled
    """Rows ``start:start+m``: ``terms[k, i] = exp(log term - top[i])``, ``norm`` their sum."""
    n_features = zt.shape[0]
    n_components = means.shape[0]
    for k in range(n_components):
        _centre(zt, start, m, means, k, diff)
        row = terms[k]
        for i in range(m):
            row[i] = const[k]
        for a in range(n_features):
            for i in range(m):
                y[i] = 0.0
            for b in range(a if diagonal else 0, a + 1):
                c = inverses[k, a, b]
                for i in range(m):
                    y[i] += c * diff[b, i]
            for i in range(m):
                row[i] -= 0.5 * y[i] * y[i]
    for i in range(m):
        top[i] = terms[0, i]
    for k in range(1, n_components):
        for i in range(m):
            top[i] = max(top[i], terms[k, i])
    for i in range(m):
        norm[i] = 0.0
    for k in range(n_components):
        for i in range(m):
            value = _exp_nonpositive(terms[k, i] - top[i])
            terms[k, i] = value
            norm[i] += value


@_inline
def _block_buffers(n_components, n_features):  # pragma: no cover - compiled
    """Work arrays of one row block: terms (K, B), centred rows (D, B), y, top, norm (B,)."""
    block = _ROW_BLOCK
    return (
        np.empty((n_components, block)),
        np.empty((n_features, block)),
        np.empty(block),
        np.empty(block),
        np.empty(block),
    )


@_inline
def _constants(log_weights, log_dets, n_features):  # pragma: no cover - compiled
    return log_weights - log_dets - 0.5 * n_features * LOG_2PI


@_kernel
def likelihood_sums(
    zt, log_weights, means, inverses, log_dets, diagonal, row_weights, resp_sum, first, scatter
):  # pragma: no cover - compiled
    """Σ_n v_n log p(z_n); fills ``R_k = Σ q_nk``, ``S_k = Σ q_nk d``, ``C_k = Σ q_nk d dᵀ``.

    ``d = z_n - μ_k``, ``q_nk = v_n r_nk`` the responsibilities times the row weights
    ``row_weights`` (N,), or the responsibilities alone when ``row_weights`` is empty.
    ``log_dets`` are ``log|L_k|``. ``C`` is filled in full (both triangles), or on its
    diagonal only when ``diagonal``.
    """
    n_features, n_samples = zt.shape
    n_components = means.shape[0]
    const = _constants(log_weights, log_dets, n_features)
    resp_sum[:] = 0.0
    first[:] = 0.0
    scatter[:] = 0.0
    block = _ROW_BLOCK
    terms, diff, y, top, norm = _block_buffers(n_components, n_features)
    weighted = row_weights.shape[0] > 0
    total_log = 0.0
    for start in range(0, n_samples, block):
        m = min(block, n_samples - start)
        _block_terms(zt, start, m, const, means, inverses, diagonal, terms, diff, y, top, norm)
        if weighted:
            for i in range(m):
                total_log += row_weights[start + i] * (top[i] + np.log(norm[i]))
                norm[i] = row_weights[start + i] / norm[i]
        else:
            # one log per _LOG_BLOCK rows: each normaliser lies in [1, K]
            for group in range(0, m, _LOG_BLOCK):
                product = 1.0
                for i in range(group, min(group + _LOG_BLOCK, m)):
                    product *= norm[i]
                    total_log += top[i]
                total_log += np.log(product)
            for i in range(m):
                norm[i] = 1.0 / norm[i]
        for k in range(n_components):
            row = terms[k]
            total = 0.0
            for i in range(m):
                row[i] *= norm[i]
                total += row[i]
            resp_sum[k] += total
            _centre(zt, start, m, means, k, diff)
            for a in range(n_features):
                weighted_sum = 0.0
                for i in range(m):
                    y[i] = row[i] * diff[a, i]
                    weighted_sum += y[i]
                first[k, a] += weighted_sum
                for b in range(a if diagonal else 0, a + 1):
                    cross = 0.0
                    for i in range(m):
                        cross += y[i] * diff[b, i]
                    scatter[k, a, b] += cross
    for k in range(n_components):  # symmetric: fill the upper triangle
        for a in range(n_features):
            for b in range(a + 1, n_features):
                scatter[k, a, b] = scatter[k, b, a]
    return total_log


@_kernel
def likelihood_rows(
    zt, log_weights, means, inverses, log_dets, diagonal, log_prob, resp
):  # pragma: no cover - compiled
    """Each row's log-density into ``log_prob`` (N,) and responsibilities into ``resp``.

    ``resp`` is (N, K), or (0, K) when only the log-densities are wanted.
    """
    n_features, n_samples = zt.shape
    n_components = means.shape[0]
    const = _constants(log_weights, log_dets, n_features)
    block = _ROW_BLOCK
    terms, diff, y, top, norm = _block_buffers(n_components, n_features)
    for start in range(0, n_samples, block):
        m = min(block, n_samples - start)
        _block_terms(zt, start, m, const, means, inverses, diagonal, terms, diff, y, top, norm)
        for i in range(m):
            log_prob[start + i] = top[i] + np.log(norm[i])
            norm[i] = 1.0 / norm[i]
        if resp.shape[0] == 0:
            continue
        for i in range(m):
            for k in range(n_components):
                resp[start + i, k] = terms[k, i] * norm[i]


@_kernel
def log_likelihood_draws(
    zt, log_weights, means, inverses, log_dets, diagonal, out
):  # pragma: no cover - compiled
    """Row log-densities under each of S parameter sets: ``out[s]`` (S, N).

    ``log_weights`` (S, K), ``means`` (S, K, D), ``inverses`` (S, K, D, D) lower
    inverse Cholesky factors, ``log_dets`` (S, K) their covariance factors' ``log|L|``.
    """
    no_resp = np.empty((0, means.shape[1]))
    for s in range(log_weights.shape[0]):
        likelihood_rows(
            zt, log_weights[s], means[s], inverses[s], log_dets[s], diagonal, out[s], no_resp
        )
