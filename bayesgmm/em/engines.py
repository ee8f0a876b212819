"""Where the E-step and the sufficient statistics run: the engines, chosen once per fit.

``compiled``
    :class:`WholeRunEngine`: small in-memory data (one block of features). The
    features are made once per fit and each start's whole EM runs in compiled code
    (:data:`bayesgmm.em.loop.compiled_em_steps`), with no Python work per iteration.
``blocks``
    :class:`BlockEngine`: larger in-memory data, in row blocks on the fit's threads
    (BLAS at one thread inside each), and dask arrays, chunk by chunk as dask tasks.
``jax``
    :class:`~bayesgmm.em.jax_engine.JaxEngine`: the E-step on a JAX device (a GPU), the
    M-step on the host. Chosen by name only.

:func:`select_engine` decides; ``GaussianMixture(engine=...)`` overrides it (tests and
benchmarks compare engines that way). Every engine gives the same answer up to rounding:
the same features, coefficients, kernels, M-step and stopping rule.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..covariance import CovarianceModel, Layout
from ..covariance.layout_kernels import EMPTY_LOG_WEIGHT
from ..data import is_dask_array
from ..family import GAUSSIAN, Family
from ..kernels.compile import kernel
from ..kernels.features import feature_sums, logits, scale_weighted_sums
from ..kernels.plugins import CompiledPlugin
from ..kernels.rows import responsibilities_of
from .blocks import Workers, place_data, row_blocks, sum_row_blocks
from .jax_engine import JaxEngine
from .loop import compiled_em_steps, em_steps
from .passes import BlockPass, n_feature_columns, uses_stacked_factors
from .statistics import second_moment

__all__ = ["ENGINES", "select_engine", "WholeRunEngine", "BlockEngine"]

ENGINES = ("auto", "compiled", "blocks", "jax")
#: Multiply-adds of the compiled loop per call before it returns to Python (where an
#: interrupt is seen): about 20 ms of work.
WORK_PER_CALL = 50_000_000


@kernel
def whole_run_e_step(layout, family, data, params, stats):
    """The E-step over the precomputed features, fused with the M-step's sums.

    ``data`` is ``(Z, row_weights, L, theta, coefficients, U, offsets, log_norm, row_q,
    noise)``: the (P, N) features, the rows' weights, the (K, N) log-probabilities (then
    responsibilities) in Z's precision ((K + 1, N) with a noise component, its row last),
    the (K, P) coefficients in float64 and in Z's precision, a family's work arrays (the
    (K, N) scale weights, the (K,) offsets and log-normalisers, the (N,) row quadratic
    forms) and the noise component's log-density ``[log Vinv]`` (empty: no noise). Fills
    ``T`` and the counts (and, for the t family or with noise, the degrees-of-freedom sums
    and the scale-weighted second moment of the shared layout); returns the mean
    log-likelihood.
    """
    Z, row_weights, L, theta, coefficients, U, offsets, log_norm, row_q, noise = data
    weights, means, covariances, prec, dof = params
    T, data_second, reg, nk, scatter, counts, dof_stats = stats[:7]
    n_components = theta.shape[0]
    layout.coefficients(weights, means, prec, theta)
    for k in range(n_components):
        for p in range(theta.shape[1]):
            coefficients[k, p] = theta[k, p]
    logits(coefficients, Z, L)
    scaled = family.scaled() or noise.shape[0] > 0
    if scaled:
        # whole log-densities: the family's, beside a noise row of log(pi_0 Vinv)
        layout.offsets(weights[:n_components], means, prec, offsets, log_norm)
        layout.row_quadratic(Z, prec, row_q)
        family.transform(L[:n_components], offsets, log_norm, row_q, dof, means.shape[1], U)
        if noise.shape[0] > 0:
            noise_row(L, weights, noise[0])
    log_likelihood = responsibilities_of(L, row_weights)
    if scaled:
        # the shared layout's second moment (empty for the other layouts)
        scale_weighted_sums(
            L[:n_components], U, Z, T, counts, dof_stats, data_second, data_second.size > 0
        )
        if noise.shape[0] > 0:
            counts[n_components] = noise_count(L)
    else:
        feature_sums(L, Z, T)
        if Z.itemsize == 4:
            # the float32 coefficients' rounding, to first order, through the feature sums
            for k in range(n_components):
                for p in range(theta.shape[1]):
                    log_likelihood += (theta[k, p] - np.float64(coefficients[k, p])) * T[k, p]
    total_weight = 0.0
    for k in range(counts.shape[0]):
        if not scaled:
            counts[k] = T[k, theta.shape[1] - 1]
        total_weight += counts[k]
    if not scaled:
        log_likelihood += layout.likelihood_terms(prec, data_second, total_weight)
    return log_likelihood / total_weight


@kernel
def noise_row(L, weights, log_vinv):
    """The noise component's row of ``L`` (its last): ``log pi_0 + log Vinv`` everywhere
    (``pi_0``: the weights' last entry)."""
    noise = weights.shape[0] - 1
    value = math.log(weights[noise]) + log_vinv if weights[noise] > 0 else EMPTY_LOG_WEIGHT
    row = L[L.shape[0] - 1]
    for b in range(row.shape[0]):
        row[b] = value


@kernel
def noise_count(R):
    """The sum of the noise component's responsibilities (R's last row), in float64."""
    row = R[R.shape[0] - 1]
    total = 0.0
    for b in range(row.shape[0]):
        total += np.float64(row[b])
    return total


class _Engine:
    """What both engines share: the data, the fit's constants, the statistics buffers."""

    name: str
    #: ``(prior arrays,)`` of a conjugate prior, set by
    #: :meth:`bayesgmm.em.prior.PriorProblem.engine_for` and appended to every start's
    #: statistics; empty: none.
    prior_terms: tuple = ()

    def __init__(
        self,
        X: Any,
        weights: Any,
        shift: np.ndarray,
        reg: np.ndarray,
        model: CovarianceModel,
        n_components: int,
        dtype: Any,
        workers: Workers,
        family: Family = GAUSSIAN,
        estimate_dof: bool = True,
        log_vinv: float | None = None,
    ) -> None:
        self.family, self.estimate_dof = family, bool(estimate_dof)
        #: The noise component's log-density (None: no noise component).
        self.log_vinv = None if log_vinv is None else float(log_vinv)
        #: Whether the E-step gives whole log-densities and scale-weighted sums (a t
        #: family, or any family beside a noise component).
        self.scaled = family.scales or self.log_vinv is not None
        self.X, self.weights = place_data(X, weights)
        self.shift = np.asarray(shift, dtype=np.float64)
        self.reg = np.asarray(reg, dtype=np.float64)
        self.model, self.n_components = model, n_components
        self.dtype, self.workers = np.dtype(dtype), workers
        n_features = X.shape[1]
        self.n_columns = n_feature_columns(model.layout, n_features)
        self.data_second = (
            second_moment(self.X, self.weights, self.shift, workers)
            if model.layout.shared
            else np.zeros((0, 0))  # the other layouts read no second moment
        )
        self.iterations_per_call = 1 << 30

    def new_statistics(self, model: CovarianceModel, n_components: int) -> tuple:
        """Buffers ``(T, data_second, reg, nk, scatter, counts, dof_stats, estimate_dof)``
        for one start (see :mod:`bayesgmm.em.loop`), then the prior's arrays if there is
        one; with a noise component the counts have one more entry, the noise's, last."""
        shape = model.layout.storage_shape(n_components, self.X.shape[1])
        second = self.data_second.copy() if self.scaled else self.data_second
        return (
            np.zeros((n_components, self.n_columns)),
            second,
            self.reg,
            np.empty(n_components),
            np.empty(shape),
            np.zeros(n_components + (self.log_vinv is not None)),
            np.zeros(n_components),
            np.array([self.estimate_dof]),
        ) + tuple(self.prior_terms)


class WholeRunEngine(_Engine, CompiledPlugin):
    """Small in-memory data: features made once, each start's EM one compiled call."""

    name = "compiled"
    plugin_key = "whole-run"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        X = np.ascontiguousarray(self.X)
        n_rows, k = X.shape[0], self.n_components
        Z = np.empty((self.n_columns, n_rows), dtype=self.dtype)
        self.model.layout.fill_features(X, self.shift, Z)
        noise = np.array([] if self.log_vinv is None else [self.log_vinv])
        self.data = (
            Z,
            np.ascontiguousarray(self.weights, dtype=np.float64),
            np.empty((k + len(noise), n_rows), dtype=self.dtype),
            np.empty((k, self.n_columns)),
            np.empty((k, self.n_columns), dtype=self.dtype),
            np.empty((k, n_rows) if self.scaled else (k, 0), dtype=self.dtype),
            np.empty(k),
            np.empty(k),
            np.zeros(n_rows if self.scaled else 0),
            noise,
        )
        self.iterations_per_call = max(1, WORK_PER_CALL // (2 * n_rows * k * self.n_columns))

    def kernels(self) -> dict[str, Any]:
        return {"e_step": whole_run_e_step}

    def e_step(self, layout: Layout, family: Family, data: tuple, params: tuple, stats: tuple):
        """One E-step (compiled), from Python."""
        return whole_run_e_step(layout, family, data, params, stats)

    def iterate(self, model, params, stats, history, first, last, tol):
        """EM iterations in one compiled call (:data:`~bayesgmm.em.loop.compiled_em_steps`)."""
        return compiled_em_steps(
            self, model, model.layout, self.family, self.data, params, stats, history, first,
            last, tol,
        )  # fmt: skip


class BlockEngine(_Engine):
    """In-memory data in row blocks on the fit's threads; dask arrays by chunks."""

    name = "blocks"
    data = None

    def e_step(self, layout: Layout, family: Family, data: Any, params: tuple, stats: tuple):
        """One pass over the rows: the E-step fused with the M-step's sums."""
        block_pass = BlockPass(
            layout, params, self.shift, self.dtype, family=family, log_vinv=self.log_vinv
        )
        columns = self.n_columns + self.n_components
        total = sum_row_blocks(
            block_pass.packed, self.X, self.weights, self.workers, columns, self.dtype
        )
        log_likelihood = block_pass.unpack(total, stats)
        total_weight = float(stats[5].sum())
        if not block_pass.scaled:
            log_likelihood += layout.likelihood_terms(params[3], stats[1], total_weight)
        return log_likelihood / total_weight

    def iterate(self, model, params, stats, history, first, last, tol):
        """EM iterations in Python (:func:`~bayesgmm.em.loop.em_steps`)."""
        return em_steps(
            self, model, model.layout, self.family, None, params, stats, history, first,
            last, tol,
        )  # fmt: skip


def fits_whole_run(X: Any, model: CovarianceModel, n_components: int, dtype: Any) -> str | None:
    """Why the compiled whole-run engine cannot take these data, or None if it can."""
    if is_dask_array(X):
        return "the data are a dask array"
    n_features = X.shape[1]
    if uses_stacked_factors(model.layout, n_features):
        return f"full covariances with {n_features} features use the stacked-factor kernel"
    columns = n_feature_columns(model.layout, n_features) + n_components
    if len(row_blocks(X.shape[0], columns, dtype)) > 1:
        return f"{X.shape[0]} rows make more than one block of features"
    return None


def select_engine(
    X: Any,
    weights: Any,
    shift: np.ndarray,
    reg: np.ndarray,
    model: CovarianceModel,
    n_components: int,
    dtype: Any,
    workers: Workers,
    choice: str = "auto",
    family: Family = GAUSSIAN,
    estimate_dof: bool = True,
    log_vinv: float | None = None,
) -> WholeRunEngine | BlockEngine | JaxEngine:
    """The engine for these data: compiled whole runs for small in-memory data, else blocks.

    ``choice`` ("auto", "compiled", "blocks" or "jax") overrides the decision; "compiled"
    on data it cannot take raises ``ValueError`` saying why. ``family`` and
    ``estimate_dof``: the component family, and whether a t family's degrees of freedom
    are estimated (else kept at their start). ``log_vinv``: the log-density of a uniform
    noise component (:mod:`bayesgmm.noise`; None: none), whose weight is the parameters'
    last.
    """
    if choice == "jax":
        if is_dask_array(X):
            raise ValueError("engine='jax' takes in-memory data (numpy or JAX arrays), not dask.")
        if family.scales or log_vinv is not None:
            what = f"family={family.name!r}" if family.scales else "a noise component"
            raise ValueError(
                f"engine='jax' fits Gaussian components only, without noise, not {what}. "
                "Use engine='auto' (or 'compiled', 'blocks')."
            )
        return JaxEngine(X, weights, shift, reg, model, n_components, dtype, workers)
    why_not = fits_whole_run(X, model, n_components, dtype)
    if choice == "compiled" and why_not is not None:
        raise ValueError(
            f"engine='compiled' runs small in-memory data only, but {why_not}. Use "
            "engine='auto' (or 'blocks')."
        )
    engine = BlockEngine if choice == "blocks" or why_not is not None else WholeRunEngine
    return engine(
        X, weights, shift, reg, model, n_components, dtype, workers, family, estimate_dof,
        log_vinv,
    )  # fmt: skip
