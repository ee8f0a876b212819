"""One fused E-step and M-step statistics pass over a block of rows.

With the features ``z(x) = [q(x), x, 1]`` of the model's layout
(:mod:`bayesgmm.kernels.features`) a block of B rows costs two matrix products of the
``(P, B)`` feature block with ``(K, P)``: ``L = theta Z`` (the weighted log-densities)
and, after an in-place log-sum-exp to responsibilities, ``T = R Z^T`` (the M-step's
sums). The products run in BLAS, one thread per block (the fit's threads run blocks
in parallel). Full covariances with many features use the K stacked precision factors
instead (:mod:`bayesgmm.kernels.stacked`): the ``D (D + 1) / 2`` quadratic features
would make the feature block larger than the data.

A :class:`BlockPass` holds fixed parameters and runs on any rows: the blocks of an
in-memory array and the chunks of a dask array (it pickles, for dask.distributed).
float32 blocks: the coefficients' rounding would bias every row of a component alike
(1e-7 to 1e-6 of the log-likelihood); it is added back to first order through the
feature sums, ``sum_n sum_k r_nk dtheta_k . z_n = sum_k dtheta_k . T_k`` (the second
order is ~1e-14).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..covariance import CovarianceModel, Layout
from ..family import GAUSSIAN, Family
from ..gaussian import LOG_2PI
from ..kernels.features import scale_weighted_sums
from ..kernels.rows import responsibilities_of
from ..kernels.stacked import stacked_log_densities, weight_rows
from .blocks import row_blocks

__all__ = [
    "BlockPass",
    "STACKED_FEATURES",
    "uses_stacked_factors",
    "n_feature_columns",
    "responsibility_sums",
]

#: Above this many features, full covariances use the stacked-factor kernel.
STACKED_FEATURES = 24
#: Stand-in for log(0) of an empty component in the stacked constants.
_EMPTY_LOG_WEIGHT = -1e300


def uses_stacked_factors(layout: Layout, n_features: int) -> bool:
    """Whether the full layout's stacked path runs (many features)."""
    return not layout.shared and not layout.diagonal and n_features > STACKED_FEATURES


def n_feature_columns(layout: Layout, n_features: int) -> int:
    """P: the feature columns ``[q(x), x, 1]`` of a kernel layout."""
    return layout.n_quadratic(n_features) + n_features + 1


class BlockPass:
    """E-step of fixed parameters fused with the M-step's feature sums, for any rows.

    Parameters
    ----------
    layout : Layout
        The covariance model's kernel layout.
    params : tuple of ndarray
        ``(weights, means, covariances, prec, dof)`` in the layout's storage, shifted.
    shift : ndarray of shape (D,)
        Point subtracted from every row.
    dtype : numpy dtype
        Working precision of the blocks; sums are float64.
    stacked : bool or None, default=None
        Whether the full layout runs on stacked factors; None decides by the number
        of features (:func:`uses_stacked_factors`). Tests compare both paths.
    family : Family, default=GAUSSIAN
        The component family (a t family also gives scale-weighted sums).
    log_vinv : float or None, default=None
        The log-density of a uniform noise component, whose weight is the last of
        ``params``' weights (None: no noise component). With noise, every family's
        E-step gives whole log-densities and scale-weighted sums (unit scales for the
        Gaussian), the noise's responsibilities its own count, last.

    :meth:`packed` on rows ``X`` (B, D) in the data's own coordinates and their weights
    (B,) returns the block's sums as one array (for reductions), :meth:`unpack` puts a
    sum of those into the statistics: the weighted sum of the rows' log-likelihoods
    (without the layout's ``likelihood_terms`` for the Gaussian family), the feature sums
    ``T`` (K, P), the counts and, for the t family, the degrees-of-freedom sums and the
    shared layout's scale-weighted second moment.
    """

    def __init__(
        self,
        layout: Layout,
        params: tuple,
        shift: np.ndarray,
        dtype: Any,
        stacked: bool | None = None,
        family: Family = GAUSSIAN,
        log_vinv: float | None = None,
    ) -> None:
        weights, means, _, prec, dof = params
        self.layout, self.family = layout, family
        self.shift = np.asarray(shift, dtype=np.float64)
        self.dtype = np.dtype(dtype)
        self.n_components, self.n_features = means.shape
        self.n_columns = n_feature_columns(layout, self.n_features)
        self.stacked = uses_stacked_factors(layout, self.n_features) if stacked is None else stacked
        self.prec, self.dof = np.asarray(prec), np.asarray(dof, dtype=np.float64)
        self.noise = log_vinv is not None
        self.scaled = family.scales or self.noise
        self.n_counts = self.n_components + self.noise
        if self.noise:  # the noise row of the logits: log pi_0 + log Vinv
            noise_weight = float(weights[self.n_components])
            self.noise_log = (
                np.log(noise_weight) + log_vinv if noise_weight > 0 else _EMPTY_LOG_WEIGHT
            )
        weights = np.asarray(weights)[: self.n_components]
        if self.scaled:
            self.offsets, self.log_norm = np.empty(self.n_components), np.empty(self.n_components)
            layout.offsets(weights, means, prec, self.offsets, self.log_norm)
        if self.stacked:
            self._prepare_stacked(weights, means, prec)
            return
        theta = np.empty((self.n_components, self.n_columns))
        layout.coefficients(weights, means, prec, theta)
        self.theta = np.ascontiguousarray(theta, dtype=self.dtype)
        self.correction = theta - self.theta if self.dtype != np.float64 else None

    def _prepare_stacked(self, weights, means, prec) -> None:
        n_components, n_features = means.shape
        self.factors = np.ascontiguousarray(
            np.swapaxes(prec, 0, 1).reshape(n_features, n_components * n_features),
            dtype=self.dtype,
        )
        self.stacked_offsets = np.einsum("kd,kde->ke", means, prec).reshape(-1).astype(self.dtype)
        with np.errstate(divide="ignore"):
            constant = (
                np.log(np.diagonal(prec, axis1=-2, axis2=-1)).sum(axis=-1)
                - 0.5 * n_features * LOG_2PI
                + np.log(weights)
            )
        self.constant = np.maximum(constant, _EMPTY_LOG_WEIGHT)

    @property
    def _width(self) -> int:
        """Length of :meth:`packed`: log-likelihood, T, counts, dof sums, second moment."""
        k, d = self.n_components, self.n_features
        return 1 + k * self.n_columns + self.n_counts + k + d * d

    def packed(self, X: Any, weights: Any) -> np.ndarray:
        """The sums of rows ``X`` (any number, cut into cache-sized blocks) as one array.

        The blocks of one call share their working arrays (:class:`Workspace`).
        """
        X = np.asarray(X)
        weights = np.asarray(weights, dtype=np.float64)
        total = np.zeros(self._width)
        work = Workspace()
        block = self._stacked_block if self.stacked else self._block
        for rows in row_blocks(X.shape[0], self.n_columns + self.n_components, self.dtype):
            if rows.stop <= rows.start:  # an empty dask chunk
                continue
            total += block(X[rows], weights[rows], work)
        return total

    def __call__(self, X: Any, weights: Any) -> tuple[float, np.ndarray]:
        """``(log_likelihood, T)`` of rows X (the statistics' other sums aside)."""
        total = self.packed(X, weights)
        k = self.n_components
        return float(total[0]), total[1 : 1 + k * self.n_columns].reshape(k, -1)

    def unpack(self, total: np.ndarray, stats: tuple) -> float:
        """Put a sum of :meth:`packed` into the statistics; return its log-likelihood."""
        T, data_second, counts, dof_stats = stats[0], stats[1], stats[5], stats[6]
        k, d, p = self.n_components, self.n_features, self.n_columns
        c = 1 + k * p + self.n_counts  # where the degrees-of-freedom sums start
        T[:] = total[1 : 1 + k * p].reshape(k, p)
        counts[:] = total[1 + k * p : c]
        if self.scaled:
            dof_stats[:] = total[c : c + k]
            if self.layout.shared:
                data_second[:] = total[c + k :].reshape(d, d)
        return float(total[0])

    def _pack(self, log_likelihood: float, T: np.ndarray, extra: Any) -> np.ndarray:
        out = np.zeros(self._width)
        k, p = self.n_components, self.n_columns
        c = 1 + k * p + self.n_counts
        out[0] = log_likelihood
        out[1 : 1 + k * p] = T.ravel()
        if extra is None:  # Gaussian: the counts are T's last column
            out[1 + k * p : 1 + k * p + k] = T[:, -1]
        else:
            counts, dof_stats, second = extra
            out[1 + k * p : c] = counts
            out[c : c + k] = dof_stats
            out[c + k : c + k + second.size] = second.ravel()
        return out

    def _scaled(self, L: np.ndarray, Z: Any, row_q: np.ndarray, work: Workspace) -> np.ndarray:
        """Apply the family to logits ``L`` in place; return the scale weights."""
        U = work.take("scales", L.shape, L.dtype)
        self.family.transform(L, self.offsets, self.log_norm, row_q, self.dof, self.n_features, U)
        return U

    def _with_noise_row(self, L: np.ndarray, work: Workspace) -> np.ndarray:
        """``L`` (K, B) with the noise row below it, or L itself without noise."""
        if not self.noise:
            return L
        out = work.take("with noise", (self.n_counts, L.shape[1]), L.dtype)
        out[: self.n_components] = L
        out[self.n_components] = self.noise_log
        return out

    def _block(self, X: np.ndarray, weights: np.ndarray, work: Workspace) -> np.ndarray:
        Z = work.take("features", (self.n_columns, X.shape[0]), self.dtype)
        self.layout.fill_features(np.ascontiguousarray(X), self.shift, Z)
        L = work.take("logits", (self.n_components, X.shape[0]), self.dtype)
        np.matmul(self.theta, Z, out=L)  # (K, B) weighted log-densities
        if not self.scaled:
            log_likelihood = responsibilities_of(L, weights)
            T = (L @ Z.T).astype(np.float64, copy=False)  # (K, P)
            if self.correction is not None:
                log_likelihood += float(np.sum(self.correction * T))
            return self._pack(log_likelihood, T, None)
        row_q = work.take("row quadratic", (X.shape[0],), np.float64)
        self.layout.row_quadratic(Z, self.prec, row_q)
        U = self._scaled(L, Z, row_q, work)
        L = self._with_noise_row(L, work)
        log_likelihood = responsibilities_of(L, weights)
        return self._pack_scaled(log_likelihood, L, U, Z)

    def _pack_scaled(self, log_likelihood: float, R, U, Z) -> np.ndarray:
        k, d = self.n_components, self.n_features
        T, counts, dof_stats = np.empty((k, self.n_columns)), np.empty(self.n_counts), np.empty(k)
        second = np.zeros((d, d) if self.layout.shared else (0, 0))
        scale_weighted_sums(R[:k], U, Z, T, counts, dof_stats, second, self.layout.shared)
        if self.noise:
            counts[k] = R[k].sum(dtype=np.float64)
        return self._pack(log_likelihood, T, (counts, dof_stats, second))

    def _stacked_block(self, X: np.ndarray, weights: np.ndarray, work: Workspace) -> np.ndarray:
        """The E-step by stacked factors, the second moments by one GEMM; ``T`` laid out
        as ``[vech(sum r x x^T), sum r x, sum r]`` per component, as the feature path."""
        n_rows, n_features = X.shape
        Xs = work.take("shifted rows", X.shape, self.dtype)
        np.subtract(X, self.shift, out=Xs, casting="unsafe")
        Y = work.take("factor products", (n_rows, self.n_components * n_features), self.dtype)
        np.matmul(Xs, self.factors, out=Y)  # (B, K*D): one GEMM for the E-step of all K
        L = work.take("logits", (self.n_components, n_rows), np.float64)
        L[:] = self.constant[:, None]
        stacked_log_densities(Y, self.stacked_offsets, L)
        U = None
        if self.family.scales:
            row_q = work.take("row quadratic", (n_rows,), np.float64)
            row_q[:] = 0.0
            U = self._scaled(L, None, row_q, work)
        L = self._with_noise_row(L, work)
        log_likelihood = responsibilities_of(L, weights)
        R = L
        if self.dtype != L.dtype:
            R = work.take("responsibilities", L.shape, self.dtype)
            R[:] = L
        k = self.n_components
        if U is None and not self.noise:
            T = _stacked_sums(Xs, R, Y)  # Y's memory, reused
            return self._pack(log_likelihood, T, None)
        if U is None:  # Gaussian components beside the noise: unit scales
            U = np.ones((k, len(Xs)))
        RU = (R[:k] * U).astype(self.dtype, copy=False)
        T = _stacked_sums(Xs, RU, Y)
        counts = L.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            dof_stats = np.where(U > 0, L[:k] * (np.log(U) - U), 0.0).sum(axis=1)
        second = np.zeros((self.n_features, self.n_features))
        return self._pack(log_likelihood, T, (counts, dof_stats, second))

    def __reduce__(self) -> tuple:
        return (_rebuild, (self.__dict__,))


class Workspace:
    """Working arrays that the row blocks of one pass reuse, by name.

    Blocks are even slices, so the first is the largest and later ones take views of
    its arrays. Fresh arrays per block would be as fast under glibc's default
    allocator, which keeps freed blocks for reuse; but ``dask.distributed`` starts its
    workers with ``MALLOC_TRIM_THRESHOLD_`` set, which keeps large arrays out of the
    heap, so that every block's arrays were fresh pages mapped from the kernel and
    faulted in (a chunk's pass 3x slower there).
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def take(self, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """An uninitialised C-ordered array of this shape and dtype, the one of ``name``
        or a view of it when it is large enough."""
        size = math.prod(shape)
        flat = self._arrays.get(name)
        if flat is None or flat.size < size or flat.dtype != np.dtype(dtype):
            flat = self._arrays[name] = np.empty(size, dtype=dtype)
        return flat[:size].reshape(shape)


def _stacked_sums(Xs: np.ndarray, R: np.ndarray, work: np.ndarray) -> np.ndarray:
    """``T`` of rows ``Xs`` (B, D) with responsibilities ``R`` (K, B), through one GEMM
    against the rows weighted once per component (written into ``work``, (B, K D))."""
    n_components, n_features = R.shape[0], Xs.shape[1]
    weight_rows(R, Xs, 0, work)
    rows, cols = np.triu_indices(n_features)
    seconds = (Xs.T @ work).reshape(n_features, n_components, n_features)
    T = np.empty((n_components, len(rows) + n_features + 1))
    T[:, : len(rows)] = seconds[rows, :, cols].T
    T[:, len(rows) : -1] = R @ Xs
    T[:, -1] = R.sum(axis=1, dtype=np.float64)
    return T


def _rebuild(state: dict) -> BlockPass:
    instance = BlockPass.__new__(BlockPass)
    instance.__dict__.update(state)
    return instance


def responsibility_sums(
    model: CovarianceModel, X: np.ndarray, weights: np.ndarray, shift: np.ndarray, resp: Any
) -> np.ndarray:
    """``T`` (K, P) of given responsibilities (N, K) on rows X: the statistics of a start.

    ``weights`` are the rows' frequency weights; ``resp`` rows need not be normalised.
    """
    n_features = X.shape[1]
    n_components = resp.shape[1]
    weighted = np.asarray(resp, dtype=np.float64) * weights[:, None]
    columns = n_feature_columns(model.layout, n_features)
    total = np.zeros((n_components, columns))
    stacked = uses_stacked_factors(model.layout, n_features)
    for rows in row_blocks(X.shape[0], columns + n_components):
        R = np.ascontiguousarray(weighted[rows].T)
        if stacked:
            Xs = np.asarray(X[rows], dtype=np.float64) - shift
            total += _stacked_sums(Xs, R, np.empty((len(Xs), n_components * n_features)))
            continue
        Z = np.empty((columns, R.shape[1]))
        model.layout.fill_features(np.ascontiguousarray(X[rows]), shift, Z)
        total += R @ Z.T
    return total
