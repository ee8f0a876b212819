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

from typing import Any

import numpy as np

from ..covariance import CovarianceModel, Layout
from ..gaussian import LOG_2PI
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
        ``(weights, means, covariances, prec)`` in the layout's storage, shifted.
    shift : ndarray of shape (D,)
        Point subtracted from every row.
    dtype : numpy dtype
        Working precision of the blocks; sums are float64.
    stacked : bool or None, default=None
        Whether the full layout runs on stacked factors; None decides by the number
        of features (:func:`uses_stacked_factors`). Tests compare both paths.

    Calling it on rows ``X`` (B, D) in the data's own coordinates and their weights
    (B,) returns ``(log_likelihood, T)``: the weighted sum of the rows' log-likelihoods
    (without the layout's :func:`likelihood_terms`) and the weighted responsibility sums
    of the features, ``T`` (K, P).
    """

    def __init__(
        self,
        layout: Layout,
        params: tuple,
        shift: np.ndarray,
        dtype: Any,
        stacked: bool | None = None,
    ) -> None:
        weights, means, _, prec = params
        self.layout = layout
        self.shift = np.asarray(shift, dtype=np.float64)
        self.dtype = np.dtype(dtype)
        self.n_components, self.n_features = means.shape
        self.n_columns = n_feature_columns(layout, self.n_features)
        self.stacked = uses_stacked_factors(layout, self.n_features) if stacked is None else stacked
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
        self.offsets = np.einsum("kd,kde->ke", means, prec).reshape(-1).astype(self.dtype)
        with np.errstate(divide="ignore"):
            constant = (
                np.log(np.diagonal(prec, axis1=-2, axis2=-1)).sum(axis=-1)
                - 0.5 * n_features * LOG_2PI
                + np.log(weights)
            )
        self.constant = np.maximum(constant, _EMPTY_LOG_WEIGHT)

    def __call__(self, X: Any, weights: Any) -> tuple[float, np.ndarray]:
        X = np.asarray(X)
        weights = np.asarray(weights, dtype=np.float64)
        total_log_likelihood = 0.0
        total = np.zeros((self.n_components, self.n_columns))
        for rows in row_blocks(X.shape[0], self.n_columns + self.n_components, self.dtype):
            if rows.stop <= rows.start:  # an empty dask chunk
                continue
            block = self._stacked_block if self.stacked else self._block
            log_likelihood, T = block(X[rows], weights[rows])
            total_log_likelihood += log_likelihood
            total += T
        return total_log_likelihood, total

    def packed(self, X: Any, weights: Any) -> np.ndarray:
        """``[log_likelihood, T.ravel()]``: the pass's sums as one array (for reductions)."""
        log_likelihood, T = self(X, weights)
        return np.concatenate([[log_likelihood], T.ravel()])

    def _block(self, X: np.ndarray, weights: np.ndarray) -> tuple[float, np.ndarray]:
        Z = np.empty((self.n_columns, X.shape[0]), dtype=self.dtype)
        self.layout.fill_features(np.ascontiguousarray(X), self.shift, Z)
        L = self.theta @ Z  # (K, B) weighted log-densities
        log_likelihood = responsibilities_of(L, weights)
        T = (L @ Z.T).astype(np.float64, copy=False)  # (K, P)
        if self.correction is not None:
            log_likelihood += float(np.sum(self.correction * T))
        return log_likelihood, T

    def _stacked_block(self, X: np.ndarray, weights: np.ndarray) -> tuple[float, np.ndarray]:
        """The E-step by stacked factors, the second moments by one GEMM; ``T`` laid out
        as ``[vech(sum r x x^T), sum r x, sum r]`` per component, as the feature path."""
        Xs = np.empty(X.shape, dtype=self.dtype)
        np.subtract(X, self.shift, out=Xs, casting="unsafe")
        Y = Xs @ self.factors  # (B, K*D): one GEMM for the E-step of all K
        L = np.empty((self.n_components, len(Xs)))
        L[:] = self.constant[:, None]
        stacked_log_densities(Y, self.offsets, L)
        log_likelihood = responsibilities_of(L, weights)
        R = L.astype(self.dtype, copy=False)
        return log_likelihood, _stacked_sums(Xs, R, Y)  # Y's memory, reused

    def __reduce__(self) -> tuple:
        return (_rebuild, (self.__dict__,))


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
