r"""The mixture model's log posterior and its gradient, compiled once by numba.

PyMC's model (:func:`~bayesgmm.bayes.model.build_model`) is the definition; this
module evaluates the same log density on the same unconstrained space, with the
same transforms and Jacobians (PyMC's ``simplex``, ``cholesky-cov-packed`` and
``log``), in one numba function whose compiled code numba caches on disk. It
exists for speed: nutpie's route through PyTensor's numba backend recompiles the
whole graph for every fit (about 40-90 s for K=3, D=2 on two cores) and spends
about 0.5 ms per gradient at N=5000, where this function spends a fraction of
that and nothing on compiling after the first use. ``tests/test_bayes_density.py``
checks value differences and gradients against the PyMC model for every
covariance type.

Layout of the flat unconstrained vector, PyMC's order of free variables:

========== ==================================================================
weights    K - 1 values, PyMC's simplex transform (``log w[:-1] - mean(log w)``)
z_means    K * D values, row-major (component, feature)
full       K packed lower Cholesky factors, D (D + 1) / 2 each, row-major,
           log of the diagonal entries (``z_chol_0`` ... ``z_chol_{K-1}``)
tied       one such packed factor (``z_chol``)
diag       K * D log standard deviations (``z_sds``)
spherical  K log standard deviations (``z_sds``)
========== ==================================================================

Gradients, with ``q_nk`` the responsibilities, ``d = z_n - μ_k``, ``R_k = Σ q_nk``,
``S_k = Σ q_nk d`` and ``C_k = Σ q_nk d dᵀ`` gathered in one pass over the rows:
``∂/∂ log π_k = R_k``, ``∂/∂μ_k = Λ_k S_k`` and, for the Cholesky factor ``L_k`` of
the covariance, ``∂/∂L_k = tril(L_k^{-T} L_k^{-1} C_k L_k^{-T}) - R_k diag(1/L_k)``.
The LKJ-Cholesky prior (with Gamma standard deviations ``s_i = ‖row_i(L)‖``) is a
sum over rows ``c_i log L_ii + (a - 1 - i - c_i) log s_i - b s_i`` with
``c_i = 2η - 2 + D - i``, PyMC's density and its change-of-variables term combined.

numba is used directly because no installed library offers a compiled mixture
posterior with a gradient that loads without compiling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from ..kernels.draws import likelihood_rows, likelihood_sums
from .model import PARAMETER_NAMES, Standardisation, parameter_dims
from .priors import Priors

__all__ = ["PosteriorDensity", "expand_parameters", "log_posterior", "packed_layout"]

_TYPE_CODES = {"full": 0, "tied": 1, "diag": 2, "spherical": 3}


def _row_weights(sample_weight: Any, n_rows: int) -> np.ndarray:
    """Row weights as the kernels take them: (N,) float64, or empty for "all ones"."""
    if sample_weight is None:
        return np.empty(0)
    weights = np.ascontiguousarray(sample_weight, dtype=np.float64)
    if weights.shape != (n_rows,):
        raise ValueError(f"sample_weight has shape {weights.shape}; expected ({n_rows},).")
    return weights


@numba.njit(cache=True, nogil=True)
def _simplex(theta, n_components):  # pragma: no cover - compiled
    """PyMC's simplex backward transform: log weights and the log-Jacobian."""
    values = np.empty(n_components)
    total = 0.0
    for k in range(n_components - 1):
        values[k] = theta[k]
        total += theta[k]
    values[n_components - 1] = -total
    top = values.max()
    norm = 0.0
    for k in range(n_components):
        norm += np.exp(values[k] - top)
    log_weights = values - (top + np.log(norm))
    # log|J| = log K + K s - K logsumexp([u + s, 0])
    shifted = np.empty(n_components)
    for k in range(n_components - 1):
        shifted[k] = theta[k] + total
    shifted[n_components - 1] = 0.0
    top2 = shifted.max()
    norm2 = 0.0
    for k in range(n_components):
        norm2 += np.exp(shifted[k] - top2)
    lse = top2 + np.log(norm2)
    log_jac = np.log(n_components) + n_components * total - n_components * lse
    jac_softmax = np.exp(shifted - lse)
    return log_weights, log_jac, jac_softmax


@numba.njit(cache=True, nogil=True)
def _unpack_cholesky(theta, start, n_features):  # pragma: no cover - compiled
    """Lower Cholesky factor from PyMC's packed row-major vector, log diagonal."""
    chol = np.zeros((n_features, n_features))
    position = start
    for i in range(n_features):
        for j in range(i + 1):
            chol[i, j] = np.exp(theta[position]) if i == j else theta[position]
            position += 1
    return chol


@numba.njit(cache=True, nogil=True)
def _lower_inverse(chol):  # pragma: no cover - compiled
    n_features = chol.shape[0]
    inverse = np.zeros((n_features, n_features))
    for col in range(n_features):
        for i in range(col, n_features):
            value = 1.0 if i == col else 0.0
            for j in range(col, i):
                value -= chol[i, j] * inverse[j, col]
            inverse[i, col] = value / chol[i, i]
    return inverse


@numba.njit(cache=True, nogil=True)
def _matmul(left, right):  # pragma: no cover - compiled
    """Small matrix product by loops (no BLAS call for a D x D product)."""
    rows, inner = left.shape
    cols = right.shape[1]
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(inner):
            value = left[i, j]
            for m in range(cols):
                out[i, m] += value * right[j, m]
    return out


@numba.njit(cache=True, nogil=True)
def _lkj_cholesky(chol, eta, sd_alpha, sd_beta, grad_chol):  # pragma: no cover - compiled
    """LKJ-Cholesky prior with Gamma sds (up to a constant); adds its gradient."""
    n_features = chol.shape[0]
    logp = 0.0
    for i in range(n_features):
        squares = 0.0
        for j in range(i + 1):
            squares += chol[i, j] * chol[i, j]
        sd = np.sqrt(squares)
        corr_coef = 2.0 * eta - 2.0 + n_features - i
        sd_coef = sd_alpha - 1.0 - i - corr_coef
        logp += corr_coef * np.log(chol[i, i]) + sd_coef * np.log(sd) - sd_beta * sd
        for j in range(i + 1):
            grad_chol[i, j] += chol[i, j] * (sd_coef / squares - sd_beta / sd)
        grad_chol[i, i] += corr_coef / chol[i, i]
    return logp


@numba.njit(cache=True, nogil=True)
def _pack_gradient(chol, grad_chol, grad, start):  # pragma: no cover - compiled
    """Chain a gradient over L to the packed unconstrained values (+ log-Jacobian)."""
    n_features = chol.shape[0]
    position = start
    for i in range(n_features):
        for j in range(i + 1):
            if i == j:
                grad[position] = grad_chol[i, i] * chol[i, i] + 1.0
            else:
                grad[position] = grad_chol[i, j]
            position += 1


@numba.njit(cache=True, nogil=True)
def _weights_prior(theta, n_components, alpha):  # pragma: no cover - compiled
    """Dirichlet prior and simplex Jacobian: log weights, the softmax the Jacobian's
    gradient needs, the log density, and its gradient over the log weights."""
    log_weights, log_jac, jac_softmax = _simplex(theta, n_components)
    logp = log_jac
    grad_log_weights = np.empty(n_components)
    for k in range(n_components):
        logp += (alpha[k] - 1.0) * log_weights[k]
        grad_log_weights[k] = alpha[k] - 1.0
    return log_weights, jac_softmax, logp, grad_log_weights


@numba.njit(cache=True, nogil=True)
def _means_prior(theta, offset, n_components, n_features, sigma, logp, grad):  # pragma: no cover
    """Normal(0, sigma) prior of the means (at ``offset``): the means, and ``logp`` plus
    the prior; writes its gradient."""
    means = np.empty((n_components, n_features))
    for k in range(n_components):
        for a in range(n_features):
            value = theta[offset + k * n_features + a]
            means[k, a] = value
            logp -= 0.5 * value * value / (sigma * sigma)
            grad[offset + k * n_features + a] = -value / (sigma * sigma)
    return means, logp


@numba.njit(cache=True, nogil=True)
def _cholesky_factors(theta, offset, n_components, n_features, shared):  # pragma: no cover
    """Lower factors L (one, if ``shared``, else K), per component ``L^-1`` and log|L|."""
    n_factors = 1 if shared else n_components
    n_packed = n_features * (n_features + 1) // 2
    chols = np.empty((n_factors, n_features, n_features))
    inverses = np.empty((n_components, n_features, n_features))
    log_dets = np.empty(n_components)
    for f in range(n_factors):
        chols[f] = _unpack_cholesky(theta, offset + f * n_packed, n_features)
    for k in range(n_components):
        f = 0 if shared else k
        inverses[k] = _lower_inverse(chols[f])
        log_dets[k] = 0.0
        for a in range(n_features):
            log_dets[k] += np.log(chols[f][a, a])
    return chols, inverses, log_dets


@numba.njit(cache=True, nogil=True)
def _cholesky_gradient(
    chols, inverses, resp_sum, first, scatter, shared, means_offset, grad
):  # pragma: no cover - compiled
    """The likelihood's gradient: over the means (written to ``grad``) and over the
    factors L, ``tril(L^-T L^-1 C L^-T) - R diag(1/L)`` (returned, summed if shared)."""
    n_components, n_features = first.shape
    grad_chols = np.zeros(chols.shape)
    for k in range(n_components):
        f = 0 if shared else k
        inverse = inverses[k]
        precision = _matmul(inverse.T, inverse)
        for a in range(n_features):
            g_mean = 0.0
            for b in range(n_features):
                g_mean += precision[a, b] * first[k, b]
            grad[means_offset + k * n_features + a] += g_mean
        g_chol = _matmul(_matmul(precision, scatter[k]), inverse.T)
        for a in range(n_features):
            for b in range(a + 1):
                grad_chols[f, a, b] += g_chol[a, b]
            grad_chols[f, a, a] -= resp_sum[k] / chols[f][a, a]
    return grad_chols


@numba.njit(cache=True, nogil=True)
def _cholesky_terms(
    theta, zt, rw, offset, shared, hyper, log_weights, means, means_offset, logp, grad, resp_sum
):  # pragma: no cover - compiled
    """Full or tied (``shared``) covariances: ``logp`` plus the likelihood (rows weighted
    by ``rw``, unless empty) and the LKJ-Cholesky priors with their Jacobians; writes
    their gradient, fills ``resp_sum``."""
    n_components, n_features = means.shape
    chols, inverses, log_dets = _cholesky_factors(theta, offset, n_components, n_features, shared)
    first = np.empty((n_components, n_features))
    scatter = np.empty((n_components, n_features, n_features))
    logp += likelihood_sums(
        zt, log_weights, means, inverses, log_dets, False, rw, resp_sum, first, scatter
    )
    grad_chols = _cholesky_gradient(
        chols, inverses, resp_sum, first, scatter, shared, means_offset, grad
    )
    n_packed = n_features * (n_features + 1) // 2
    for f in range(chols.shape[0]):
        logp += _lkj_cholesky(chols[f], hyper[1], hyper[2], hyper[3], grad_chols[f])
        logp += np.sum(np.log(np.diag(chols[f])))  # Jacobian of the log diagonal
        _pack_gradient(chols[f], grad_chols[f], grad, offset + f * n_packed)
    return logp


@numba.njit(cache=True, nogil=True)
def _scale_factors(theta, offset, n_components, n_features, spherical):  # pragma: no cover
    """Diagonal inverse factors ``1/s`` (K, D, D) and ``log|L|`` from log sds at ``offset``."""
    inv_sds = np.zeros((n_components, n_features, n_features))
    log_dets = np.zeros(n_components)
    for k in range(n_components):
        for a in range(n_features):
            log_sd = theta[offset + k] if spherical else theta[offset + k * n_features + a]
            inv_sds[k, a, a] = np.exp(-log_sd)
            log_dets[k] += log_sd
    return inv_sds, log_dets


@numba.njit(cache=True, nogil=True)
def _scale_terms(
    theta, zt, rw, offset, spherical, hyper, log_weights, means, means_offset, logp, grad, resp_sum
):  # pragma: no cover - compiled
    """Diag or spherical covariances (log standard deviations at ``offset``): ``logp``
    plus the likelihood (rows weighted by ``rw``, unless empty) and the Gamma priors;
    writes their gradient, fills ``resp_sum``."""
    n_components, n_features = means.shape
    sd_alpha, sd_beta = hyper[2], hyper[3]
    inv_sds, log_dets = _scale_factors(theta, offset, n_components, n_features, spherical)
    first = np.empty((n_components, n_features))
    scatter = np.empty((n_components, n_features, n_features))
    logp += likelihood_sums(
        zt, log_weights, means, inv_sds, log_dets, True, rw, resp_sum, first, scatter
    )
    n_sds = n_components if spherical else n_components * n_features
    for j in range(n_sds):
        log_sd = theta[offset + j]
        sd = np.exp(log_sd)
        # Gamma(a, b) on sd, log transform: (a - 1) u - b e^u + u
        logp += sd_alpha * log_sd - sd_beta * sd
        grad[offset + j] = sd_alpha - sd_beta * sd
    for k in range(n_components):
        for a in range(n_features):
            precision = inv_sds[k, a, a] * inv_sds[k, a, a]
            grad[means_offset + k * n_features + a] += precision * first[k, a]
            g_log_sd = precision * scatter[k, a, a] - resp_sum[k]
            grad[offset + (k if spherical else k * n_features + a)] += g_log_sd
    return logp


@numba.njit(cache=True, nogil=True)
def _weights_gradient(
    grad_log_weights, resp_sum, log_weights, jac_softmax, grad
):  # pragma: no cover - compiled
    """Chain the log weights' gradient to the simplex coordinates (written to ``grad``):
    d/dv_k = g_k - w_k Σ g, then u_i = v_i - v_last, plus the Jacobian's K (p_last - p_i)."""
    n_components = log_weights.shape[0]
    weights = np.exp(log_weights)
    grad_total = 0.0
    for k in range(n_components):
        grad_log_weights[k] += resp_sum[k]
        grad_total += grad_log_weights[k]
    last = grad_log_weights[n_components - 1] - weights[n_components - 1] * grad_total
    for i in range(n_components - 1):
        g_v = grad_log_weights[i] - weights[i] * grad_total
        jac = n_components * (jac_softmax[n_components - 1] - jac_softmax[i])
        grad[i] = g_v - last + jac


@numba.njit(cache=True, nogil=True)
def log_posterior(  # pragma: no cover - compiled
    theta, zt, row_weights, type_code, n_components, hyper, alpha, grad
):
    """Log posterior (up to a constant) at ``theta``; writes its gradient to ``grad``.

    ``zt`` is the standardised data transposed, (D, N) C-contiguous; ``row_weights``
    (N,) multiply each row's log-likelihood (empty: every row counts once);
    ``hyper`` = (means_sigma, lkj_eta, sd_alpha, sd_beta); ``alpha`` the Dirichlet
    concentration (K,). Non-finite values return -inf (the sampler rejects them).
    """
    n_features = zt.shape[0]
    grad[:] = 0.0
    for value in theta:
        if not np.isfinite(value):
            return -np.inf
    log_weights, jac_softmax, logp, grad_log_weights = _weights_prior(theta, n_components, alpha)
    means_offset = n_components - 1
    means, logp = _means_prior(theta, means_offset, n_components, n_features, hyper[0], logp, grad)
    offset = means_offset + n_components * n_features
    resp_sum = np.empty(n_components)
    parameters = (log_weights, means, means_offset, logp, grad, resp_sum)
    if type_code <= 1:  # full or tied: Cholesky factors
        logp = _cholesky_terms(theta, zt, row_weights, offset, type_code == 1, hyper, *parameters)
    else:  # diag or spherical: log standard deviations
        logp = _scale_terms(theta, zt, row_weights, offset, type_code == 3, hyper, *parameters)
    _weights_gradient(grad_log_weights, resp_sum, log_weights, jac_softmax, grad)
    if not np.isfinite(logp):
        return -np.inf
    return logp


@numba.njit(cache=True, nogil=True)
def row_log_likelihood(theta, zt, type_code, n_components, out):  # pragma: no cover - compiled
    """Each row's log-likelihood ``log p(z_n | theta)`` into ``out`` (N,)."""
    n_features = zt.shape[0]
    log_weights = _simplex(theta, n_components)[0]
    offset = n_components - 1
    means = np.empty((n_components, n_features))
    for k in range(n_components):
        for a in range(n_features):
            means[k, a] = theta[offset + k * n_features + a]
    offset += n_components * n_features
    if type_code <= 1:
        factors = _cholesky_factors(theta, offset, n_components, n_features, type_code == 1)
        inverses, log_dets = factors[1], factors[2]
    else:
        inverses, log_dets = _scale_factors(theta, offset, n_components, n_features, type_code == 3)
    no_resp = np.empty((0, n_components))
    likelihood_rows(zt, log_weights, means, inverses, log_dets, type_code > 1, out, no_resp)


@numba.njit(cache=True, nogil=True)
def expand_parameters(theta, type_code, n_components, center, scale, out):  # pragma: no cover
    """Weights, means and covariances at ``theta``, in the units of ``center + scale * z``,
    written one after another into ``out``: weights (K), means (K, D) and the
    covariances as the type reports them ((K, D, D), (D, D), (K, D) or (K,)), row-major.
    """
    n_features = center.shape[0]
    log_weights = _simplex(theta, n_components)[0]
    position = 0
    for k in range(n_components):
        out[position] = np.exp(log_weights[k])
        position += 1
    offset = n_components - 1
    for k in range(n_components):
        for a in range(n_features):
            out[position] = center[a] + scale[a] * theta[offset + k * n_features + a]
            position += 1
    offset += n_components * n_features
    if type_code <= 1:  # full or tied: covariance L L^T of each packed factor
        n_packed = n_features * (n_features + 1) // 2
        for f in range(n_components if type_code == 0 else 1):
            chol = _unpack_cholesky(theta, offset + f * n_packed, n_features)
            for a in range(n_features):
                for b in range(n_features):
                    value = 0.0
                    for c in range(min(a, b) + 1):
                        value += chol[a, c] * chol[b, c]
                    out[position] = value * scale[a] * scale[b]
                    position += 1
    elif type_code == 2:  # diag: log standard deviations (K, D)
        for j in range(n_components * n_features):
            out[position] = np.exp(2.0 * theta[offset + j]) * scale[j % n_features] ** 2
            position += 1
    else:  # spherical: one log standard deviation per component, one common scale
        for k in range(n_components):
            out[position] = np.exp(2.0 * theta[offset + k]) * scale[0] ** 2
            position += 1


_PACKED_HEADER = 5
"""Leading values of :meth:`PosteriorDensity.packed`: D, N, type code, K, row weights."""


def packed_layout(packed: np.ndarray) -> dict[str, slice]:
    """Where each part of :meth:`PosteriorDensity.packed` lies in it.

    Examples
    --------
    >>> density = PosteriorDensity(np.zeros((3, 1)), 2, "diag", Priors())
    >>> sorted(packed_layout(density.packed()).items())[0]
    ('alpha', slice(9, 11, None))
    """
    d, n, _, k, n_weights = (int(value) for value in packed[:_PACKED_HEADER])
    sizes = {"hyper": 4, "alpha": k, "center": d, "scale": d, "zt": d * n, "weights": n_weights}
    layout, position = {}, _PACKED_HEADER
    for name, size in sizes.items():
        layout[name] = slice(position, position + size)
        position += size
    return layout


@dataclass(frozen=True)
class PosteriorDensity:
    """The log posterior of one mixture model on standardised data ``z``.

    Parameters
    ----------
    z : ndarray (N, D)
        Standardised data: the model's data through its standardisation.
    n_components : int
    covariance_type : {"full", "tied", "diag", "spherical"}
    priors : Priors
    sample_weight : ndarray (N,) or None, default=None
        Each row's log-likelihood is multiplied by its weight (a weighted likelihood);
        None counts every row once.

    Examples
    --------
    >>> density = PosteriorDensity(np.zeros((3, 1)), 2, "diag", Priors())
    >>> density.n_dim
    5
    >>> value, grad = density(np.zeros(5))
    >>> grad.shape
    (5,)
    """

    z: np.ndarray
    n_components: int
    covariance_type: str
    priors: Priors
    sample_weight: np.ndarray | None = None
    standardisation: Standardisation | None = None
    feature_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        z = np.asarray(self.z, dtype=np.float64)
        object.__setattr__(self, "z", z)
        object.__setattr__(self, "_zt", np.ascontiguousarray(z.T))
        object.__setattr__(self, "_row_weights", _row_weights(self.sample_weight, len(z)))
        d = z.shape[1]
        standard = self.standardisation or Standardisation(np.zeros(d), np.ones(d))
        units = (np.asarray(standard.center, float), np.asarray(standard.scale, float))
        object.__setattr__(self, "_units", units)
        names = self.feature_names
        names = tuple(f"x{i}" for i in range(d)) if names is None else tuple(map(str, names))
        if len(names) != d:
            raise ValueError(f"feature_names has {len(names)} names; z has {d} features.")
        object.__setattr__(self, "feature_names", names)

    @property
    def n_features(self) -> int:
        return int(self.z.shape[1])

    @property
    def coords(self) -> dict[str, list]:
        """Coordinates of the reported parameters' dims, as the PyMC model has them."""
        names = list(self.feature_names)
        return {"component": list(range(self.n_components)), "feature": names, "feature_bis": names}

    @property
    def dims(self) -> dict[str, tuple[str, ...]]:
        """Dims of the reported ``weights``, ``means`` and ``covariances``."""
        return parameter_dims(self.covariance_type)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Shapes of the reported ``weights``, ``means`` and ``covariances``."""
        sizes = {"component": self.n_components, "feature": self.n_features}
        sizes["feature_bis"] = self.n_features
        return {name: tuple(sizes[dim] for dim in dims) for name, dims in self.dims.items()}

    @property
    def n_dim(self) -> int:
        """Length of the unconstrained vector."""
        k, d = self.n_components, self.n_features
        covariance = {
            "full": k * d * (d + 1) // 2,
            "tied": d * (d + 1) // 2,
            "diag": k * d,
            "spherical": k,
        }[self.covariance_type]
        return k - 1 + k * d + covariance

    def _hyper(self) -> tuple[np.ndarray, np.ndarray]:
        p = self.priors
        hyper = np.array([p.means_sigma, p.lkj_eta, p.sd_alpha, p.sd_beta], dtype=np.float64)
        return hyper, p.weights_concentration(self.n_components)

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Log posterior (up to a constant) and its gradient at ``theta``."""
        return self.logp_function()(np.asarray(theta, dtype=np.float64))

    def logp_function(self) -> Any:
        """A ``logp(theta) -> (value, grad)`` closure with the constants bound (for nutpie)."""
        hyper, alpha = self._hyper()
        zt, rw, code, k, n_dim = (
            self._zt,
            self._row_weights,
            _TYPE_CODES[self.covariance_type],
            self.n_components,
            self.n_dim,
        )

        def logp(theta: np.ndarray, **_: object) -> tuple[float, np.ndarray]:
            grad = np.empty(n_dim)
            return float(log_posterior(theta, zt, rw, code, k, hyper, alpha, grad)), grad

        return logp

    def evaluate(
        self,
        theta: np.ndarray,
        rows: np.ndarray,
        likelihood_scale: float = 1.0,
        row_weights: np.ndarray | None = None,
    ) -> tuple[float, np.ndarray]:
        """Log prior + ``likelihood_scale`` x log-likelihood of ``rows`` (standardised
        (B, D)), and its gradient: a minibatch estimate with ``likelihood_scale = N/B``.
        ``row_weights`` (B,) weight the rows' log-likelihoods (None: one each).

        Examples
        --------
        >>> density = PosteriorDensity(np.zeros((4, 1)), 2, "diag", Priors())
        >>> whole = density(np.zeros(5))[0]
        >>> bool(np.isclose(density.evaluate(np.zeros(5), np.zeros((2, 1)), 2.0)[0], whole))
        True
        """
        hyper, alpha = self._hyper()
        code, k = _TYPE_CODES[self.covariance_type], self.n_components
        theta = np.asarray(theta, dtype=np.float64)
        grad = np.empty(self.n_dim)
        zt = np.ascontiguousarray(np.asarray(rows, dtype=np.float64).T)
        rw = _row_weights(row_weights, zt.shape[1])
        value = log_posterior(theta, zt, rw, code, k, hyper, alpha, grad)
        if likelihood_scale == 1.0:
            return float(value), grad
        prior_grad = np.empty(self.n_dim)
        empty = np.empty((self.n_features, 0))
        prior = log_posterior(theta, empty, rw[:0], code, k, hyper, alpha, prior_grad)
        scaled_grad = prior_grad + likelihood_scale * (grad - prior_grad)
        return float(prior + likelihood_scale * (value - prior)), scaled_grad

    def row_log_likelihood(self, theta: np.ndarray) -> np.ndarray:
        """Each row's log-likelihood at ``theta``, unweighted (standardised units), (N,).

        Examples
        --------
        >>> density = PosteriorDensity(np.zeros((2, 1)), 1, "spherical", Priors())
        >>> density.row_log_likelihood(np.zeros(2)).round(4)
        array([-0.9189, -0.9189])
        """
        out = np.empty(self.z.shape[0])
        theta = np.asarray(theta, dtype=np.float64)
        row_log_likelihood(
            theta, self._zt, _TYPE_CODES[self.covariance_type], self.n_components, out
        )
        return out

    def to_unconstrained(self, start: dict[str, np.ndarray]) -> np.ndarray:
        """Flat unconstrained vector from untransformed start values (:func:`start_values`)."""
        k, d = self.n_components, self.n_features
        log_w = np.log(np.asarray(start["weights"], dtype=np.float64))
        parts = [log_w[:-1] - log_w.mean(), np.asarray(start["z_means"], float).ravel()]
        rows, cols = np.tril_indices(d)
        diagonal = rows == cols
        if self.covariance_type in ("full", "tied"):
            names = (
                [f"z_chol_{j}" for j in range(k)] if self.covariance_type == "full" else ["z_chol"]
            )
            for name in names:
                packed = np.asarray(start[name], dtype=np.float64).copy()
                packed[diagonal] = np.log(packed[diagonal])
                parts.append(packed)
        else:
            parts.append(np.log(np.asarray(start["z_sds"], dtype=np.float64)).ravel())
        return np.concatenate(parts)

    def parameters(self, theta: np.ndarray, *, standardised: bool = False) -> dict:
        """``weights``, ``means`` and ``covariances`` at ``theta``, in the data's units
        (through ``standardisation``) or, with ``standardised``, in the model's own.

        Examples
        --------
        >>> s = Standardisation(center=np.array([1.0]), scale=np.array([2.0]))
        >>> z = np.zeros((2, 1))
        >>> density = PosteriorDensity(z, 1, "spherical", Priors(), standardisation=s)
        >>> {name: value.tolist() for name, value in density.parameters(np.zeros(2)).items()}
        {'weights': [1.0], 'means': [[1.0]], 'covariances': [4.0]}
        """
        shapes = self.shapes
        out = np.empty(sum(int(np.prod(shape)) for shape in shapes.values()))
        center, scale = self._units
        if standardised:
            center, scale = np.zeros_like(center), np.ones_like(scale)
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        code = _TYPE_CODES[self.covariance_type]
        expand_parameters(theta, code, self.n_components, center, scale, out)
        values, position = {}, 0
        for name in PARAMETER_NAMES:
            size = int(np.prod(shapes[name]))
            values[name] = out[position : position + size].reshape(shapes[name])
            position += size
        return values

    def expand(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Weights, standardised means and covariances at ``theta`` (model's own units)."""
        values = self.parameters(theta, standardised=True)
        return {
            "weights": values["weights"],
            "z_means": values["means"],
            "z_covariances": values["covariances"],
        }

    def packed(self) -> np.ndarray:
        """Everything the log posterior and :meth:`parameters` read, in one float64
        array (:func:`packed_layout`), for compiled callers that take one pointer
        (nutpie's native model, :mod:`~bayesgmm.bayes.samplers.native`)."""
        hyper, alpha = self._hyper()
        d, n = self._zt.shape
        code = _TYPE_CODES[self.covariance_type]
        header = np.array([d, n, code, self.n_components, self._row_weights.size], dtype=float)
        parts = [header, hyper, alpha, *self._units]
        return np.concatenate(parts + [self._zt.ravel(), self._row_weights])
