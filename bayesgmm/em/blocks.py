"""Row blocks: how rows are cut, and one function mapped over the blocks of in-memory data
(on a fit's threads) or over the chunks of a dask array (as dask tasks).

In memory, parts come back in block order and are summed in that order, so a result does
not depend on the thread count. On dask, the per-chunk sums are added by a tree reduction
(``split_every``), and data on a ``dask.distributed`` cluster are persisted once per fit
(:func:`place_data`), so each iteration sends only its parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..data import is_dask_array
from ..threads import available_threads, single_threaded_blas

__all__ = [
    "BLOCK_BYTES",
    "row_blocks",
    "parallel_blocks",
    "Workers",
    "map_row_blocks",
    "sum_row_blocks",
    "chunk_sums",
    "place_data",
]

#: Bytes of a block's feature matrix plus its (K, B) log-probabilities; a few per core
#: fit in the shared cache.
BLOCK_BYTES = 2 * 2**20
MIN_BLOCK_ROWS = 512
MAX_BLOCK_ROWS = 32_768
#: Blocks that data of more than half a block are cut into, for threads (see
#: :func:`parallel_blocks`): fixed, so that sums do not depend on the thread count.
PARALLEL_BLOCKS = 8
#: Chunk sums added per node of the dask reduction tree.
SPLIT_EVERY = 8


def row_blocks(
    n_rows: int,
    n_columns: int,
    dtype: Any = np.float64,
    block_bytes: int = BLOCK_BYTES,
    min_rows: int = MIN_BLOCK_ROWS,
) -> list[slice]:
    """Even slices of at most about ``block_bytes`` worth of ``n_columns`` feature rows.

    Examples
    --------
    >>> row_blocks(10, 3)
    [slice(0, 10, None)]
    """
    size = _block_rows(n_columns, dtype, block_bytes, min_rows)
    return _even(n_rows, math.ceil(n_rows / size))


def parallel_blocks(
    n_rows: int,
    n_columns: int,
    dtype: Any = np.float64,
    block_bytes: int = BLOCK_BYTES,
    min_rows: int = MIN_BLOCK_ROWS,
) -> list[slice]:
    """:func:`row_blocks` for threads: data of more than half a block are cut into at least
    :data:`PARALLEL_BLOCKS` blocks (of ``min_rows`` rows at least).

    The cut depends on the data only, never on the number of threads, so the blocks'
    sums, added in block order, are the same bit for bit on any number of threads.

    Examples
    --------
    >>> len(parallel_blocks(100_000, 10)), len(row_blocks(100_000, 10))
    (8, 4)
    """
    size = _block_rows(n_columns, dtype, block_bytes, min_rows)
    n_blocks = math.ceil(n_rows / size)
    if 2 * n_rows >= size:
        n_blocks = max(n_blocks, min(PARALLEL_BLOCKS, n_rows // min_rows))
    return _even(n_rows, n_blocks)


def _block_rows(n_columns: int, dtype: Any, block_bytes: int, min_rows: int) -> int:
    size = block_bytes // (np.dtype(dtype).itemsize * max(n_columns, 1))
    return int(min(MAX_BLOCK_ROWS, max(min_rows, size)))


def _even(n_rows: int, n_blocks: int) -> list[slice]:
    if n_blocks <= 1:
        return [slice(0, n_rows)]
    size = math.ceil(n_rows / n_blocks)
    return [slice(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]


class Workers:
    """The threads of one fit: a pool made on first use and closed with the fit.

    Parameters
    ----------
    n_threads : int or None, default=None
        None: as many as BLAS may use now (:func:`bayesgmm.threads.available_threads`).
    block_bytes, min_rows : int
        How in-memory rows are cut (:func:`row_blocks`); tests set small blocks.
    """

    def __init__(
        self,
        n_threads: int | None = None,
        *,
        block_bytes: int = BLOCK_BYTES,
        min_rows: int = MIN_BLOCK_ROWS,
    ) -> None:
        self.n_threads = available_threads() if n_threads is None else max(1, int(n_threads))
        self.block_bytes = block_bytes
        self.min_rows = min_rows
        self._pool: ThreadPoolExecutor | None = None

    def blocks(self, n_rows: int, n_columns: int, dtype: Any = np.float64) -> list[slice]:
        """Row blocks of in-memory data for these workers."""
        return parallel_blocks(n_rows, n_columns, dtype, self.block_bytes, self.min_rows)

    def map(self, function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        """``[function(item) for item in items]``, on the threads with BLAS at one."""
        if self.n_threads <= 1 or len(items) <= 1:
            return [function(item) for item in items]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.n_threads, thread_name_prefix="bayesgmm")
        with single_threaded_blas():
            return list(self._pool.map(function, items))

    def close(self) -> None:
        """Stop the threads (a later :meth:`map` starts new ones)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def map_row_blocks(
    function: Callable[[np.ndarray, np.ndarray], Any],
    X: Any,
    weights: Any,
    workers: Workers,
    n_columns: int,
    dtype: Any = np.float64,
) -> list[Any]:
    """``function(rows, row_weights)`` over the blocks of X (threads) or its chunks (dask).

    Examples
    --------
    >>> X = np.arange(6.0).reshape(3, 2)
    >>> map_row_blocks(lambda rows, w: float(w @ rows[:, 0]), X, np.ones(3), Workers(1), 2)
    [6.0]
    """
    if is_dask_array(X):
        import dask

        X = X.rechunk({1: -1})
        tasks = [
            dask.delayed(function)(block, weight)
            for block, weight in zip(
                X.to_delayed().ravel(), weights.to_delayed().ravel(), strict=True
            )
        ]
        with single_threaded_blas():
            return list(dask.compute(*tasks))
    blocks = workers.blocks(X.shape[0], n_columns, dtype)
    return workers.map(lambda rows: function(X[rows], weights[rows]), blocks)


def sum_row_blocks(
    function: Callable[[np.ndarray, np.ndarray], np.ndarray],
    X: Any,
    weights: Any,
    workers: Workers,
    n_columns: int,
    dtype: Any = np.float64,
) -> np.ndarray:
    """The sum over blocks (or chunks) of ``function(rows, row_weights)``, a flat float64 array.

    In memory the parts are added in block order; on dask by a tree of ``SPLIT_EVERY``-way
    sums, computed once.

    Examples
    --------
    >>> X = np.arange(6.0).reshape(3, 2)
    >>> sum_row_blocks(lambda rows, w: w @ rows, X, np.ones(3), Workers(1), 2)
    array([6., 9.])
    """
    if not is_dask_array(X):
        parts = map_row_blocks(function, X, weights, workers, n_columns, dtype)
        total = np.array(parts[0], dtype=np.float64)
        for part in parts[1:]:  # in block order: independent of the thread count
            total += part
        return total
    with single_threaded_blas():
        return np.asarray(chunk_sums(function, X, weights).compute())


def chunk_sums(
    function: Callable[[np.ndarray, np.ndarray], np.ndarray], X: Any, weights: Any
) -> Any:
    """The lazy tree sum (a dask array) of ``function`` over the chunks of dask data."""
    import dask.array as da

    X = X.rechunk({1: -1})

    def chunk(rows: np.ndarray, row_weights: np.ndarray) -> np.ndarray:
        return np.asarray(function(rows, row_weights[:, 0]), dtype=np.float64)[None, :]

    width = len(chunk(np.zeros((1, X.shape[1]), X.dtype), np.ones((1, 1))).ravel())
    parts = da.map_blocks(
        chunk,
        X,
        weights[:, None],
        dtype=np.float64,
        chunks=((1,) * X.numblocks[0], (width,)),
        meta=np.empty((0, width)),
    )
    return parts.sum(axis=0, split_every=SPLIT_EVERY)


def place_data(X: Any, weights: Any) -> tuple[Any, Any]:
    """Dask data on a ``dask.distributed`` cluster, persisted there once (the graphs of
    later passes then refer to the workers' chunks instead of carrying the data); anything
    else as it is (local dask data stay out of core)."""
    if not is_dask_array(X):
        return X, weights
    try:
        from distributed import default_client
    except ImportError:
        return X, weights
    try:
        client = default_client()
    except ValueError:  # no client in scope: dask's local scheduler
        return X, weights
    X, weights = client.persist([X, weights])
    return X, weights
