"""The EM engine's hot path: one fused E+M kernel per block of rows, and the pass over blocks.

Every covariance type's log-density is linear in a few features of a row::

    log pi_k + log N(x | mu_k, Sigma_k) = theta_k . z(x)

with ``z(x) = [q(x), x, 1]`` where ``q`` holds the second-order terms of the type
(``vech(x x^T)`` for full, ``x**2`` for diag, ``|x|^2`` for spherical, nothing for
tied, whose shared ``x^T Lambda x`` does not change responsibilities). The M-step's
sufficient statistics are the responsibility-weighted sums of the same features,
``sum_n r_nk z(x_n)``. So a block of B rows costs two matrix products of a
``(P, B)`` feature block with ``(K, P)``: one for the E-step, one for the M-step,
with an in-place log-sum-exp in between. For tied, ``sum_n w_n x_n^T Lambda x_n =
tr(Lambda S)`` and the M-step needs only ``S = sum_n w_n x_n x_n^T``: ``S`` is
computed once per fit, so an iteration costs O(NKD).

Rows are shifted by a reference point (the data's mean) before any feature is formed,
so data far from the origin keep their accuracy; statistics are summed in float64
even when the blocks are float32.

Full covariances with many features (D > :data:`STACKED_FEATURES`) use the K stacked
precision factors instead: one ``(B, D) x (D, K D)`` product for the E-step of all K
and one ``(D, B) x (B, K D)`` for all K second moments.

The feature block, the log-sum-exp with the responsibilities, and the stacked path's
elementwise passes run as compiled loops (:mod:`bayesgmm._kernels`, numba) when numba
imports and the parameters are finite; the numpy code here is the fallback and the
reference the compiled path is tested against.

The same :class:`BlockKernel` runs on the blocks of an in-memory array (spread over a
thread pool with BLAS at one thread inside) and on the chunks of a dask array.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "BlockKernel",
    "FEATURE_MAPS",
    "n_threads",
    "row_blocks",
    "map_blocks",
    "single_threaded_blas",
    "data_second_moment",
    "chunk_moments",
    "combine_moments",
    "forget_data",
]

LOG_2PI = float(np.log(2.0 * np.pi))

#: Bytes of a block's feature matrix plus its (K, B) log-probabilities; a few per core
#: fit in the shared cache.
BLOCK_BYTES = 2 * 2**20
MIN_BLOCK_ROWS = 512
MAX_BLOCK_ROWS = 32_768
#: Above this many features, full covariances use the stacked-factor kernel: the
#: D(D+1)/2 quadratic features would make the feature block larger than the data.
STACKED_FEATURES = 24
#: Stand-in for log(0) (an empty component) in the compiled kernel's coefficients: its
#: terms are exp(-1e300) = 0 relative to any row's largest, without an infinity.
EMPTY_LOG_WEIGHT = {"d": -1e300, "f": -1e30}


# --------------------------------------------------------------------------- feature maps
@functools.lru_cache(maxsize=16)
def _upper_triangle(n_features: int) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.triu_indices(n_features)
    rows.flags.writeable = False
    cols.flags.writeable = False
    return rows, cols


class FeatureMap:
    """How one covariance type writes its log-density as ``theta . [q(x), x, 1]``."""

    #: The second-order statistic is the data's ``sum w x x^T`` (tied), not a feature sum.
    uses_data_moment = False

    def n_quadratic(self, n_features: int) -> int:
        """Rows of the second-order part ``q(x)``."""
        raise NotImplementedError

    def fill_quadratic(self, Xt: np.ndarray, out: np.ndarray) -> None:
        """Write ``q(x)`` of the shifted rows ``Xt`` (D, B) into ``out`` (Q, B)."""
        raise NotImplementedError

    def theta(
        self, log_weights: np.ndarray, means: np.ndarray, prec_chol: np.ndarray
    ) -> np.ndarray:
        """Coefficients ``(K, Q + D + 1)`` of the weighted log-densities."""
        raise NotImplementedError

    def second(self, T: np.ndarray, n_features: int) -> np.ndarray | None:
        """The type's second-order statistic from the summed features ``T`` (K, P)."""
        raise NotImplementedError


class _Full(FeatureMap):
    def n_quadratic(self, n_features):
        return n_features * (n_features + 1) // 2

    def fill_quadratic(self, Xt, out):
        offset = 0
        for i in range(Xt.shape[0]):
            width = Xt.shape[0] - i
            np.multiply(Xt[i:], Xt[i], out=out[offset : offset + width])
            offset += width

    def theta(self, log_weights, means, prec_chol):
        n_features = means.shape[1]
        precision = prec_chol @ np.swapaxes(prec_chol, -1, -2)  # (K, D, D)
        rows, cols = _upper_triangle(n_features)
        quadratic = -precision[:, rows, cols]
        quadratic[:, rows == cols] *= 0.5
        linear = np.einsum("kde,ke->kd", precision, means)
        log_det = np.log(np.diagonal(prec_chol, axis1=-2, axis2=-1)).sum(axis=-1)
        constant = (
            -0.5 * np.einsum("kd,kd->k", linear, means)
            + log_det
            - 0.5 * n_features * LOG_2PI
            + log_weights
        )
        return np.concatenate([quadratic, linear, constant[:, None]], axis=1)

    def second(self, T, n_features):
        rows, cols = _upper_triangle(n_features)
        second = np.empty((T.shape[0], n_features, n_features))
        second[:, rows, cols] = T[:, : len(rows)]
        second[:, cols, rows] = T[:, : len(rows)]
        return second


class _Tied(FeatureMap):
    """Only the terms that differ between components; ``x^T Lambda x`` is added per pass."""

    uses_data_moment = True

    def n_quadratic(self, n_features):
        return 0

    def fill_quadratic(self, Xt, out):
        pass

    def theta(self, log_weights, means, prec_chol):
        precision = prec_chol @ prec_chol.T
        linear = means @ precision
        constant = -0.5 * np.einsum("kd,kd->k", linear, means) + log_weights
        return np.concatenate([linear, constant[:, None]], axis=1)

    def second(self, T, n_features):
        return None  # the data's second moment, from data_second_moment


class _Diag(FeatureMap):
    def n_quadratic(self, n_features):
        return n_features

    def fill_quadratic(self, Xt, out):
        np.multiply(Xt, Xt, out=out)

    def _precision(self, means, prec_chol):
        return prec_chol**2

    def theta(self, log_weights, means, prec_chol):
        n_features = means.shape[1]
        precision = self._precision(means, prec_chol)
        linear = precision * means
        log_det = 0.5 * np.log(precision).sum(axis=1)
        constant = (
            -0.5 * np.einsum("kd,kd->k", linear, means)
            + log_det
            - 0.5 * n_features * LOG_2PI
            + log_weights
        )
        return np.concatenate([-0.5 * precision, linear, constant[:, None]], axis=1)

    def second(self, T, n_features):
        return np.ascontiguousarray(T[:, :n_features])


class _Spherical(_Diag):
    def n_quadratic(self, n_features):
        return 1

    def fill_quadratic(self, Xt, out):
        np.einsum("db,db->b", Xt, Xt, out=out[0])

    def theta(self, log_weights, means, prec_chol):
        full = _Diag.theta(self, log_weights, means, prec_chol)
        n_features = means.shape[1]
        # every feature has the same quadratic coefficient: keep one for |x|^2
        return np.concatenate([full[:, :1], full[:, n_features:]], axis=1)

    def _precision(self, means, prec_chol):
        return np.broadcast_to((prec_chol**2)[:, None], means.shape)

    def second(self, T, n_features):
        return np.ascontiguousarray(T[:, 0])


FEATURE_MAPS: dict[str, FeatureMap] = {
    "full": _Full(),
    "tied": _Tied(),
    "diag": _Diag(),
    "spherical": _Spherical(),
}


# --------------------------------------------------------------------------- the kernel
@functools.cache
def _compiled() -> Any:
    """The compiled kernels (:mod:`bayesgmm._kernels`), or None without numba.

    Imported on the first fit, not with the package: numba takes half a second to import.
    Where numba cannot be imported or cannot set its kernels up (no writable cache
    directory, say), the engine runs its numpy path and says so once in the log.
    """
    try:
        from . import _kernels
    except Exception as error:  # pragma: no cover - numba is a dependency
        logger.warning("EM runs without compiled kernels (slower): %s", error)
        return None
    return _kernels


class BlockKernel:
    """E-step of fixed parameters fused with the M-step's feature sums, for any rows.

    Parameters
    ----------
    kind_name : str
        Covariance type.
    weights, means, prec_chol : ndarray
        Current parameters; means in the shifted coordinates.
    shift : ndarray of shape (D,)
        Point subtracted from every row.
    dtype : numpy dtype
        Working precision of the blocks (float32 or float64); sums are float64.

    Calling the kernel on rows ``X`` (B, D) in the data's own coordinates and their
    frequency weights (B,) returns ``(log_likelihood, T)``: the weighted sum of the
    rows' log-likelihoods (without ``-x^T Lambda x / 2`` and the normalising constant
    for tied) and ``T`` (K, P), the weighted responsibility sums of the features.
    """

    def __init__(
        self,
        kind_name: str,
        weights: np.ndarray,
        means: np.ndarray,
        prec_chol: np.ndarray,
        shift: np.ndarray,
        dtype: Any = np.float64,
    ) -> None:
        self.kind_name = kind_name
        self.features = FEATURE_MAPS[kind_name]
        self.n_features = means.shape[1]
        # full covariances in many dimensions: K stacked factors instead of D(D+1)/2 features
        self.stacked = kind_name == "full" and self.n_features > STACKED_FEATURES
        self.dtype = np.dtype(dtype)
        if self.stacked:
            self._prepare_stacked(weights, means, prec_chol, dtype)
        self.n_quadratic = self.features.n_quadratic(self.n_features)
        with np.errstate(divide="ignore"):
            log_weights = np.log(weights)
        theta = self.features.theta(log_weights, means, prec_chol)
        # the compiled kernel wants finite log-probabilities: an empty component's
        # log-weight (-inf) becomes a number whose exp is 0 all the same
        self.compiled = (self.compiled if self.stacked else _compiled() is not None) and bool(
            np.isfinite(np.where(theta == -np.inf, 0.0, theta)).all()
        )
        if self.compiled:
            theta = np.maximum(theta, EMPTY_LOG_WEIGHT[self.dtype.char])
        self.n_components = theta.shape[0]
        self.theta = np.ascontiguousarray(theta, dtype=self.dtype)
        # float32 blocks: the coefficients' rounding would bias every row of a component
        # alike (1e-7 to 1e-6 of the log-likelihood). The compiled path adds it to the
        # log-likelihood through the feature sums T: sum_n sum_k r_nk dtheta_k . z_n =
        # sum_k dtheta_k . T_k (exact to first order; the second is ~1e-14)
        with np.errstate(invalid="ignore"):
            rest = theta - self.theta
        self.correction = rest if self.dtype != np.float64 else None
        self.offsets = np.zeros(len(theta))
        if self.dtype != np.float64 and not self.compiled:
            # numpy path: the rounding rest as a second set of rows
            with np.errstate(invalid="ignore"):
                residual = np.where(np.isfinite(theta), theta - self.theta, 0.0)
            self.theta = np.concatenate([self.theta, residual.astype(self.dtype)])
        self.shift = np.asarray(shift, dtype=np.float64)
        self.n_columns = self.theta.shape[1]
        double = self.dtype == np.float64
        self.negligible = self.dtype.type(-36.7 if double else -17.0)
        self.floor = self.dtype.type(-460.0 if double else -50.0)
        n_components = len(weights)
        self.log_group = int(max(1, min(64, 300 // max(np.log10(n_components), 1e-3))))

    def _prepare_stacked(self, weights, means, prec_chol, dtype) -> None:
        n_components, n_features = means.shape
        self.stacked_factors = np.ascontiguousarray(
            np.swapaxes(prec_chol, 0, 1).reshape(n_features, n_components * n_features),
            dtype=dtype,
        )
        self.stacked_means = np.einsum("kd,kde->ke", means, prec_chol).reshape(-1).astype(dtype)
        with np.errstate(divide="ignore"):
            self.stacked_constant = (
                np.log(np.diagonal(prec_chol, axis1=-2, axis2=-1)).sum(axis=-1)
                - 0.5 * n_features * LOG_2PI
                + np.log(weights)
            )
        constant = np.where(self.stacked_constant == -np.inf, 0.0, self.stacked_constant)
        self.compiled = _compiled() is not None and bool(
            np.isfinite(constant).all()
            and np.isfinite(self.stacked_factors).all()
            and np.isfinite(self.stacked_means).all()
        )
        if self.compiled:
            self.stacked_constant = np.maximum(self.stacked_constant, EMPTY_LOG_WEIGHT["d"])

    def _stacked_log_densities(self, Xs: np.ndarray) -> np.ndarray:
        """(K, B) weighted log-densities through the stacked factors: one GEMM."""
        n_components = len(self.stacked_constant)
        Y = Xs @ self.stacked_factors  # (B, K*D)
        Y -= self.stacked_means
        np.square(Y, out=Y)
        maha = Y.reshape(len(Xs), n_components, self.n_features).sum(axis=2)  # (B, K)
        L = np.ascontiguousarray(maha.T, dtype=np.float64)
        L *= -0.5
        L += self.stacked_constant[:, None]
        return L

    def __call__(self, X: Any, weights: Any) -> tuple[float, np.ndarray]:
        X = np.asarray(X)
        weights = np.asarray(weights, dtype=np.float64)
        total_log_likelihood = 0.0
        total = np.zeros((self.n_components, self.n_columns))
        if X.shape[0] == 0:  # an empty dask chunk
            return total_log_likelihood, total
        for rows in row_blocks(X.shape[0], self.n_columns + self.n_components, self.dtype):
            log_likelihood, T = self._block(X[rows], weights[rows])
            total_log_likelihood += log_likelihood
            total += T
        return total_log_likelihood, total

    def _block(self, X: np.ndarray, weights: np.ndarray) -> tuple[float, np.ndarray]:
        if self.stacked:
            return self._stacked_block(X, weights)
        n_rows = X.shape[0]
        Z = np.empty((self.n_columns, n_rows), dtype=self.dtype)
        if self.compiled:
            kernels = _compiled()
            kernels.fill_features(
                np.ascontiguousarray(X), self.shift, Z, kernels.QUADRATIC_CODES[self.kind_name]
            )
            L = self.theta @ Z  # (K, B) weighted log-densities
            if self.dtype == np.float64:
                log_likelihood = kernels.responsibilities(L, weights, self.offsets)
            else:
                log_likelihood = kernels.responsibilities32(L, weights)
            T = (L @ Z.T).astype(np.float64, copy=False)  # (K, P)
            if self.correction is not None:
                log_likelihood += float(np.sum(self.correction * T))
            return log_likelihood, T
        q = self.n_quadratic
        Xt = Z[q : q + self.n_features]
        np.subtract(X.T, self.shift[:, None], out=Xt, casting="unsafe")
        self.features.fill_quadratic(Xt, Z[:q])
        Z[-1] = 1.0
        L = self.theta @ Z  # (K, B) weighted log-densities
        if len(L) > self.n_components:  # float32: add the coefficients' residual
            L = np.add(L[: self.n_components], L[self.n_components :])
        top = L.max(axis=0)
        if not np.isfinite(top.sum()):  # a row no component can produce: keep -inf, no NaN
            top = np.where(np.isfinite(top), top, 0.0)
        L -= top
        _exp_in_place(L, self.negligible, self.floor)
        norm = L.sum(axis=0)  # in [1, K]: the largest term is exp(0)
        log_likelihood = self._log_likelihood(top, norm, weights)
        scale = weights / norm
        L *= scale.astype(self.dtype, copy=False)
        T = L @ Z.T  # (K, P)
        return log_likelihood, T.astype(np.float64, copy=False)

    def _stacked_block(self, X: np.ndarray, weights: np.ndarray) -> tuple[float, np.ndarray]:
        """Full covariances, large D: E-step by stacked factors, M-step by K products.

        Returns the same ``(log_likelihood, T)`` as the feature path, with ``T`` laid
        out as ``[vech(sum r x x^T), sum r x, sum r]`` per component.
        """
        Xs = np.empty(X.shape, dtype=self.dtype)
        np.subtract(X, self.shift, out=Xs, casting="unsafe")
        if self.compiled:
            return self._stacked_block_compiled(Xs, weights)
        L = self._stacked_log_densities(Xs)
        top = L.max(axis=0)
        if not np.isfinite(top.sum()):
            top = np.where(np.isfinite(top), top, 0.0)
        L -= top
        _exp_in_place(L, self.negligible, self.floor)
        norm = L.sum(axis=0)
        log_likelihood = self._log_likelihood(top, norm, weights)
        L *= weights / norm
        R = L.astype(self.dtype, copy=False)
        # all K second moments in one GEMM: X^T [r_1 X, ..., r_K X]
        weighted = (R.T[:, :, None] * Xs[:, None, :]).reshape(len(Xs), -1)
        return log_likelihood, self._stacked_statistics(Xs, R, L, weighted)

    def _stacked_block_compiled(self, Xs: np.ndarray, weights: np.ndarray):
        """The stacked path with its elementwise passes compiled (fused per row)."""
        kernels = _compiled()
        n_components = len(self.stacked_constant)
        Y = Xs @ self.stacked_factors  # (B, K*D): one GEMM for the E-step of all K
        L = np.empty((n_components, len(Xs)))
        L[:] = self.stacked_constant[:, None]
        kernels.stacked_log_densities(Y, self.stacked_means, L)
        log_likelihood = kernels.responsibilities(L, weights, np.zeros(n_components))
        R = L.astype(self.dtype, copy=False)
        kernels.weight_rows(R, Xs, 0, Y)  # Y's memory, reused
        return log_likelihood, self._stacked_statistics(Xs, R, L, Y)

    def _stacked_statistics(self, Xs, R, L, weighted) -> np.ndarray:
        """``T`` from the responsibilities and the rows weighted once per component."""
        rows, cols = _upper_triangle(self.n_features)
        q = len(rows)
        n_components, n_features = len(R), self.n_features
        seconds = (Xs.T @ weighted).reshape(n_features, n_components, n_features)
        T = np.empty((n_components, self.n_columns))
        T[:, :q] = seconds[rows, :, cols].T
        T[:, q:-1] = R @ Xs
        T[:, -1] = L.sum(axis=1)
        return T

    def _log_likelihood(self, top: np.ndarray, norm: np.ndarray, weights: np.ndarray) -> float:
        """``sum_n w_n (top_n + log norm_n)``.

        With unit weights, ``sum log norm`` is the log of products of groups of
        ``norm`` (each in [1, K], so a group of G cannot overflow): one logarithm per
        G rows instead of one per row, within G rounding errors of a group's log.
        """
        if weights.min() == 1.0 == weights.max():
            norm = norm.astype(np.float64, copy=False)
            n_whole = len(norm) - len(norm) % self.log_group
            products = norm[:n_whole].reshape(-1, self.log_group).prod(axis=1)
            return float(
                top.sum(dtype=np.float64) + np.log(products).sum() + np.log(norm[n_whole:]).sum()
            )
        log_norm = np.log(norm, dtype=np.float64)
        log_norm += top
        log_likelihood = float(weights @ log_norm)
        if not np.isfinite(log_likelihood):  # zero weight times -inf counts as nothing
            with np.errstate(invalid="ignore"):
                log_likelihood = float(np.where(weights > 0, weights * log_norm, 0.0).sum())
        return log_likelihood


#: Above this fraction of terms that matter, exponentiate the whole block.
_DENSE_EXP = 0.6


def _exp_in_place(L: np.ndarray, negligible: Any, floor: Any) -> None:
    """``exp`` of log-probabilities shifted so each row's largest is 0, in place.

    Terms below ``exp(negligible)`` (the precision's epsilon relative to the row's
    largest term, e^-36.7 in float64) change neither the row's log-likelihood nor
    any statistic beyond rounding: they are set to 0 without calling ``exp``, which
    costs 10-30 ns a term where numpy has no SIMD float64 exp. When most terms
    matter, the whole block is exponentiated, floored at ``exp(floor)`` (1e-200 in
    float64) so that no subnormal number slows the products that follow.
    """
    flat = L.reshape(-1)
    sample = flat[:: max(1, flat.size // 512)]
    if np.count_nonzero(sample > negligible) > _DENSE_EXP * sample.size:
        np.maximum(L, floor, out=L)
        np.exp(L, out=L)
        return
    keep = np.flatnonzero(flat > negligible)
    values = np.exp(flat[keep])
    flat.fill(0.0)
    flat[keep] = values


def row_blocks(
    n_rows: int, n_columns: int, dtype: Any = np.float64, workers: int = 1
) -> list[slice]:
    """Slices of about :data:`BLOCK_BYTES` worth of ``n_columns`` feature rows each.

    With several ``workers``, data of more than half a block's bytes are cut into at
    least two blocks; below that, handing work to a thread costs more than it saves
    (and far more on a loaded machine, where a woken thread waits for a core).
    """
    itemsize = np.dtype(dtype).itemsize
    size = BLOCK_BYTES // (itemsize * max(n_columns, 1))
    size = int(min(MAX_BLOCK_ROWS, max(MIN_BLOCK_ROWS, size)))
    n_blocks = math.ceil(n_rows / size)
    if workers > 1 and 2 * n_rows >= size:
        n_blocks = max(n_blocks, min(workers, n_rows // MIN_BLOCK_ROWS))
    if n_blocks <= 1:
        return [slice(0, n_rows)]
    size = math.ceil(n_rows / n_blocks)  # even blocks
    return [slice(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]


# --------------------------------------------------------------------------- threads
_controller_lock = threading.Lock()
_controller: Any = None
_executor: ThreadPoolExecutor | None = None
_executor_threads = 0


def _blas_controller() -> Any:
    global _controller
    with _controller_lock:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
    return _controller


def n_threads() -> int:
    """Worker threads for a pass: the number of threads BLAS may use now.

    ``threadpoolctl.threadpool_limits(n)`` around a fit therefore pins both BLAS and
    this engine to ``n`` threads.
    """
    blas = [lib for lib in _blas_controller().lib_controllers if lib.user_api == "blas"]
    if not blas:
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    return max(1, min(lib.num_threads for lib in blas))


def _pool(workers: int) -> ThreadPoolExecutor:
    global _executor, _executor_threads
    with _controller_lock:
        if _executor is None or _executor_threads < workers:
            if _executor is not None:
                _executor.shutdown(wait=False)
            _executor = ThreadPoolExecutor(workers, thread_name_prefix="bayesgmm")
            _executor_threads = workers
    return _executor


def single_threaded_blas() -> Any:
    """Context manager: BLAS at one thread (for passes whose parallelism is ours or dask's)."""
    return _blas_controller().limit(limits=1, user_api="blas")


def map_blocks(function: Any, blocks: list[Any], workers: int) -> list[Any]:
    """``[function(block) for block in blocks]``, on ``workers`` threads with BLAS at one."""
    if workers <= 1 or len(blocks) <= 1:
        return [function(block) for block in blocks]
    with single_threaded_blas():
        return list(_pool(workers).map(function, blocks))


# --------------------------------------------------------------------------- data moments
_moments_lock = threading.Lock()
_moments: list[tuple[Any, Any, np.ndarray, np.ndarray]] = []
_MAX_CACHED = 4


def _block_second_moment(X: np.ndarray, weights: np.ndarray, shift: np.ndarray) -> np.ndarray:
    Xs = np.asarray(X, dtype=np.float64) - shift
    return (Xs * np.asarray(weights, dtype=np.float64)[:, None]).T @ Xs


def chunk_moments(X: Any, weights: Any) -> tuple[float, np.ndarray, np.ndarray]:
    """Total weight, weighted mean and weighted sum of squares about it, of one chunk."""
    X = np.asarray(X, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    total = float(weights.sum())
    if total <= 0:
        return 0.0, np.zeros(X.shape[1]), np.zeros(X.shape[1])
    mean = weights @ X / total
    return total, mean, weights @ (X - mean) ** 2


def combine_moments(
    parts: list[tuple[float, np.ndarray, np.ndarray]],
) -> tuple[float, np.ndarray, np.ndarray]:
    """Combine chunk moments (Chan, Golub & LeVeque 1979): no cancellation at any offset."""
    total, mean, squares = parts[0]
    for part_total, part_mean, part_squares in parts[1:]:
        if part_total <= 0:
            continue
        combined = total + part_total
        delta = part_mean - mean
        mean = mean + delta * (part_total / combined)
        squares = squares + part_squares + delta**2 * (total * part_total / combined)
        total = combined
    return total, mean, squares


def data_second_moment(X: Any, weights: Any, shift: np.ndarray) -> np.ndarray:
    """``sum_n w_n (x_n - shift)(x_n - shift)^T``, remembered for this X while it lives.

    The EM pass for tied covariances needs it at every iteration; it depends on the
    data only. :func:`forget_data` (called when a fit starts) drops it, so an array
    changed in place between fits is never served a stale value.
    """
    with _moments_lock:
        for x_ref, w_ref, cached_shift, value in _moments:
            if x_ref() is X and w_ref() is weights and np.array_equal(cached_shift, shift):
                return value
    from .data import is_dask_array

    if is_dask_array(X):
        import dask

        X = X.rechunk({1: -1})
        parts = [
            dask.delayed(_block_second_moment)(block, weight, shift)
            for block, weight in zip(
                X.to_delayed().ravel(), weights.to_delayed().ravel(), strict=True
            )
        ]
        value = np.sum(dask.compute(*parts), axis=0)
    else:
        blocks = row_blocks(X.shape[0], 2 * X.shape[1])
        parts = map_blocks(
            lambda rows: _block_second_moment(X[rows], weights[rows], shift), blocks, n_threads()
        )
        value = np.sum(parts, axis=0)
    try:
        entry = (weakref.ref(X), weakref.ref(weights), np.array(shift, copy=True), value)
    except TypeError:  # not weak-referenceable: do not remember
        return value
    with _moments_lock:
        _moments.insert(0, entry)
        del _moments[_MAX_CACHED:]
    return value


def forget_data(X: Any) -> None:
    """Drop what :func:`data_second_moment` remembers about X (and dead entries)."""
    with _moments_lock:
        _moments[:] = [
            entry for entry in _moments if entry[0]() is not None and entry[0]() is not X
        ]
