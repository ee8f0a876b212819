r"""The compiled side of a conjugate prior: posterior-adjusted statistics and the log-prior.

A conjugate prior (mclust's ``priorControl()``, :mod:`bayesgmm.em.prior`) reaches the
M-step as three arrays, ``prior = (settings, mean, scale)``: ``settings`` is
``[kappa, extra_count, scale_weight, kind]`` (empty: no prior), ``mean`` the prior mean
(shifted coordinates, (D,)) and ``scale`` the prior scale as a (D, D) matrix
:math:`\Lambda` (``s I`` for diagonal models, ``(s / D) I`` for spherical ones, so that
its trace is mclust's scalar ``s``). ``kind`` is the layout: 0 full, 1 shared-full, 2
diagonal, 3 spherical.

Given the layout's statistics (counts :math:`n_k`, means :math:`\bar x_k`, scatter
:math:`W_k`), :func:`apply_prior` turns them into the posterior ones:

.. math::

    \mu_k = \frac{n_k \bar x_k + \kappa \mu_P}{n_k + \kappa}, \quad
    \tilde W_k = W_k + \frac{\kappa n_k}{n_k + \kappa} d_k d_k^T + w \Lambda, \quad
    \tilde n_k = n_k + a

with :math:`d_k = \bar x_k - \mu_P`, ``w`` the scale weight and ``a`` the extra count, in
the layout's form (diagonals, traces, or the pooled sum). Every model's own estimate
then maximises :math:`-\tfrac12 \sum_k [\tilde n_k \log|\Sigma_k| + \mathrm{tr}(\tilde
W_k \Sigma_k^{-1})]`, which is the expected complete-data log-likelihood plus
:func:`log_prior`:

.. math::

    \log p(\theta) = -\tfrac12 \sum_k \left[ a \log|\Sigma_k| + \kappa (\mu_k - \mu_P)^T
    \Sigma_k^{-1} (\mu_k - \mu_P) + w\, \mathrm{tr}(\Lambda \Sigma_k^{-1}) \right]

(up to a constant), maximised over the means first. So EM with these statistics is MAP
EM, monotone in log-likelihood + log-prior, for every model whose estimate is exact.
"""

from __future__ import annotations

import math

import numpy as np
from numba.extending import overload

from ..kernels.compile import kernel

__all__ = [
    "apply_prior",
    "log_prior",
    "prior_penalty",
    "prior_of",
    "FULL",
    "SHARED",
    "DIAGONAL",
    "SPHERICAL",
]

#: ``kind`` codes of ``settings[3]``: the layout of the statistics.
FULL, SHARED, DIAGONAL, SPHERICAL = 0, 1, 2, 3


def prior_of(stats):  # pragma: no cover - replaced by its overload in compiled code
    """The prior arrays of the loop's statistics: ``stats[8]``, or empty ones (no prior)."""
    if len(stats) > 8:
        return stats[8]
    return np.empty(0), np.empty(0), np.empty((0, 0))


@overload(prior_of, jit_options={"cache": True})
def _prior_of(stats):
    if len(stats) > 8:
        return lambda stats: stats[8]
    return lambda stats: (np.empty(0), np.empty(0), np.empty((0, 0)))


@kernel
def apply_prior(prior, nk, means, scatter):
    """Posterior means, scatter and counts in place (see the module); no-op without prior.

    ``nk`` are the floored counts the layout's ``statistics`` left, ``scatter`` its
    regularised scatter in the layout's storage.
    """
    settings, prior_mean, scale = prior
    if settings.shape[0] == 0:
        return
    kappa, extra, weight, kind = settings[0], settings[1], settings[2], int(settings[3])
    n_components, n_features = means.shape
    flat = scatter.reshape(1 if kind == SHARED else n_components, -1)
    d = np.empty(n_features)
    for k in range(n_components):
        n = nk[k]
        factor = kappa * n / (n + kappa)
        for j in range(n_features):
            d[j] = means[k, j] - prior_mean[j]
            means[k, j] = (n * means[k, j] + kappa * prior_mean[j]) / (n + kappa)
        nk[k] = n + extra
        row = 0 if kind == SHARED else k
        if kind == FULL or kind == SHARED:
            for i in range(n_features):
                for j in range(n_features):
                    flat[row, i * n_features + j] += factor * d[i] * d[j] + weight * scale[i, j]
        elif kind == DIAGONAL:
            for j in range(n_features):
                flat[row, j] += factor * d[j] * d[j] + weight * scale[j, j]
        else:
            total = 0.0
            for j in range(n_features):
                total += factor * d[j] * d[j] + weight * scale[j, j]
            flat[row, 0] += total


@kernel
def log_prior(prior, means, prec):
    """The log-prior of the parameters, up to a constant (0 without prior); ``prec`` are
    the layout's precision factors (upper ``U`` with ``U U^T = Sigma^-1``, or inverse
    standard deviations)."""
    settings, prior_mean, scale = prior
    if settings.shape[0] == 0:
        return 0.0
    kappa, extra, weight, kind = settings[0], settings[1], settings[2], int(settings[3])
    n_components, n_features = means.shape
    flat = prec.reshape(1 if kind == SHARED else n_components, -1)
    precision = np.empty((n_features, n_features))
    total = 0.0
    for k in range(n_components):
        row = 0 if kind == SHARED else k
        log_det_precision = 0.0  # log |Sigma_k^-1|
        for i in range(n_features):
            for j in range(n_features):
                precision[i, j] = 0.0
        if kind == FULL or kind == SHARED:
            for i in range(n_features):
                log_det_precision += 2.0 * math.log(flat[row, i * n_features + i])
                for j in range(n_features):
                    value = 0.0
                    for m in range(max(i, j), n_features):
                        value += flat[row, i * n_features + m] * flat[row, j * n_features + m]
                    precision[i, j] = value
        else:
            for j in range(n_features):
                inverse_sd = flat[row, j if kind == DIAGONAL else 0]
                precision[j, j] = inverse_sd * inverse_sd
                log_det_precision += 2.0 * math.log(inverse_sd)
        quadratic, trace = 0.0, 0.0
        for i in range(n_features):
            for j in range(n_features):
                delta_i = means[k, i] - prior_mean[i]
                quadratic += delta_i * precision[i, j] * (means[k, j] - prior_mean[j])
                trace += scale[i, j] * precision[j, i]
        total += 0.5 * (extra * log_det_precision - kappa * quadratic - weight * trace)
    return total


@kernel
def prior_penalty(params, stats):
    """The log-prior of the loop's ``params`` per observation (0 without a prior), with
    the total weight of the last E-step's counts: what MAP EM adds to the mean
    log-likelihood. (Here, beside :func:`log_prior`, so that numba's cache of it follows
    this file.)"""
    counts = stats[5]
    total = 0.0
    for k in range(counts.shape[0]):
        total += counts[k]
    return log_prior(prior_of(stats), params[1], params[3]) / total
