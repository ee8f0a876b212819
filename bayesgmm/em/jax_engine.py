"""The JAX engine: the E-step and its sums on an accelerator (a GPU), the M-step on the host.

The data are moved to the device once per fit, shifted and cut into blocks of rows.
Each E-step is one compiled (``jax.jit``) pass that maps over the blocks
(``jax.lax.map``): a block's log-densities, its log-sum-exp and the responsibility-
weighted sums the M-step needs, so no more than one block of the N x K
responsibilities exists at a time (as Flash-GMM does). The per-block sums come back to
the host, where they are added in float64 and the covariance model's compiled M-step
(the same one every engine uses) runs on K x D x D numbers.

The log-densities are written once per kernel layout, in the matrix products an
accelerator is fast at: full covariances through the K stacked precision factors (one
``(B, D) x (D, K D)`` product), a shared covariance through its one factor, diagonal
and spherical ones through the squared rows. float64 fits run with JAX's 64-bit mode
on for the engine's calls only (``jax.enable_x64``), float32 fits in float32.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ..covariance import CovarianceModel
from ..family import GAUSSIAN
from ..gaussian import LOG_2PI
from .loop import em_steps

__all__ = ["JaxEngine", "BLOCK_ELEMENTS", "FLOAT32_BLOCK_ROWS"]

#: Elements of a block's largest temporary (B x K x D): the rows per block follow.
BLOCK_ELEMENTS = 1 << 24
#: Most rows of a float32 block: its sums are float32 (a block's sum of B terms errs by up
#: to B float32 epsilons), and the blocks' sums are added on the host in float64.
FLOAT32_BLOCK_ROWS = 4096


def _jax() -> Any:
    try:
        import jax
    except ImportError:  # pragma: no cover - the error users see without the extra
        raise ImportError(
            "engine='jax' needs JAX, which is not installed. Install it with "
            "`pip install 'bayesgmm[nuts]'` (or `pip install jax`; for GPUs see "
            "https://docs.jax.dev/en/latest/installation.html)."
        ) from None
    return jax


def _block_log_densities(jnp: Any, layout: Any, X: Any, params: dict) -> Any:
    """(B, K) weighted log-densities of a block of shifted rows, per kernel layout."""
    if layout.shared:
        Y = X @ params["prec"]  # (B, D): the rows whitened by the shared factor
        projected = params["means"] @ params["prec"]  # (K, D)
        maha = (Y * Y).sum(1)[:, None] - 2 * Y @ projected.T + (projected**2).sum(1)[None, :]
        log_det = jnp.log(jnp.diagonal(params["prec"])).sum()
    elif not layout.diagonal:
        n_components, n_features = params["means"].shape
        factors = jnp.swapaxes(params["prec"], 0, 1).reshape(n_features, -1)  # (D, K D)
        offsets = jnp.einsum("kd,kde->ke", params["means"], params["prec"]).reshape(-1)
        Y = (X @ factors - offsets).reshape(X.shape[0], n_components, n_features)
        maha = (Y * Y).sum(-1)
        log_det = jnp.log(jnp.diagonal(params["prec"], axis1=-2, axis2=-1)).sum(-1)
    else:
        prec = params["prec"]
        if not layout.per_feature:
            prec = jnp.broadcast_to(prec[:, None], params["means"].shape)
        precision = prec * prec  # (K, D)
        means = params["means"]
        maha = (
            (X * X) @ precision.T
            - 2 * X @ (precision * means).T
            + (precision * means * means).sum(1)[None, :]
        )
        log_det = jnp.log(prec).sum(-1)
    n_features = params["means"].shape[1]
    return params["log_weights"] + log_det - 0.5 * (n_features * LOG_2PI + jnp.maximum(maha, 0))


def _block_sums(jnp: Any, layout: Any, X: Any, R: Any) -> Any:
    """The M-step's feature sums ``T`` (K, P) of a block: ``[q-sums, sum r x, sum r]``."""
    counts = R.sum(0)[:, None]
    linear = R.T @ X  # (K, D)
    if layout.shared:
        return jnp.concatenate([linear, counts], axis=1)
    if not layout.diagonal:
        n_components, n_features = R.shape[1], X.shape[1]
        weighted = (R[:, :, None] * X[:, None, :]).reshape(X.shape[0], -1)  # (B, K D)
        second = (weighted.T @ X).reshape(n_components, n_features, n_features)
        rows, cols = np.triu_indices(n_features)
        return jnp.concatenate([second[:, rows, cols], linear, counts], axis=1)
    squares = X * X
    quadratic = R.T @ squares if layout.per_feature else R.T @ squares.sum(1, keepdims=True)
    return jnp.concatenate([quadratic, linear, counts], axis=1)


@functools.lru_cache(maxsize=16)
def _compiled_pass(layout: Any) -> Any:
    """The jitted pass of one layout: blocks -> per-block (log-likelihood, T)."""
    jax = _jax()
    jnp = jax.numpy

    def one_block(block: tuple, params: dict) -> tuple:
        X, row_weights = block
        L = _block_log_densities(jnp, layout, X, params)
        top = jnp.max(L, axis=1, keepdims=True)
        top = jnp.where(jnp.isfinite(top), top, 0.0)
        terms = jnp.exp(L - top)
        norm = terms.sum(1, keepdims=True)
        log_norm = jnp.log(norm) + top
        R = terms / norm * row_weights[:, None]
        log_likelihood = jnp.sum(jnp.where(row_weights > 0, row_weights * log_norm[:, 0], 0.0))
        return log_likelihood, _block_sums(jnp, layout, X, R)

    def run(blocks: Any, row_weights: Any, params: dict) -> tuple:
        return jax.lax.map(lambda block: one_block(block, params), (blocks, row_weights))

    return jax.jit(run)


class JaxEngine:
    """The E-step on a JAX device; the same loop, M-step and stopping rule as every engine.

    Parameters follow the other engines (:mod:`bayesgmm.em.engines`); ``X`` may be a numpy
    array or a JAX array (which then stays on its device).
    """

    name = "jax"
    data = None
    iterations_per_call = 1 << 30
    family = GAUSSIAN

    def __init__(
        self,
        X: Any,
        weights: Any,
        shift: np.ndarray,
        reg: np.ndarray,
        model: CovarianceModel,
        n_components: int,
        dtype: Any,
        workers: Any = None,
    ) -> None:
        jax = _jax()
        self.model, self.n_components = model, n_components
        self.dtype = np.dtype(dtype)
        self.reg = np.asarray(reg, dtype=np.float64)
        n_rows, n_features = X.shape
        self.n_features = n_features
        self.n_columns = model.layout.n_quadratic(n_features) + n_features + 1
        rows = max(1, min(n_rows, BLOCK_ELEMENTS // max(1, n_components * n_features)))
        if self.dtype == np.float32:
            rows = min(rows, FLOAT32_BLOCK_ROWS)
        n_blocks = math.ceil(n_rows / rows)
        with jax.enable_x64(self.dtype == np.float64):
            jnp = jax.numpy
            shifted = jnp.asarray(X, dtype=self.dtype) - jnp.asarray(shift, dtype=self.dtype)
            padded = jnp.zeros((n_blocks * rows, n_features), self.dtype).at[:n_rows].set(shifted)
            weight_rows = (
                jnp.zeros(n_blocks * rows, self.dtype)
                .at[:n_rows]
                .set(jnp.asarray(weights, dtype=self.dtype))
            )
            self.blocks = padded.reshape(n_blocks, rows, n_features)
            self.row_weights = weight_rows.reshape(n_blocks, rows)
            # the shared layout's M-step reads the data's second moment (float64, host)
            second = np.zeros((0, 0))  # read by the shared layout only
            if model.layout.shared:
                weighted = self.blocks * self.row_weights[..., None]
                second = np.asarray(jnp.einsum("brd,bre->de", weighted, self.blocks), np.float64)
        self.data_second = second

    def new_statistics(self, model: CovarianceModel, n_components: int) -> tuple:
        """Buffers ``(T, data_second, reg, nk, scatter, counts, dof_stats, estimate_dof)``
        for one start (see :mod:`bayesgmm.em.loop`)."""
        shape = model.layout.storage_shape(n_components, self.n_features)
        return (
            np.zeros((n_components, self.n_columns)),
            self.data_second,
            self.reg,
            np.empty(n_components),
            np.empty(shape),
            np.zeros(n_components),
            np.zeros(n_components),
            np.array([False]),
        )

    def e_step(self, layout: Any, family: Any, data: Any, params: tuple, stats: tuple) -> float:
        """One pass on the device; the sums added on the host in float64 (into ``T``)."""
        jax = _jax()
        weights, means, _, prec, _ = params
        with jax.enable_x64(self.dtype == np.float64), np.errstate(divide="ignore"):
            jnp = jax.numpy
            device_params = {
                "log_weights": jnp.asarray(np.log(weights), self.dtype),
                "means": jnp.asarray(means, self.dtype),
                "prec": jnp.asarray(prec, self.dtype),
            }
            log_likelihoods, sums = _compiled_pass(layout)(
                self.blocks, self.row_weights, device_params
            )
            log_likelihoods = np.asarray(log_likelihoods, dtype=np.float64)
            sums = np.asarray(sums, dtype=np.float64)
        T = stats[0]
        T[:] = sums.sum(axis=0)
        stats[5][:] = T[:, -1]  # the counts
        return float(log_likelihoods.sum()) / float(T[:, -1].sum())

    def iterate(self, model, params, stats, history, first, last, tol):
        """EM iterations in Python (:func:`~bayesgmm.em.loop.em_steps`), E-steps on the device."""
        return em_steps(
            self, model, model.layout, self.family, None, params, stats, history, first,
            last, tol,
        )  # fmt: skip
