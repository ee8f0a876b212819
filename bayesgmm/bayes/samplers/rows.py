"""The rows that ADVI's gradients read: sums over every row, and random minibatches.

A :class:`RowSource` holds the data in memory or as a dask array. Sums over all rows
(:meth:`RowSource.totals`) go block by block, on the fit's threads in memory or as one
dask reduction over the chunks (:func:`bayesgmm.em.blocks.sum_row_blocks`, the EM
engine's own pass), evaluating any number of parameter points in that one pass, so a
dask array is read once per call whatever the number of points. Minibatches
(:meth:`RowSource.batch`) are drawn with replacement from a pool: the data themselves in
memory; for a dask array, a uniform random sample of at most ``pool_rows`` rows read
from it once (:func:`sample_rows`). A minibatch of B pool rows scaled by N / B estimates
the pool's sum times N / M, which is the data's sum up to the pool's own sampling error:
ADVI's control variate only uses minibatches for the difference between the current
point and an anchor, whose gradient on all rows comes from :meth:`RowSource.totals`,
so that error is of order ``1 / sqrt(M)`` posterior standard deviations (0.001 at the
default M = 10^6).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...data import is_dask_array
from ...em.blocks import Workers, sum_row_blocks

__all__ = ["POOL_ROWS", "RowSource", "sample_rows"]

POOL_ROWS = 1_000_000
"""Rows of a dask array that minibatches are drawn from (a uniform sample of them)."""


def sample_rows(
    X: Any, sample_weight: Any, n_rows: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """A uniform random sample of ``n_rows`` distinct rows of a dask array, in order.

    How many rows each chunk gives is drawn from the multivariate hypergeometric
    distribution of the chunk sizes (exactly what a uniform sample of row indices
    gives), then each chunk's rows uniformly without replacement: one pass over the
    chunks, each read once and kept only as its sampled rows.

    Parameters
    ----------
    X : dask array (N, D)
    sample_weight : ndarray, dask array of shape (N,), or None
    n_rows : int
        At most N.
    rng : numpy Generator

    Returns
    -------
    rows : ndarray (n_rows, D)
    weights : ndarray (n_rows,) or None

    Examples
    --------
    >>> import dask.array as da
    >>> X = da.from_array(np.arange(20.0).reshape(10, 2), chunks=(4, 2))
    >>> rows, _ = sample_rows(X, None, 10, np.random.default_rng(0))
    >>> rows[:, 0].tolist() == list(range(0, 20, 2))
    True
    """
    import dask

    X = X.rechunk({1: -1})
    sizes = np.asarray(X.chunks[0])
    counts = rng.multivariate_hypergeometric(sizes, n_rows)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    local = [
        np.sort(rng.choice(size, count, replace=False))
        for size, count in zip(sizes, counts, strict=True)
    ]
    index = np.concatenate([offset + part for offset, part in zip(offsets, local, strict=True)])
    blocks = zip(X.to_delayed().ravel(), local, strict=True)
    tasks = [dask.delayed(_take)(block, part) for block, part in blocks if len(part)]
    rows = np.concatenate(dask.compute(*tasks)) if tasks else np.empty((0, X.shape[1]))
    if sample_weight is None:
        return rows, None
    if is_dask_array(sample_weight):
        return rows, np.asarray(sample_weight[index].compute(), dtype=np.float64)
    return rows, np.asarray(sample_weight, dtype=np.float64)[index]


def _take(block: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.asarray(block, dtype=np.float64)[rows]


class RowSource:
    """The data that a log-density's gradients read: totals and minibatches.

    Parameters
    ----------
    X : ndarray or dask array of shape (N, D)
        Rows in the units ``function`` (:meth:`totals`) takes.
    sample_weight : ndarray, dask array of shape (N,), or None
        Each row's log-likelihood weight; None counts every row once.
    rng : numpy Generator
        Draws the pool of a dask array and the minibatches.
    pool_rows : int, default=POOL_ROWS
        Rows of a dask array sampled once for the minibatches.

    Examples
    --------
    >>> source = RowSource(np.arange(6.0).reshape(3, 2), None, np.random.default_rng(0))
    >>> def function(x, rows, scale, weights):  # log prior 0, log-likelihood x @ row sums
    ...     return scale * float(x @ rows.sum(axis=0)), scale * rows.sum(axis=0)
    >>> source.totals(function, [np.ones(2)])[0][0]
    15.0
    """

    def __init__(
        self,
        X: Any,
        sample_weight: Any,
        rng: np.random.Generator,
        pool_rows: int = POOL_ROWS,
    ) -> None:
        self.X = X
        self.lazy = is_dask_array(X)
        self.n_samples, self.n_features = (int(n) for n in X.shape)
        self.weighted = sample_weight is not None
        if self.lazy:
            weights = sample_weight
            if weights is None:
                import dask.array as da

                weights = da.ones(self.n_samples, chunks=X.chunks[0])
            self.weights = weights
            size = min(self.n_samples, int(pool_rows))
            self.pool, self.pool_weights = sample_rows(X, sample_weight, size, rng)
        else:
            self.weights = np.ones(self.n_samples) if sample_weight is None else sample_weight
            self.pool = X
            self.pool_weights = sample_weight
        self.rng = rng

    @property
    def pool_size(self) -> int:
        return int(self.pool.shape[0])

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray | None]:
        """``size`` rows drawn with replacement from the pool, and their weights."""
        rows = self.rng.integers(self.pool_size, size=size)
        weights = None if self.pool_weights is None else self.pool_weights[rows]
        return self.pool[rows], weights

    def totals(self, function: Any, points: list[np.ndarray]) -> list[tuple[float, np.ndarray]]:
        """Log prior plus the log-likelihood of every row, and its gradient, at each point.

        ``function(x, rows, scale, row_weights) -> (value, grad)`` is the log prior plus
        ``scale`` times the rows' log-likelihood; the rows are summed block by block in
        one pass (one dask computation), and the prior counted once.
        """
        # the prior alone: one row at scale 0 (PyTensor's softmax fails on zero rows)
        one = np.ascontiguousarray(self.pool[:1])
        unit = None if not self.weighted else np.ones(1)
        priors = [function(x, one, 0.0, unit) for x in points]
        n_dim = len(points[0])

        def block(rows: np.ndarray, row_weights: np.ndarray) -> np.ndarray:
            weights = row_weights if self.weighted else None
            out = np.empty(len(points) * (n_dim + 1))
            for i, (x, (prior_value, prior_grad)) in enumerate(zip(points, priors, strict=True)):
                value, grad = function(x, rows, 1.0, weights)
                out[i * (n_dim + 1)] = value - prior_value
                out[i * (n_dim + 1) + 1 : (i + 1) * (n_dim + 1)] = grad - prior_grad
            return out

        with Workers() as workers:
            total = sum_row_blocks(block, self.X, self.weights, workers, self.n_features)
        parts = total.reshape(len(points), n_dim + 1)
        return [
            (float(prior_value + part[0]), np.asarray(prior_grad) + part[1:])
            for part, (prior_value, prior_grad) in zip(parts, priors, strict=True)
        ]
